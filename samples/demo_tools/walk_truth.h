// Reads the ground truth that siamese-render-walk writes (JSON): the walkers and, per frame,
// the box and identity of every face. Thread-safety: plain values and a free function.
#pragma once

#include <string>
#include <vector>

namespace siamese::samples {

struct TruthFace {
  int walker = 0;
  int x = 0, y = 0, width = 0, height = 0;
};

struct TruthWalker {
  std::string identity;  // "s3", or "stranger:s21"
  std::string label;     // "s3", "s21"
  bool stranger = false;
  int first_frame = 0;
  int last_frame = 0;
};

struct WalkTruth {
  double fps = 25.0;
  int width = 0, height = 0;
  std::vector<TruthWalker> walkers;
  std::vector<std::vector<TruthFace>> frames;  // indexed by frame number
};

/// Loads a truth JSON file; throws std::runtime_error naming the path when it is missing or
/// malformed.
WalkTruth load_walk_truth(const std::string& path);

}  // namespace siamese::samples
