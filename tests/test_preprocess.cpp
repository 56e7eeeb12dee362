// The one preprocessing path: determinism, strides, pixel formats and framing.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/preprocess.h"
#include "test_support.h"

using namespace siamese;

namespace {

InputSpec gray_spec() {
  InputSpec s;
  s.width = 64;
  s.height = 64;
  return s;
}

// Copies a BGR image into a buffer of another packed format with row padding.
std::vector<std::uint8_t> to_packed(const cv::Mat& bgr, PixelFormat f, int stride) {
  std::vector<std::uint8_t> buf(static_cast<size_t>(stride) * bgr.rows, 0xAB);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      const std::uint8_t b = p[0], g = p[1], r = p[2];
      std::uint8_t* d = &buf[static_cast<size_t>(y) * stride];
      switch (f) {
        case PixelFormat::kRGB:
          d[3 * x] = r;
          d[3 * x + 1] = g;
          d[3 * x + 2] = b;
          break;
        case PixelFormat::kBGRx:
          d[4 * x] = b;
          d[4 * x + 1] = g;
          d[4 * x + 2] = r;
          break;
        case PixelFormat::kxRGB:
          d[4 * x + 1] = r;
          d[4 * x + 2] = g;
          d[4 * x + 3] = b;
          break;
        case PixelFormat::kRGBA:
          d[4 * x] = r;
          d[4 * x + 1] = g;
          d[4 * x + 2] = b;
          break;
        default:
          FAIL("format not handled by the test");
      }
    }
  }
  return buf;
}

}  // namespace

TEST_CASE("preprocessing is deterministic and normalises", "[core][preprocess]") {
  const cv::Mat img = testing::synthetic_gray(92, 112, 3);
  const ImageView v = view_of(img);
  InputSpec spec = gray_spec();
  spec.mean = {0.5f};
  spec.std = {0.5f};
  const torch::Tensor a = preprocess(v, v.full_box(), spec, Framing::kExact);
  const torch::Tensor b = preprocess(v, v.full_box(), spec, Framing::kExact);
  CHECK(a.sizes() == torch::IntArrayRef({1, 64, 64}));
  CHECK(torch::equal(a, b));
  CHECK(a.min().item<float>() >= -1.0f);
  CHECK(a.max().item<float>() <= 1.0f);
}

TEST_CASE("odd widths and padded strides give the same tensor", "[core][preprocess]") {
  const cv::Mat tight = testing::synthetic_gray(385, 289, 5);
  cv::Mat padded_storage(289, 400, CV_8UC1, cv::Scalar(255));
  cv::Mat padded = padded_storage(cv::Rect(0, 0, 385, 289));
  tight.copyTo(padded);
  REQUIRE(padded.step[0] == 400);
  const Box box{101, 37, 131, 149};
  const torch::Tensor a = preprocess(view_of(tight), box, gray_spec(), Framing::kExact);
  const torch::Tensor b = preprocess(view_of(padded), box, gray_spec(), Framing::kExact);
  CHECK(torch::equal(a, b));
}

TEST_CASE("every packed format and the YUV luma plane give the same gray input",
          "[core][preprocess]") {
  cv::Mat gray = testing::synthetic_gray(385, 289, 9);
  cv::Mat bgr;
  cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
  const Box box{60, 40, 150, 170};
  const torch::Tensor ref = preprocess(view_of(gray), box, gray_spec(), Framing::kExact);
  for (PixelFormat f :
       {PixelFormat::kRGB, PixelFormat::kBGRx, PixelFormat::kxRGB, PixelFormat::kRGBA}) {
    const int bpp = bytes_per_pixel(f);
    const auto buf = to_packed(bgr, f, 385 * bpp + 13);
    const ImageView v = ImageView::packed(buf.data(), 385, 289, 385 * bpp + 13, f);
    INFO(pixel_format_name(f));
    CHECK(torch::equal(preprocess(v, box, gray_spec(), Framing::kExact), ref));
  }
  // I420 / NV12: the luma plane is read directly, whatever the chroma holds.
  std::vector<std::uint8_t> chroma(200 * 145, 77);
  for (PixelFormat f : {PixelFormat::kI420, PixelFormat::kNV12}) {
    ImageView v;
    v.format = f;
    v.width = 385;
    v.height = 289;
    v.planes = {gray.data, chroma.data(), chroma.data()};
    v.strides = {static_cast<int>(gray.step[0]), 100, 100};
    if (f == PixelFormat::kNV12) v.strides[1] = 200;
    INFO(pixel_format_name(f));
    CHECK(torch::equal(preprocess(v, box, gray_spec(), Framing::kExact), ref));
  }
}

TEST_CASE("colour models get RGB in channel order from BGR and YUV frames", "[core][preprocess]") {
  cv::Mat bgr(40, 40, CV_8UC3, cv::Scalar(10, 128, 250));  // B G R
  InputSpec spec;
  spec.width = spec.height = 8;
  spec.channels = 3;
  spec.mean = {0, 0, 0};
  spec.std = {1, 1, 1};
  spec.scale = 1.0f;
  const torch::Tensor t = preprocess(view_of(bgr), {0, 0, 40, 40}, spec, Framing::kExact);
  CHECK(t[0].mean().item<float>() == Approx(250));
  CHECK(t[1].mean().item<float>() == Approx(128));
  CHECK(t[2].mean().item<float>() == Approx(10));
}

TEST_CASE("the crop policy grows detector boxes, outside pixels repeat the border",
          "[core][preprocess]") {
  const CropPolicy crop{1.5f, 2.0f, -0.25f};
  const Box grown = framed_region({100, 100, 40, 40}, crop, Framing::kDetectorBox);
  CHECK(grown == Box{90, 70, 60, 80});
  CHECK(framed_region({100, 100, 40, 40}, crop, Framing::kExact) == Box{100, 100, 40, 40});

  cv::Mat img(50, 50, CV_8UC1, cv::Scalar(200));
  InputSpec spec = gray_spec();
  const torch::Tensor t = preprocess(view_of(img), {-20, -20, 60, 60}, spec, Framing::kExact);
  CHECK(t.min().item<float>() == Approx(200.0f / 255.0f));
  CHECK_THROWS_AS(preprocess(view_of(img), {100, 100, 10, 10}, spec, Framing::kExact), InputError);
  CHECK_THROWS_AS(preprocess(view_of(img), {0, 0, 0, 10}, spec, Framing::kExact), InputError);
}

TEST_CASE("batch form equals the single form", "[core][preprocess]") {
  const cv::Mat img = testing::synthetic_gray(200, 150, 1);
  const std::vector<Box> boxes{{0, 0, 50, 60}, {100, 20, 80, 80}, {10, 90, 40, 40}};
  const torch::Tensor batch = preprocess_batch(view_of(img), boxes, gray_spec(), Framing::kExact);
  REQUIRE(batch.size(0) == 3);
  for (size_t i = 0; i < boxes.size(); ++i) {
    CHECK(torch::equal(batch[i], preprocess(view_of(img), boxes[i], gray_spec(), Framing::kExact)));
  }
}
