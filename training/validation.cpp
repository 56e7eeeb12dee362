#include "validation.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>

namespace siamese::training {
namespace {

void read_far_1e4(Validation& v) {
  const ThresholdPoint p = tar_at_far(v.scores, 1e-4);
  v.figures.tar_at_far_1e4 = p.value;
  v.figures.threshold_at_far_1e4 = p.threshold;
  v.figures.impostor_pairs =
      static_cast<int64_t>(v.scores.distance.size()) - v.scores.genuine_count();
  // The lowest impostor distances size the default threshold to a gallery.
  std::vector<float> impostors;
  impostors.reserve(static_cast<size_t>(v.figures.impostor_pairs));
  for (size_t i = 0; i < v.scores.distance.size(); ++i) {
    if (!v.scores.genuine[i]) impostors.push_back(static_cast<float>(v.scores.distance[i]));
  }
  const size_t keep = std::min<size_t>(impostors.size(), kImpostorTailSize);
  std::partial_sort(impostors.begin(), impostors.begin() + static_cast<std::ptrdiff_t>(keep),
                    impostors.end());
  impostors.resize(keep);
  v.figures.impostor_tail = std::move(impostors);
}

}  // namespace

torch::Tensor embed_all(Network& network, const torch::Tensor& images, torch::Device device,
                        const EmbeddingRule& rule, int batch_size) {
  torch::NoGradGuard no_grad;
  network.train(false);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, images.size(0) - i);
    parts.push_back(
        infer_embeddings(network, images.narrow(0, i, n).to(device), rule).to(torch::kCPU));
  }
  return torch::cat(parts).to(torch::kFloat32).contiguous();
}

Validation score_embeddings(const torch::Tensor& embeddings, const std::vector<int>& labels,
                            double threshold) {
  Validation v;
  v.scores = all_pairs(embeddings, labels);
  v.embeddings = embeddings;
  v.figures.auc = roc_auc(v.scores);
  const ThresholdPoint eer = equal_error_rate(v.scores);
  v.figures.eer = eer.value;
  v.eer_threshold = eer.threshold;
  const ThresholdPoint at_far = tar_at_far(v.scores, 0.01);
  v.figures.tar_at_far_1e2 = at_far.value;
  v.figures.threshold_at_far_1e2 = at_far.threshold;
  read_far_1e4(v);
  if (threshold < 0) {
    const ThresholdPoint best = best_threshold(v.scores);
    v.threshold = best.threshold;
    v.figures.accuracy = best.value;
  } else {
    v.threshold = threshold;
    v.figures.accuracy = accuracy_at(v.scores, threshold);
  }
  v.figures.identities = static_cast<int>(std::set<int>(labels.begin(), labels.end()).size());
  v.figures.pairs = static_cast<int64_t>(v.scores.distance.size());
  v.embedding_size = static_cast<int>(embeddings.size(1));
  return v;
}

torch::Tensor spread_rows(const torch::Tensor& images, int64_t count) {
  const int64_t n = images.size(0);
  if (n <= count) return images;
  std::vector<int64_t> rows(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) rows[static_cast<size_t>(k)] = k * n / count;
  return images.index_select(0, torch::tensor(rows));
}

void add_cross_impostors(Validation& v, const torch::Tensor& train_embeddings,
                         const torch::Tensor& validation_embeddings) {
  if (train_embeddings.size(0) == 0 || validation_embeddings.size(0) == 0) return;
  const torch::Tensor d =
      torch::cdist(train_embeddings.to(torch::kFloat64), validation_embeddings.to(torch::kFloat64))
          .flatten()
          .contiguous();
  const double* values = d.data_ptr<double>();
  v.scores.distance.insert(v.scores.distance.end(), values, values + d.numel());
  v.scores.genuine.insert(v.scores.genuine.end(), static_cast<size_t>(d.numel()), false);
  read_far_1e4(v);
}

Validation validate(Network& network, const FaceDataset& data, torch::Device device,
                    const EmbeddingRule& rule, double threshold) {
  return score_embeddings(embed_all(network, data.images, device, rule), data.labels, threshold);
}

}  // namespace siamese::training
