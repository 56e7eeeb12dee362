// Colour models (InputSpec::channels == 3, e.g. the imported dlib-resnet) get RGB from every
// frame format through the one preprocessing function, and from image files in training and
// enrollment; gray models keep reading luma.
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dataset.h"
#include "face_source.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/preprocess.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

using siamese::Box;
using siamese::Framing;
using siamese::ImageView;
using siamese::InputSpec;
using siamese::PixelFormat;

// Raw pixel values out: scale 1, mean 0, std 1.
InputSpec raw_spec(int channels, int side) {
  InputSpec s;
  s.width = s.height = side;
  s.channels = channels;
  s.scale = 1.0f;
  s.mean.assign(channels, 0.0f);
  s.std.assign(channels, 1.0f);
  return s;
}

// A BGR image whose three channels differ everywhere (so a swap or a copy shows).
cv::Mat colour_image(int width, int height) {
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((3 * x + y) % 256),
                                          static_cast<uchar>((x * y / 7 + 40) % 256),
                                          static_cast<uchar>((255 - 2 * y + x / 3) & 255));
    }
  }
  return bgr;
}

// The image in a packed format, rows `stride` bytes apart (padding filled with 0xAB).
std::vector<std::uint8_t> pack(const cv::Mat& bgr, PixelFormat f, int stride) {
  const int bpp = siamese::bytes_per_pixel(f);
  // Byte positions of R, G, B (and the unused/alpha byte, -1 when none).
  int r = 0, g = 1, b = 2, other = -1;
  switch (f) {
    case PixelFormat::kRGB:
      break;
    case PixelFormat::kBGR:
      r = 2, b = 0;
      break;
    case PixelFormat::kRGBx:
    case PixelFormat::kRGBA:
      other = 3;
      break;
    case PixelFormat::kBGRx:
    case PixelFormat::kBGRA:
      r = 2, b = 0, other = 3;
      break;
    case PixelFormat::kxRGB:
      r = 1, g = 2, b = 3, other = 0;
      break;
    case PixelFormat::kxBGR:
      r = 3, g = 2, b = 1, other = 0;
      break;
    default:
      FAIL("not a packed colour format");
  }
  std::vector<std::uint8_t> buf(static_cast<size_t>(stride) * bgr.rows, 0xAB);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      std::uint8_t* d = &buf[static_cast<size_t>(y) * stride + static_cast<size_t>(x) * bpp];
      d[r] = p[2];
      d[g] = p[1];
      d[b] = p[0];
      if (other >= 0) d[other] = static_cast<std::uint8_t>(x * 31 + y);  // must not matter
    }
  }
  return buf;
}

cv::Mat plane(const cv::Mat& bgr, int index) {
  std::vector<cv::Mat> planes;
  cv::split(bgr, planes);
  return planes[index];
}

// BT.601 limited range in floating point (what videoconvert computes for I420 -> RGB).
cv::Vec3f bt601(int y, int u, int v) {
  const float c = 1.164383f * (y - 16), d = u - 128.0f, e = v - 128.0f;
  return cv::Vec3f(c + 1.596027f * e, c - 0.391762f * d - 0.812968f * e, c + 2.017232f * d);
}

float clamp255(float v) { return std::min(255.0f, std::max(0.0f, v)); }

}  // namespace

TEST_CASE("a colour model gets RGB from every packed format, read with the frame's stride",
          "[core][preprocess][colour]") {
  const cv::Mat bgr = colour_image(385, 289);
  const Box box{60, 41, 151, 171};
  const InputSpec spec = raw_spec(3, 64);
  // Reference: each RGB channel alone, through the gray path (the same resize per channel).
  const InputSpec gray = raw_spec(1, 64);
  const torch::Tensor want = torch::cat(
      {siamese::preprocess(siamese::view_of(plane(bgr, 2)), box, gray, Framing::kExact),
       siamese::preprocess(siamese::view_of(plane(bgr, 1)), box, gray, Framing::kExact),
       siamese::preprocess(siamese::view_of(plane(bgr, 0)), box, gray, Framing::kExact)});
  for (PixelFormat f :
       {PixelFormat::kRGB, PixelFormat::kBGR, PixelFormat::kRGBx, PixelFormat::kBGRx,
        PixelFormat::kxRGB, PixelFormat::kxBGR, PixelFormat::kRGBA, PixelFormat::kBGRA}) {
    const int stride = 385 * siamese::bytes_per_pixel(f) + 7;
    const auto buf = pack(bgr, f, stride);
    const ImageView v = ImageView::packed(buf.data(), 385, 289, stride, f);
    INFO(siamese::pixel_format_name(f));
    CHECK(torch::equal(siamese::preprocess(v, box, spec, Framing::kExact), want));
  }
}

TEST_CASE("a colour model gets a GRAY8 frame as R = G = B", "[core][preprocess][colour]") {
  const cv::Mat gray = siamese::testing::synthetic_gray(385, 289, 4);
  const Box box{10, 20, 200, 180};
  const torch::Tensor luma =
      siamese::preprocess(siamese::view_of(gray), box, raw_spec(1, 48), Framing::kExact);
  const torch::Tensor rgb =
      siamese::preprocess(siamese::view_of(gray), box, raw_spec(3, 48), Framing::kExact);
  REQUIRE(rgb.size(0) == 3);
  for (int c = 0; c < 3; ++c) CHECK(torch::equal(rgb[c], luma[0]));
}

TEST_CASE("a colour model gets I420 and NV12 frames converted to RGB (BT.601 limited range)",
          "[core][preprocess][colour]") {
  // An odd-sized frame with padded strides; chroma varies so that a wrong plane or a wrong
  // subsampling index shows.
  const int w = 385, h = 289, cw = (w + 1) / 2, ch = (h + 1) / 2;
  const int ys = w + 11, cs = cw + 5;
  std::vector<std::uint8_t> yp(static_cast<size_t>(ys) * h), up(static_cast<size_t>(cs) * ch),
      vp(static_cast<size_t>(cs) * ch), uv(static_cast<size_t>(2 * cs) * ch);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) yp[y * ys + x] = static_cast<std::uint8_t>(16 + (x + 2 * y) % 220);
  }
  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      up[y * cs + x] = static_cast<std::uint8_t>(60 + (3 * x + y) % 140);
      vp[y * cs + x] = static_cast<std::uint8_t>(200 - (x + 5 * y) % 150);
      uv[y * 2 * cs + 2 * x] = up[y * cs + x];
      uv[y * 2 * cs + 2 * x + 1] = vp[y * cs + x];
    }
  }
  ImageView i420;
  i420.format = PixelFormat::kI420;
  i420.width = w;
  i420.height = h;
  i420.planes = {yp.data(), up.data(), vp.data()};
  i420.strides = {ys, cs, cs};
  ImageView nv12 = i420;
  nv12.format = PixelFormat::kNV12;
  nv12.planes = {yp.data(), uv.data(), nullptr};
  nv12.strides = {ys, 2 * cs, 0};

  // Output size = box size: no resampling, the tensor holds the converted pixels themselves.
  const Box box{101, 33, 97, 97};
  const InputSpec spec = raw_spec(3, 97);
  const torch::Tensor got = siamese::preprocess(i420, box, spec, Framing::kExact);
  CHECK(torch::equal(siamese::preprocess(nv12, box, spec, Framing::kExact), got));
  float worst = 0.0f;
  for (int y = 0; y < box.height; ++y) {
    for (int x = 0; x < box.width; ++x) {
      const int fx = box.x + x, fy = box.y + y;
      const cv::Vec3f want =
          bt601(yp[fy * ys + fx], up[(fy / 2) * cs + fx / 2], vp[(fy / 2) * cs + fx / 2]);
      for (int c = 0; c < 3; ++c) {
        worst = std::max(worst, std::abs(got[c][y][x].item<float>() - clamp255(want[c])));
      }
    }
  }
  CHECK(worst <= 1.0f);  // fixed-point rounding only

  // And as OpenCV converts an even-sized I420 frame (within one level).
  const cv::Mat bgr = colour_image(256, 192);
  cv::Mat yuv, back;
  cv::cvtColor(bgr, yuv, cv::COLOR_BGR2YUV_I420);
  cv::cvtColor(yuv, back, cv::COLOR_YUV2RGB_I420);
  ImageView cv_i420;
  cv_i420.format = PixelFormat::kI420;
  cv_i420.width = 256;
  cv_i420.height = 192;
  cv_i420.planes = {yuv.data, yuv.data + 256 * 192, yuv.data + 256 * 192 + 128 * 96};
  cv_i420.strides = {256, 128, 128};
  InputSpec same_size = raw_spec(3, 256);
  same_size.height = 192;
  const torch::Tensor full =
      siamese::preprocess(cv_i420, {0, 0, 256, 192}, same_size, Framing::kExact);
  const torch::Tensor opencv = torch::from_blob(back.data, {192, 256, 3}, torch::kUInt8)
                                   .permute({2, 0, 1})
                                   .to(torch::kFloat32);
  CHECK((full - opencv).abs().max().item<float>() <= 1.0f);
}

TEST_CASE("image files reach a colour model as RGB, a gray model as luma",
          "[core][preprocess][colour]") {
  const std::string dir = siamese::testing::temp_dir("colour-files");
  cv::Mat bgr(40, 30, CV_8UC3, cv::Scalar(10, 128, 250));  // B, G, R
  cv::imwrite(dir + "/orange.png", bgr);
  cv::imwrite(dir + "/gray.png", cv::Mat(40, 30, CV_8UC1, cv::Scalar(77)));

  const cv::Mat colour = siamese::read_image(dir + "/orange.png", 3);
  const ImageView v = siamese::view_of(colour);
  const torch::Tensor t = siamese::preprocess(v, v.full_box(), raw_spec(3, 8), Framing::kExact);
  CHECK(t[0].mean().item<float>() == Approx(250));
  CHECK(t[1].mean().item<float>() == Approx(128));
  CHECK(t[2].mean().item<float>() == Approx(10));

  const cv::Mat gray_file = siamese::read_image(dir + "/gray.png", 3);  // a gray file, colour model
  const ImageView g = siamese::view_of(gray_file);
  const torch::Tensor tg = siamese::preprocess(g, g.full_box(), raw_spec(3, 8), Framing::kExact);
  for (int c = 0; c < 3; ++c) CHECK(tg[c].mean().item<float>() == Approx(77));

  const cv::Mat luma = siamese::read_image(dir + "/orange.png", 1);  // a colour file, gray model
  const ImageView l = siamese::view_of(luma);
  const torch::Tensor tl = siamese::preprocess(l, l.full_box(), raw_spec(1, 8), Framing::kExact);
  CHECK(tl.mean().item<float>() ==
        Approx((250 * 4899 + 128 * 9617 + 10 * 1868) / 16384.0).margin(1));
}

TEST_CASE("training and enrollment read colour images as RGB for a 3-channel model",
          "[core][preprocess][colour]") {
  const std::string root = siamese::testing::temp_dir("colour-set");
  // Two identities, two photos each: reddish and bluish.
  for (const auto& [name, colour] : {std::pair<std::string, cv::Scalar>{"a", {20, 60, 220}},
                                     std::pair<std::string, cv::Scalar>{"b", {230, 90, 30}}}) {
    fs::create_directories(root + "/" + name);
    for (int i = 1; i <= 2; ++i) {
      cv::imwrite(root + "/" + name + "/" + std::to_string(i) + ".png",
                  cv::Mat(50, 40, CV_8UC3, colour + cv::Scalar::all(i)));
    }
  }
  siamese::training::DatasetOptions options;
  options.spec = raw_spec(3, 16);
  const auto data = siamese::training::load_dataset(siamese::scan_image_folder(root), options);
  REQUIRE(data.images.sizes() == torch::IntArrayRef({4, 3, 16, 16}));
  const torch::Tensor means = data.images.mean({2, 3});  // [N, 3]
  for (int64_t i = 0; i < 4; ++i) {
    const bool a = data.identities[data.labels[i]] == "a";
    const float k = static_cast<float>(fs::path(data.paths[i]).stem().string() == "1" ? 1 : 2);
    INFO(data.paths[i]);
    CHECK(means[i][0].item<float>() == Approx((a ? 220 : 30) + k));  // R first
    CHECK(means[i][2].item<float>() == Approx((a ? 20 : 230) + k));  // B last
  }

  siamese::enroll::FaceSourceOptions source_options;
  source_options.detect = false;
  siamese::enroll::FaceSource source(source_options, 3);
  const siamese::enroll::ImageFaces faces = source.read(root + "/a/1.png");
  REQUIRE(faces.boxes.size() == 1);
  const torch::Tensor face = siamese::preprocess(siamese::view_of(faces.image), faces.boxes[0],
                                                 raw_spec(3, 16), faces.framing);
  CHECK(face[0].mean().item<float>() == Approx(221));
  CHECK(face[1].mean().item<float>() == Approx(61));
  CHECK(face[2].mean().item<float>() == Approx(21));
}
