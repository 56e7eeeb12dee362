// The property values of faceverify (what set_property stores) and their defaults as named
// constants, used both by the param specs and by the code. Thread-safety: the element keeps
// one Settings under its object lock and copies it out once per batch.
#pragma once

#include <algorithm>
#include <string>

#include "siamese/decision.h"
#include "siamese/detector.h"
#include "siamese/embedder.h"
#include "siamese/matcher.h"
#include "siamese/stream_verifier.h"
#include "siamese/tracker.h"

namespace siamese::gst {

enum class MessageMode { kNone = 0, kEveryFrame = 1, kOnChange = 2 };
enum class DetectorKind { kHaar = 0, kLbp = 1, kUpstream = 2, kCnn = 3, kHog = 4 };
enum class SearchKind { kExact = 0, kIvf = 1 };

constexpr float kUseModelThreshold = -1.0f;  // threshold property: the gallery's, else the model's
constexpr float kDefaultThresholdProperty = kUseModelThreshold;
constexpr float kAutoMargin = -1.0f;  // margin property: kDefaultMarginFraction x threshold
constexpr float kDefaultMarginProperty = kAutoMargin;
constexpr float kMaxDistance = siamese::kMaxDistanceThreshold;
constexpr const char* kDefaultDevice = "auto";
constexpr int kMaxBatchSize = siamese::kMaxBatchSize;
constexpr int kDefaultBatchFrames = 1;
constexpr int kMaxBatchFrames = 64;
constexpr DetectorKind kDefaultDetector = DetectorKind::kHaar;
inline const double kDefaultScaleFactor = DetectorOptions{}.scale_factor;  // as siamese-enroll
constexpr double kMinScaleFactor = 1.01;
constexpr double kMaxScaleFactor = 2.0;
// detector=cnn: its score threshold (a GParamSpec range is inclusive, the threshold's is not)
// and input size (a multiple of 32; others are refused by set_property).
constexpr double kDefaultDetectorThreshold = siamese::kDefaultDetectorThreshold;
constexpr double kMinDetectorThresholdProperty = siamese::kMinDetectorThreshold;
constexpr double kMaxDetectorThresholdProperty = siamese::kMaxDetectorThreshold;
constexpr int kDefaultDetectorInputSize = siamese::kDefaultDetectorInputSize;
constexpr int kMinMinFaceSize = siamese::kMinMinFaceSize;
constexpr int kMaxMinFaceSize = siamese::kMaxMinFaceSize;
constexpr int kMaxInterval = 100000;
constexpr MessageMode kDefaultMessageMode = MessageMode::kEveryFrame;
constexpr int kDefaultThreads = 0;  // 0 = LibTorch's default
constexpr int kMaxThreads = siamese::kMaxThreads;
constexpr const char* kDefaultConfirmFrames = "4/6";  // kDefaultConfirmCount/kDefaultConfirmWindow
constexpr siamese::Precision kDefaultPrecision = siamese::Precision::kFloat32;
constexpr const char* kDefaultModelInstanceId = "";  // "": this element's own model
constexpr int kGalleryPollMs = 500;  // how often the gallery file is checked for changes
// An unreadable or untrusted gallery verifies nobody at once; after this long the element also
// posts an error, since a door that silently denies everyone needs someone to look at it.
constexpr int kDefaultGalleryErrorTimeoutS = 10;
constexpr int kMaxGalleryErrorTimeoutS = 86400;
// search: exact by default (every row compared); ivf for galleries near a million embeddings.
// 32 probes: at 1M face-like embeddings 16 found the genuine nearest identity for 97.0% of faces,
// 32 for 99.8%, at 1.4 ms per face (gallery_scale_bench.sh): a door wants the person found.
constexpr SearchKind kDefaultSearch = SearchKind::kExact;
constexpr int kDefaultSearchProbes = 32;
constexpr int kMaxSearchProbes = 65536;

struct Settings {
  std::string model;
  std::string gallery;
  float threshold = kDefaultThresholdProperty;
  std::string device = kDefaultDevice;
  int batch_size = kDefaultBatchSize;
  int batch_frames = kDefaultBatchFrames;
  DetectorKind detector = kDefaultDetector;
  std::string detector_file;
  int min_face_size = kDefaultMinFaceSize;
  double scale_factor = kDefaultScaleFactor;
  double detector_threshold = kDefaultDetectorThreshold;
  int detector_input_size = kDefaultDetectorInputSize;
  int detect_interval = kDefaultDetectInterval;
  int reverify_interval = kDefaultReverifyInterval;
  int template_size = kDefaultTemplateSize;
  std::string claimed_identity;
  MessageMode message = kDefaultMessageMode;
  int threads = kDefaultThreads;
  std::string confirm_frames = kDefaultConfirmFrames;
  float margin = kDefaultMarginProperty;
  siamese::Precision precision = kDefaultPrecision;
  std::string model_instance_id = kDefaultModelInstanceId;
  int gallery_error_timeout_s = kDefaultGalleryErrorTimeoutS;
  SearchKind search = kDefaultSearch;
  int search_probes = kDefaultSearchProbes;
};

/// How the matcher searches the gallery under these settings.
inline siamese::SearchSettings search_settings_of(const Settings& s) {
  siamese::SearchSettings out;
  out.approximate = s.search == SearchKind::kIvf;
  out.index.probes = s.search_probes;
  return out;
}

/// The stream options these settings give when the threshold property is unset means
/// default_threshold (the gallery's stored one, else the default for its size, see
/// threshold_policy.h). Throws InputError for an invalid confirm-frames text.
inline StreamOptions stream_options_of(const Settings& s, float default_threshold) {
  StreamOptions o;
  o.detect_interval = s.detect_interval;
  o.template_size = s.template_size;
  o.tracker.set_reverify_interval(s.reverify_interval);
  const float threshold = s.threshold >= 0.0f ? s.threshold : default_threshold;
  o.decision.set_threshold(threshold)
      .set_margin(std::max(s.margin, 0.0f))
      .set_threshold_explicit(s.threshold >= 0.0f)
      .set_margin_auto(s.margin < 0.0f)
      .set_claimed_identity(s.claimed_identity);
  parse_confirm_frames(s.confirm_frames, o.decision);
  return o;
}

}  // namespace siamese::gst
