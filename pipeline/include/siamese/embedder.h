// Runs the shared-weight branch over batches of face tensors on one device, under
// c10::InferenceMode, in chunks of at most batch_size faces per forward pass; on CUDA in fp32
// or fp16, with host batches copied from pinned memory on the embedder's own CUDA stream.
// Thread-safety: one Embedder per thread (it owns its network copy and its stream).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "siamese/face_landmarks.h"
#include "siamese/face_points.h"
#include "siamese/limits.h"
#include "siamese/model_file.h"

namespace siamese {

class FaceAligner;  // face_align.h

/// Arithmetic of the forward pass: fp32, or fp16 (half precision, CUDA only).
enum class Precision { kFloat32, kFloat16 };

/// "fp32" or "fp16"; throws InputError naming `precision` otherwise.
Precision parse_precision(const std::string& name);
/// "fp32" or "fp16".
const char* precision_name(Precision precision);

class Embedder {
 public:
  /// Moves the model to device (converted to half for fp16) and sets eval mode; batch_size
  /// >= 1, fp16 only on CUDA (InputError naming batch-size / precision otherwise). A model
  /// that aligns loads face-api's landmark network too (FileError naming its file when absent).
  Embedder(LoadedModel model, torch::Device device, int batch_size = kDefaultBatchSize,
           Precision precision = Precision::kFloat32);

  /// inputs [N,C,H,W] float (any device) -> embeddings [N,E] float on the CPU.
  torch::Tensor embed(const torch::Tensor& inputs);
  /// inputs [N,C,H,W] -> embeddings [N,E] left on the embedder's device (for the matcher).
  torch::Tensor embed_on_device(const torch::Tensor& inputs);
  /// Preprocesses the boxes of one frame into one batch and embeds it: [boxes.size(), E] CPU.
  /// A model that aligns gets each face's landmarks first (face_landmarks).
  torch::Tensor embed_faces(const ImageView& view, const std::vector<Box>& boxes, Framing framing);
  /// The landmarks preprocess_into needs for these boxes when the model's crop policy aligns
  /// (face-api's 68-point network, on the embedder's device), one per box; empty when it does
  /// not align or for exact framing (a pre-cropped image is used as it is).
  std::vector<Landmarks68> face_landmarks(const ImageView& view, const std::vector<Box>& boxes,
                                          Framing framing = Framing::kDetectorBox);
  /// The landmark network of a model that aligns (null otherwise): to share it between streams.
  FaceLandmarker* landmarker() const;
  /// True when the model's faces are cut out along landmarks (crop policy align on).
  bool aligns() const { return aligner_ != nullptr; }

  /// One forward pass of a full batch and of a single face (zeros), waited for: CUDA context,
  /// cuDNN choices and allocator caches are ready before the first real frame.
  void warm_up();

  const ModelInfo& info() const { return model_.info; }
  const InputSpec& input_spec() const { return model_.info.input; }
  torch::Device device() const { return device_; }
  int batch_size() const { return batch_size_; }
  Precision precision() const { return precision_; }

 private:
  struct CudaState;  // own stream and events, where LibTorch has CUDA

  torch::Tensor forward_chunks(const torch::Tensor& inputs);

  LoadedModel model_;
  torch::Device device_;
  int batch_size_;
  Precision precision_;
  std::shared_ptr<CudaState> cuda_;
  std::shared_ptr<FaceAligner> aligner_;  // set when the model aligns
};

}  // namespace siamese
