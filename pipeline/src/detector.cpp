#include "siamese/detector.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "siamese/errors.h"
#include "siamese/image_io.h"

namespace siamese {
namespace {

int cv_gray_code(PixelFormat f) {
  switch (f) {
    case PixelFormat::kRGB:
      return cv::COLOR_RGB2GRAY;
    case PixelFormat::kBGR:
      return cv::COLOR_BGR2GRAY;
    case PixelFormat::kRGBx:
    case PixelFormat::kRGBA:
      return cv::COLOR_RGBA2GRAY;
    case PixelFormat::kBGRx:
    case PixelFormat::kBGRA:
      return cv::COLOR_BGRA2GRAY;
    default:
      return -1;
  }
}

}  // namespace

cv::Mat place_on_background(const cv::Mat& image, cv::Point* offset) {
  const double pixels = static_cast<double>(image.cols) * image.rows;
  if (pixels > kMaxPlacementPixels) {
    throw InputError("image of " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                     " pixels is too large to place on a background (limit " +
                     std::to_string(static_cast<int64_t>(kMaxPlacementPixels)) + " pixels)");
  }
  // A margin of `fraction` times the image's size on each side: (kPlacementScale - 1) / 2, or
  // less where the background would pass kMaxPlacementPixels (pixels * (1 + 2f)^2 <= max).
  double fraction = (kPlacementScale - 1) / 2.0;
  if (pixels * kPlacementScale * kPlacementScale > kMaxPlacementPixels) {
    fraction = std::max(0.0, (std::sqrt(kMaxPlacementPixels / pixels) - 1.0) / 2.0);
  }
  const cv::Point at(static_cast<int>(image.cols * fraction),
                     static_cast<int>(image.rows * fraction));
  cv::Mat canvas(image.rows + 2 * at.y, image.cols + 2 * at.x, image.type(),
                 cv::Scalar::all(kPlacementGray));
  image.copyTo(canvas(cv::Rect(at.x, at.y, image.cols, image.rows)));
  if (offset) *offset = at;
  return canvas;
}

std::vector<Box> detect_placed(FaceDetector& detector, const cv::Mat& image, cv::Mat& placed,
                               cv::Point* offset) {
  cv::Point at;
  placed = place_on_background(image, &at);
  if (offset) *offset = at;
  std::vector<Box> on_image;
  if (detector.finds_unplaced_faces()) {
    for (const Box& b : detector.detect(view_of(image))) {
      on_image.push_back(Box{b.x + at.x, b.y + at.y, b.width, b.height});
    }
    if (!on_image.empty()) return on_image;
  }
  for (const Box& b : detector.detect(view_of(placed))) {
    const int cx = b.x + b.width / 2, cy = b.y + b.height / 2;
    if (cx >= at.x && cx < at.x + image.cols && cy >= at.y && cy < at.y + image.rows) {
      on_image.push_back(b);
    }
  }
  return on_image;
}

std::string default_cascade_file(const std::string& kind) {
  // frontalface_alt2, not _default: _default often answers a face with a box twice its size
  // (head and shoulders), which makes the crops of one person differ more than two people do.
  // On the AT&T test faces alt2's crops give ROC AUC 0.98 where _default's give 0.93.
  if (kind == "haar") return "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml";
  if (kind == "lbp") return "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml";
  if (kind == "cnn" || kind == "hog") {
    throw InputError("detector '" + kind + "' is not a cascade: it reads no cascade file");
  }
  throw InputError("detector '" + kind + "' is not one of " + kDetectorKinds);
}

Box cascade_framed_box(const FaceDetection& d) {
  const double side = kCnnBoxScale * (d.width + d.height) / 2;
  const double cx = d.x + d.width / 2;
  const double cy = d.y + d.height / 2 + kCnnBoxShiftY * (d.width + d.height) / 2;
  const int s = static_cast<int>(std::lround(side));
  return Box{static_cast<int>(std::lround(cx - side / 2)),
             static_cast<int>(std::lround(cy - side / 2)), s, s};
}

Box hog_cascade_framed_box(const FaceDetection& d) {
  const double side = kHogBoxScale * d.width;
  const double cx = d.x + d.width / 2 + kHogBoxShiftX * d.width;
  const double cy = d.y + d.height / 2 + kHogBoxShiftY * d.width;
  const int s = static_cast<int>(std::lround(side));
  return Box{static_cast<int>(std::lround(cx - side / 2)),
             static_cast<int>(std::lround(cy - side / 2)), s, s};
}

FaceDetector::FaceDetector(DetectorOptions options) : options_(std::move(options)) {
  if (options_.min_face_size < 1) {
    throw InputError("min-face-size must be at least 1 pixel");
  }
  if (options_.kind == "hog") {
    hog_ = std::make_unique<HogFaceDetector>();
    return;
  }
  if (options_.kind == "cnn") {
    cnn_ = std::make_unique<TinyFaceDetector>(TinyFaceDetectorOptions()
                                                  .set_input_size(options_.input_size)
                                                  .set_score_threshold(options_.threshold)
                                                  .set_weights_dir(options_.weights_dir)
                                                  .set_device(options_.device));
    return;
  }
  if (options_.cascade_file.empty()) options_.cascade_file = default_cascade_file(options_.kind);
  std::error_code ec;
  if (!std::filesystem::exists(options_.cascade_file, ec)) {
    throw FileError(options_.cascade_file, "no such cascade file (install opencv-data?)");
  }
  bool loaded = false;
  try {
    loaded = cascade_.load(options_.cascade_file);
  } catch (const cv::Exception& e) {
    loaded = false;
  }
  if (!loaded || cascade_.empty()) {
    throw FileError(options_.cascade_file, "not an OpenCV cascade classifier file");
  }
}

FaceDetector::FaceDetector(DetectorOptions options, NetworkForward cnn_network)
    : options_(std::move(options)) {
  if (options_.min_face_size < 1) {
    throw InputError("min-face-size must be at least 1 pixel");
  }
  if (options_.kind != "cnn") {
    throw InputError("a shared detector network is for kind cnn, not '" + options_.kind + "'");
  }
  cnn_ = std::make_unique<TinyFaceDetector>(TinyFaceDetectorOptions()
                                                .set_input_size(options_.input_size)
                                                .set_score_threshold(options_.threshold)
                                                .set_device(options_.device),
                                            std::move(cnn_network));
}

std::vector<Box> FaceDetector::cnn_boxes(const std::vector<FaceDetection>& found,
                                         const ImageView& view) const {
  std::vector<Box> framed;
  framed.reserve(found.size());
  for (const FaceDetection& d : found) framed.push_back(cascade_framed_box(d));
  return framed_boxes(framed, view);
}

std::vector<Box> FaceDetector::hog_boxes(const ImageView& view) {
  // Scaled so that the smallest wanted face (cascade-framed) fills the HOG window: smaller
  // frames are upsampled (dlib's examples upsample LFW-sized photos), larger ones shrunk, which
  // also bounds the cost. At most kMaxHogUpsample: smaller faces are not searched for.
  const double hog_side = options_.min_face_size / kHogBoxScale;
  const double scale = gray_copy(view, std::min(kMaxHogUpsample, kHogWindow / hog_side));
  std::vector<Box> framed;
  for (const FaceDetection& d : hog_->detect(gray_)) {
    framed.push_back(hog_cascade_framed_box(
        FaceDetection{d.x / scale, d.y / scale, d.width / scale, d.height / scale, d.score}));
  }
  return framed_boxes(framed, view);
}

std::vector<Box> FaceDetector::framed_boxes(const std::vector<Box>& framed_list,
                                            const ImageView& view) const {
  std::vector<Box> boxes;
  for (const Box& framed : framed_list) {
    if (framed.width < options_.min_face_size) continue;
    // Clipped to the frame as the cascades' boxes are (ROI metas hold unsigned positions).
    const int x0 = std::max(0, framed.x), y0 = std::max(0, framed.y);
    const int x1 = std::min(view.width, framed.x + framed.width);
    const int y1 = std::min(view.height, framed.y + framed.height);
    if (x1 > x0 && y1 > y0) boxes.push_back(Box{x0, y0, x1 - x0, y1 - y0});
  }
  return drop_enclosing_boxes(std::move(boxes));
}

std::vector<std::vector<Box>> FaceDetector::detect(const std::vector<ImageView>& views) {
  std::vector<std::vector<Box>> out;
  out.reserve(views.size());
  if (cnn_) {
    const auto found = cnn_->detect(views);
    for (size_t i = 0; i < views.size(); ++i) out.push_back(cnn_boxes(found[i], views[i]));
    return out;
  }
  for (const ImageView& v : views) out.push_back(detect(v));
  return out;
}

double FaceDetector::gray_copy(const ImageView& view, double scale) {
  // A hostile or huge frame must not make the working copy unbounded.
  const double pixels = static_cast<double>(view.width) * view.height;
  if (pixels * scale * scale > kMaxDetectPixels) scale = std::sqrt(kMaxDetectPixels / pixels);
  const int sw = std::max(1, static_cast<int>(std::lround(view.width * scale)));
  const int sh = std::max(1, static_cast<int>(std::lround(view.height * scale)));
  // Shrinking averages pixels (INTER_AREA); enlarging interpolates (INTER_LINEAR).
  const int interpolation = scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR;
  if (view.has_luma_plane()) {
    cv::Mat luma(view.height, view.width, CV_8UC1, const_cast<std::uint8_t*>(view.planes[0]),
                 static_cast<size_t>(view.strides[0]));
    if (scale != 1.0) {
      cv::resize(luma, gray_, cv::Size(sw, sh), 0, 0, interpolation);
    } else {
      luma.copyTo(gray_);
    }
    return scale;
  }
  const int type = bytes_per_pixel(view.format) == 3 ? CV_8UC3 : CV_8UC4;
  cv::Mat frame(view.height, view.width, type, const_cast<std::uint8_t*>(view.planes[0]),
                static_cast<size_t>(view.strides[0]));
  int code = cv_gray_code(view.format);
  const cv::Mat* src = &frame;
  if (scale < 1.0) {  // shrink before converting (fewer pixels), enlarge after (one channel)
    cv::resize(frame, small_, cv::Size(sw, sh), 0, 0, interpolation);
    src = &small_;
  }
  if (code < 0) {
    // xRGB / xBGR: drop the leading pad byte, then convert.
    cv::Mat three;
    const int from_to[] = {1, 0, 2, 1, 3, 2};
    three.create(src->rows, src->cols, CV_8UC3);
    cv::mixChannels(src, 1, &three, 1, from_to, 3);
    code = view.format == PixelFormat::kxRGB ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY;
    cv::cvtColor(three, gray_, code);
  } else {
    cv::cvtColor(*src, gray_, code);
  }
  if (scale > 1.0) {
    cv::resize(gray_, small_, cv::Size(sw, sh), 0, 0, interpolation);
    std::swap(gray_, small_);
  }
  return scale;
}

std::vector<Box> FaceDetector::detect(const ImageView& view) {
  if (cnn_) return cnn_boxes(cnn_->detect(view), view);
  view.validate();
  if (hog_) return hog_boxes(view);
  // Shrink so that the smallest wanted face becomes ~detect_face_size pixels: the cascade's
  // cost grows with the pixel count, and faces far above its 24 px window gain nothing.
  double scale = 1.0;
  if (options_.detect_face_size > 0 && options_.min_face_size > options_.detect_face_size) {
    scale = static_cast<double>(options_.detect_face_size) / options_.min_face_size;
  }
  scale = gray_copy(view, scale);
  cv::equalizeHist(gray_, gray_);
  const int min_side = std::max(1, static_cast<int>(std::lround(options_.min_face_size * scale)));
  std::vector<cv::Rect> found;
  cascade_.detectMultiScale(gray_, found, options_.scale_factor, options_.min_neighbors, 0,
                            cv::Size(min_side, min_side));
  std::vector<Box> boxes;
  boxes.reserve(found.size());
  for (const auto& r : found) {
    Box b{static_cast<int>(std::lround(r.x / scale)), static_cast<int>(std::lround(r.y / scale)),
          static_cast<int>(std::lround(r.width / scale)),
          static_cast<int>(std::lround(r.height / scale))};
    b.width = std::min(b.width, view.width - b.x);
    b.height = std::min(b.height, view.height - b.y);
    if (b.width > 0 && b.height > 0) boxes.push_back(b);
  }
  return drop_enclosing_boxes(std::move(boxes));
}

std::vector<Box> drop_enclosing_boxes(std::vector<Box> boxes) {
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const Box& a, const Box& b) { return a.area() > b.area(); });
  std::vector<Box> kept;
  kept.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    bool encloses = false;
    for (size_t j = i + 1; j < boxes.size() && !encloses; ++j) {
      const Box& small = boxes[j];
      if (small.area() >= boxes[i].area()) continue;  // same size: neither is the wrapper
      const long inside = box_intersection_area(boxes[i], small);
      encloses = inside * 5 >= static_cast<long>(small.area()) * 4;  // >= 80% of it inside
    }
    if (!encloses) kept.push_back(boxes[i]);
  }
  return kept;
}

}  // namespace siamese
