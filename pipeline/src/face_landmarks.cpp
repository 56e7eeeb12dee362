#include "siamese/face_landmarks.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "region.h"
#include "siamese/errors.h"
#include "siamese/pretrained.h"

namespace siamese {

namespace nn = torch::nn;

namespace {

// tfjs 'same' padding: the output is ceil(in / stride); an odd total goes after (bottom/right).
torch::Tensor pad_same(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  const auto pads = [&](int64_t in) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
    return std::make_pair(total / 2, total - total / 2);
  };
  const auto [top, bottom] = pads(x.size(2));
  const auto [left, right] = pads(x.size(3));
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return x;
  return nn::functional::pad(x, nn::functional::PadFuncOptions({left, right, top, bottom}));
}

// face-api's landmark mean (the same as the recognition network's), RGB.
constexpr float kLandmarkMean[3] = {122.782f, 117.001f, 104.298f};

}  // namespace

SeparableConvImpl::SeparableConvImpl(int in_channels, int out_channels, int stride)
    : stride_(stride) {
  depthwise_ = register_parameter("depthwise_filter", torch::zeros({in_channels, 1, 3, 3}));
  pointwise_ =
      register_parameter("pointwise_filter", torch::zeros({out_channels, in_channels, 1, 1}));
  bias_ = register_parameter("bias", torch::zeros({out_channels}));
}

torch::Tensor SeparableConvImpl::forward(const torch::Tensor& x) {
  const std::vector<int64_t> step{stride_, stride_}, no_padding{0, 0}, no_dilation{1, 1};
  const torch::Tensor d =
      torch::conv2d(pad_same(x, 3, stride_), depthwise_, torch::Tensor(), torch::IntArrayRef(step),
                    torch::IntArrayRef(no_padding), torch::IntArrayRef(no_dilation), x.size(1));
  return torch::conv2d(d, pointwise_, bias_);
}

LandmarkDenseBlockImpl::LandmarkDenseBlockImpl(int in_channels, int out_channels, int convs,
                                               bool first) {
  if (first) {
    plain_ = register_module(
        "conv0", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 3).stride(2).bias(true)));
  } else {
    separable_.push_back(register_module("conv0", SeparableConv(in_channels, out_channels, 2)));
  }
  for (int i = 1; i < convs; ++i) {
    separable_.push_back(
        register_module("conv" + std::to_string(i), SeparableConv(out_channels, out_channels, 1)));
  }
}

torch::Tensor LandmarkDenseBlockImpl::forward(const torch::Tensor& x) {
  size_t next = 0;
  // The running sum of the block's outputs: relu(conv0), then + each later conv's output, each
  // later conv reading the ReLU of the sum so far.
  torch::Tensor acc =
      (plain_ ? plain_->forward(pad_same(x, 3, 2)) : separable_[next++]->forward(x)).relu_();
  for (; next < separable_.size(); ++next) {
    const torch::Tensor y = separable_[next]->forward(acc.relu());
    acc.add_(y);
  }
  return acc.relu_();
}

FaceLandmarkNetImpl::FaceLandmarkNetImpl(bool tiny) : tiny_(tiny) {
  const int convs = tiny ? 3 : 4;
  const std::vector<int> channels =
      tiny ? std::vector<int>{32, 64, 128} : std::vector<int>{32, 64, 128, 256};
  int in = 3;
  for (size_t i = 0; i < channels.size(); ++i) {
    blocks_.push_back(register_module("dense" + std::to_string(i),
                                      LandmarkDenseBlock(in, channels[i], convs, i == 0)));
    in = channels[i];
  }
  fc_ = register_module("fc", nn::Linear(nn::LinearOptions(in, 2 * kLandmarkCount)));
}

torch::Tensor FaceLandmarkNetImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != kLandmarkInputSize ||
      x.size(3) != kLandmarkInputSize) {
    throw InputError("face landmarks: expected input [N,3,112,112], got " + c10::str(x.sizes()));
  }
  const torch::Tensor mean =
      torch::tensor({kLandmarkMean[0], kLandmarkMean[1], kLandmarkMean[2]}, x.options())
          .reshape({1, 3, 1, 1});
  x = (x - mean) / 255.0f;
  for (auto& b : blocks_) x = b->forward(x);
  // face-api: average pool 7x7 (14x14 tiny), stride 2, 'valid': the whole 7x7 (14x14) map.
  x = x.mean({2, 3});
  return fc_->forward(x);
}

namespace {

struct TfjsSource {
  std::string name;
  std::vector<int64_t> to_torch;  // torch tensor = tfjs tensor.permute(to_torch); empty: as is
};

TfjsSource tfjs_source(const std::string& param) {
  std::string name = param;
  std::replace(name.begin(), name.end(), '.', '/');
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "fc/weight") return {"fc/weights", {1, 0}};  // [in,136] -> [136,in]
  if (name == "fc/bias") return {"fc/bias", {}};
  if (ends_with("/weight")) {  // the first block's plain conv: HWIO -> OIHW
    return {name.substr(0, name.size() - 7) + "/filters", {3, 2, 0, 1}};
  }
  if (ends_with("/depthwise_filter")) return {name, {2, 3, 0, 1}};  // [3,3,C,1] -> [C,1,3,3]
  if (ends_with("/pointwise_filter")) return {name, {3, 2, 0, 1}};  // [1,1,I,O] -> [O,I,1,1]
  return {name, {}};
}

std::string how_to_fetch(const std::string& dir) {
  return "fetch the pinned package with " + std::string(kFetchWeightsCommand) + " (npm pack " +
         kFaceApiPackage + "@" + kFaceApiVersion + " into " + dir +
         "; SIAMESE_WEIGHTS_DIR chooses the folder)";
}

}  // namespace

void load_face_api_landmark_weights(FaceLandmarkNetImpl& net, const TfjsWeights& weights) {
  const std::string arch = net.tiny() ? "face_landmark_68_tiny" : "face_landmark_68";
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& p : net.named_parameters()) {
    const TfjsSource source = tfjs_source(p.key());
    copy_tfjs_tensor(weights, source.name, source.to_torch, p.value(), arch, p.key(), used);
  }
  check_every_tfjs_tensor_used(weights, used, arch);
}

FaceLandmarkNet import_face_api_landmarks(const std::string& dir, bool tiny, bool verify) {
  const std::string manifest_rel = tiny ? kLandmarkTinyManifest : kLandmarkManifest;
  const std::string manifest = (std::filesystem::path(dir) / manifest_rel).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(manifest, ec)) {
    throw FileError(manifest, "missing: " + how_to_fetch(dir));
  }
  if (verify) {
    verify_pinned_file(dir, manifest_rel);
    verify_pinned_file(
        dir, tiny ? "model/face_landmark_68_tiny_model.bin" : "model/face_landmark_68_model.bin");
  }
  const TfjsWeights weights = read_tfjs_weights(manifest);
  FaceLandmarkNet net(tiny);
  load_face_api_landmark_weights(*net, weights);
  net->eval();
  return net;
}

namespace {

// The box face-api crops: rounded down (integer boxes here) and clipped to the frame.
cv::Rect clipped_crop(const ImageView& view, const Box& box) {
  const cv::Rect crop =
      cv::Rect(box.x, box.y, box.width, box.height) & cv::Rect(0, 0, view.width, view.height);
  if (crop.empty()) {
    throw InputError("face box " + std::to_string(box.width) + "x" + std::to_string(box.height) +
                     " at (" + std::to_string(box.x) + "," + std::to_string(box.y) +
                     ") lies outside the " + std::to_string(view.width) + "x" +
                     std::to_string(view.height) + " frame");
  }
  return crop;
}

}  // namespace

void landmark_input_into(const ImageView& view, const Box& box, float* out) {
  view.validate();
  const cv::Rect crop = clipped_crop(view, box);
  const cv::Mat rgb = detail::read_region(view, crop, 3);
  // face-api's padToSquare(isCenter): the shorter side gets zeros, round(d/2) after it and the
  // rest before it; then tf.image.resizeBilinear(112, alignCorners false, halfPixelCenters false).
  const int w = crop.width, h = crop.height, side = std::max(w, h);
  const int diff = side - std::min(w, h);
  const int after = static_cast<int>(std::floor(diff * 0.5 + 0.5));
  const int before = diff - after;
  const int off_x = w < h ? before : 0, off_y = h < w ? before : 0;
  const int n = kLandmarkInputSize;
  const double ratio = static_cast<double>(side) / n;
  std::vector<int> x0(n), x1(n);
  std::vector<float> fx(n);
  for (int i = 0; i < n; ++i) {
    const double src = ratio * i;
    x0[i] = static_cast<int>(std::floor(src));
    x1[i] = std::min(side - 1, static_cast<int>(std::ceil(src)));
    fx[i] = static_cast<float>(src - x0[i]);
  }
  // A pixel of the padded square (zeros outside the crop).
  const auto at = [&](int sy, int sx, int c) -> float {
    const int y = sy - off_y, x = sx - off_x;
    if (y < 0 || y >= h || x < 0 || x >= w) return 0.0f;
    return rgb.ptr<uchar>(y)[3 * x + c];
  };
  const size_t plane = static_cast<size_t>(n) * n;
  for (int r = 0; r < n; ++r) {
    const int top = x0[r], bottom = x1[r];
    const float fy = fx[r];
    for (int col = 0; col < n; ++col) {
      const int left = x0[col], right = x1[col];
      const float fc = fx[col];
      for (int c = 0; c < 3; ++c) {
        const float tl = at(top, left, c), tr = at(top, right, c);
        const float bl = at(bottom, left, c), br = at(bottom, right, c);
        const float t = tl + (tr - tl) * fc;
        const float b = bl + (br - bl) * fc;
        out[c * plane + static_cast<size_t>(r) * n + col] = t + (b - t) * fy;
      }
    }
  }
}

namespace {

// The point each of the 68 becomes in the mirror image (iBUG numbering): the jaw, brows, nose
// wings, eyes and lips swap sides; the nose bridge and the lips' middle stay.
constexpr std::array<int, kLandmarkCount> kMirrorPoint = {
    16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0,   // jaw
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                              // brows
    27, 28, 29, 30, 35, 34, 33, 32, 31,                                  // nose
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                      // eyes
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60,  // lips
    67, 66, 65};

// The relative points of a mirrored input mapped back onto the face as it is: x -> 1 - x, each
// point from its mirror partner.
std::array<float, 2 * kLandmarkCount> unmirrored(const float* mirrored) {
  std::array<float, 2 * kLandmarkCount> out{};
  for (int i = 0; i < kLandmarkCount; ++i) {
    const int m = kMirrorPoint[i];
    out[2 * i] = 1.0f - mirrored[2 * m];
    out[2 * i + 1] = mirrored[2 * m + 1];
  }
  return out;
}

}  // namespace

Landmarks68 mirror_landmarks(const Landmarks68& points, int frame_width) {
  Landmarks68 out;
  for (int i = 0; i < kLandmarkCount; ++i) {
    const Point2f& p = points[kMirrorPoint[i]];
    out[i] = Point2f{static_cast<float>(frame_width) - p.x, p.y};
  }
  return out;
}

Landmarks68 landmarks_from_output(const float* values, const Box& box, const ImageView& view) {
  const cv::Rect crop = clipped_crop(view, box);
  // face-api's postProcess: the crop scaled to fit 112, its padding taken as |w - h| / 2.
  const double n = kLandmarkInputSize;
  const double side = std::max(crop.width, crop.height);
  const double rw = crop.width * n / side, rh = crop.height * n / side;
  const double pad_x = rw < rh ? (rh - rw) / 2 : 0.0, pad_y = rh < rw ? (rw - rh) / 2 : 0.0;
  Landmarks68 out;
  for (int i = 0; i < kLandmarkCount; ++i) {
    const double rel_x = (values[2 * i] * n - pad_x) / rw;
    const double rel_y = (values[2 * i + 1] * n - pad_y) / rh;
    out[i].x = static_cast<float>(crop.x + rel_x * crop.width);
    out[i].y = static_cast<float>(crop.y + rel_y * crop.height);
  }
  return out;
}

Box landmark_box(const Landmarks68& points) {
  float x0 = points[0].x, x1 = x0, y0 = points[0].y, y1 = y0;
  for (const Point2f& p : points) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  const double side = std::max(1.0, static_cast<double>(std::max(x1 - x0, y1 - y0)));
  const double cx = (x0 + x1) / 2.0, cy = (y0 + y1) / 2.0;
  const int s = static_cast<int>(std::lround(side));
  return Box{static_cast<int>(std::lround(cx - s / 2.0)),
             static_cast<int>(std::lround(cy - s / 2.0)), s, s};
}

FaceLandmarker::FaceLandmarker(const std::string& dir, torch::Device device,
                               LandmarkerOptions options)
    : device_(device), options_(options) {
  check_options();
  net_ = import_face_api_landmarks(dir, options_.tiny);
  net_->to(device_);
  net_->eval();
}

FaceLandmarker::FaceLandmarker(NetworkForward network, torch::Device device,
                               LandmarkerOptions options)
    : network_(std::move(network)), device_(device), options_(options) {
  check_options();
  if (!network_) throw InputError("FaceLandmarker: no network function");
}

void FaceLandmarker::check_options() const {
  if (options_.batch_size < 1) {
    throw InputError("landmark batch size " + std::to_string(options_.batch_size) +
                     " must be at least 1");
  }
  if (!std::isfinite(options_.framing.scale) || options_.framing.scale < 0.25f ||
      options_.framing.scale > 4.0f || !std::isfinite(options_.framing.shift_y) ||
      std::abs(options_.framing.shift_y) > 1.0f) {
    throw InputError("landmark framing: scale must be in [0.25, 4] and |shift_y| <= 1");
  }
}

torch::Tensor FaceLandmarker::forward(const torch::Tensor& inputs) {
  if (network_) return network_(inputs);
  c10::InferenceMode guard;
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < inputs.size(0); first += options_.batch_size) {
    const int64_t count = std::min<int64_t>(options_.batch_size, inputs.size(0) - first);
    parts.push_back(net_->forward(inputs.narrow(0, first, count).to(device_)).to(torch::kCPU));
  }
  if (parts.empty()) return torch::empty({0, 2 * kLandmarkCount});
  return torch::cat(parts).contiguous();
}

std::vector<Landmarks68> FaceLandmarker::run(const ImageView& view, const std::vector<Box>& direct,
                                             const std::vector<Box>& mirrored) {
  const int64_t count = static_cast<int64_t>(direct.size());
  const int64_t total = count + static_cast<int64_t>(mirrored.size());
  std::vector<Landmarks68> out;
  if (total == 0) return out;
  torch::Tensor batch =
      torch::empty({total, 3, kLandmarkInputSize, kLandmarkInputSize}, torch::kFloat32);
  const int64_t face_floats = 3LL * kLandmarkInputSize * kLandmarkInputSize;
  const auto box_at = [&](int64_t i) -> const Box& {
    return i < count ? direct[i] : mirrored[i - count];
  };
  for (int64_t i = 0; i < total; ++i) {
    landmark_input_into(view, box_at(i), batch.data_ptr<float>() + i * face_floats);
  }
  if (total > count) {
    batch.narrow(0, count, total - count).copy_(batch.narrow(0, count, total - count).flip({3}));
  }
  const torch::Tensor values = forward(batch);
  out.reserve(total);
  for (int64_t i = 0; i < total; ++i) {
    const float* v = values[i].data_ptr<float>();
    out.push_back(i < count ? landmarks_from_output(v, box_at(i), view)
                            : landmarks_from_output(unmirrored(v).data(), box_at(i), view));
  }
  return out;
}

std::vector<Landmarks68> FaceLandmarker::detect(const ImageView& view,
                                                const std::vector<Box>& boxes) {
  std::vector<Box> framed;
  framed.reserve(boxes.size());
  for (const Box& b : boxes) {
    const double cx = b.x + b.width / 2.0;
    const double cy = b.y + b.height / 2.0 + options_.framing.shift_y * b.height;
    const int w = std::max(1, static_cast<int>(std::lround(b.width * options_.framing.scale)));
    const int h = std::max(1, static_cast<int>(std::lround(b.height * options_.framing.scale)));
    framed.push_back(Box{static_cast<int>(std::lround(cx - w / 2.0)),
                         static_cast<int>(std::lround(cy - h / 2.0)), w, h});
  }
  // Two chains of passes, batched together: the faces as they are and, with mirror, mirrored.
  // Each chain refits its own boxes, so the two estimates err independently.
  const size_t n = boxes.size();
  std::vector<Box> chain_boxes = framed;
  if (options_.mirror) chain_boxes.insert(chain_boxes.end(), framed.begin(), framed.end());
  const auto pass = [&] {
    return run(view, std::vector<Box>(chain_boxes.begin(), chain_boxes.begin() + n),
               std::vector<Box>(chain_boxes.begin() + n, chain_boxes.end()));
  };
  std::vector<Landmarks68> points = pass();
  if (options_.refine) {
    for (size_t i = 0; i < points.size(); ++i) {
      const Box b = landmark_box(points[i]);
      // A refit box that leaves the frame entirely (a hopeless first pass) keeps the first box.
      const cv::Rect inside =
          cv::Rect(b.x, b.y, b.width, b.height) & cv::Rect(0, 0, view.width, view.height);
      chain_boxes[i] = inside.empty() ? framed[i % n] : b;
    }
    points = pass();
  }
  if (!options_.mirror) return points;
  std::vector<Landmarks68> mean(n);
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < kLandmarkCount; ++k) {
      mean[i][k] = Point2f{(points[i][k].x + points[n + i][k].x) / 2.0f,
                           (points[i][k].y + points[n + i][k].y) / 2.0f};
    }
  }
  return mean;
}

}  // namespace siamese
