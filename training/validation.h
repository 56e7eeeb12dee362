// Validation of an embedding network on held-out identities: embed every image once, score all
// pairs, and read ROC AUC, EER, TAR at FAR=1% and 1e-4 and the threshold that decides the most
// pairs right (the model's calibrated threshold). Thread-safety: uses the network it is given.
#pragma once

#include <torch/types.h>

#include "dataset.h"
#include "siamese/metrics.h"
#include "siamese/model.h"
#include "siamese/model_file.h"

namespace siamese::training {

struct Validation {
  ValidationFigures figures;
  double threshold = 0.0;      // best-accuracy distance threshold on these pairs
  double eer_threshold = 0.0;  // where FAR = FRR
  PairScores scores;           // every pair (for histograms and ROC plots)
  torch::Tensor embeddings;    // [N,E] CPU, the images' in order (for add_cross_impostors)
  int embedding_size = 0;
};

/// Embeddings [N,E] on the CPU of images [N,C,H,W], read as `rule` says (the rule the model
/// file will record, so the threshold is calibrated on what inference computes), in chunks of
/// batch_size, without autograd. Leaves the network in eval mode.
torch::Tensor embed_all(Network& network, const torch::Tensor& images, torch::Device device,
                        const EmbeddingRule& rule = {}, int batch_size = 64);

/// Scores all pairs of embeddings; threshold < 0 = calibrate (best accuracy) on them, else
/// report accuracy at that threshold.
Validation score_embeddings(const torch::Tensor& embeddings, const std::vector<int>& labels,
                            double threshold = -1.0);

/// At most this many training images meet the validation images in add_cross_impostors.
constexpr int64_t kMaxCrossImages = 1000;

/// At most `count` rows of images [N,...], evenly spread over all N (all of them when N <= count).
torch::Tensor spread_rows(const torch::Tensor& images, int64_t count);

/// Adds every (training embedding, validation embedding) pair as an impostor (the identities
/// are disjoint) and reads the 1e-4 false-accept point again on all impostors: validation alone
/// has too few to resolve it.
void add_cross_impostors(Validation& v, const torch::Tensor& train_embeddings,
                         const torch::Tensor& validation_embeddings);

/// embed_all + score_embeddings over a dataset.
Validation validate(Network& network, const FaceDataset& data, torch::Device device,
                    const EmbeddingRule& rule, double threshold = -1.0);

}  // namespace siamese::training
