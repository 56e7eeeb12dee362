// Face detection: OpenCV cascades (Haar by default, LBP optional) run on a downscaled grayscale
// copy of the frame, dlib's HOG detector (hog_face_detector.h) on a grayscale copy scaled so the
// smallest wanted face fills its window, or the CNN (face-api's TinyFaceDetector,
// tiny_face_detector.h) on the whole frame; boxes come back in full-frame pixels, framed alike
// (see kCnnBoxScale, kHogBoxScale).
// Thread-safety: one FaceDetector per thread (cv::CascadeClassifier is not reentrant).
#pragma once

#include <opencv2/objdetect.hpp>

#include <memory>
#include <string>
#include <vector>

#include "siamese/hog_face_detector.h"
#include "siamese/image_view.h"
#include "siamese/tiny_face_detector.h"

namespace siamese {

struct DetectorOptions {
  std::string kind = "haar";  // "haar" | "lbp" | "cnn" | "hog"
  std::string cascade_file;   // empty = the opencv-data cascade of that kind (cascades only)
  int min_face_size = kDefaultMinFaceSize;
  double scale_factor =
      1.1;  // cascade pyramid step; 1.25 (facedetect's) halves the cost, boxes jitter more
  // Overlapping hits needed for a face; at 4 alt2 missed AT&T faces on darker backgrounds.
  int min_neighbors = 3;
  /// The smallest face is shrunk to about this many pixels before detection (cascade window
  /// is 24 px); 0 = detect at full resolution.
  int detect_face_size = 36;
  // The CNN only: its score threshold (0, 1), input size (a multiple of 32), weights folder
  // (empty = face_api_cache_dir()) and device.
  double threshold = kDefaultDetectorThreshold;
  int input_size = kDefaultDetectorInputSize;
  std::string weights_dir;
  torch::Device device = torch::kCPU;

  DetectorOptions& set_kind(std::string k) {
    kind = std::move(k);
    return *this;
  }
  DetectorOptions& set_cascade_file(std::string f) {
    cascade_file = std::move(f);
    return *this;
  }
  DetectorOptions& set_min_face_size(int n) {
    min_face_size = n;
    return *this;
  }
  DetectorOptions& set_threshold(double t) {
    threshold = t;
    return *this;
  }
  DetectorOptions& set_input_size(int n) {
    input_size = n;
    return *this;
  }
  DetectorOptions& set_weights_dir(std::string d) {
    weights_dir = std::move(d);
    return *this;
  }
  DetectorOptions& set_device(torch::Device d) {
    device = d;
    return *this;
  }
};

/// The detector kinds DetectorOptions::kind accepts, as flags and properties spell them.
constexpr const char* kDetectorKinds = "haar, lbp, cnn, hog";

/// The CNN's boxes, framed as the cascades frame faces (the models' crop policies were measured on
/// Haar boxes): a square of kCnnBoxScale times the mean of the CNN box's sides, its centre moved
/// down by kCnnBoxShiftY of that mean: the medians over 499 LFW photos where both hit the central
/// face (samples/bench/detect_bench: Haar side / mean CNN side 0.973, Haar centre 0.139 of the
/// CNN side above the CNN's; x shift 0.011). The CNN box reaches lower, to the chin.
constexpr double kCnnBoxScale = 0.97;
constexpr double kCnnBoxShiftY = -0.14;
/// A CNN detection as a cascade-framed box (see kCnnBoxScale), not clipped.
Box cascade_framed_box(const FaceDetection& d);

/// dlib's HOG boxes, framed as the cascades frame faces: a square of kHogBoxScale times the HOG
/// box's side, its centre moved kHogBoxShiftX right and kHogBoxShiftY down (up when negative), in
/// HOG sides: the medians over the LFW View 2 photos where Haar and HOG both found the central
/// face (samples/bench/dlib_reference.sh). The HOG box is tighter, from the brows to the lip.
constexpr double kHogBoxScale = 1.119;
constexpr double kHogBoxShiftX = 0.037;
constexpr double kHogBoxShiftY = -0.078;
/// The HOG detector enlarges a frame at most this much to reach min_face_size: a frame upsampled
/// further costs seconds (cost grows with the square), so faces under about
/// kHogWindow * kHogBoxScale / kMaxHogUpsample (22) pixels are not found.
constexpr double kMaxHogUpsample = 4.0;
/// A HOG detection as a cascade-framed box (see kHogBoxScale), not clipped.
Box hog_cascade_framed_box(const FaceDetection& d);

/// A pre-cropped face (a head photo without margin, such as the AT&T images) leaves a cascade no
/// room to find it; shown as a camera would show it, centred on a mid-gray background
/// kPlacementScale times its size, it is found. The same placement everywhere (crop calibration,
/// --detect training, enrollment) keeps the framing identical.
constexpr int kPlacementScale = 3;
constexpr int kPlacementGray = 128;
/// The largest placement background, in pixels: an image above kMaxPlacementPixels / 9 (7 MP)
/// gets margins shrunk alike on both axes so that the background stays within it.
constexpr double kMaxPlacementPixels = 64e6;
/// The largest grayscale copy detect() searches, in pixels: a larger frame is shrunk more than
/// detect_face_size asks (faces then need to be proportionally larger to be found).
constexpr double kMaxDetectPixels = 40e6;

/// The image centred on the placement background, of the image's type; offset (optional)
/// receives the image's top-left corner in it. Throws InputError for an image above
/// kMaxPlacementPixels.
cv::Mat place_on_background(const cv::Mat& image, cv::Point* offset = nullptr);

/// Boxes sorted largest first, without those that enclose a smaller box (80% of it or more):
/// faces do not nest, and a cascade sometimes answers a face with a second, head-and-shoulders
/// box around it, whose crop would shrink the face to half the model's input.
std::vector<Box> drop_enclosing_boxes(std::vector<Box> boxes);

/// The opencv-data cascade file for "haar" or "lbp"; throws InputError for other kinds (naming
/// the kinds, kDetectorKinds).
std::string default_cascade_file(const std::string& kind);

class FaceDetector {
 public:
  /// Loads the cascade, or the CNN's weights; throws FileError naming the file when it is missing
  /// or not a cascade (for the CNN: missing or altered, with how to fetch it), InputError for an
  /// unknown kind or a CNN option out of bounds.
  explicit FaceDetector(DetectorOptions options);
  /// A CNN detector (kind "cnn") whose network passes go through `cnn_network` (a
  /// TinyFaceDetector::forward shared by streams, at options.input_size); its weights are not
  /// read. Throws InputError for another kind or a CNN option out of bounds.
  FaceDetector(DetectorOptions options, NetworkForward cnn_network);

  /// Faces in the frame, largest first, in full-frame pixels (see drop_enclosing_boxes), at
  /// least min_face_size wide; CNN and HOG boxes cascade-framed and clipped to the frame.
  std::vector<Box> detect(const ImageView& view);
  /// detect() for each frame; the CNN runs one forward pass for all of them.
  std::vector<std::vector<Box>> detect(const std::vector<ImageView>& views);

  const DetectorOptions& options() const { return options_; }
  bool is_cnn() const { return cnn_ != nullptr; }
  /// Whether faces are found without a margin around them (the CNN and HOG detectors: the
  /// cascades need one, see kPlacementScale).
  bool finds_unplaced_faces() const { return cnn_ != nullptr || hog_ != nullptr; }

 private:
  /// Cascade-framed boxes (framed), clipped to the view, at least min_face_size wide.
  std::vector<Box> framed_boxes(const std::vector<Box>& framed, const ImageView& view) const;
  std::vector<Box> cnn_boxes(const std::vector<FaceDetection>& found, const ImageView& view) const;
  std::vector<Box> hog_boxes(const ImageView& view);
  /// The view as 8-bit grayscale in gray_, resized by `scale` (bounded by kMaxDetectPixels);
  /// returns the scale used.
  double gray_copy(const ImageView& view, double scale);

  DetectorOptions options_;
  cv::CascadeClassifier cascade_;
  std::unique_ptr<TinyFaceDetector> cnn_;
  std::unique_ptr<HogFaceDetector> hog_;
  cv::Mat small_, gray_;  // reused between frames: no per-frame allocation
};

/// The faces of a pre-cropped image searched placed on the background: placed receives that
/// picture (offset, optional, the image's corner in it) and the boxes, in placed's pixels and
/// largest first, are those whose centre lies on the image. The CNN and HOG detectors search the
/// image as it is first (they need no margin around a face) and place it only when they find
/// nothing there.
std::vector<Box> detect_placed(FaceDetector& detector, const cv::Mat& image, cv::Mat& placed,
                               cv::Point* offset = nullptr);

}  // namespace siamese
