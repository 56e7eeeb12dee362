// The script of a rendered walk video: who walks when, in which lane, how large, and where each
// face is on every frame. A pure function of the options and the seed, so a video and its
// ground truth can be reproduced exactly. Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace siamese::samples {

/// A face box in frame pixels.
struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

struct WalkOptions {
  int width = 640;
  int height = 480;
  double fps = 25.0;
  double segment_s = 3.0;      // time one walker takes to cross the frame
  double gap_s = 0.4;          // empty frames between segments (and before the first)
  double pair_fraction = 0.3;  // chance that a segment holds two walkers at once
  int min_face = 120;          // face height range, pixels
  int max_face = 190;
  double image_period_s = 0.6;        // a walker shows its next image after this long
  double face_aspect = 92.0 / 112.0;  // width / height of the face images
  uint64_t seed = 0;
};

/// One person crossing the frame.
struct Walker {
  std::string label;                // the identity folder, e.g. "s3"
  bool stranger = false;            // true: never enrolled
  std::vector<std::string> images;  // image files relative to the data folder, e.g. "s3/6.pgm"
  int first_frame = 0;
  int last_frame = 0;   // inclusive
  int lane = 0;         // 0 = alone (centre band), 1 = upper lane, 2 = lower lane
  int direction = 1;    // +1 left to right, -1 right to left
  int face_height = 0;  // at the middle of the walk
  double growth = 0.0;  // relative change of size from start to end (walking towards us > 0)
  int base_y = 0;       // top of the box at the middle of the walk
  double bob_phase = 0.0;
  int image_offset = 0;  // index of the first image shown
};

struct WalkPlan {
  WalkOptions options;
  std::vector<Walker> walkers;  // in order of appearance
  int frame_count = 0;
};

/// A walker to schedule: its label, stranger or not, and its image files.
struct Cast {
  std::string label;
  bool stranger = false;
  std::vector<std::string> images;
};

/// Shuffles the cast with the seed and schedules it in segments of one or two walkers.
/// Throws std::invalid_argument when the frame is too small for the face sizes.
WalkPlan plan_walk(const std::vector<Cast>& cast, const WalkOptions& options);

/// The walker's face box on frame (inside the frame); meaningful for first..last frame.
Rect box_at(const Walker& walker, const WalkOptions& options, int frame);

/// Index into walker.images of the image shown on frame.
int image_at(const Walker& walker, const WalkOptions& options, int frame);

}  // namespace siamese::samples
