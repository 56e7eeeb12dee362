#include "siamese/threshold_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "siamese/errors.h"

namespace siamese {
namespace {

std::string fmt(const char* format, double a, double b = 0.0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

// log(rate) = a + b * distance fitted by least squares to the lowest impostor distances, where
// rate(i) = (i + 1) / total: the lower tail of impostor distances decays about exponentially.
// Returns the distance where the fit reaches `rate`, or nullopt when the tail is flat.
std::optional<double> extrapolate_tail(const std::vector<float>& tail, int64_t total, double rate) {
  const size_t n = std::min<size_t>(tail.size(), 64);
  if (n < 4) return std::nullopt;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = tail[i];
    const double y = std::log(static_cast<double>(i + 1) / static_cast<double>(total));
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double denom = static_cast<double>(n) * sxx - sx * sx;
  if (!(denom > 0)) return std::nullopt;
  const double b = (static_cast<double>(n) * sxy - sx * sy) / denom;
  if (!(b > 0)) return std::nullopt;
  const double a = (sy - b * sx) / static_cast<double>(n);
  return (std::log(rate) - a) / b;
}

}  // namespace

const char* threshold_source_name(ThresholdSource source) {
  switch (source) {
    case ThresholdSource::kExplicit:
      return "explicit";
    case ThresholdSource::kGallery:
      return "gallery";
    case ThresholdSource::kGallerySize:
      return "gallery-size";
    case ThresholdSource::kModelPoint:
      return "model-point";
    case ThresholdSource::kModelPair:
      return "model-pair";
  }
  return "?";
}

ThresholdChoice gallery_size_threshold(const ModelInfo& model, int64_t embeddings,
                                       double stranger_far) {
  const ValidationFigures& v = model.validation;
  const int64_t n = std::max<int64_t>(embeddings, 1);
  const double rate = stranger_far / static_cast<double>(n);
  const std::vector<float>& tail = v.impostor_tail;
  if (!tail.empty() && v.impostor_pairs > 0) {
    // Accept at most floor(rate * total) of the calibration impostors.
    // (+1e-9: 0.001 x 10000 must count 10 impostors, not 9.999...)
    const auto allowed =
        static_cast<int64_t>(std::floor(rate * static_cast<double>(v.impostor_pairs) + 1e-9));
    double t = 0.0;
    std::string how;
    if (allowed >= 1) {
      const size_t k = std::min<size_t>(static_cast<size_t>(allowed), tail.size());
      // Just below the first impostor that must stay out.
      t = k < tail.size() ? 0.5 * (tail[k - 1] + tail[k]) : tail[k - 1];
      how = "measured";
    } else {
      const std::optional<double> x = extrapolate_tail(tail, v.impostor_pairs, rate);
      t = x ? std::clamp(*x, 0.0, static_cast<double>(tail[0])) : 0.0;
      how = "extrapolated below the measured impostors";
    }
    ThresholdChoice c;
    c.value = static_cast<float>(t);
    c.source = ThresholdSource::kGallerySize;
    c.description = "default for a gallery of " + std::to_string(n) + " embeddings: " +
                    fmt("a stranger's face matches anyone at most %g of the time (%.3g per "
                        "comparison, ",
                        stranger_far, rate) +
                    how + " on " + std::to_string(v.impostor_pairs) + " impostor pairs)";
    return c;
  }
  if (v.threshold_at_far_1e4 >= 0 || v.threshold_at_far_1e2 >= 0) {
    ThresholdChoice c = strict_threshold(model);
    c.description +=
        " (the model records no impostor tail to size the threshold to the "
        "gallery; retrain to get one)";
    return c;
  }
  ThresholdChoice c;
  c.value = model.threshold;
  c.source = ThresholdSource::kModelPair;
  c.calibrated = false;
  c.description =
      "the model's pair threshold: the model records no low false-accept calibration, so "
      "strangers may be accepted in a gallery of " +
      std::to_string(n) +
      " embeddings; calibrate with siamese-train, or set a threshold explicitly";
  return c;
}

ThresholdChoice strict_threshold(const ModelInfo& model) {
  const ValidationFigures& v = model.validation;
  if (v.threshold_at_far_1e4 < 0 && v.threshold_at_far_1e2 < 0) {
    throw InputError(
        "the model records no threshold at a low false-accept rate (written "
        "before they were recorded, or without validation identities)");
  }
  const bool at_1e4 = v.threshold_at_far_1e4 >= 0;
  ThresholdChoice c;
  c.value = static_cast<float>(at_1e4 ? v.threshold_at_far_1e4 : v.threshold_at_far_1e2);
  c.source = ThresholdSource::kModelPoint;
  c.description = std::string("the model's threshold at a ") + (at_1e4 ? "1e-4" : "1e-2") +
                  " false-accept rate";
  return c;
}

ThresholdChoice choose_threshold(std::optional<float> explicit_value, std::optional<float> stored,
                                 const ModelInfo& model, int64_t embeddings) {
  if (explicit_value) {
    if (!std::isfinite(*explicit_value) || *explicit_value < 0.0f) {
      throw InputError(fmt("threshold %g is not a finite distance >= 0", *explicit_value));
    }
    return {*explicit_value, ThresholdSource::kExplicit, "set explicitly", true};
  }
  if (stored) return {*stored, ThresholdSource::kGallery, "stored in the gallery", true};
  return gallery_size_threshold(model, embeddings);
}

float identity_threshold(const ThresholdChoice& gallery_choice,
                         std::optional<float> identity_stored) {
  if (gallery_choice.source == ThresholdSource::kExplicit || !identity_stored) {
    return gallery_choice.value;
  }
  return *identity_stored;
}

}  // namespace siamese
