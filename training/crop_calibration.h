// The crop policy of a model trained on whole pre-cropped images (such as AT&T's head crops):
// each image is placed on a larger mid-gray background, the Haar detector runs as it would on a
// camera frame, and the policy maps the detector's box onto the whole image (median ratios).
// Recorded in the model file, it makes the element and enrollment frame detected faces as the
// training images were framed. Thread-safety: one PlacedFaceDetector per thread.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include <opencv2/core.hpp>

#include "siamese/detector.h"
#include "siamese/image_io.h"
#include "siamese/preprocess.h"

namespace siamese::training {

/// Runs the detector (Haar unless options say otherwise) on images placed on the background, with
/// a minimum face size of a third of the image's smaller side (cascades are cached per minimum
/// size; the CNN searches the image as it is first, see detect_placed).
/// Which of several faces an image's is: the largest (a folder of someone's photos), or the one
/// nearest the image's centre (photos cropped around their subject, as LFW's).
enum class FacePick { kLargest, kCentral };

class PlacedFaceDetector {
 public:
  explicit PlacedFaceDetector(DetectorOptions options = {}, FacePick pick = FacePick::kLargest)
      : options_(std::move(options)), pick_(pick) {}

  /// The face (of at least a third of the image's smaller side) that pick chooses, in pixels of
  /// frame (the placed image); nullopt when none is found. frame and offset receive the placed
  /// image and its corner.
  std::optional<Box> detect(const cv::Mat& image, cv::Mat& frame, cv::Point& offset);

 private:
  DetectorOptions options_;
  FacePick pick_;
  std::map<int, std::unique_ptr<FaceDetector>> detectors_;
};

/// The result of a calibration: the policy and how much evidence it rests on.
struct CropCalibration {
  CropPolicy policy;
  int images_tried = 0;
  int faces_found = 0;
  bool fallback = false;  // too few faces found: policy = kFallbackCropPolicy
};

/// Used when the detector finds too few faces to measure a policy: the policy measured on the
/// AT&T head crops (whole 92x112 image vs Haar box).
CropPolicy fallback_crop_policy();

/// The policy fitted on up to max_images images of the folder (spread evenly over it); median
/// of whole-image box / detector box (width, height) and of the centre offset in box heights.
/// Unreadable images are ignored (load_dataset reports them).
CropCalibration calibrate_crop(const ImageFolder& folder, int max_images = 120);

}  // namespace siamese::training
