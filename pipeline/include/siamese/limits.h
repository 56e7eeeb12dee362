// The defaults and limits that the element's properties and the programs' flags share
// (batch-size, threads, min-face-size, the CNN detector's threshold and input size): stated
// once, so that siamese-enroll, siamese-train and faceverify accept the same values.
// No LibTorch or OpenCV here: the flag layer (cli/) reads them too. Thread-safety: constants.
#pragma once

namespace siamese {

/// Faces per forward pass of the embedder, and its upper bound.
constexpr int kDefaultBatchSize = 32;
constexpr int kMaxBatchSize = 4096;
/// CPU threads of LibTorch (0 = LibTorch's choice) at most.
constexpr int kMaxThreads = 256;
/// The smallest face a detector looks for, in pixels of the full frame.
constexpr int kDefaultMinFaceSize = 60;
constexpr int kMinMinFaceSize = 8;
constexpr int kMaxMinFaceSize = 4096;
/// face-api's TinyFaceDetector: 416 px input (a 13x13 grid), score threshold 0.5. The input
/// size must be a multiple of 32 within its bounds (pixels of the square input); the score
/// threshold lies in (0, 1), and a setting within [0.01, 0.99].
constexpr int kDefaultDetectorInputSize = 416;
constexpr int kMinDetectorInputSize = 64;
constexpr int kMaxDetectorInputSize = 1024;
constexpr double kDefaultDetectorThreshold = 0.5;
constexpr double kMinDetectorThreshold = 0.01;
constexpr double kMaxDetectorThreshold = 0.99;
/// The largest verification threshold (a Euclidean distance) a setting may give.
constexpr float kMaxDistanceThreshold = 1000.0f;

}  // namespace siamese
