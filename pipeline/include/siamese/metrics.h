// Verification figures over pairs of embeddings: ROC AUC, EER, TAR at a FAR, the best
// threshold and accuracy at a threshold (the same definitions as the Python reference,
// ../shared/anchors/seed_baseline.py). Thread-safety: pure functions.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace siamese {

/// Distances and labels of pairs: genuine = same identity.
struct PairScores {
  std::vector<double> distance;
  std::vector<bool> genuine;
  int64_t genuine_count() const;
};

/// All unordered pairs i<j of embeddings [N,E] (CPU) with identity labels (size N).
PairScores all_pairs(const torch::Tensor& embeddings, const std::vector<int>& labels);

/// Area under the ROC of score = -distance (Mann-Whitney U with tied ranks).
double roc_auc(const PairScores& scores);

struct ThresholdPoint {
  double value = 0.0;      // the rate (EER, TAR or accuracy)
  double threshold = 0.0;  // distance threshold where it was read
  double far = 0.0;        // false-accept rate there
};

/// Equal error rate: where |FAR - FRR| is smallest; value = (FAR + FRR) / 2 there.
ThresholdPoint equal_error_rate(const PairScores& scores);
/// The largest true-accept rate whose false-accept rate is <= far_target.
ThresholdPoint tar_at_far(const PairScores& scores, double far_target);
/// The threshold that maximises accuracy (or balanced accuracy) on these pairs.
ThresholdPoint best_threshold(const PairScores& scores, bool balanced = false);
/// Fraction of pairs decided right when distance <= threshold means genuine.
double accuracy_at(const PairScores& scores, double threshold, bool balanced = false);

/// Points of the ROC curve (FAR, TAR), one per distinct threshold, for plots.
std::vector<std::pair<double, double>> roc_curve(const PairScores& scores);

/// A mean and its standard error.
struct MeanAndError {
  double mean = 0.0;
  double standard_error = 0.0;  // sample standard deviation (n - 1 in the divisor) / sqrt(n)
};

/// The mean of values and its standard error, as the LFW protocol reports its ten folds
/// (0 for one value). Throws InputError when values is empty.
MeanAndError mean_and_standard_error(const std::vector<double>& values);

}  // namespace siamese
