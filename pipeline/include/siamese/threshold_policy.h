// The one rule for the distance threshold a gallery is matched with, shared by the element,
// siamese-enroll and siamese-access-control: an explicit value (property or flag) wins, then the
// gallery's stored threshold, then a default that keeps strangers out of a gallery of the size
// in use, read from the model's impostor calibration. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "siamese/model_file.h"

namespace siamese {

// A stranger's face meets every enrolled embedding; the default threshold lets at most this
// share of a stranger's faces match anyone (a track then needs several such faces to verify).
constexpr double kDefaultStrangerFar = 0.01;

enum class ThresholdSource {
  kExplicit,     // the threshold property / --threshold
  kGallery,      // stored in the gallery (siamese-enroll add --threshold)
  kGallerySize,  // the model's impostor calibration, for this gallery's size
  kModelPoint,   // an older model's recorded low-FAR point (no impostor tail recorded)
  kModelPair,    // the model's pair threshold: no calibration to do better (stated loudly)
};

struct ThresholdChoice {
  float value = 0.0f;
  ThresholdSource source = ThresholdSource::kModelPair;
  std::string description;  // for logs, `siamese-enroll list` and --json: where value came from
  /// False when the model records no low-FAR calibration: the value may let strangers in.
  bool calibrated = true;
};

/// The threshold at which a stranger's face, compared with `embeddings` enrolled embeddings,
/// matches someone with probability <= stranger_far (per-comparison rate stranger_far /
/// embeddings, read from the model's impostor tail; below the measured tail, extrapolated on
/// its log-linear fit). Falls back to the model's recorded points for older models.
ThresholdChoice gallery_size_threshold(const ModelInfo& model, int64_t embeddings,
                                       double stranger_far = kDefaultStrangerFar);

/// The model's recorded threshold at a 1e-4 false-accept rate, else (older models) at 1e-2
/// (source kModelPoint; the description says which). Throws InputError when neither is
/// recorded.
ThresholdChoice strict_threshold(const ModelInfo& model);

/// explicit_value, else stored (the gallery's), else gallery_size_threshold(). Throws
/// InputError for a non-finite or negative explicit value.
ThresholdChoice choose_threshold(std::optional<float> explicit_value, std::optional<float> stored,
                                 const ModelInfo& model, int64_t embeddings);

/// The threshold for one identity: an explicit value (gallery_choice.source kExplicit) still
/// wins over all; else the identity's own stored one (`siamese-enroll threshold`); else
/// gallery_choice. The margin a vote needs is kDefaultMarginFraction x the value returned.
float identity_threshold(const ThresholdChoice& gallery_choice,
                         std::optional<float> identity_stored);

/// "explicit", "gallery", "gallery-size", "model-point" or "model-pair".
const char* threshold_source_name(ThresholdSource source);

}  // namespace siamese
