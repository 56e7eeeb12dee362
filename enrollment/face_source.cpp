#include "face_source.h"

#include <opencv2/imgproc.hpp>

#include "siamese/errors.h"
#include "siamese/image_io.h"

namespace siamese::enroll {

FaceSource::FaceSource(FaceSourceOptions options, int channels)
    : options_(std::move(options)), channels_(channels == 1 ? 1 : 3) {
  if (options_.detect) detector_.emplace(options_.detector);
}

namespace {

bool inside(const Box& box, const Box& area) {
  return box_intersection_area(box, area) == static_cast<long>(box.area());
}

}  // namespace

Box ImageFaces::recorded(const Box& box) const {
  if (!inside(box, source)) return box;
  return Box{box.x - source.x, box.y - source.y, box.width, box.height};
}

ImageFaces FaceSource::read(const std::string& path) {
  ImageFaces out;
  out.image = read_image(path, channels_);
  out.source = view_of(out.image).full_box();
  if (detector_) {
    // Searched as training searches its faces: placed on a background. Searched bare, a head
    // photo without margin (such as the AT&T faces) gets a smaller box inside its edges, a
    // framing that neither training nor a camera frame shows, and its crops sit farther from
    // the same person's live faces (searched bare, the demo's walks verified 55 of 60 people;
    // placed, 60 of 60).
    cv::Mat placed;
    cv::Point at;
    out.boxes = detect_placed(*detector_, out.image, placed, &at);
    out.source = Box{at.x, at.y, out.image.cols, out.image.rows};
    out.image = placed;
    out.framing = Framing::kDetectorBox;
  } else {
    out.boxes = {view_of(out.image).full_box()};
    out.framing = Framing::kExact;
  }
  return out;
}

ImageFaces FaceSource::read_region(const std::string& path, const Box& box, Framing framing) const {
  ImageFaces out;
  out.image = read_image(path, channels_);
  out.source = view_of(out.image).full_box();
  out.framing = framing;
  if (box.width <= 0 || box.height <= 0) {
    out.boxes = {view_of(out.image).full_box()};
    return out;
  }
  if (framing == Framing::kExact) {
    out.boxes = {box};
    return out;
  }
  // A detector box: on the placed picture, as read() found it (see ImageFaces::recorded).
  cv::Point at;
  const bool in_file = inside(box, out.source);
  out.image = place_on_background(out.image, &at);
  out.source = Box{at.x, at.y, out.source.width, out.source.height};
  out.boxes = {in_file ? Box{box.x + at.x, box.y + at.y, box.width, box.height} : box};
  return out;
}

std::optional<Box> single_face(const ImageFaces& faces, bool largest_face, std::string& reason) {
  if (faces.boxes.empty()) {
    reason = "no face found";
    return std::nullopt;
  }
  if (faces.boxes.size() > 1 && !largest_face) {
    reason = std::to_string(faces.boxes.size()) + " faces found (use --largest-face)";
    return std::nullopt;
  }
  return faces.boxes.front();  // the detector sorts largest first
}

cv::Mat input_to_image(const torch::Tensor& input, const InputSpec& spec) {
  const auto chw = input.to(torch::kCPU, torch::kFloat32).contiguous();
  if (chw.dim() != 3) throw InputError("input_to_image: expected [C,H,W]");
  const int c = static_cast<int>(chw.size(0)), h = static_cast<int>(chw.size(1)),
            w = static_cast<int>(chw.size(2));
  std::vector<cv::Mat> planes;
  const float* data = chw.data_ptr<float>();
  for (int k = 0; k < c; ++k) {
    const float mean =
        spec.mean.empty() ? 0.0f : spec.mean[std::min<size_t>(k, spec.mean.size() - 1)];
    const float sd = spec.std.empty() ? 1.0f : spec.std[std::min<size_t>(k, spec.std.size() - 1)];
    cv::Mat plane(h, w, CV_32FC1, const_cast<float*>(data + static_cast<size_t>(k) * h * w));
    cv::Mat pixels;
    // (pixel * scale - mean) / std = value  =>  pixel = (value * std + mean) / scale
    plane.convertTo(pixels, CV_8U, sd / spec.scale, mean / spec.scale);
    planes.push_back(pixels);
  }
  cv::Mat out;
  if (c == 1) return planes[0];
  cv::Mat rgb;
  cv::merge(planes, rgb);
  cv::cvtColor(rgb, out, cv::COLOR_RGB2BGR);
  return out;
}

}  // namespace siamese::enroll
