// Per-person threshold calibration of a gallery (`siamese-enroll calibrate`): from the stored
// embeddings (leave-one-out within each person) and optional strangers' embeddings, each
// person's genuine spread, confusable pair, stranger ceiling, outlier photos and a proposed
// threshold, plus a PNG of the distance distributions. Thread-safety: pure functions.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "siamese/matcher.h"

namespace siamese {

// A photo is an outlier of its person when its median distance to the person's other photos is
// above this multiple of the person's typical (median) one, or when it is nearer to another
// person's photo than to any of its own.
constexpr double kOutlierFactor = 1.5;

struct OutlierPhoto {
  std::string source_file;
  float median_distance = 0.0f;  // to the person's other photos
  std::string why;
};

struct PersonCalibration {
  std::string name;
  int photos = 0;
  // Leave-one-out: each photo (outliers left out) against the nearest other photo of the
  // person, as the matcher would see a new face of them. NaN with fewer than 2 photos.
  float genuine_median = 0.0f;
  float genuine_max = 0.0f;
  std::string confusable;            // the nearest other enrolled person ("" when none)
  float confusable_distance = 0.0f;  // their nearest photos' distance (+inf when none)
  float stranger_ceiling = 0.0f;     // nearest stranger's distance (+inf without strangers)
  std::vector<OutlierPhoto> outliers;
  float proposed = 0.0f;  // the proposed threshold
  bool separable = true;  // false: no threshold keeps both errors out
  std::string note;       // how proposed was reached, or why it is flagged
};

struct CalibrationReport {
  std::vector<PersonCalibration> people;  // in gallery order (by name)
  float fallback_threshold = 0.0f;        // the gallery's threshold in force
  std::vector<float> genuine;             // every leave-one-out genuine distance
  std::vector<float> others;              // every photo to its nearest other person
  std::vector<float> strangers;           // every stranger to each person (nearest photo)
};

/// Calibrates every identity of gallery (CPU or any device) against strangers [S, E] (S may be
/// 0). The rule: ceiling = min(confusable-pair distance, stranger ceiling); cap = ceiling /
/// (1 + kDefaultMarginFraction), so the nearest known impostor stays out by the decision margin;
/// proposed = halfway between the genuine max and cap when the genuine max is below cap, else
/// cap (flagged: some genuine photos fall outside); fallback (flagged) when there is no other
/// person and no stranger. Throws InputError for mismatched embedding sizes.
CalibrationReport calibrate_gallery(const GalleryMatrix& gallery, const torch::Tensor& strangers,
                                    float fallback_threshold);

/// Writes a PNG (OpenCV drawing) of the genuine, other-person and stranger distance histograms
/// with each proposed threshold marked. Throws FileError naming path when it cannot be written.
void write_calibration_plot(const CalibrationReport& report, const std::string& path);

}  // namespace siamese
