// face-api's TinyFaceDetector (@vladmandic/face-api 1.7.15, src/tinyFaceDetector/: a Tiny-YOLOv2 of
// depthwise-separable convolutions) in LibTorch, built from the package's pinned tfjs weights (the
// pinned files are the model), with face-api's preprocessing and decoding: frames of any pixel
// format -> face boxes and scores, batched over frames, on the CPU or a CUDA device.
// Thread-safety: one detect() at a time per instance (it reuses its input buffer).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "siamese/image_view.h"
#include "siamese/limits.h"
#include "siamese/network_forward.h"

namespace siamese {

constexpr const char* kTinyFaceDetectorManifest =
    "model/tiny_face_detector_model-weights_manifest.json";
constexpr const char* kTinyFaceDetectorWeights = "model/tiny_face_detector_model.bin";
/// face-api's NMS at IoU 0.4; its input size and score threshold are in siamese/limits.h.
constexpr double kTinyFaceDetectorIou = 0.4;

/// One face found: a box in frame pixels (may reach past the frame's edges), and its score 0..1.
struct FaceDetection {
  double x = 0, y = 0, width = 0, height = 0;
  double score = 0;
  /// The box rounded to whole pixels and clipped to a frame of width x height (may be empty).
  Box clipped_box(int frame_width, int frame_height) const;
};

struct TinyFaceDetectorOptions {
  int input_size = kDefaultDetectorInputSize;          // "detector-input-size"
  double score_threshold = kDefaultDetectorThreshold;  // "detector-threshold", in (0, 1)
  std::string weights_dir;  // the package cache; empty = face_api_cache_dir()
  torch::Device device = torch::kCPU;

  TinyFaceDetectorOptions& set_input_size(int n) {
    input_size = n;
    return *this;
  }
  TinyFaceDetectorOptions& set_score_threshold(double t) {
    score_threshold = t;
    return *this;
  }
  TinyFaceDetectorOptions& set_weights_dir(std::string d) {
    weights_dir = std::move(d);
    return *this;
  }
  TinyFaceDetectorOptions& set_device(torch::Device d) {
    device = d;
    return *this;
  }
};

/// Throws InputError naming detector-input-size (a multiple of 32 in [64, 1024]) or
/// detector-threshold (in (0, 1)) when out of bounds.
void check_tiny_face_detector_options(const TinyFaceDetectorOptions& options);

/// face-api's network input for one frame: the frame padded with zeros at the right or bottom to
/// a square, resized to size x size (tfjs resizeBilinear, corners not aligned), minus face-api's
/// mean (117.001, 114.697, 97.404), / 255; written as [3, size, size] floats to out. Throws
/// InputError for an invalid view.
void tiny_face_detector_input(const ImageView& frame, int size, float* out);

class TinyFaceDetector {
 public:
  /// Reads the pinned tfjs weights from options.weights_dir (checked against their sha256) and
  /// builds the network on options.device. Throws FileError naming a missing or altered file and
  /// how to fetch it (tests/fetch_weights.sh), InputError for bad options.
  explicit TinyFaceDetector(TinyFaceDetectorOptions options);
  /// A detector without a network of its own: its passes go through `network` (another
  /// detector's forward(), e.g. shared by streams); options as above, weights not read.
  TinyFaceDetector(TinyFaceDetectorOptions options, NetworkForward network);
  ~TinyFaceDetector();
  TinyFaceDetector(TinyFaceDetector&&) noexcept;
  TinyFaceDetector& operator=(TinyFaceDetector&&) noexcept;

  /// The faces of each frame (one forward pass for all), highest score first, after non-maximum
  /// suppression; boxes in each frame's pixels. Throws InputError for an invalid view.
  std::vector<std::vector<FaceDetection>> detect(const std::vector<ImageView>& frames);
  /// One frame's faces, as detect() over a batch of one.
  std::vector<FaceDetection> detect(const ImageView& frame);

  /// The network's raw head output for the frames, [N, S/32, S/32, 25] float on the CPU, laid
  /// out as face-api's (per cell: 5 anchors x (x, y, w, h, score) before sigmoid / exp).
  torch::Tensor raw_output(const std::vector<ImageView>& frames);
  /// The network alone: inputs [N, 3, S, S] as tiny_face_detector_input writes them (any
  /// device) -> the raw head output [N, S/32, S/32, 25] on the CPU (through `network` when given).
  torch::Tensor forward(const torch::Tensor& inputs);

  const TinyFaceDetectorOptions& options() const { return options_; }

 private:
  struct Net;
  TinyFaceDetectorOptions options_;
  std::unique_ptr<Net> net_;  // null when the passes go through network_
  NetworkForward network_;
  torch::Tensor input_;  // [N, 3, S, S] CPU buffer reused between calls
};

}  // namespace siamese
