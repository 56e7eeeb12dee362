// The Siamese training losses: the seed's contrastive loss and the triplet loss it mentions.
// Both use the Euclidean distance of torch::pairwise_distance (eps 1e-6, as PyTorch).
// Thread-safety: pure functions of their tensors.
#pragma once

#include <torch/types.h>

#include <string>

namespace siamese::training {

enum class LossKind { kContrastive, kTriplet };

/// "contrastive" | "triplet"; throws InputError naming the flag value otherwise.
LossKind parse_loss_kind(const std::string& name);
/// The flag spelling of a loss kind.
const char* loss_kind_name(LossKind kind);

/// Euclidean distance per row of a [B,E] and b [B,E] -> [B] (||a - b + 1e-6||, as PyTorch).
torch::Tensor pair_distance(const torch::Tensor& a, const torch::Tensor& b);

/// The seed's loss: mean((1-y) d^2 + y clamp(margin - d, 0)^2); a, b [B,E]; different [B] float,
/// 1 for pairs of different identities, 0 for the same identity. Returns a scalar.
torch::Tensor contrastive_loss(const torch::Tensor& a, const torch::Tensor& b,
                               const torch::Tensor& different, double margin);

/// mean(clamp(d(anchor, positive) - d(anchor, negative) + margin, 0)); inputs [B,E]; scalar.
torch::Tensor triplet_loss(const torch::Tensor& anchor, const torch::Tensor& positive,
                           const torch::Tensor& negative, double margin);

/// The contrastive loss over every pair of a batch: embeddings [B,E], labels [B] int64
/// (identity). Genuine pairs and impostor pairs are averaged separately and added, so the few
/// genuine pairs are not drowned out; hardest = only each image's farthest genuine (0 when it
/// has none) and nearest impostor, averaged over the images (batch-hard). Scalar.
torch::Tensor batch_contrastive_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                     double margin, bool hardest);

}  // namespace siamese::training
