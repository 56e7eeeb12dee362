#include "siamese/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "siamese/errors.h"

namespace siamese {
namespace {

// The threshold sweep of the Python reference: accept when distance <= t; one point below the
// smallest distance, one between each pair of distinct distances, one above the largest.
struct Sweep {
  std::vector<double> threshold;
  std::vector<int64_t> tp, fp;
  int64_t positives = 0, negatives = 0;
};

Sweep sweep(const PairScores& s) {
  const size_t n = s.distance.size();
  if (n == 0) throw InputError("metrics: no pairs");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.distance[a] < s.distance[b]; });
  Sweep w;
  w.positives = s.genuine_count();
  w.negatives = static_cast<int64_t>(n) - w.positives;
  w.threshold.push_back(s.distance[order[0]] - 1.0);
  w.tp.push_back(0);
  w.fp.push_back(0);
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s.genuine[order[i]])
      ++tp;
    else
      ++fp;
    const bool last_of_group = i + 1 == n || s.distance[order[i + 1]] != s.distance[order[i]];
    if (!last_of_group) continue;
    const double d = s.distance[order[i]];
    w.threshold.push_back(i + 1 == n ? d + 1.0 : 0.5 * (d + s.distance[order[i + 1]]));
    w.tp.push_back(tp);
    w.fp.push_back(fp);
  }
  return w;
}

}  // namespace

int64_t PairScores::genuine_count() const {
  return std::count(genuine.begin(), genuine.end(), true);
}

PairScores all_pairs(const torch::Tensor& embeddings, const std::vector<int>& labels) {
  if (embeddings.dim() != 2 || embeddings.size(0) != static_cast<int64_t>(labels.size())) {
    throw InputError("all_pairs: embeddings [N,E] and N labels expected");
  }
  const torch::Tensor e = embeddings.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor d = torch::cdist(e.unsqueeze(0), e.unsqueeze(0)).squeeze(0);
  const auto acc = d.accessor<double, 2>();
  PairScores out;
  const int64_t n = e.size(0);
  out.distance.reserve(n * (n - 1) / 2);
  out.genuine.reserve(n * (n - 1) / 2);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      out.distance.push_back(acc[i][j]);
      out.genuine.push_back(labels[i] == labels[j]);
    }
  }
  return out;
}

double roc_auc(const PairScores& s) {
  const size_t n = s.distance.size();
  const int64_t pos = s.genuine_count();
  const int64_t neg = static_cast<int64_t>(n) - pos;
  if (pos == 0 || neg == 0) throw InputError("roc_auc: needs genuine and impostor pairs");
  // Rank by score = -distance ascending, i.e. by distance descending, averaging ties.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.distance[a] > s.distance[b]; });
  double rank_sum = 0.0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && s.distance[order[j + 1]] == s.distance[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) {
      if (s.genuine[order[k]]) rank_sum += rank;
    }
    i = j + 1;
  }
  return (rank_sum - pos * (pos + 1) / 2.0) / (static_cast<double>(pos) * neg);
}

ThresholdPoint equal_error_rate(const PairScores& s) {
  const Sweep w = sweep(s);
  size_t best = 0;
  double best_gap = 2.0;
  for (size_t k = 0; k < w.threshold.size(); ++k) {
    const double far = static_cast<double>(w.fp[k]) / w.negatives;
    const double frr = 1.0 - static_cast<double>(w.tp[k]) / w.positives;
    if (std::abs(far - frr) < best_gap) {
      best_gap = std::abs(far - frr);
      best = k;
    }
  }
  const double far = static_cast<double>(w.fp[best]) / w.negatives;
  const double frr = 1.0 - static_cast<double>(w.tp[best]) / w.positives;
  return {0.5 * (far + frr), w.threshold[best], far};
}

ThresholdPoint tar_at_far(const PairScores& s, double far_target) {
  const Sweep w = sweep(s);
  size_t best = 0;
  for (size_t k = 0; k < w.threshold.size(); ++k) {
    if (static_cast<double>(w.fp[k]) / w.negatives <= far_target + 1e-12) best = k;
  }
  return {static_cast<double>(w.tp[best]) / w.positives, w.threshold[best],
          static_cast<double>(w.fp[best]) / w.negatives};
}

ThresholdPoint best_threshold(const PairScores& s, bool balanced) {
  const Sweep w = sweep(s);
  size_t best = 0;
  double best_score = -1.0;
  for (size_t k = 0; k < w.threshold.size(); ++k) {
    const double tn = static_cast<double>(w.negatives - w.fp[k]);
    const double score = balanced
                             ? 0.5 * (static_cast<double>(w.tp[k]) / w.positives + tn / w.negatives)
                             : (w.tp[k] + tn) / static_cast<double>(w.positives + w.negatives);
    if (score > best_score) {
      best_score = score;
      best = k;
    }
  }
  return {best_score, w.threshold[best], static_cast<double>(w.fp[best]) / w.negatives};
}

double accuracy_at(const PairScores& s, double threshold, bool balanced) {
  int64_t tp = 0, tn = 0;
  const int64_t pos = s.genuine_count();
  const int64_t neg = static_cast<int64_t>(s.distance.size()) - pos;
  for (size_t i = 0; i < s.distance.size(); ++i) {
    const bool accept = s.distance[i] <= threshold;
    if (s.genuine[i] && accept) ++tp;
    if (!s.genuine[i] && !accept) ++tn;
  }
  if (balanced) return 0.5 * (static_cast<double>(tp) / pos + static_cast<double>(tn) / neg);
  return static_cast<double>(tp + tn) / static_cast<double>(pos + neg);
}

std::vector<std::pair<double, double>> roc_curve(const PairScores& s) {
  const Sweep w = sweep(s);
  std::vector<std::pair<double, double>> out;
  out.reserve(w.threshold.size());
  for (size_t k = 0; k < w.threshold.size(); ++k) {
    out.emplace_back(static_cast<double>(w.fp[k]) / w.negatives,
                     static_cast<double>(w.tp[k]) / w.positives);
  }
  return out;
}

MeanAndError mean_and_standard_error(const std::vector<double>& values) {
  if (values.empty()) throw InputError("mean_and_standard_error: no values");
  const double n = static_cast<double>(values.size());
  MeanAndError out;
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  if (values.size() < 2) return out;
  double squares = 0.0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.standard_error = std::sqrt(squares / (n - 1.0)) / std::sqrt(n);
  return out;
}

}  // namespace siamese
