// dlib_reference: LFW View 2 with dlib's own face finder in front of the imported network, the
// reference for the goal (dlib's published 99.38%, measured with dlib's HOG detector, its
// 68-point shape predictor and its chips). Debian's libdlib-dev (the HOG detector) and
// libdlib-data (shape_predictor_68_face_landmarks.dat) give the same components; the network,
// the chip warp (the model's crop policy) and the 10-fold protocol are siamese-eval's, so its
// figure can be read against these on the same photos.
//   dlib_reference --model M --data LFW --pairs PAIRS [--predictor DAT] [--folds K] [--json]
// Rows, one per line:
//   dlib            HOG box (the image upsampled once, the detection nearest the centre; none:
//                   siamese-eval's centre box), dlib's 68 points on it
//   face-api on hog the same HOG box framed as a cascade frames faces (side and centre mapped by
//                   the medians over the photos where Haar and HOG both find the face), then the
//                   model's own landmark chain (face-api), as siamese-eval --detect runs it
// Usage with set-up and siamese-eval beside it: samples/bench/dlib_reference.sh.
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crop_calibration.h"
#include "lfw_pairs.h"
#include "lfw_protocol.h"
#include "siamese/cli.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/metrics.h"
#include "siamese/model_file.h"
#include "siamese/preprocess.h"

namespace {

namespace st = siamese::training;
using siamese::Box;
using siamese::Landmarks68;

constexpr const char* kDefaultPredictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
constexpr int kBatch = 64;

// One photo and its two detectors' boxes, in the photo's pixels (nullopt: no face found).
struct Photo {
  std::string path;
  std::optional<Box> haar, hog;
};

// A BGR photo (read_image) as dlib's RGB image.
dlib::array2d<dlib::rgb_pixel> dlib_image(const cv::Mat& bgr) {
  dlib::array2d<dlib::rgb_pixel> out(bgr.rows, bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x) out[y][x] = dlib::rgb_pixel(row[x][2], row[x][1], row[x][0]);
  }
  return out;
}

// The HOG detection nearest the photo's centre (dlib's detector finds faces of 80 px and up:
// the photo is upsampled once, as dlib's examples do for LFW-sized photos).
std::optional<Box> hog_face(dlib::frontal_face_detector& hog,
                            const dlib::array2d<dlib::rgb_pixel>& photo) {
  dlib::array2d<dlib::rgb_pixel> up;
  dlib::pyramid_down<2> pyramid;
  dlib::pyramid_up(photo, up, pyramid);
  std::optional<Box> best;
  double best_distance = 0.0;
  for (const dlib::rectangle& found : hog(up)) {
    const dlib::rectangle r = pyramid.rect_down(found);
    const double d =
        std::hypot(dlib::center(r).x() - photo.nc() / 2.0, dlib::center(r).y() - photo.nr() / 2.0);
    if (!best || d < best_distance) {
      best_distance = d;
      best = Box{static_cast<int>(r.left()), static_cast<int>(r.top()), static_cast<int>(r.width()),
                 static_cast<int>(r.height())};
    }
  }
  return best;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// How a HOG box maps onto a cascade's box of the same face: side ratio and centre offsets (in
// HOG sides), the medians over the photos where both found it.
struct HogToCascade {
  double side = 1.0, dx = 0.0, dy = 0.0;
  Box operator()(const Box& hog) const {
    const double s = hog.width * side;
    const double cx = hog.x + hog.width / 2.0 + dx * hog.width;
    const double cy = hog.y + hog.height / 2.0 + dy * hog.width;
    return Box{static_cast<int>(std::lround(cx - s / 2)), static_cast<int>(std::lround(cy - s / 2)),
               static_cast<int>(std::lround(s)), static_cast<int>(std::lround(s))};
  }
};

HogToCascade measure_mapping(const std::vector<Photo>& photos, int* both) {
  std::vector<double> side, dx, dy;
  for (const Photo& p : photos) {
    if (!p.haar || !p.hog) continue;
    side.push_back(static_cast<double>(p.haar->width) / p.hog->width);
    dx.push_back((p.haar->x + p.haar->width / 2.0 - (p.hog->x + p.hog->width / 2.0)) /
                 p.hog->width);
    dy.push_back((p.haar->y + p.haar->height / 2.0 - (p.hog->y + p.hog->height / 2.0)) /
                 p.hog->width);
  }
  *both = static_cast<int>(side.size());
  return HogToCascade{median(side), median(dx), median(dy)};
}

const siamese::cli::Program kProgramSpec{
    "dlib_reference",
    "Usage: dlib_reference --model M --data LFW --pairs PAIRS [--predictor DAT] [--folds K] "
    "[--json]\n"
    "LFW View 2 with dlib's HOG detector and shape predictor in front of model M (see the\n"
    "header of samples/bench/dlib_reference.cpp). --predictor: dlib's 68-point model (default\n"
    "/usr/share/dlib/shape_predictor_68_face_landmarks.dat, Debian's libdlib-data); --folds K:\n"
    "only the first K folds (at least 2; a quick check); --json: one object per row.\n",
    {{"",
      {siamese::cli::Flag::text("model"), siamese::cli::Flag::text("data"),
       siamese::cli::Flag::text("pairs"), siamese::cli::Flag::text("predictor"),
       siamese::cli::Flag::integer("folds", 2, 1000), siamese::cli::Flag::on_off("json")},
      0,
      0,
      ""}}};

int run(const siamese::cli::Args& flags) {
  siamese::set_cpu_threads(1);
  cv::setNumThreads(1);
  const st::LfwPairs pairs = st::read_lfw_pairs(flags.required("pairs"));
  const std::string root = flags.required("data");
  std::map<std::string, size_t> index_of;  // photo path -> row of photos
  std::vector<Photo> photos;
  std::vector<std::pair<size_t, size_t>> pair_rows;
  const auto row_of = [&](const std::string& name, int number) {
    const std::string path = st::lfw_image_path(root, name, number);
    const auto [it, added] = index_of.emplace(path, photos.size());
    if (added) photos.push_back(Photo{path, std::nullopt, std::nullopt});
    return it->second;
  };
  const int folds =
      static_cast<int>(std::min<int64_t>(flags.integer("folds", pairs.folds), pairs.folds));
  for (const auto& p : pairs.pairs) {
    if (p.fold >= folds) continue;
    pair_rows.emplace_back(row_of(p.name1, p.number1), row_of(p.name2, p.number2));
  }

  dlib::frontal_face_detector hog = dlib::get_frontal_face_detector();
  dlib::shape_predictor predictor;
  const std::string predictor_file = flags.text("predictor", kDefaultPredictor);
  try {
    dlib::deserialize(predictor_file) >> predictor;
  } catch (const std::exception& e) {
    throw siamese::FileError(predictor_file, std::string("cannot read dlib's shape predictor (") +
                                                 e.what() + "); install Debian's libdlib-data");
  }
  st::PlacedFaceDetector haar(siamese::DetectorOptions{}, st::FacePick::kCentral);
  for (Photo& p : photos) {
    const cv::Mat photo = siamese::read_image(p.path, 3);
    cv::Mat frame;
    cv::Point offset;
    if (const auto box = haar.detect(photo, frame, offset)) {
      p.haar = Box{box->x - offset.x, box->y - offset.y, box->width, box->height};
    }
    p.hog = hog_face(hog, dlib_image(photo));
  }
  int both = 0;
  const HogToCascade to_cascade = measure_mapping(photos, &both);
  int haar_misses = 0, hog_misses = 0;
  for (const Photo& p : photos) {
    haar_misses += !p.haar;
    hog_misses += !p.hog;
  }
  std::cerr << photos.size() << " photos: no Haar face in " << haar_misses << ", no HOG face in "
            << hog_misses << "; HOG -> cascade framing over " << both << ": side x "
            << to_cascade.side << ", centre moved " << to_cascade.dx << ", " << to_cascade.dy
            << " HOG sides\n";

  siamese::LoadedModel loaded = siamese::load_model(flags.required("model"));
  const siamese::InputSpec spec = loaded.info.input;
  if (spec.channels != 3 || spec.crop.align == siamese::Align::kNone) {
    throw siamese::InputError("--model: an aligned RGB model is needed (siamese-import face-api)");
  }
  siamese::Embedder embedder(std::move(loaded), torch::kCPU);

  for (const std::string row : {"dlib", "face-api on hog"}) {
    std::vector<torch::Tensor> parts;
    for (size_t start = 0; start < photos.size(); start += kBatch) {
      const size_t count = std::min<size_t>(kBatch, photos.size() - start);
      torch::Tensor batch = siamese::make_batch_tensor(static_cast<int64_t>(count), spec);
      for (size_t j = 0; j < count; ++j) {
        const Photo& p = photos[start + j];
        const cv::Mat photo = siamese::read_image(p.path, 3);
        cv::Point offset;  // siamese-eval searches the photo placed on a background
        const cv::Mat frame = siamese::place_on_background(photo, &offset);
        const siamese::ImageView view = siamese::view_of(frame);
        const Box hog_box = p.hog.value_or(st::lfw_centre_box(photo.cols, photo.rows));
        Box box = row == "dlib" ? hog_box : (p.hog ? to_cascade(hog_box) : hog_box);
        Landmarks68 points;
        if (row == "dlib") {
          const dlib::full_object_detection shape = predictor(
              dlib_image(photo),
              dlib::rectangle(box.x, box.y, box.x + box.width - 1, box.y + box.height - 1));
          for (int i = 0; i < siamese::kLandmarkCount; ++i) {
            points[i] = siamese::Point2f{static_cast<float>(shape.part(i).x() + offset.x),
                                         static_cast<float>(shape.part(i).y() + offset.y)};
          }
        }
        box.x += offset.x;
        box.y += offset.y;
        if (row != "dlib") points = embedder.face_landmarks(view, {box})[0];
        siamese::preprocess_into(view, {box}, spec, siamese::Framing::kDetectorBox, batch,
                                 static_cast<int64_t>(j), {points});
      }
      parts.push_back(embedder.embed(batch));
    }
    const torch::Tensor e = torch::cat(parts).to(torch::kFloat64).contiguous();
    siamese::PairScores scores;
    std::vector<int> fold;
    for (size_t k = 0; k < pair_rows.size(); ++k) {  // the pairs of the first `folds` folds
      const auto [a, b] = pair_rows[k];
      scores.distance.push_back(
          (e[static_cast<int64_t>(a)] - e[static_cast<int64_t>(b)]).norm().item<double>());
      scores.genuine.push_back(pairs.pairs[k].matched);
      fold.push_back(pairs.pairs[k].fold);
    }
    const st::LfwFoldFigures figures = st::cross_fold_accuracy(scores, fold, folds);
    std::vector<double> folds;
    for (const auto& f : figures.folds) folds.push_back(f.accuracy);
    const double auc = siamese::roc_auc(scores), eer = siamese::equal_error_rate(scores).value;
    if (flags.has("json")) {
      std::cout << nlohmann::json{{"row", row},
                                  {"mean_accuracy", figures.accuracy.mean},
                                  {"standard_error", figures.accuracy.standard_error},
                                  {"auc", auc},
                                  {"eer", eer},
                                  {"fold_accuracies", folds},
                                  {"pairs", scores.distance.size()},
                                  {"no_hog_face", hog_misses}}
                       .dump()
                << std::endl;
    } else {
      std::cout << row << ": " << figures.accuracy.mean * 100 << "% +- "
                << figures.accuracy.standard_error * 100 << " (AUC " << auc << ", EER " << eer * 100
                << "%) on " << scores.distance.size() << " pairs" << std::endl;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return siamese::cli::run_main(kProgramSpec, argc, argv, run); }
