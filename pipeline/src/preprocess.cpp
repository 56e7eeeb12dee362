#include "siamese/preprocess.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "region.h"
#include "resample.h"
#include "siamese/errors.h"
#include "siamese/face_align.h"

namespace siamese {
namespace {

// Byte offsets of R, G, B inside one pixel of a packed format.
struct PackedLayout {
  int bytes, r, g, b;
};

PackedLayout packed_layout(PixelFormat f) {
  switch (f) {
    case PixelFormat::kRGB:
      return {3, 0, 1, 2};
    case PixelFormat::kBGR:
      return {3, 2, 1, 0};
    case PixelFormat::kRGBx:
    case PixelFormat::kRGBA:
      return {4, 0, 1, 2};
    case PixelFormat::kBGRx:
    case PixelFormat::kBGRA:
      return {4, 2, 1, 0};
    case PixelFormat::kxRGB:
      return {4, 1, 2, 3};
    case PixelFormat::kxBGR:
      return {4, 3, 2, 1};
    default:
      return {0, 0, 0, 0};
  }
}

// OpenCV's fixed-point RGB->gray weights (cv::cvtColor COLOR_RGB2GRAY gives the same values).
inline uchar luma_of(int r, int g, int b) {
  return static_cast<uchar>((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14);
}

inline uchar clamp8(int v) { return static_cast<uchar>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// BT.601 limited range, as videoconvert and OpenCV's COLOR_YUV2RGB_I420 use.
inline void yuv_to_rgb(int y, int u, int v, uchar* rgb) {
  const int c = (y - 16) * 1192, d = u - 128, e = v - 128;
  rgb[0] = clamp8((c + 1634 * e + 512) >> 10);
  rgb[1] = clamp8((c - 401 * d - 832 * e + 512) >> 10);
  rgb[2] = clamp8((c + 2066 * d + 512) >> 10);
}

}  // namespace

namespace detail {

cv::Mat read_region(const ImageView& v, const cv::Rect& rect, int channels) {
  const bool yuv = v.format == PixelFormat::kI420 || v.format == PixelFormat::kNV12;
  if (channels == 1 && v.has_luma_plane()) {
    cv::Mat plane(v.height, v.width, CV_8UC1, const_cast<std::uint8_t*>(v.planes[0]),
                  static_cast<size_t>(v.strides[0]));
    return plane(rect);
  }
  cv::Mat out(rect.height, rect.width, channels == 1 ? CV_8UC1 : CV_8UC3);
  for (int y = 0; y < rect.height; ++y) {
    const int sy = rect.y + y;
    uchar* dst = out.ptr<uchar>(y);
    if (v.format == PixelFormat::kGray8) {
      const uchar* src = v.planes[0] + static_cast<size_t>(sy) * v.strides[0] + rect.x;
      for (int x = 0; x < rect.width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
    } else if (yuv) {
      const uchar* py = v.planes[0] + static_cast<size_t>(sy) * v.strides[0];
      const uchar* pu = v.planes[1] + static_cast<size_t>(sy / 2) * v.strides[1];
      const uchar* pv = v.format == PixelFormat::kI420
                            ? v.planes[2] + static_cast<size_t>(sy / 2) * v.strides[2]
                            : nullptr;
      for (int x = 0; x < rect.width; ++x) {
        const int sx = rect.x + x;
        const int u = pv ? pu[sx / 2] : pu[(sx / 2) * 2];
        const int vv = pv ? pv[sx / 2] : pu[(sx / 2) * 2 + 1];
        yuv_to_rgb(py[sx], u, vv, dst + 3 * x);
      }
    } else {
      const PackedLayout l = packed_layout(v.format);
      const uchar* src = v.planes[0] + static_cast<size_t>(sy) * v.strides[0];
      for (int x = 0; x < rect.width; ++x) {
        const uchar* p = src + (rect.x + x) * l.bytes;
        if (channels == 1) {
          dst[x] = luma_of(p[l.r], p[l.g], p[l.b]);
        } else {
          dst[3 * x] = p[l.r];
          dst[3 * x + 1] = p[l.g];
          dst[3 * x + 2] = p[l.b];
        }
      }
    }
  }
  return out;
}

}  // namespace detail

namespace {

// The framed region of box (crop policy), resized to the input with PIL's antialiased bilinear.
cv::Mat framed_face(const ImageView& view, const Box& box, const InputSpec& spec, Framing framing) {
  const Box region = framed_region(box, spec.crop, framing);
  const cv::Rect frame(0, 0, view.width, view.height);
  const cv::Rect wanted(region.x, region.y, region.width, region.height);
  const cv::Rect inside = wanted & frame;
  if (inside.empty()) {
    throw InputError("face box at (" + std::to_string(box.x) + "," + std::to_string(box.y) +
                     ") lies outside the " + std::to_string(view.width) + "x" +
                     std::to_string(view.height) + " frame");
  }
  cv::Mat pixels = detail::read_region(view, inside, spec.channels);
  if (inside != wanted) {
    cv::Mat padded;
    cv::copyMakeBorder(pixels, padded, inside.y - wanted.y,
                       wanted.y + wanted.height - (inside.y + inside.height), inside.x - wanted.x,
                       wanted.x + wanted.width - (inside.x + inside.width), cv::BORDER_REPLICATE);
    pixels = padded;
  }
  cv::Mat resized;
  detail::resize_antialiased(pixels, spec.width, spec.height, resized);
  return resized;
}

// The face of landmarks warped onto spec's template (input_to_frame), as dlib's extract_image_chip
// cuts its chips: bilinear, from a copy shrunk first when the face is over 1.5 times the input's
// scale (no aliasing); outside the frame the border pixels are repeated.
cv::Mat aligned_face(const ImageView& view, const Landmarks68& landmarks, const InputSpec& spec) {
  Similarity to_frame = input_to_frame(landmarks, spec);
  const double scale = to_frame.scale();
  if (!(scale > 0) || scale * std::max(spec.width, spec.height) >
                          kMaxBoxToFrame * static_cast<double>(std::max(view.width, view.height))) {
    throw InputError("face landmarks span more than " + std::to_string(kMaxBoxToFrame) +
                     " times the " + std::to_string(view.width) + "x" +
                     std::to_string(view.height) + " frame");
  }
  // The frame pixels the input covers (its corners mapped), one pixel of margin for bilinear.
  float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
  for (const Point2f& c :
       {Point2f{0, 0}, Point2f{static_cast<float>(spec.width - 1), 0},
        Point2f{0, static_cast<float>(spec.height - 1)},
        Point2f{static_cast<float>(spec.width - 1), static_cast<float>(spec.height - 1)}}) {
    const Point2f q = to_frame.apply(c);
    x0 = std::min(x0, q.x), y0 = std::min(y0, q.y), x1 = std::max(x1, q.x), y1 = std::max(y1, q.y);
  }
  const cv::Rect wanted(static_cast<int>(std::floor(x0)) - 1, static_cast<int>(std::floor(y0)) - 1,
                        static_cast<int>(std::ceil(x1) - std::floor(x0)) + 3,
                        static_cast<int>(std::ceil(y1) - std::floor(y0)) + 3);
  const cv::Rect inside = wanted & cv::Rect(0, 0, view.width, view.height);
  if (inside.empty()) throw InputError("face landmarks lie outside the frame");
  cv::Mat pixels = detail::read_region(view, inside, spec.channels);
  // Into the region's coordinates.
  to_frame.tx -= inside.x;
  to_frame.ty -= inside.y;
  if (scale > 1.5) {  // shrink by the scale first, as dlib's chips go through a pyramid
    const int w = std::max(1, static_cast<int>(std::lround(pixels.cols / scale)));
    const int h = std::max(1, static_cast<int>(std::lround(pixels.rows / scale)));
    cv::Mat small;
    cv::resize(pixels, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    const double sx = static_cast<double>(w) / pixels.cols;
    const double sy = static_cast<double>(h) / pixels.rows;
    // Pixel centres: small = (big + 0.5) * s - 0.5; the similarity stays one for sx ~ sy.
    const double s = (sx + sy) / 2;
    to_frame.a *= s, to_frame.b *= s;
    to_frame.tx = (to_frame.tx + 0.5) * s - 0.5;
    to_frame.ty = (to_frame.ty + 0.5) * s - 0.5;
    pixels = small;
  }
  const cv::Matx23d m(to_frame.a, -to_frame.b, to_frame.tx, to_frame.b, to_frame.a, to_frame.ty);
  cv::Mat out;
  cv::warpAffine(pixels, out, m, cv::Size(spec.width, spec.height),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return out;
}

// One face into dst (channels x height x width floats); landmarks: its 68 points, or null.
void preprocess_one(const ImageView& view, const Box& box, const InputSpec& spec, Framing framing,
                    const Landmarks68* landmarks, float* dst) {
  if (box.width <= 0 || box.height <= 0) {
    throw InputError("face box " + std::to_string(box.width) + "x" + std::to_string(box.height) +
                     " is empty");
  }
  // A box from a file (a gallery's recorded box) or an upstream meta may claim any size; what
  // is read and padded stays within kMaxBoxToFrame times the frame (times the crop scale).
  if (box.width > kMaxBoxToFrame * static_cast<int64_t>(view.width) ||
      box.height > kMaxBoxToFrame * static_cast<int64_t>(view.height)) {
    throw InputError("face box " + std::to_string(box.width) + "x" + std::to_string(box.height) +
                     " is larger than " + std::to_string(kMaxBoxToFrame) + " times the " +
                     std::to_string(view.width) + "x" + std::to_string(view.height) + " frame");
  }
  cv::Mat resized;
  if (framing == Framing::kDetectorBox && spec.crop.align != Align::kNone) {
    if (!landmarks) {
      throw InputError(std::string("the model's crop policy aligns faces (align = ") +
                       align_name(spec.crop.align) + "): each face box needs its landmarks");
    }
    resized = aligned_face(view, *landmarks, spec);
  } else {
    resized = framed_face(view, box, spec, framing);
  }
  const int plane = spec.width * spec.height;
  for (int c = 0; c < spec.channels; ++c) {
    const float mul = spec.scale / spec.std[c];
    const float add = -spec.mean[c] / spec.std[c];
    float* out = dst + static_cast<size_t>(c) * plane;
    for (int y = 0; y < spec.height; ++y) {
      const uchar* row = resized.ptr<uchar>(y);
      for (int x = 0; x < spec.width; ++x) {
        out[y * spec.width + x] = row[x * spec.channels + c] * mul + add;
      }
    }
  }
}

}  // namespace

void check_input_spec(const InputSpec& spec) {
  const auto refuse = [](const std::string& fact, double value, const std::string& range) {
    std::ostringstream text;
    text << fact << " = " << value << " is not " << range;
    throw InputError(text.str());
  };
  const auto bounded = [&](const std::string& fact, double value, double lo, double hi) {
    if (!std::isfinite(value) || value < lo || value > hi) {
      std::ostringstream range;
      range << "in [" << lo << ", " << hi << "]";
      refuse(fact, value, range.str());
    }
  };
  if (spec.channels != 1 && spec.channels != 3) refuse("input.channels", spec.channels, "1 or 3");
  bounded("input.width", spec.width, 1, kMaxInputSide);
  bounded("input.height", spec.height, 1, kMaxInputSide);
  if (!std::isfinite(spec.scale) || spec.scale <= 0 || spec.scale > kMaxInputScale) {
    std::ostringstream range;
    range << "in (0, " << kMaxInputScale << "]";
    refuse("input.scale", spec.scale, range.str());
  }
  if (spec.mean.size() != static_cast<size_t>(spec.channels) ||
      spec.std.size() != static_cast<size_t>(spec.channels)) {
    throw InputError("input.mean and input.std need one value per channel (" +
                     std::to_string(spec.channels) + "), not " + std::to_string(spec.mean.size()) +
                     " and " + std::to_string(spec.std.size()));
  }
  for (size_t c = 0; c < spec.mean.size(); ++c) {
    const std::string at = "[" + std::to_string(c) + "]";
    bounded("input.mean" + at, spec.mean[c], -kMaxAbsInputMean, kMaxAbsInputMean);
    bounded("input.std" + at, spec.std[c], kMinInputStd, kMaxInputStd);
  }
  bounded("input.crop.scale_width", spec.crop.scale_width, kMinCropScale, kMaxCropScale);
  bounded("input.crop.scale_height", spec.crop.scale_height, kMinCropScale, kMaxCropScale);
  bounded("input.crop.shift_y", spec.crop.shift_y, -kMaxCropShift, kMaxCropShift);
  if (spec.crop.align != Align::kNone && spec.crop.align != Align::kLandmarks68) {
    refuse("input.crop.align", static_cast<int>(spec.crop.align), "none or landmarks68");
  }
  bounded("input.crop.align_padding", spec.crop.align_padding, 0.0, kMaxAlignPadding);
  bounded("input.crop.align_shift_y", spec.crop.align_shift_y, -kMaxCropShift, kMaxCropShift);
  if (spec.crop.align_points != AlignPoints::kFive &&
      spec.crop.align_points != AlignPoints::kDlib33) {
    refuse("input.crop.align_points", static_cast<int>(spec.crop.align_points), "five or dlib33");
  }
}

const char* align_name(Align align) {
  return align == Align::kLandmarks68 ? "landmarks68" : "none";
}

Align parse_align(const std::string& name, const std::string& what) {
  if (name == "none") return Align::kNone;
  if (name == "landmarks68") return Align::kLandmarks68;
  throw InputError(what + ": '" + name + "' is not an alignment (none or landmarks68)");
}

const char* align_points_name(AlignPoints points) {
  return points == AlignPoints::kDlib33 ? "dlib33" : "five";
}

AlignPoints parse_align_points(const std::string& name, const std::string& what) {
  if (name == "five") return AlignPoints::kFive;
  if (name == "dlib33") return AlignPoints::kDlib33;
  throw InputError(what + ": '" + name + "' is not a set of alignment points (five or dlib33)");
}

Box framed_region(const Box& box, const CropPolicy& crop, Framing framing) {
  if (framing == Framing::kExact) return box;
  const double cx = box.x + box.width / 2.0;
  const double cy = box.y + box.height / 2.0 + crop.shift_y * box.height;
  const int w = std::max(1, static_cast<int>(std::lround(box.width * crop.scale_width)));
  const int h = std::max(1, static_cast<int>(std::lround(box.height * crop.scale_height)));
  return Box{static_cast<int>(std::lround(cx - w / 2.0)),
             static_cast<int>(std::lround(cy - h / 2.0)), w, h};
}

torch::Tensor make_batch_tensor(int64_t n, const InputSpec& spec, bool pin) {
  auto options = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(pin);
  return torch::empty({n, spec.channels, spec.height, spec.width}, options);
}

void preprocess_into(const ImageView& view, const std::vector<Box>& boxes, const InputSpec& spec,
                     Framing framing, torch::Tensor& out, int64_t first) {
  preprocess_into(view, boxes, spec, framing, out, first, {});
}

void preprocess_into(const ImageView& view, const std::vector<Box>& boxes, const InputSpec& spec,
                     Framing framing, torch::Tensor& out, int64_t first,
                     const std::vector<Landmarks68>& landmarks) {
  check_input_spec(spec);
  if (!landmarks.empty() && landmarks.size() != boxes.size()) {
    throw InputError("preprocess_into: " + std::to_string(landmarks.size()) +
                     " sets of landmarks for " + std::to_string(boxes.size()) + " face boxes");
  }
  view.validate();
  const int64_t n = static_cast<int64_t>(boxes.size());
  if (!out.defined() || out.dim() != 4 || out.scalar_type() != torch::kFloat32 ||
      !out.is_contiguous() || !out.device().is_cpu() || out.size(1) != spec.channels ||
      out.size(2) != spec.height || out.size(3) != spec.width || first < 0 ||
      first + n > out.size(0)) {
    throw InputError("preprocess_into: output tensor must be a contiguous float CPU tensor [>=" +
                     std::to_string(first + n) + "," + std::to_string(spec.channels) + "," +
                     std::to_string(spec.height) + "," + std::to_string(spec.width) + "]");
  }
  const int64_t face_floats = static_cast<int64_t>(spec.channels) * spec.height * spec.width;
  float* base = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    preprocess_one(view, boxes[i], spec, framing, landmarks.empty() ? nullptr : &landmarks[i],
                   base + (first + i) * face_floats);
  }
}

torch::Tensor preprocess_batch(const ImageView& view, const std::vector<Box>& boxes,
                               const InputSpec& spec, Framing framing) {
  return preprocess_batch(view, boxes, spec, framing, {});
}

torch::Tensor preprocess_batch(const ImageView& view, const std::vector<Box>& boxes,
                               const InputSpec& spec, Framing framing,
                               const std::vector<Landmarks68>& landmarks) {
  torch::Tensor out = make_batch_tensor(static_cast<int64_t>(boxes.size()), spec);
  preprocess_into(view, boxes, spec, framing, out, 0, landmarks);
  return out;
}

torch::Tensor preprocess(const ImageView& view, const Box& box, const InputSpec& spec,
                         Framing framing) {
  return preprocess_batch(view, {box}, spec, framing)[0];
}

}  // namespace siamese
