#include "siamese/model.h"

#include "siamese/errors.h"
#include "siamese/face_resnet.h"

namespace siamese {

namespace nn = torch::nn;

SeedNetImpl::SeedNetImpl() {
  // Registration names and order follow the seed's PyTorch module ("cnn.1.weight", "fc.0.bias").
  auto block = [](nn::Sequential& seq, int in, int out) {
    seq->push_back(nn::ReflectionPad2d(1));
    seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3)));
    seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    seq->push_back(nn::BatchNorm2d(out));
  };
  nn::Sequential cnn;
  block(cnn, 1, 4);
  block(cnn, 4, 8);
  block(cnn, 8, 8);
  cnn_ = register_module("cnn", cnn);
  fc_ = register_module(
      "fc", nn::Sequential(nn::Linear(8 * 100 * 100, 500),
                           nn::ReLU(nn::ReLUOptions().inplace(true)), nn::Linear(500, 500),
                           nn::ReLU(nn::ReLUOptions().inplace(true)), nn::Linear(500, 5)));
}

torch::Tensor SeedNetImpl::forward(torch::Tensor x) {
  x = cnn_->forward(x);
  x = x.reshape({x.size(0), -1});
  // Inference on 1-2 faces on the CPU (the element's usual batch): the 80000x500 Linear, 99% of
  // the work, as matrix-vector products over its contiguous rows. OpenBLAS runs x * W^T with so
  // few rows as a GEMM that is 1.2-1.9x slower than GEMV (7.0 vs 3.7 ms at batch 1; from batch
  // 4 on, GEMM wins).
  constexpr int64_t kGemvMaxBatch = 2;
  if (!is_training() && x.device().is_cpu() && x.size(0) <= kGemvMaxBatch) {
    auto layer = fc_->begin();
    const nn::Linear& first = layer->get<nn::Linear>();
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < x.size(0); ++i) rows.push_back(torch::mv(first->weight, x[i]));
    torch::Tensor h = torch::stack(rows) + first->bias;
    for (++layer; layer != fc_->end(); ++layer) h = layer->forward<torch::Tensor>(h);
    return h;
  }
  return fc_->forward(x);
}

FoldedConv FoldedConv::of(const nn::Conv2d& conv, const nn::BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  const torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  FoldedConv f;
  f.weight = conv->weight * scale.reshape({-1, 1, 1, 1});
  f.bias = bn->bias - bn->running_mean * scale;
  f.stride = conv->options.stride()->at(0);
  f.padding = conv->weight.size(2) / 2;  // every convolution here pads to keep the size
  return f;
}

torch::Tensor FoldedConv::operator()(const torch::Tensor& x) const {
  return torch::conv2d(x, weight, bias, stride, padding);
}

ResidualBlockImpl::ResidualBlockImpl(int in_channels, int out_channels, int stride) {
  conv1_ = register_module(
      "conv1",
      nn::Conv2d(
          nn::Conv2dOptions(in_channels, out_channels, 3).stride(stride).padding(1).bias(false)));
  bn1_ = register_module("bn1", nn::BatchNorm2d(out_channels));
  conv2_ = register_module(
      "conv2", nn::Conv2d(nn::Conv2dOptions(out_channels, out_channels, 3).padding(1).bias(false)));
  bn2_ = register_module("bn2", nn::BatchNorm2d(out_channels));
  nn::Sequential shortcut;
  if (stride != 1 || in_channels != out_channels) {
    shortcut->push_back(
        nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 1).stride(stride).bias(false)));
    shortcut->push_back(nn::BatchNorm2d(out_channels));
  }
  shortcut_ = register_module("shortcut", shortcut);
}

void ResidualBlockImpl::fold_batchnorm() {
  folded_ = {FoldedConv::of(conv1_, bn1_), FoldedConv::of(conv2_, bn2_)};
  if (shortcut_->size() > 0) {
    folded_.push_back(FoldedConv::of(
        nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(shortcut_->ptr(0))),
        nn::BatchNorm2d(std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(shortcut_->ptr(1)))));
  }
}

void ResidualBlockImpl::train(bool on) {
  if (on) folded_.clear();
  nn::Module::train(on);
}

torch::Tensor ResidualBlockImpl::forward(torch::Tensor x) {
  if (!folded_.empty() && !is_training()) {
    torch::Tensor out = folded_[1](folded_[0](x).relu_());
    return out.add_(folded_.size() > 2 ? folded_[2](x) : x).relu_();
  }
  torch::Tensor out = torch::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  torch::Tensor skip = shortcut_->size() == 0 ? x : shortcut_->forward(x);
  return torch::relu(out + skip);
}

namespace {
constexpr int kHeadChannels = 32;
constexpr int kHeadGrid = 4;
// Positions in ResidualEmbedNetImpl::features_ (its layout is the model file's state names).
constexpr size_t kStemConv = 0, kStemNorm = 1, kFirstBlock = 3, kLastBlock = 6, kHeadConv = 7,
                 kHeadNorm = 8;
}  // namespace

ResidualEmbedNetImpl::ResidualEmbedNetImpl(const ArchOptions& options) {
  const int c = options.base_channels;
  if (c <= 0 || options.embedding_size <= 0) {
    throw InputError("default architecture needs positive base_channels and embedding_size");
  }
  // Faces arrive aligned, so where a feature lies is information: the head keeps a 4x4 grid of
  // the last stage (reduced to kHeadChannels by a 1x1 convolution) instead of pooling it away.
  // On the AT&T protocol this took the test AUC from ~0.985 to ~0.992 (3 seeds each).
  nn::Sequential features(nn::Conv2d(nn::Conv2dOptions(1, c, 3).stride(2).padding(1).bias(false)),
                          nn::BatchNorm2d(c), nn::ReLU(nn::ReLUOptions().inplace(true)),
                          ResidualBlock(c, c, 1), ResidualBlock(c, 2 * c, 2),
                          ResidualBlock(2 * c, 4 * c, 2), ResidualBlock(4 * c, 8 * c, 2),
                          nn::Conv2d(nn::Conv2dOptions(8 * c, kHeadChannels, 1).bias(false)),
                          nn::BatchNorm2d(kHeadChannels), nn::ReLU(nn::ReLUOptions().inplace(true)),
                          nn::AdaptiveAvgPool2d(kHeadGrid), nn::Flatten());
  features_ = register_module("features", features);
  embed_ = register_module(
      "embed", nn::Linear(kHeadChannels * kHeadGrid * kHeadGrid, options.embedding_size));
}

void ResidualEmbedNetImpl::fold_batchnorm() {
  auto conv = [&](size_t i) {
    return nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(features_->ptr(i)));
  };
  auto norm = [&](size_t i) {
    return nn::BatchNorm2d(std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(features_->ptr(i)));
  };
  folded_ = {FoldedConv::of(conv(kStemConv), norm(kStemNorm)),
             FoldedConv::of(conv(kHeadConv), norm(kHeadNorm))};
  for (size_t i = kFirstBlock; i <= kLastBlock; ++i) {
    features_[i]->as<ResidualBlock>()->fold_batchnorm();
  }
}

void ResidualEmbedNetImpl::train(bool on) {
  if (on) folded_.clear();
  nn::Module::train(on);  // the blocks too
}

torch::Tensor ResidualEmbedNetImpl::forward(torch::Tensor x) {
  if (!folded_.empty() && !is_training()) {
    x = folded_[0](x).relu_();
    for (size_t i = kFirstBlock; i <= kLastBlock; ++i) {
      x = features_[i]->as<ResidualBlock>()->forward(x);
    }
    x = torch::adaptive_avg_pool2d(folded_[1](x).relu_(), {kHeadGrid, kHeadGrid}).flatten(1);
    return torch::nn::functional::normalize(
        embed_->forward(x), torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
  }
  return torch::nn::functional::normalize(
      embed_->forward(features_->forward(x)),
      torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

Network Network::create(const ArchOptions& options) {
  Network n;
  if (options.arch == "seed") {
    n.any_ = nn::AnyModule(SeedNet());
  } else if (options.arch == "default") {
    n.any_ = nn::AnyModule(ResidualEmbedNet(options));
  } else if (options.arch == kDlibResNetArch) {
    if (options.embedding_size != kDlibResNetEmbeddingSize) {
      throw InputError(std::string(kDlibResNetArch) + " gives 128-D embeddings (asked for " +
                       std::to_string(options.embedding_size) + ")");
    }
    n.any_ = nn::AnyModule(DlibResNet());
  } else {
    throw InputError("unknown architecture '" + options.arch +
                     "' (expected seed, default or dlib-resnet)");
  }
  n.module_ = n.any_.ptr();
  return n;
}

Network Network::from_script(torch::jit::Module module) {
  Network n;
  n.script_ = std::move(module);
  return n;
}

torch::Tensor Network::forward(const torch::Tensor& input) {
  if (script_) return script_->forward({input}).toTensor();
  return any_.forward<torch::Tensor>(input);
}

torch::Tensor infer_embeddings(Network& network, const torch::Tensor& input,
                               const EmbeddingRule& rule) {
  if (!rule.flip_average) return network.forward(input);
  const int64_t n = input.size(0);
  const torch::Tensor both = network.forward(torch::cat({input, input.flip({3})}));
  torch::Tensor mean = (both.narrow(0, 0, n) + both.narrow(0, n, n)) * 0.5;
  if (rule.normalized)
    mean = torch::nn::functional::normalize(
        mean, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
  return mean;
}

void Network::train(bool on) {
  if (script_) {
    script_->train(on);
  } else {
    module_->train(on);
  }
}

void Network::fold_batchnorm() {
  if (script_) return;
  if (auto net = std::dynamic_pointer_cast<ResidualEmbedNetImpl>(module_)) net->fold_batchnorm();
  if (auto net = std::dynamic_pointer_cast<DlibResNetImpl>(module_)) net->fold_affine();
}

void Network::to(const torch::Device& device) {
  if (script_) {
    script_->to(device);
  } else {
    module_->to(device);
  }
}

std::vector<torch::Tensor> Network::parameters() const {
  if (!script_) return module_->parameters();
  std::vector<torch::Tensor> out;
  for (const auto& p : script_->parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> Network::named_state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  if (script_) {
    for (const auto& p : script_->named_parameters()) out.emplace_back(p.name, p.value);
    for (const auto& b : script_->named_buffers()) out.emplace_back(b.name, b.value);
  } else {
    for (const auto& p : module_->named_parameters()) out.emplace_back(p.key(), p.value());
    for (const auto& b : module_->named_buffers()) out.emplace_back(b.key(), b.value());
  }
  return out;
}

int64_t count_parameters(const Network& network) {
  int64_t n = 0;
  for (const auto& p : network.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace siamese
