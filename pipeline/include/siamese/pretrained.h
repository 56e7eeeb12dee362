// Pretrained weights from a pinned package (@vladmandic/face-api 1.7.15): where set-up's
// tests/fetch_weights.sh caches them (outside git), their sha256 pinned here, and the import of
// its face-recognition network as a model. Nothing is downloaded at run time.
// Thread-safety: free functions, no shared state.
#pragma once

#include <string>
#include <vector>

#include "siamese/model_file.h"

namespace siamese {

constexpr const char* kFaceApiPackage = "@vladmandic/face-api";
constexpr const char* kFaceApiVersion = "1.7.15";
constexpr const char* kFaceApiManifest = "model/face_recognition_model-weights_manifest.json";
constexpr const char* kFetchWeightsCommand = "tests/fetch_weights.sh";

/// One file of the package the project uses, relative to the cache folder, and its sha256.
struct PinnedFile {
  const char* path;
  const char* sha256;
};

/// The pinned files (the same list as pipeline/weights/face-api-1.7.15.sha256).
const std::vector<PinnedFile>& face_api_pinned_files();

/// $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/face-api-1.7.15.
std::string face_api_cache_dir();

/// SHA-256 of bytes as 64 lower-case hex digits.
std::string sha256_hex(const void* data, size_t size);

/// SHA-256 of a file's bytes; throws FileError naming it when it cannot be read.
std::string sha256_file(const std::string& path);

/// Checks that dir/relative (a pinned file) is present with its pinned sha256; throws
/// FileError naming it and saying how to fetch it (tests/fetch_weights.sh) otherwise.
void verify_pinned_file(const std::string& dir, const std::string& relative);

/// The facts of the imported network: dlib-resnet, 150x150x3, face-api's mean, 128-D, not
/// normalised, threshold 0.6, origin and licence.
ModelInfo face_api_model_info();

/// face-api's face-recognition network read from dir (the cache folder's layout: model/...).
/// With verify, the manifest and its shard must match their pinned sha256 first. Throws
/// FileError naming the file (and the tensor) for a missing, altered, corrupt or foreign file.
Network import_face_api(const std::string& dir, bool verify = true);

}  // namespace siamese
