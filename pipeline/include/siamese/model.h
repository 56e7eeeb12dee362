// The Siamese network's branch: one embedding network whose weights both members of a pair
// share. Native architectures ("seed", "default", the imported "dlib-resnet" of face_resnet.h)
// plus TorchScript modules trained elsewhere, behind one Network type. Registration names are
// part of the model file format.
// Thread-safety: a Network is not safe for concurrent forward() calls; one per thread/element.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>

namespace siamese {

/// Architecture name and options, as recorded in the model file.
struct ArchOptions {
  std::string arch = "default";  // "seed" | "default" | "dlib-resnet" | "torchscript"
  int embedding_size = 128;      // seed: 5
  int base_channels = 16;        // default: width of the first stage (x2 per stage)

  ArchOptions& set_arch(std::string a) {
    arch = std::move(a);
    return *this;
  }
  ArchOptions& set_embedding_size(int n) {
    embedding_size = n;
    return *this;
  }
  ArchOptions& set_base_channels(int n) {
    base_channels = n;
    return *this;
  }
};

/// The seed's SiameseNetwork branch, exactly: 3 x [ReflectionPad(1), Conv3x3, ReLU, BatchNorm]
/// 1->4->8->8 on 1x100x100, then 80000->500->500->5. Input [N,1,100,100] -> [N,5].
class SeedNetImpl : public torch::nn::Module {
 public:
  SeedNetImpl();
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential cnn_{nullptr};
  torch::nn::Sequential fc_{nullptr};
};
TORCH_MODULE(SeedNet);

/// Basic residual block: conv3x3-BN-ReLU-conv3x3-BN plus a (strided 1x1) shortcut.
/// A convolution with its BatchNorm folded in (eval only): conv(x, weight, bias).
struct FoldedConv {
  torch::Tensor weight, bias;
  int64_t stride = 1, padding = 0;
  /// From a bias-free conv and the BatchNorm after it, as they are now (device and dtype too).
  static FoldedConv of(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn);
  torch::Tensor operator()(const torch::Tensor& x) const;
};

class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int in_channels, int out_channels, int stride);
  torch::Tensor forward(torch::Tensor x);
  /// See ResidualEmbedNetImpl::fold_batchnorm.
  void fold_batchnorm();
  void train(bool on = true) override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
  std::vector<FoldedConv> folded_;  // conv1, conv2[, shortcut]; empty = not folded
};
TORCH_MODULE(ResidualBlock);

/// The default branch: a compact residual CNN (stem + 4 stages, then a 1x1 reduction to 32
/// channels kept on a 4x4 grid) ending in an L2-normalised embedding.
/// Input [N,1,64,64] -> [N,embedding_size], unit norm.
class ResidualEmbedNetImpl : public torch::nn::Module {
 public:
  explicit ResidualEmbedNetImpl(const ArchOptions& options);
  torch::Tensor forward(torch::Tensor x);
  /// Inference only: folds every BatchNorm into the convolution before it, so eval forward
  /// passes skip them (the same function, ~1.2x faster on the CPU). Call after the last
  /// to(device/dtype); train(true) drops the folded copies (the weights then change).
  void fold_batchnorm();
  void train(bool on = true) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear embed_{nullptr};
  std::vector<FoldedConv> folded_;  // stem, head; empty = not folded
};
TORCH_MODULE(ResidualEmbedNet);

/// One branch of the Siamese network, native or TorchScript. Copies share the same weights.
class Network {
 public:
  /// A freshly initialised native network; throws InputError for an unknown arch.
  static Network create(const ArchOptions& options);
  /// Wraps a TorchScript module whose forward maps [N,C,H,W] -> [N,E].
  static Network from_script(torch::jit::Module module);

  /// [N,C,H,W] float -> [N,E] float, on the network's device.
  torch::Tensor forward(const torch::Tensor& input);
  void train(bool on = true);
  void to(const torch::Device& device);
  /// Folds BatchNorm (default) or affine layers (dlib-resnet) into convolutions for inference;
  /// a no-op for the others. Call after to() and train(false).
  void fold_batchnorm();
  /// Trainable parameters (native: registration order; script: named_parameters order).
  std::vector<torch::Tensor> parameters() const;
  /// Parameters then buffers with their registration names: what the fingerprint covers.
  std::vector<std::pair<std::string, torch::Tensor>> named_state() const;
  bool is_script() const { return script_.has_value(); }
  /// The native module (for serialisation); nullptr for TorchScript.
  std::shared_ptr<torch::nn::Module> module() const { return module_; }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule any_;
  std::optional<torch::jit::Module> script_;
};

/// Number of trainable scalars.
int64_t count_parameters(const Network& network);

/// How embeddings are read from a trained branch (the model file records the rule).
struct EmbeddingRule {
  bool flip_average = false;  // the mean of a face's and its mirror image's embeddings
  bool normalized = false;    // the branch's embeddings have unit norm (the mean is renormalised)
};

/// [N,C,H,W] -> [N,E] at inference, as `rule` says: with flip_average one forward pass of
/// 2N faces (the batch and its left-right mirror). Faces are about symmetric, so both views
/// describe the same person; their mean cancels part of each view's noise.
torch::Tensor infer_embeddings(Network& network, const torch::Tensor& input,
                               const EmbeddingRule& rule);

}  // namespace siamese
