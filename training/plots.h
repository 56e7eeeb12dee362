// The trainer's figures as PNG files drawn with OpenCV (the seed's plots, without matplotlib):
// sample training pairs with their labels, the loss curve, the ROC curve, the histograms of
// genuine and impostor distances; and the per-epoch CSV. Thread-safety: free functions.
#pragma once

#include <torch/types.h>
#include <opencv2/core.hpp>

#include <string>
#include <utility>
#include <vector>

#include "epoch_record.h"
#include "siamese/metrics.h"
#include "siamese/preprocess.h"

namespace siamese::training {

/// One preprocessed face [C,H,W] back to an 8-bit image (gray or BGR) by undoing spec's
/// normalisation.
cv::Mat tensor_to_image(const torch::Tensor& face, const InputSpec& spec);

/// A grid of pairs: each pair side by side, labelled "same" (green) or "different" (red), as
/// the seed's "visualising data" figure. images [N,C,H,W]. Throws FileError naming the path.
void save_pair_grid(const std::string& path, const torch::Tensor& images,
                    const std::vector<std::pair<int64_t, int64_t>>& pairs,
                    const std::vector<bool>& different, const InputSpec& spec);

/// Mean loss per epoch (and the validation EER when known) against the epoch.
void save_loss_curve(const std::string& path, const std::vector<EpochRecord>& history);

/// ROC curve (TAR against FAR, linear and log FAR panels) with AUC and EER in the title.
void save_roc_curve(const std::string& path, const PairScores& scores, const std::string& title);

/// Normalised histograms of genuine and impostor distances with the threshold marked.
void save_distance_histograms(const std::string& path, const PairScores& scores, double threshold,
                              const std::string& title);

/// The history as CSV (epoch,loss,lr,seconds,pairs_per_s,val_auc,val_eer,val_tar_at_far_1e-2,
/// val_accuracy,threshold,best). Throws FileError naming the path.
void write_history_csv(const std::string& path, const std::vector<EpochRecord>& history);

}  // namespace siamese::training
