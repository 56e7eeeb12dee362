// dlib's face-recognition ResNet (Davis King), laid out as @vladmandic/face-api runs it
// (src/faceRecognitionNet/): 150x150 RGB -> 128-D, Euclidean distance, dlib's threshold 0.6.
// The architecture "dlib-resnet" of model files, and the loading of face-api's tfjs weights.
// Thread-safety: a module; one forward() at a time per instance.
#pragma once

#include <torch/torch.h>

#include <string>

#include "siamese/preprocess.h"
#include "siamese/tfjs_import.h"

namespace siamese {

constexpr const char* kDlibResNetArch = "dlib-resnet";
constexpr int kDlibResNetInputSize = 150;
constexpr int kDlibResNetEmbeddingSize = 128;
constexpr float kDlibResNetThreshold = 0.6f;  // dlib's usual same-person distance

/// A convolution (with bias) followed by dlib's per-channel affine layer:
/// y = (conv(x) + bias) * scale + shift. Registration names: conv, scale, shift.
class AffineConvImpl : public torch::nn::Module {
 public:
  AffineConvImpl(int in_channels, int out_channels, int kernel, int stride, int padding);
  torch::Tensor forward(const torch::Tensor& x);
  /// Inference only: folds scale and shift into a copy of the convolution's weight and bias
  /// (as they are now: device and dtype too); train(true) drops the copy.
  void fold();
  void train(bool on = true) override;

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::Tensor scale_, shift_;
  int64_t stride_, padding_;
  torch::Tensor folded_weight_, folded_bias_;  // undefined = not folded
};
TORCH_MODULE(AffineConv);

/// face-api's residual layer. Plain: relu(conv2(relu(conv1(x))) + x), 3x3 'same'. Down: conv1
/// is 3x3 stride 2 'valid' and the shortcut is a 2x2/2 average pool, zero-padded in channels
/// (to twice as many) and the conv path zero-padded at the bottom/right to the pool's size.
class DlibResidualImpl : public torch::nn::Module {
 public:
  DlibResidualImpl(int in_channels, int out_channels, bool down);
  torch::Tensor forward(const torch::Tensor& x);
  void fold();

 private:
  AffineConv conv1_{nullptr}, conv2_{nullptr};
  bool down_;
};
TORCH_MODULE(DlibResidual);

/// The whole branch: 7x7/2 'valid' conv (32), 3x3/2 max pool, residual stages of 32, 64, 128
/// and 256 channels, mean over space, 256->128 matrix. Input [N,3,150,150] as
/// dlib_resnet_input_spec() gives it -> [N,128], not normalised.
class DlibResNetImpl : public torch::nn::Module {
 public:
  DlibResNetImpl();
  torch::Tensor forward(torch::Tensor x);
  /// Inference only: folds every affine layer into its convolution (see AffineConvImpl::fold).
  void fold_affine();

 private:
  AffineConv stem_{nullptr};
  std::vector<DlibResidual> blocks_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(DlibResNet);

/// face-api's input: 150x150 RGB, (pixel - (122.782, 117.001, 104.298)) / 255.
InputSpec dlib_resnet_input_spec();

/// Floating-point operations of one face (side x side): 2 x the multiply-adds of the
/// convolutions and the fc matrix (affine, ReLU, pooling and additions left out, < 1%).
int64_t dlib_resnet_flops(int side = kDlibResNetInputSize);

/// Copies face-api's tensors (tfjs names and layouts: HWIO filters, [256,128] fc) into net,
/// after checking that every parameter has exactly one tensor of the right shape and that no
/// tensor is left over. Throws FileError naming the manifest and the tensor otherwise.
void load_face_api_weights(DlibResNetImpl& net, const TfjsWeights& weights);

}  // namespace siamese
