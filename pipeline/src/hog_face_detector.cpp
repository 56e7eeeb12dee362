#include "siamese/hog_face_detector.h"

#include <cstring>

#include "siamese/errors.h"

#ifdef SIAMESE_HAVE_DLIB
#include <dlib/image_processing/frontal_face_detector.h>
#endif

namespace siamese {

#ifdef SIAMESE_HAVE_DLIB

struct HogFaceDetector::Impl {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::array2d<unsigned char> image;  // reused between frames
};

HogFaceDetector::HogFaceDetector() : impl_(std::make_unique<Impl>()) {}

bool HogFaceDetector::available() { return true; }

std::vector<FaceDetection> HogFaceDetector::detect(const cv::Mat& gray) {
  CV_Assert(gray.type() == CV_8UC1);
  impl_->image.set_size(gray.rows, gray.cols);
  for (int y = 0; y < gray.rows; ++y) {
    std::memcpy(&impl_->image[y][0], gray.ptr<unsigned char>(y), static_cast<size_t>(gray.cols));
  }
  std::vector<dlib::rect_detection> found;
  impl_->detector(impl_->image, found);
  std::vector<FaceDetection> out;
  out.reserve(found.size());
  for (const dlib::rect_detection& d : found) {
    const dlib::rectangle& r = d.rect;
    // dlib's rectangles are inclusive: right - left + 1 pixels wide.
    out.push_back(FaceDetection{static_cast<double>(r.left()), static_cast<double>(r.top()),
                                static_cast<double>(r.width()), static_cast<double>(r.height()),
                                d.detection_confidence});
  }
  return out;
}

#else

struct HogFaceDetector::Impl {};

HogFaceDetector::HogFaceDetector() {
  throw InputError(
      "detector 'hog' needs dlib: this build was made without it (install Debian's libdlib-dev "
      "and rebuild; tests/setup.sh does)");
}

bool HogFaceDetector::available() { return false; }

std::vector<FaceDetection> HogFaceDetector::detect(const cv::Mat&) { return {}; }

#endif

HogFaceDetector::~HogFaceDetector() = default;

}  // namespace siamese
