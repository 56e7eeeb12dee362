// dlib's frontal face detector (HOG features and a linear classifier, the detector dlib's face
// ResNet was published with at 99.38% on LFW) over a grayscale frame. Built with Debian's
// libdlib-dev where CMake finds it; without it the constructor throws InputError saying so.
// Thread-safety: one detect() at a time per instance (dlib's scanner keeps scratch buffers).
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <vector>

#include "siamese/tiny_face_detector.h"  // FaceDetection

namespace siamese {

/// The side of the detector's sliding window in pixels: faces much smaller than this are not
/// found, so callers scale the frame until the smallest wanted face reaches it.
constexpr int kHogWindow = 80;

class HogFaceDetector {
 public:
  /// Throws InputError when this build has no dlib (naming libdlib-dev).
  HogFaceDetector();
  ~HogFaceDetector();
  HogFaceDetector(const HogFaceDetector&) = delete;
  HogFaceDetector& operator=(const HogFaceDetector&) = delete;

  /// Whether this build includes dlib (the constructor succeeds).
  static bool available();

  /// Faces in an 8-bit single-channel image, in its pixels, with dlib's detection scores
  /// (above 0 = a face; not probabilities).
  std::vector<FaceDetection> detect(const cv::Mat& gray);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamese
