#include "losses.h"

#include <torch/torch.h>

#include "siamese/errors.h"

namespace siamese::training {

LossKind parse_loss_kind(const std::string& name) {
  if (name == "contrastive") return LossKind::kContrastive;
  if (name == "triplet") return LossKind::kTriplet;
  throw InputError("--loss: unknown loss '" + name + "' (expected contrastive or triplet)");
}

const char* loss_kind_name(LossKind kind) {
  return kind == LossKind::kTriplet ? "triplet" : "contrastive";
}

torch::Tensor pair_distance(const torch::Tensor& a, const torch::Tensor& b) {
  // The same eps placement as F.pairwise_distance: ||a - b + eps||_2.
  return torch::pairwise_distance(a, b, /*p=*/2.0, /*eps=*/1e-6, /*keepdim=*/false);
}

torch::Tensor contrastive_loss(const torch::Tensor& a, const torch::Tensor& b,
                               const torch::Tensor& different, double margin) {
  const torch::Tensor d = pair_distance(a, b);
  const torch::Tensor y = different.to(d.dtype());
  return torch::mean((1 - y) * d.pow(2) + y * torch::clamp(margin - d, 0.0).pow(2));
}

torch::Tensor triplet_loss(const torch::Tensor& anchor, const torch::Tensor& positive,
                           const torch::Tensor& negative, double margin) {
  const torch::Tensor dp = pair_distance(anchor, positive);
  const torch::Tensor dn = pair_distance(anchor, negative);
  return torch::mean(torch::clamp(dp - dn + margin, 0.0));
}

}  // namespace siamese::training
