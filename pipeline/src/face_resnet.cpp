#include "siamese/face_resnet.h"

#include <set>
#include <sstream>

#include "siamese/errors.h"

namespace siamese {

namespace nn = torch::nn;

AffineConvImpl::AffineConvImpl(int in_channels, int out_channels, int kernel, int stride,
                               int padding)
    : stride_(stride), padding_(padding) {
  conv_ = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, kernel)
                                                 .stride(stride)
                                                 .padding(padding)
                                                 .bias(true)));
  scale_ = register_parameter("scale", torch::ones({out_channels}));
  shift_ = register_parameter("shift", torch::zeros({out_channels}));
}

void AffineConvImpl::fold() {
  torch::NoGradGuard no_grad;
  folded_weight_ = conv_->weight * scale_.reshape({-1, 1, 1, 1});
  folded_bias_ = conv_->bias * scale_ + shift_;
}

void AffineConvImpl::train(bool on) {
  if (on) folded_weight_ = folded_bias_ = torch::Tensor();
  nn::Module::train(on);
}

torch::Tensor AffineConvImpl::forward(const torch::Tensor& x) {
  if (folded_weight_.defined() && !is_training()) {
    // LibTorch sends a batch of one face with small activations (the 64-channel stages and
    // deeper) to its im2col + BLAS path; oneDNN is faster there: batch 1, one thread,
    // 40-43 -> 47-51 embeddings/s (samples/bench/dlib_bench, alternating), larger batches alike.
    if (at::hasMKLDNN() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32) {
      return at::mkldnn_convolution(x, folded_weight_, folded_bias_, {padding_, padding_},
                                    {stride_, stride_}, {1, 1}, 1);
    }
    return torch::conv2d(x, folded_weight_, folded_bias_, stride_, padding_);
  }
  // face-api's order: conv, + bias, * scale, + shift.
  const torch::Tensor y = conv_->forward(x);
  return y * scale_.reshape({1, -1, 1, 1}) + shift_.reshape({1, -1, 1, 1});
}

DlibResidualImpl::DlibResidualImpl(int in_channels, int out_channels, bool down) : down_(down) {
  if (!down && in_channels != out_channels) {
    throw InputError("dlib-resnet: a plain residual layer keeps its channel count");
  }
  if (down && out_channels != in_channels && out_channels != 2 * in_channels) {
    throw InputError("dlib-resnet: a down layer keeps or doubles its channel count");
  }
  conv1_ = register_module("conv1",
                           AffineConv(in_channels, out_channels, 3, down ? 2 : 1, down ? 0 : 1));
  conv2_ = register_module("conv2", AffineConv(out_channels, out_channels, 3, 1, 1));
}

void DlibResidualImpl::fold() {
  conv1_->fold();
  conv2_->fold();
}

torch::Tensor DlibResidualImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = conv2_->forward(conv1_->forward(x).relu_());
  if (!down_) return out.add_(x).relu_();
  torch::Tensor pooled = torch::avg_pool2d(x, 2, 2);
  // A 'valid' 3x3/2 convolution of an even size is one row and column short of the pool's.
  const int64_t pad_h = pooled.size(2) - out.size(2), pad_w = pooled.size(3) - out.size(3);
  if (pad_h != 0 || pad_w != 0) {
    out = nn::functional::pad(out, nn::functional::PadFuncOptions({0, pad_w, 0, pad_h}));
  }
  const int64_t extra = out.size(1) - pooled.size(1);
  if (extra > 0) {
    pooled = nn::functional::pad(pooled, nn::functional::PadFuncOptions({0, 0, 0, 0, 0, extra}));
  }
  return out.add_(pooled).relu_();
}

namespace {

struct Stage {
  const char* name;
  int in, out;
  bool down;
};

// face-api's layer names (its weights' prefixes) in forward order.
constexpr Stage kStages[] = {
    {"conv32_1", 32, 32, false},      {"conv32_2", 32, 32, false},
    {"conv32_3", 32, 32, false},      {"conv64_down", 32, 64, true},
    {"conv64_1", 64, 64, false},      {"conv64_2", 64, 64, false},
    {"conv64_3", 64, 64, false},      {"conv128_down", 64, 128, true},
    {"conv128_1", 128, 128, false},   {"conv128_2", 128, 128, false},
    {"conv256_down", 128, 256, true}, {"conv256_1", 256, 256, false},
    {"conv256_2", 256, 256, false},   {"conv256_down_out", 256, 256, true},
};

}  // namespace

DlibResNetImpl::DlibResNetImpl() {
  stem_ = register_module("conv32_down", AffineConv(3, 32, 7, 2, 0));
  for (const Stage& s : kStages) {
    blocks_.push_back(register_module(s.name, DlibResidual(s.in, s.out, s.down)));
  }
  fc_ = register_module("fc",
                        nn::Linear(nn::LinearOptions(256, kDlibResNetEmbeddingSize).bias(false)));
}

void DlibResNetImpl::fold_affine() {
  stem_->fold();
  for (auto& b : blocks_) b->fold();
}

torch::Tensor DlibResNetImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    throw InputError("dlib-resnet: expected input [N,3,H,W], got " + c10::str(x.sizes()));
  }
  x = torch::max_pool2d(stem_->forward(x).relu_(), 3, 2);
  for (auto& b : blocks_) x = b->forward(x);
  return fc_->forward(x.mean({2, 3}));
}

InputSpec dlib_resnet_input_spec() {
  InputSpec spec;
  spec.width = spec.height = kDlibResNetInputSize;
  spec.channels = 3;
  spec.scale = 1.0f / 255.0f;
  // (pixel - mean) / 255 = pixel / 255 - mean / 255.
  spec.mean = {122.782f / 255.0f, 117.001f / 255.0f, 104.298f / 255.0f};
  spec.std = {1.0f, 1.0f, 1.0f};
  return spec;
}

int64_t dlib_resnet_flops(int side) {
  const auto valid = [](int in, int kernel, int stride) { return (in - kernel) / stride + 1; };
  int size = valid(side, 7, 2);
  int64_t flops = 2LL * size * size * 32 * 3 * 7 * 7;
  size = valid(size, 3, 2);  // max pool
  for (const Stage& s : kStages) {
    const int64_t out = s.down ? valid(size, 3, 2) : size;  // both convolutions' output side
    flops += 2LL * out * out * s.out * (s.in + s.out) * 9;
    if (s.down) size /= 2;  // the shortcut's pool; the conv path is padded to it
  }
  return flops + 2LL * 256 * kDlibResNetEmbeddingSize;
}

namespace {

// A parameter's tfjs name and the permutation from the tfjs layout to ours (empty: none).
struct TfjsSource {
  std::string name;
  std::vector<int64_t> to_torch;  // torch tensor = tfjs tensor.permute(to_torch)
};

TfjsSource tfjs_source(const std::string& param) {
  std::string name = param;
  for (char& c : name) {
    if (c == '.') c = '/';
  }
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  auto replace_end = [&](const std::string& suffix, const std::string& with) {
    name = name.substr(0, name.size() - suffix.size()) + with;
  };
  if (name == "fc/weight") return {"fc", {1, 0}};  // [256,128] in, out -> [128,256]
  if (ends_with("/conv/weight")) {
    replace_end("/weight", "/filters");
    return {name, {3, 2, 0, 1}};  // HWIO -> OIHW
  }
  if (ends_with("/conv/bias")) return {name, {}};
  if (ends_with("/scale")) return {name + "/weights", {}};
  if (ends_with("/shift")) {
    replace_end("/shift", "/scale/biases");
    return {name, {}};
  }
  return {name, {}};
}

}  // namespace

void load_face_api_weights(DlibResNetImpl& net, const TfjsWeights& weights) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& p : net.named_parameters()) {
    const TfjsSource source = tfjs_source(p.key());
    copy_tfjs_tensor(weights, source.name, source.to_torch, p.value(), "dlib-resnet", p.key(),
                     used);
  }
  check_every_tfjs_tensor_used(weights, used, "dlib-resnet");
}

}  // namespace siamese
