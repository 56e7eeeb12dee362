#include "siamese/embedder.h"

#include "siamese/errors.h"

namespace siamese {

Embedder::Embedder(LoadedModel model, torch::Device device, int batch_size)
    : model_(std::move(model)), device_(device), batch_size_(batch_size) {
  if (batch_size_ < 1) {
    throw InputError("batch-size must be at least 1 (got " + std::to_string(batch_size) + ")");
  }
  model_.network.to(device_);
  model_.network.train(false);
}

torch::Tensor Embedder::embed_on_device(const torch::Tensor& inputs) {
  const InputSpec& spec = model_.info.input;
  if (inputs.dim() != 4 || inputs.size(1) != spec.channels || inputs.size(2) != spec.height ||
      inputs.size(3) != spec.width) {
    throw InputError("embed: expected input [N," + std::to_string(spec.channels) + "," +
                     std::to_string(spec.height) + "," + std::to_string(spec.width) + "], got " +
                     c10::str(inputs.sizes()));
  }
  c10::InferenceMode guard;
  const int64_t n = inputs.size(0);
  if (n == 0) {
    return torch::empty({0, model_.info.embedding_size},
                        torch::TensorOptions().dtype(torch::kFloat32).device(device_));
  }
  const bool async = device_.is_cuda() && inputs.is_pinned();
  std::vector<torch::Tensor> chunks;
  for (int64_t start = 0; start < n; start += batch_size_) {
    const int64_t len = std::min<int64_t>(batch_size_, n - start);
    torch::Tensor chunk = inputs.narrow(0, start, len).to(device_, torch::kFloat32, async);
    chunks.push_back(model_.network.forward(chunk).to(torch::kFloat32));
  }
  return chunks.size() == 1 ? chunks[0] : torch::cat(chunks);
}

torch::Tensor Embedder::embed(const torch::Tensor& inputs) {
  return embed_on_device(inputs).to(torch::kCPU);
}

torch::Tensor Embedder::embed_faces(const ImageView& view, const std::vector<Box>& boxes,
                                    Framing framing) {
  torch::Tensor batch = make_batch_tensor(static_cast<int64_t>(boxes.size()), input_spec(),
                                          device_.is_cuda());
  preprocess_into(view, boxes, input_spec(), framing, batch, 0);
  return embed(batch);
}

}  // namespace siamese
