// The one threshold rule: explicit, else the gallery's stored value, else a default sized to the
// gallery from the model's impostor calibration, so that a user who sets nothing gets a door
// that keeps strangers out however many people are enrolled.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "siamese/errors.h"
#include "siamese/threshold_policy.h"

using siamese::ModelInfo;
using siamese::ThresholdSource;

namespace {

// A model calibrated on `total` impostor pairs whose distances are i * step + offset.
ModelInfo calibrated_model(int64_t total, float offset, float step, size_t tail_size) {
  ModelInfo m;
  m.threshold = 0.9f;
  m.validation.impostor_pairs = total;
  for (size_t i = 0; i < tail_size; ++i) {
    m.validation.impostor_tail.push_back(offset + step * static_cast<float>(i));
  }
  m.validation.threshold_at_far_1e4 = 0.4;
  m.validation.threshold_at_far_1e2 = 0.6;
  return m;
}

}  // namespace

TEST_CASE("the default threshold lets a stranger match at most 1% of the time, per gallery size",
          "[core][threshold]") {
  const ModelInfo m = calibrated_model(10000, 0.5f, 0.001f, 1024);
  // 1 embedding: 1% of 10,000 impostors = 100 may fall at or below the threshold.
  const auto one = siamese::gallery_size_threshold(m, 1);
  CHECK(one.source == ThresholdSource::kGallerySize);
  CHECK(one.calibrated);
  CHECK(one.value == Approx(0.5f + 0.001f * 99.5f));
  // 10 embeddings: 10 impostors per comparison... 0.1% each.
  const auto ten = siamese::gallery_size_threshold(m, 10);
  CHECK(ten.value == Approx(0.5f + 0.001f * 9.5f));
  CHECK(ten.description.find("10 embeddings") != std::string::npos);
  // Every impostor stays out of a gallery of 1000 embeddings: below the smallest one.
  const auto big = siamese::gallery_size_threshold(m, 1000);
  CHECK(big.value < 0.5f);
  CHECK(big.value >= 0.0f);
  CHECK(big.description.find("extrapolated") != std::string::npos);
  // A bigger gallery never gets a looser threshold.
  float last = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 2, 5, 10, 50, 100, 1000, 10000, 1000000}) {
    const float t = siamese::gallery_size_threshold(m, n).value;
    CAPTURE(n);
    CHECK(t <= last);
    last = t;
  }
}

TEST_CASE("extrapolation below the measured impostors follows the tail's log-linear decay",
          "[core][threshold]") {
  // Impostor distances whose lower tail decays exactly as rate(d) = exp((d - 2) * 10):
  // the i-th smallest of N sits where rate = (i + 1) / N.
  const int64_t total = 100000;
  ModelInfo m;
  m.validation.impostor_pairs = total;
  for (int i = 0; i < 200; ++i) {
    m.validation.impostor_tail.push_back(
        static_cast<float>(2.0 + std::log(static_cast<double>(i + 1) / total) / 10.0));
  }
  // 100k embeddings at 1% per stranger face: 1e-7 per comparison, 100x below the tail.
  const auto t = siamese::gallery_size_threshold(m, 100000);
  CHECK(t.value == Approx(2.0 + std::log(1e-7) / 10.0).margin(1e-3));
}

TEST_CASE("older models fall back to their recorded points, uncalibrated ones say so",
          "[core][threshold]") {
  ModelInfo m;
  m.threshold = 0.9f;
  m.validation.threshold_at_far_1e4 = 0.4;
  m.validation.threshold_at_far_1e2 = 0.6;
  auto c = siamese::gallery_size_threshold(m, 50);
  CHECK(c.source == ThresholdSource::kModelPoint);
  CHECK(c.value == Approx(0.4f));
  CHECK(c.calibrated);
  m.validation.threshold_at_far_1e4 = -1.0;
  CHECK(siamese::gallery_size_threshold(m, 50).value == Approx(0.6f));
  CHECK(siamese::strict_threshold(m).description.find("1e-2") != std::string::npos);
  m.validation.threshold_at_far_1e2 = -1.0;
  c = siamese::gallery_size_threshold(m, 50);
  CHECK(c.source == ThresholdSource::kModelPair);
  CHECK(c.value == 0.9f);
  CHECK_FALSE(c.calibrated);
  CHECK(c.description.find("strangers may be accepted") != std::string::npos);
  CHECK_THROWS_AS(siamese::strict_threshold(m), siamese::InputError);
}

TEST_CASE("explicit beats stored beats the sized default", "[core][threshold]") {
  const ModelInfo m = calibrated_model(10000, 0.5f, 0.001f, 1024);
  CHECK(siamese::choose_threshold(0.7f, 0.3f, m, 10).source == ThresholdSource::kExplicit);
  CHECK(siamese::choose_threshold(0.7f, 0.3f, m, 10).value == 0.7f);
  CHECK(siamese::choose_threshold(std::nullopt, 0.3f, m, 10).source == ThresholdSource::kGallery);
  CHECK(siamese::choose_threshold(std::nullopt, 0.3f, m, 10).value == 0.3f);
  CHECK(siamese::choose_threshold(std::nullopt, std::nullopt, m, 10).source ==
        ThresholdSource::kGallerySize);
  CHECK_THROWS_AS(siamese::choose_threshold(-3.0f, std::nullopt, m, 10), siamese::InputError);
  CHECK_THROWS_AS(
      siamese::choose_threshold(std::numeric_limits<float>::infinity(), std::nullopt, m, 10),
      siamese::InputError);
}
