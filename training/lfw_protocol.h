// siamese-eval --pairs: the LFW View 2 protocol run on a model. Every image a pairs file names
// is embedded once (whole, or cropped at the detector's box with a fixed centre box where the
// detector finds no face), each pair scored by Euclidean distance, and the protocol's figures
// read: 10-fold accuracy (lfw_pairs.h), AUC, EER and TAR at FAR 1e-2 and 1e-3 over all pairs.
// Thread-safety: one evaluate_lfw() call per Embedder at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lfw_pairs.h"
#include "siamese/detector.h"
#include "siamese/embedder.h"
#include "siamese/metrics.h"

namespace siamese::training {

/// The "no face found" fallback of --detect: LFW deep-funneled faces sit at the image centre;
/// the Haar boxes found on them measured a median side of 118 of 250 pixels, centred at
/// (125, 124) (128 images of the first pairs of each fold). This fraction of the image's
/// smaller side, centred, is used as the detector's box (the model's crop policy then applies
/// to it as to a detected box).
constexpr double kLfwCentreBoxFraction = 0.472;

/// The fallback box of an image of width x height (pixels of the image).
Box lfw_centre_box(int width, int height);

struct LfwEvalOptions {
  bool detect = false;       // detector crops (as siamese-train --detect); else whole images
  DetectorOptions detector;  // with detect: --detector, --detector-threshold, ...
  /// Called after each chunk of images: images embedded so far, images in all.
  std::function<void(int64_t done, int64_t total)> progress;
  int chunk = 128;  // images decoded and embedded at a time (bounds memory)
};

struct LfwEvaluation {
  PairScores scores;      // one per pair, in the file's order
  std::vector<int> fold;  // 0-based fold of each pair
  LfwFoldFigures folds;   // per fold accuracy at the other folds' threshold; mean, std. error
  double auc = 0.0;
  ThresholdPoint eer;
  ThresholdPoint tar_at_far_1e2;
  ThresholdPoint tar_at_far_1e3;
  double accuracy_at_model_threshold = 0.0;
  int64_t images = 0;                // distinct images embedded (each once)
  std::vector<std::string> no_face;  // --detect: images given the centre box instead
  double median_box_side = 0.0;      // --detect: of the detected boxes / the image's side
  double seconds = 0.0;              // decoding, detection and embedding
};

/// Embeds the images of pairs (files under root as lfw_image_path names them) with embedder
/// and reads the protocol's figures. Throws FileError naming an image that is missing or
/// unreadable (and the pairs file's line), InputError when the protocol cannot be computed.
LfwEvaluation evaluate_lfw(Embedder& embedder, const LfwPairs& pairs, const std::string& root,
                           const LfwEvalOptions& options = {});

}  // namespace siamese::training
