#include "face_source.h"

#include <opencv2/imgproc.hpp>

#include "siamese/errors.h"
#include "siamese/image_io.h"

namespace siamese::enroll {

FaceSource::FaceSource(FaceSourceOptions options, int channels)
    : options_(std::move(options)), channels_(channels == 1 ? 1 : 3) {
  if (options_.detect) detector_.emplace(options_.detector);
}

ImageFaces FaceSource::read(const std::string& path) {
  ImageFaces out;
  out.image = read_image(path, channels_);
  const ImageView view = view_of(out.image);
  if (detector_) {
    out.boxes = detector_->detect(view);
    out.framing = Framing::kDetectorBox;
    if (out.boxes.empty()) {
      // A head photo without margin (such as the AT&T faces): searched again as a camera
      // shows it, placed on a background; the faces then live in that picture.
      cv::Mat placed;
      out.boxes = detect_placed(*detector_, out.image, placed);
      if (!out.boxes.empty()) out.image = placed;
    }
  } else {
    out.boxes = {view.full_box()};
    out.framing = Framing::kExact;
  }
  return out;
}

ImageFaces FaceSource::read_region(const std::string& path, const Box& box,
                                   Framing framing) const {
  ImageFaces out;
  out.image = read_image(path, channels_);
  const Box whole = view_of(out.image).full_box();
  // A box reaching outside the image was found on it placed on a background (see read()).
  const bool inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= whole.width &&
                      box.y + box.height <= whole.height;
  if (box.width > 0 && box.height > 0 && !inside) out.image = place_on_background(out.image);
  out.boxes = {box.width > 0 && box.height > 0 ? box : whole};
  out.framing = framing;
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
    const float mean = spec.mean.empty() ? 0.0f : spec.mean[std::min<size_t>(k, spec.mean.size() - 1)];
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
