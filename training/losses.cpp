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

torch::Tensor batch_contrastive_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                     double margin, bool hardest) {
  const int64_t b = embeddings.size(0);
  const torch::Tensor sq = embeddings.pow(2).sum(1);
  const torch::Tensor d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * embeddings.mm(embeddings.t()));
  // sqrt has no gradient at 0: clamp (the diagonal is masked out below anyway).
  const torch::Tensor d = d2.clamp_min(1e-12).sqrt();
  const torch::Tensor same = labels.unsqueeze(1) == labels.unsqueeze(0);
  const torch::Tensor eye =
      torch::eye(b, torch::TensorOptions().dtype(torch::kBool).device(d.device()));
  const torch::Tensor genuine = same & ~eye;
  const torch::Tensor impostor = ~same;
  const torch::Tensor zero = torch::zeros({}, d.options());
  if (hardest) {
    const torch::Tensor far_genuine = torch::where(genuine, d, zero).amax(1);
    const torch::Tensor big = torch::full({}, 1e6, d.options());
    const torch::Tensor near_impostor = torch::where(impostor, d, big).amin(1);
    // Averaged over every image: one without a genuine partner in the batch adds 0 to the
    // first term (measured better than averaging over those with one: less collapse).
    const torch::Tensor has_i = impostor.any(1);
    torch::Tensor loss = far_genuine.pow(2).mean();
    if (has_i.any().item<bool>()) {
      loss = loss + torch::clamp(margin - near_impostor, 0.0).pow(2).masked_select(has_i).mean();
    }
    return loss;
  }
  torch::Tensor loss = zero;
  if (genuine.any().item<bool>()) loss = loss + d.masked_select(genuine).pow(2).mean();
  if (impostor.any().item<bool>()) {
    loss = loss + torch::clamp(margin - d.masked_select(impostor), 0.0).pow(2).mean();
  }
  return loss;
}

}  // namespace siamese::training
