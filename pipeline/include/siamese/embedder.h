// Runs the shared-weight branch over batches of face tensors on one device, under
// c10::InferenceMode, in chunks of at most batch_size faces per forward pass.
// Thread-safety: one Embedder per thread (it owns its network copy).
#pragma once

#include <torch/types.h>

#include <vector>

#include "siamese/model_file.h"

namespace siamese {

constexpr int kDefaultBatchSize = 32;

class Embedder {
 public:
  /// Moves the model to device and sets eval mode; batch_size >= 1 (InputError otherwise).
  Embedder(LoadedModel model, torch::Device device, int batch_size = kDefaultBatchSize);

  /// inputs [N,C,H,W] float (any device) -> embeddings [N,E] float on the CPU.
  torch::Tensor embed(const torch::Tensor& inputs);
  /// inputs [N,C,H,W] -> embeddings [N,E] left on the embedder's device (for the matcher).
  torch::Tensor embed_on_device(const torch::Tensor& inputs);
  /// Preprocesses the boxes of one frame into one batch and embeds it: [boxes.size(), E] CPU.
  torch::Tensor embed_faces(const ImageView& view, const std::vector<Box>& boxes,
                            Framing framing);

  const ModelInfo& info() const { return model_.info; }
  const InputSpec& input_spec() const { return model_.info.input; }
  torch::Device device() const { return device_; }
  int batch_size() const { return batch_size_; }

 private:
  LoadedModel model_;
  torch::Device device_;
  int batch_size_;
};

}  // namespace siamese
