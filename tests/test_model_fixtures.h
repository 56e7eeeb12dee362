// Model files and images the tests build their fixtures from: an untrained network's facts, a
// file whose facts were written without checks (as a tampering or older writer leaves them), and
// the drawn face the face-api reference scripts (tests/reference/*.js) also draw.
// Thread-safety: not needed (Catch2 runs tests serially).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "siamese/model.h"
#include "siamese/model_file.h"
#include "siamese/pretrained.h"

namespace siamese::testing {

/// The facts of an untrained network of arch (fresh_model_info), threshold 0.5. Tests of plumbing
/// (not accuracy) start from it.
ModelInfo untrained_model_info(const ArchOptions& arch = ArchOptions());

/// Saves a fresh network of info.arch, its weights drawn from seed, with info; returns path.
std::string save_untrained_model(const std::string& path,
                                 const ModelInfo& info = untrained_model_info(),
                                 uint64_t seed = 11);

/// Saves net with facts_json stored as they are, not checked or completed by save_model; returns
/// path.
std::string save_with_raw_facts(const std::string& path, Network& net,
                                const std::string& facts_json);

/// The face-api cache folder when it holds every one of files (names from pretrained.h), else "".
std::string face_api_dir_with(std::initializer_list<const char*> files);

/// Declares dir_var as the face-api cache folder, or skips the current test saying where the
/// weights were looked for when it lacks one of the files (tests/fetch_weights.sh fetches them).
#define SIAMESE_REQUIRE_FACE_API_FILES(dir_var, ...)                                    \
  const std::string dir_var = ::siamese::testing::face_api_dir_with({__VA_ARGS__});     \
  if (dir_var.empty()) {                                                                \
    WARN("skipped: face-api weights not found in " << ::siamese::face_api_cache_dir()   \
                                                   << " (run tests/fetch_weights.sh)"); \
    return;                                                                             \
  }

/// The 150x150 face of tests/reference/face_api_*.js for seed, HWC RGB, byte for byte.
cv::Mat drawn_reference_face(int seed);

}  // namespace siamese::testing
