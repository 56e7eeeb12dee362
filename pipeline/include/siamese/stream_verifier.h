// The face logic of one video stream, free of GStreamer: per batch of frames it detects faces
// (or takes given boxes), follows them with a FaceTracker, embeds the faces that need it in ONE
// forward pass, matches them against the current gallery and updates per-track decisions.
// The faceverify element is a shell around it. Thread-safety: one StreamVerifier per stream;
// process() is not reentrant; the Matcher passed in may be shared (match() is const).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "siamese/decision.h"
#include "siamese/detector.h"
#include "siamese/embedder.h"
#include "siamese/matcher.h"
#include "siamese/tracker.h"

namespace siamese {

class GpuFacePreprocessor;

constexpr int kDefaultDetectInterval =
    3;  // frames between detector runs (faces are followed in between)
// A track is matched by the mean of its latest embeddings (its template), not by one crop: the
// detector's box jitters from frame to frame, and averaging cancels much of what that costs.
constexpr int kDefaultTemplateSize = 8;
constexpr int kMaxTemplateSize = 64;

/// What may change between batches while a stream runs.
struct StreamOptions {
  int detect_interval = kDefaultDetectInterval;  // 1 = detect on every frame
  int template_size = kDefaultTemplateSize;      // embeddings averaged per track; 1 = none
  TrackerOptions tracker;
  DecisionOptions decision;
};

/// One frame of a batch. The view's pixels must stay valid during process().
struct StreamFrame {
  ImageView view;
  int64_t time = 0;  // the caller's clock for decisions (e.g. running time in ns)
  /// Boxes found upstream (used instead of the detector when set).
  std::optional<std::vector<Box>> boxes;
};

/// One face of one frame, with its track's decision as of this frame.
struct FaceResult {
  Box box;
  int64_t track_id = 0;
  int source_index = -1;  // index into StreamFrame::boxes / the detections of this frame
  std::string identity;   // verified identity, "" when unknown or pending
  float distance = 0.0f;  // the track's template: distance to its nearest identity
  float margin = 0.0f;    // ... and how far the runner-up was behind
  DecisionState state = DecisionState::kPending;
  bool embedded = false;  // embedded on this frame
  bool resumed = false;   // its track was lost for a detection round: decided afresh from here
  /// A model that aligns: the track's five points (eye centres, nose tip, mouth corners; frame
  /// pixels), measured on this frame when embedded, else carried with the box from the last
  /// measurement. has_points is false for a model that does not align.
  FivePoints points;
  bool has_points = false;
  /// The 68 points when the landmark network ran on this face on this frame (else empty).
  std::vector<Point2f> landmarks;
  bool verified() const { return state == DecisionState::kVerified; }
};

struct FrameResult {
  std::vector<FaceResult> faces;
  std::vector<Decision> changes;  // decisions that changed on this frame
};

/// Embeds a preprocessed batch [N,C,H,W] -> [N,E] (e.g. through a batcher shared by streams).
using EmbedFunction = std::function<torch::Tensor(const torch::Tensor& inputs)>;

class StreamVerifier {
 public:
  /// detector may be null when every frame comes with boxes. Throws InputError for bad options.
  StreamVerifier(std::unique_ptr<Embedder> embedder, std::unique_ptr<FaceDetector> detector,
                 StreamOptions options);
  /// As above, but the forward passes go through `embed` (which must be safe to call from this
  /// stream's thread); `embedder` (possibly shared) only gives the input spec and device.
  StreamVerifier(std::shared_ptr<Embedder> embedder, EmbedFunction embed,
                 std::unique_ptr<FaceDetector> detector, StreamOptions options);

  /// Preprocesses faces on the GPU with gpu (on the embedder's CUDA device) instead of the CPU;
  /// null returns to CPU preprocessing.
  void set_gpu_preprocessor(std::shared_ptr<GpuFacePreprocessor> gpu);
  /// True when faces are preprocessed on the GPU.
  bool gpu_preprocessing() const { return gpu_ != nullptr; }
  /// For a model that aligns: finds the landmarks with `landmarker` (e.g. one whose passes go
  /// through a network shared by streams) instead of the embedder's own; null returns to it.
  void set_landmarker(std::unique_ptr<FaceLandmarker> landmarker);

  /// Analyses frames in order; their faces are embedded together in one batch (chunks of the
  /// embedder's batch size). matcher may be null (no gallery: every face unknown). When the
  /// matcher's identities differ from the previous batch's, tracks verified as someone no
  /// longer there are revoked first (reported on the first frame). Throws siamese::Error or
  /// c10::Error on failure.
  std::vector<FrameResult> process(const std::vector<StreamFrame>& frames, const Matcher* matcher);

  /// Applies new options from the next batch on (tracks and decisions are kept).
  void set_options(const StreamOptions& options);
  /// Forgets all tracks and decisions (flush, new stream).
  void reset();

  const Embedder& embedder() const { return *embedder_; }
  const StreamOptions& options() const { return options_; }
  /// Faces embedded since construction (for statistics).
  int64_t embedded_count() const { return embedded_count_; }

 private:
  std::shared_ptr<Embedder> embedder_;
  EmbedFunction embed_;
  std::shared_ptr<GpuFacePreprocessor> gpu_;
  std::unique_ptr<FaceDetector> detector_;
  std::unique_ptr<FaceLandmarker> landmarker_;  // set_landmarker; else the embedder's
  StreamOptions options_;
  FaceTracker tracker_;
  DecisionEngine decisions_;
  /// The template of a track: its latest embeddings ([K,E], newest last) as of this embedding.
  torch::Tensor track_template(int64_t track_id, const torch::Tensor& embedding);

  std::map<int64_t, torch::Tensor> templates_;  // track id -> its latest embeddings [K,E]
  std::vector<std::string> gallery_names_;      // the identities of the last batch's gallery
  int64_t frame_count_ = 0;
  int64_t embedded_count_ = 0;
  torch::Tensor batch_;  // reused input tensor
};

}  // namespace siamese
