// Follows faces across the frames of one stream by box overlap (IoU), gives each a track id
// and says which tracks need a (new) embedding: new tracks, tracks embedded more than
// reverify_interval frames ago, and faces that grew markedly since their last embedding.
// Between detections (detect-interval) boxes move on at their last measured velocity, and a
// track's facial landmarks (set_points) move with its box.
// Thread-safety: one FaceTracker per stream; not safe for concurrent calls.
#pragma once

#include <cstdint>
#include <vector>

#include "siamese/face_points.h"
#include "siamese/image_view.h"

namespace siamese {

constexpr float kDefaultTrackMinIou = 0.3f;      // overlap that continues a track
constexpr int kDefaultTrackMaxMissed = 2;        // detection rounds a track may go unseen
constexpr int kDefaultReverifyInterval = 15;     // frames between re-embeddings of a track
constexpr float kDefaultRegrowAreaRatio = 1.5f;  // area growth that forces a re-embedding

struct TrackerOptions {
  float min_iou = kDefaultTrackMinIou;
  /// A track not matched by this many consecutive detection rounds is dropped.
  int max_missed = kDefaultTrackMaxMissed;
  /// Frames after which a followed face is embedded again (1 = every frame, 0 = never).
  int reverify_interval = kDefaultReverifyInterval;
  /// A face whose area reaches this multiple of its area at the last embedding is re-embedded.
  float regrow_area_ratio = kDefaultRegrowAreaRatio;

  TrackerOptions& set_min_iou(float v) {
    min_iou = v;
    return *this;
  }
  TrackerOptions& set_max_missed(int n) {
    max_missed = n;
    return *this;
  }
  TrackerOptions& set_reverify_interval(int n) {
    reverify_interval = n;
    return *this;
  }
  TrackerOptions& set_regrow_area_ratio(float r) {
    regrow_area_ratio = r;
    return *this;
  }
};

/// One followed face.
struct Track {
  int64_t id = 0;
  Box box;                           // the last detected (or predicted) box
  Box seen;                          // the last detected box
  float vx = 0.0f, vy = 0.0f;        // velocity of the box, pixels per frame
  float x = 0.0f, y = 0.0f;          // the box's corner without rounding (for prediction)
  int64_t first_frame = 0;           // tracker frame number when the track started
  int64_t last_seen_frame = 0;       // last frame a detection matched it
  int64_t last_embedded_frame = -1;  // -1 = never embedded
  int embedded_area = 0;             // box area at the last embedding
  int missed = 0;                    // consecutive detection rounds without a match
  FivePoints points;                 // landmarks at box (measured, then moved with the box)
  bool has_points = false;
};

/// A face visible in the current frame.
struct TrackedFace {
  int64_t track_id = 0;
  Box box;
  bool is_new = false;           // the track started on this frame
  bool needs_embedding = false;  // new, resumed, due for re-verification, or grown
  // Matched again after one or more detection rounds without a match: the face may be another
  // person's who stepped into the place (StreamVerifier decides such a track afresh).
  bool resumed = false;
  FivePoints points;  // the track's landmarks at box, when it has them
  bool has_points = false;
};

class FaceTracker {
 public:
  /// Throws InputError for min_iou outside (0, 1] or negative counts.
  explicit FaceTracker(TrackerOptions options = {});

  /// A frame with detections: matches them to live tracks (greedy, highest IoU first), starts
  /// tracks for the rest, drops tracks missed too often. One face per detection, same order.
  std::vector<TrackedFace> update(const std::vector<Box>& detections);
  /// A frame without detection (detect-interval): the tracks seen at the last detection round
  /// move on at their velocity; returns them as this frame's faces (boxes may leave the frame).
  std::vector<TrackedFace> predict();
  /// Records that track id was embedded on the current frame at its current box.
  void mark_embedded(int64_t id);
  /// Records landmarks of track id measured in box `at` (a box the track had, e.g. on an earlier
  /// frame of a batch), carried to its current box; later frames move them with the box: by its
  /// shift between detections, and from one detected box to the next by the map between the
  /// two boxes (shift and scale).
  void set_points(int64_t id, const FivePoints& points, const Box& at);

  /// Ids of the tracks dropped by the last update() (to forget their decisions).
  const std::vector<int64_t>& expired() const { return expired_; }
  const std::vector<Track>& tracks() const { return tracks_; }
  /// The number of the current frame (update/predict calls so far minus one).
  int64_t frame() const { return frame_; }
  const TrackerOptions& options() const { return options_; }
  /// Changes reverify interval, regrow ratio etc. between frames; keeps the tracks.
  void set_options(TrackerOptions options);
  /// Forgets every track (new stream, flush); ids keep increasing.
  void reset();

 private:
  TrackedFace face_of(const Track& track, bool is_new) const;
  Track* find(int64_t id);

  TrackerOptions options_;
  std::vector<Track> tracks_;
  std::vector<int64_t> expired_;
  int64_t next_id_ = 1;
  int64_t frame_ = -1;
};

}  // namespace siamese
