// siamese-enroll compare: the seed's "dissimilarity" (Euclidean distance between embeddings)
// of two images, optionally drawn as the seed's notebook shows it: both faces side by side
// with the figure printed on the picture.
#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {
namespace {

constexpr int kShowFaceSide = 200;  // pixels of each face in the --show picture
constexpr int kShowPadding = 4;

// The face of an image: the largest detection, or the whole image with --no-detect.
Box face_of(const ImageFaces& faces, const std::string& path) {
  if (faces.boxes.empty()) {
    throw InputError(path + ": no face found (give --no-detect for pre-cropped faces)");
  }
  if (faces.boxes.size() > 1) {
    std::cerr << "siamese-enroll: " << escape_for_display(path) << ": " << faces.boxes.size()
              << " faces found; comparing the largest\n";
  }
  return faces.boxes.front();
}

nlohmann::json box_array(const Box& b) { return {b.x, b.y, b.width, b.height}; }

cv::Mat as_bgr(const cv::Mat& img) {
  cv::Mat out;
  if (img.channels() == 1) {
    cv::cvtColor(img, out, cv::COLOR_GRAY2BGR);
  } else {
    out = img;
  }
  return out;
}

void write_picture(const std::string& path, const cv::Mat& a, const cv::Mat& b, float distance) {
  const int side = kShowFaceSide;
  cv::Mat canvas(side + 2 * kShowPadding, 2 * side + 3 * kShowPadding, CV_8UC3,
                 cv::Scalar(0, 0, 0));
  cv::Mat fa, fb;
  cv::resize(as_bgr(a), fa, cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
  cv::resize(as_bgr(b), fb, cv::Size(side, side), 0, 0, cv::INTER_LINEAR);
  fa.copyTo(canvas(cv::Rect(kShowPadding, kShowPadding, side, side)));
  fb.copyTo(canvas(cv::Rect(2 * kShowPadding + side, kShowPadding, side, side)));
  char text[64];
  std::snprintf(text, sizeof text, "Dissimilarity: %.2f", static_cast<double>(distance));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const double scale = 0.6;
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, font, scale, 2, &baseline);
  const cv::Point origin((canvas.cols - size.width) / 2, kShowPadding + 8 + size.height);
  cv::rectangle(canvas, cv::Point(origin.x - 6, origin.y - size.height - 6),
                cv::Point(origin.x + size.width + 6, origin.y + baseline + 4),
                cv::Scalar(255, 255, 255), cv::FILLED);
  cv::putText(canvas, text, origin, font, scale, cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
  bool ok = false;
  try {
    ok = cv::imwrite(path, canvas);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) throw FileError(path, "cannot write picture (is the extension .png or .jpg?)");
}

}  // namespace

int run_compare(const Args& args) {
  Embedder embedder = load_embedder(args);
  const InputSpec& spec = embedder.input_spec();
  FaceSource source = make_face_source(args, spec.channels);
  const std::string& path_a = args.positionals().at(0);
  const std::string& path_b = args.positionals().at(1);
  const ImageFaces a = source.read(path_a);
  const ImageFaces b = source.read(path_b);
  const Box box_a = face_of(a, path_a), box_b = face_of(b, path_b);
  torch::Tensor batch = make_batch_tensor(2, spec);
  const ImageView view_a = view_of(a.image), view_b = view_of(b.image);
  preprocess_into(view_a, {box_a}, spec, a.framing, batch, 0,
                  embedder.face_landmarks(view_a, {box_a}, a.framing));
  preprocess_into(view_b, {box_b}, spec, b.framing, batch, 1,
                  embedder.face_landmarks(view_b, {box_b}, b.framing));
  const torch::Tensor emb = embedder.embed(batch);
  const float distance = (emb[0] - emb[1]).norm().item<float>();
  if (!std::isfinite(distance)) {
    throw InputError(args.required("model") + ": the model gives a distance of " +
                     std::to_string(distance) + " (its embeddings are not finite numbers)");
  }
  // Two pictures, one comparison: the pair threshold (best accuracy), unless given.
  const std::optional<float> given = threshold_flag(args);
  const float threshold = given ? *given : embedder.info().threshold;
  const std::string threshold_source = given ? "--threshold" : "model";
  const bool same = distance <= threshold;
  if (const auto show = args.value("show")) {
    write_picture(*show, input_to_image(batch[0], spec), input_to_image(batch[1], spec), distance);
  }
  if (args.has("json")) {
    const nlohmann::json out = {{"image_a", path_a},
                                {"image_b", path_b},
                                {"box_a", box_array(a.recorded(box_a))},
                                {"box_b", box_array(b.recorded(box_b))},
                                {"dissimilarity", distance},
                                {"threshold", threshold},
                                {"same", same}};
    std::cout << json_line(out) << "\n";
  } else {
    std::printf("dissimilarity: %.4f (%s: distance %s threshold %.4f from the %s)\n",
                static_cast<double>(distance), same ? "same person" : "different people",
                same ? "<=" : ">", static_cast<double>(threshold), threshold_source.c_str());
    if (const auto show = args.value("show")) {
      std::printf("wrote %s\n", escape_for_display(*show).c_str());
    }
  }
  return 0;
}

}  // namespace siamese::enroll
