#include "crop_calibration.h"

#include <algorithm>
#include <cmath>

#include "siamese/errors.h"
#include "siamese/log.h"

namespace siamese::training {
namespace {

constexpr int kMinFaces = 5;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::optional<Box> PlacedFaceDetector::detect(const cv::Mat& image, cv::Mat& frame,
                                              cv::Point& offset) {
  const int min_size = std::max(20, std::min(image.cols, image.rows) / 3);
  // One CNN for every size (its cost does not depend on the minimum; boxes are filtered below).
  const bool cnn = options_.kind == "cnn";
  auto& detector = detectors_[cnn ? 0 : min_size];
  if (!detector) {
    DetectorOptions options = options_;
    options.set_min_face_size(cnn ? 1 : min_size);
    detector = std::make_unique<FaceDetector>(options);
  }
  const std::vector<Box> boxes = detect_placed(*detector, image, frame, &offset);  // largest first
  const double cx = offset.x + image.cols / 2.0, cy = offset.y + image.rows / 2.0;
  const auto off_centre = [&](const Box& b) {
    return std::hypot(b.x + b.width / 2.0 - cx, b.y + b.height / 2.0 - cy);
  };
  std::optional<Box> chosen;
  for (const Box& b : boxes) {
    if (b.width < min_size) continue;
    if (pick_ == FacePick::kLargest) return b;
    if (!chosen || off_centre(b) < off_centre(*chosen)) chosen = b;
  }
  return chosen;
}

CropPolicy fallback_crop_policy() {
  CropPolicy p;
  p.scale_width = 1.0f;
  p.scale_height = 1.22f;
  p.shift_y = -0.035f;
  return p;
}

CropCalibration calibrate_crop(const ImageFolder& folder, int max_images) {
  CropCalibration result;
  const size_t n = folder.images.size();
  const size_t take = std::min(n, static_cast<size_t>(std::max(1, max_images)));
  std::vector<double> sw, sh, dy;
  PlacedFaceDetector detector;
  for (size_t k = 0; k < take; ++k) {
    const auto& item = folder.images[k * n / take];
    cv::Mat image;
    try {
      image = read_image(item.path, 1);
    } catch (const Error&) {
      continue;
    }
    ++result.images_tried;
    cv::Mat frame;
    cv::Point at;
    const auto box = detector.detect(image, frame, at);
    if (!box) continue;
    ++result.faces_found;
    sw.push_back(static_cast<double>(image.cols) / box->width);
    sh.push_back(static_cast<double>(image.rows) / box->height);
    const double image_cy = at.y + image.rows / 2.0;
    const double box_cy = box->y + box->height / 2.0;
    dy.push_back((image_cy - box_cy) / box->height);
  }
  if (result.faces_found < std::min(kMinFaces, std::max(1, result.images_tried))) {
    result.fallback = true;
    result.policy = fallback_crop_policy();
    return result;
  }
  result.policy.scale_width = static_cast<float>(median(sw));
  result.policy.scale_height = static_cast<float>(median(sh));
  result.policy.shift_y = static_cast<float>(median(dy));
  return result;
}

}  // namespace siamese::training
