#include "siamese/tiny_face_detector.h"

#include <torch/torch.h>

#include <opencv2/core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>

#include "region.h"
#include "siamese/errors.h"
#include "siamese/pretrained.h"
#include "siamese/tfjs_import.h"

namespace siamese {
namespace {

namespace nn = torch::nn;

constexpr int kAnchors = 5;
constexpr int kBoxEncoding = 5;  // x, y, w, h, score
// face-api's TinyFaceDetector anchors (in grid cells) and mean RGB.
constexpr std::array<std::array<double, 2>, kAnchors> kAnchorSizes = {{{1.603231, 2.094468},
                                                                       {6.041143, 7.080126},
                                                                       {2.882459, 3.518061},
                                                                       {4.266906, 5.178857},
                                                                       {9.041765, 10.66308}}};
constexpr std::array<float, 3> kMeanRgb = {117.001f, 114.697f, 97.404f};
constexpr float kLeakySlope = 0.1f;

struct Separable {
  const char* name;
  int in, out;
};
// filterSizes [3, 16, 32, 64, 128, 256, 512]: conv0 a plain 3x3, conv1..conv5 separable, no
// conv6/conv7, conv8 the 1x1 head.
constexpr Separable kSeparable[] = {{"conv1", 16, 32},
                                    {"conv2", 32, 64},
                                    {"conv3", 64, 128},
                                    {"conv4", 128, 256},
                                    {"conv5", 256, 512}};

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

struct RelBox {
  double left, top, width, height, score;
};

// face-api's iou(): boxes in input pixels.
double iou(const RelBox& a, const RelBox& b) {
  const double w =
      std::max(0.0, std::min(a.left + a.width, b.left + b.width) - std::max(a.left, b.left));
  const double h =
      std::max(0.0, std::min(a.top + a.height, b.top + b.height) - std::max(a.top, b.top));
  const double inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

// face-api's nonMaxSuppression: highest score first, dropping boxes of IoU above the limit.
std::vector<size_t> non_max_suppression(const std::vector<RelBox>& boxes, double limit) {
  std::vector<size_t> order(boxes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return boxes[a].score > boxes[b].score; });
  std::vector<size_t> kept;
  while (!order.empty()) {
    const size_t best = order.front();
    kept.push_back(best);
    std::vector<size_t> rest;
    for (size_t k = 1; k < order.size(); ++k) {
      if (iou(boxes[best], boxes[order[k]]) <= limit) rest.push_back(order[k]);
    }
    order.swap(rest);
  }
  return kept;
}

// Per output coordinate of tfjs's resizeBilinear (alignCorners and halfPixelCenters false): the
// two source indices (-1: the zero padding) and the fraction of the second.
struct Taps {
  std::vector<int> lo, hi;
  std::vector<double> frac;
};

Taps resize_taps(int padded, int image, int out) {
  Taps t;
  t.lo.resize(out);
  t.hi.resize(out);
  t.frac.resize(out);
  const double scale = static_cast<double>(padded) / out;
  for (int i = 0; i < out; ++i) {
    const double src = scale * i;
    const int lo = std::max(0, static_cast<int>(std::floor(src)));
    const int hi = std::min(padded - 1, static_cast<int>(std::ceil(src)));
    t.lo[i] = lo < image ? lo : -1;
    t.hi[i] = hi < image ? hi : -1;
    t.frac[i] = src - lo;
  }
  return t;
}

}  // namespace

Box FaceDetection::clipped_box(int frame_width, int frame_height) const {
  const int x0 = std::clamp(static_cast<int>(std::lround(x)), 0, frame_width);
  const int y0 = std::clamp(static_cast<int>(std::lround(y)), 0, frame_height);
  const int x1 = std::clamp(static_cast<int>(std::lround(x + width)), 0, frame_width);
  const int y1 = std::clamp(static_cast<int>(std::lround(y + height)), 0, frame_height);
  return Box{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

void check_tiny_face_detector_options(const TinyFaceDetectorOptions& options) {
  const int n = options.input_size;
  if (n < kMinDetectorInputSize || n > kMaxDetectorInputSize || n % 32 != 0) {
    throw InputError("detector-input-size " + std::to_string(n) + " is not a multiple of 32 in [" +
                     std::to_string(kMinDetectorInputSize) + ", " +
                     std::to_string(kMaxDetectorInputSize) + "] (416, 320, 224, ...)");
  }
  const double t = options.score_threshold;
  if (!(t > 0.0 && t < 1.0)) {
    std::ostringstream s;
    s << "detector-threshold " << t << " is not in (0, 1)";
    throw InputError(s.str());
  }
}

void tiny_face_detector_input(const ImageView& frame, int size, float* out) {
  frame.validate();
  const cv::Mat rgb = detail::read_region(frame, cv::Rect(0, 0, frame.width, frame.height), 3);
  const int side = std::max(frame.width, frame.height);
  const Taps rows = resize_taps(side, frame.height, size);
  const Taps cols = resize_taps(side, frame.width, size);
  const size_t plane = static_cast<size_t>(size) * size;
  // tfjs interpolates float pixels (the padding is 0) in doubles and stores float32; the mean
  // and 1/255 come after, as face-api applies them.
  for (int oy = 0; oy < size; ++oy) {
    const uchar* top = rows.lo[oy] >= 0 ? rgb.ptr<uchar>(rows.lo[oy]) : nullptr;
    const uchar* bottom = rows.hi[oy] >= 0 ? rgb.ptr<uchar>(rows.hi[oy]) : nullptr;
    const double fy = rows.frac[oy];
    for (int ox = 0; ox < size; ++ox) {
      const int l = cols.lo[ox], r = cols.hi[ox];
      const double fx = cols.frac[ox];
      for (int c = 0; c < 3; ++c) {
        const double tl = top && l >= 0 ? top[3 * l + c] : 0.0;
        const double tr = top && r >= 0 ? top[3 * r + c] : 0.0;
        const double bl = bottom && l >= 0 ? bottom[3 * l + c] : 0.0;
        const double br = bottom && r >= 0 ? bottom[3 * r + c] : 0.0;
        const double t = tl + (tr - tl) * fx;
        const double b = bl + (br - bl) * fx;
        const float v = static_cast<float>(t + (b - t) * fy);
        out[c * plane + static_cast<size_t>(oy) * size + ox] = (v - kMeanRgb[c]) / 255.0f;
      }
    }
  }
}

// The network: conv0 (3x3 'valid', 3 -> 16), conv1..conv5 (3x3 depthwise + 1x1 pointwise with
// bias, 'same'), each followed by leaky ReLU 0.1 and a 2x2 max pool ('same'; stride 2, the last
// stride 1), then conv8 (1x1, 512 -> 25).
struct TinyFaceDetector::Net : nn::Module {
  nn::Conv2d conv0{nullptr}, conv8{nullptr};
  std::vector<nn::Conv2d> depthwise, pointwise;

  Net() {
    conv0 = register_module("conv0", nn::Conv2d(nn::Conv2dOptions(3, 16, 3).bias(true)));
    for (const Separable& s : kSeparable) {
      depthwise.push_back(register_module(
          std::string(s.name) + "_depthwise",
          nn::Conv2d(nn::Conv2dOptions(s.in, s.in, 3).padding(1).groups(s.in).bias(false))));
      pointwise.push_back(
          register_module(std::string(s.name) + "_pointwise",
                          nn::Conv2d(nn::Conv2dOptions(s.in, s.out, 1).bias(true))));
    }
    conv8 = register_module(
        "conv8", nn::Conv2d(nn::Conv2dOptions(512, kAnchors * kBoxEncoding, 1).bias(true)));
  }

  // LibTorch's own CPU path for grouped (depthwise) convolutions loops over the channels, 10x
  // slower than oneDNN here; oneDNN takes every convolution of this net on the CPU.
  // pad: the module's own padding (1 for the depthwise convolutions, else 0).
  static torch::Tensor conv(const torch::Tensor& x, nn::Conv2d& c, int64_t pad = 0) {
    if (at::hasMKLDNN() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32) {
      return at::mkldnn_convolution(x.contiguous(), c->weight, c->bias, {pad, pad}, {1, 1}, {1, 1},
                                    c->options.groups());
    }
    return c->forward(x);
  }

  torch::Tensor forward(torch::Tensor x) {
    x = torch::leaky_relu(conv(x, conv0), kLeakySlope);
    x = torch::max_pool2d(x, 2, 2, 0, 1, /*ceil_mode=*/true);
    for (size_t i = 0; i < depthwise.size(); ++i) {
      x = torch::leaky_relu(conv(conv(x, depthwise[i], 1), pointwise[i]), kLeakySlope);
      if (i + 1 < depthwise.size()) {
        x = torch::max_pool2d(x, 2, 2, 0, 1, /*ceil_mode=*/true);
      } else {
        // 'same' 2x2 stride 1: one row and column of padding at the bottom and right.
        x = torch::constant_pad_nd(x, {0, 1, 0, 1}, -std::numeric_limits<float>::infinity());
        x = torch::max_pool2d(x, 2, 1);
      }
    }
    return conv(x, conv8);
  }

  // Copies tfjs tensor `name` (layout HWIO, or HWC1 for depthwise filters) into p.
  static void load(torch::Tensor p, const TfjsWeights& w, const std::string& name,
                   std::vector<int64_t> to_torch, std::set<std::string>& used) {
    copy_tfjs_tensor(w, name, to_torch, p, "the tiny face detector", name, used);
  }

  void load(const TfjsWeights& w) {
    torch::NoGradGuard no_grad;
    std::set<std::string> used;
    const std::vector<int64_t> hwio = {3, 2, 0, 1};            // HWIO -> OIHW
    const std::vector<int64_t> depthwise_hwc1 = {2, 3, 0, 1};  // [3,3,C,1] -> [C,1,3,3]
    load(conv0->weight, w, "conv0/filters", hwio, used);
    load(conv0->bias, w, "conv0/bias", {}, used);
    for (size_t i = 0; i < depthwise.size(); ++i) {
      const std::string n = kSeparable[i].name;
      load(depthwise[i]->weight, w, n + "/depthwise_filter", depthwise_hwc1, used);
      load(pointwise[i]->weight, w, n + "/pointwise_filter", hwio, used);
      load(pointwise[i]->bias, w, n + "/bias", {}, used);
    }
    load(conv8->weight, w, "conv8/filters", hwio, used);
    load(conv8->bias, w, "conv8/bias", {}, used);
    check_every_tfjs_tensor_used(w, used, "the tiny face detector");
  }
};

TinyFaceDetector::TinyFaceDetector(TinyFaceDetectorOptions options) : options_(std::move(options)) {
  check_tiny_face_detector_options(options_);
  if (options_.weights_dir.empty()) options_.weights_dir = face_api_cache_dir();
  verify_pinned_file(options_.weights_dir, kTinyFaceDetectorManifest);
  verify_pinned_file(options_.weights_dir, kTinyFaceDetectorWeights);
  const std::string manifest =
      (std::filesystem::path(options_.weights_dir) / kTinyFaceDetectorManifest).string();
  net_ = std::make_unique<Net>();
  net_->load(read_tfjs_weights(manifest));
  net_->eval();
  net_->to(options_.device);
}

TinyFaceDetector::TinyFaceDetector(TinyFaceDetectorOptions options, NetworkForward network)
    : options_(std::move(options)), network_(std::move(network)) {
  check_tiny_face_detector_options(options_);
  if (!network_) throw InputError("TinyFaceDetector: no network function");
}

TinyFaceDetector::~TinyFaceDetector() = default;
TinyFaceDetector::TinyFaceDetector(TinyFaceDetector&&) noexcept = default;
TinyFaceDetector& TinyFaceDetector::operator=(TinyFaceDetector&&) noexcept = default;

torch::Tensor TinyFaceDetector::raw_output(const std::vector<ImageView>& frames) {
  const int64_t n = static_cast<int64_t>(frames.size());
  const int size = options_.input_size;
  if (n == 0) return torch::empty({0, size / 32, size / 32, kAnchors * kBoxEncoding});
  if (!input_.defined() || input_.size(0) < n) {
    input_ = torch::empty({n, 3, size, size}, torch::kFloat32);
  }
  float* data = input_.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    tiny_face_detector_input(frames[i], size, data + i * 3 * size * size);
  }
  return forward(input_.narrow(0, 0, n));
}

torch::Tensor TinyFaceDetector::forward(const torch::Tensor& inputs) {
  if (network_) return network_(inputs);
  c10::InferenceMode guard;
  torch::Tensor x = inputs;
  if (x.device() != options_.device) x = x.to(options_.device);
  return net_->forward(x).permute({0, 2, 3, 1}).to(torch::kCPU).contiguous();
}

std::vector<std::vector<FaceDetection>> TinyFaceDetector::detect(
    const std::vector<ImageView>& frames) {
  const torch::Tensor raw = raw_output(frames);
  std::vector<std::vector<FaceDetection>> result(frames.size());
  if (frames.empty()) return result;
  const int grid = static_cast<int>(raw.size(1));
  const int size = options_.input_size;
  for (size_t f = 0; f < frames.size(); ++f) {
    const ImageView& frame = frames[f];
    // face-api's getReshapedInputDimensions: the frame scaled so its longer side is `size`.
    const double scale = static_cast<double>(size) / std::max(frame.width, frame.height);
    const double rw = std::floor(frame.width * scale + 0.5),
                 rh = std::floor(frame.height * scale + 0.5);
    const double side = std::max(rw, rh), sx = side / rw, sy = side / rh;
    const float* out = raw[static_cast<int64_t>(f)].data_ptr<float>();
    std::vector<RelBox> boxes;
    for (int row = 0; row < grid; ++row) {
      for (int col = 0; col < grid; ++col) {
        for (int a = 0; a < kAnchors; ++a) {
          const float* e = out + (static_cast<size_t>(row) * grid + col) * kAnchors * kBoxEncoding +
                           a * kBoxEncoding;
          const double score = sigmoid(e[4]);
          if (!(score > options_.score_threshold)) continue;
          const double cx = (col + sigmoid(e[0])) / grid * sx;
          const double cy = (row + sigmoid(e[1])) / grid * sy;
          const double w = std::exp(e[2]) * kAnchorSizes[a][0] / grid * sx;
          const double h = std::exp(e[3]) * kAnchorSizes[a][1] / grid * sy;
          boxes.push_back({cx - w / 2, cy - h / 2, w, h, score});
        }
      }
    }
    for (size_t k : non_max_suppression(boxes, kTinyFaceDetectorIou)) {
      const RelBox& b = boxes[k];
      result[f].push_back({b.left * frame.width, b.top * frame.height, b.width * frame.width,
                           b.height * frame.height, b.score});
    }
  }
  return result;
}

std::vector<FaceDetection> TinyFaceDetector::detect(const ImageView& frame) {
  return detect(std::vector<ImageView>{frame}).front();
}

}  // namespace siamese
