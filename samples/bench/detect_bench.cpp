// detect_bench: the face detectors (haar, lbp, hog, cnn) on LFW and their speed.
//   detect_bench [--lfw DIR] [--limit N] [--detectors haar,lbp,hog,cnn,cnn320] [--threads 2]
//                [--threshold 0.5] [--speed-seconds 3] [--no-accuracy] [--no-speed]
//                [--no-framing] [--misses FILE] [--canvas PX]
// Accuracy, on every LFW photo as it is (250x250 deep-funneled, the face at the centre):
//   centre box   the square of kLfwCentreBoxFraction (0.472) of the side at the image centre:
//                the median Haar box measured on LFW (training/lfw_protocol.h)
//   hit          the largest box whose centre lies within a quarter of the side of the image's
//                centre has IoU >= 0.4 with the centre box
//   other boxes  boxes that are not that hit, per image: background faces count too, so this
//                is an upper bound on false boxes
//   --canvas PX  shows each photo at the centre of a PX x PX gray canvas (a face smaller in the
//                detector's input, as in a camera frame) and scores its boxes in the photo's
//                coordinates; implies --no-framing
//   --misses     writes FILE, a CSV line per photo a detector missed: its boxes, and the
//                largest box near the centre with its IoU with the centre box (if any)
// Framing (cnn): over the photos where Haar and the raw CNN box both hit, the medians of Haar
// side / mean CNN side and of (Haar centre y - CNN centre y) / mean CNN side: kCnnBoxScale and
// kCnnBoxShiftY of siamese/detector.h (--no-framing skips it: it runs Haar and the CNN again).
// Speed: 640x480 BGR frames (an LFW photo at the centre of a gray frame, as a camera shows one
// person) at batch 1 and 8 frames; faces/s = frames/s x faces per frame (one), detectors
// alternating round by round on --threads LibTorch/OpenCV threads.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "siamese/cli.h"
#include "siamese/detector.h"
#include "siamese/device.h"
#include "siamese/image_io.h"
#include "siamese/limits.h"
#include "siamese/tiny_face_detector.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kCentreFraction = 0.472;  // training/lfw_protocol.h kLfwCentreBoxFraction
constexpr double kHitIou = 0.4;

using siamese::bench::median;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) out.push_back(item);
  return out;
}

siamese::Box centre_box(int w, int h) {
  const int side = static_cast<int>(std::lround(kCentreFraction * std::min(w, h)));
  return siamese::Box{(w - side) / 2, (h - side) / 2, side, side};
}

// The hit box (largest near the centre with IoU >= min_iou), or -1.
int hit_index(const std::vector<siamese::Box>& boxes, int w, int h, double min_iou = kHitIou) {
  const siamese::Box centre = centre_box(w, h);
  const double reach = 0.25 * std::min(w, h);
  int best = -1;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto& b = boxes[i];
    const double dx = b.x + b.width / 2.0 - w / 2.0, dy = b.y + b.height / 2.0 - h / 2.0;
    if (std::abs(dx) > reach || std::abs(dy) > reach) continue;
    if (best < 0 || b.area() > boxes[best].area()) best = static_cast<int>(i);
  }
  if (best >= 0 && siamese::box_iou(boxes[best], centre) < min_iou) best = -1;
  return best;
}

siamese::DetectorOptions options_of(const std::string& name, double threshold) {
  siamese::DetectorOptions o;
  if (name == "haar" || name == "lbp" || name == "hog") return o.set_kind(name);
  if (name.rfind("cnn", 0) == 0) {
    const int size = name.size() > 3
                         ? static_cast<int>(siamese::cli::parse_integer(
                               "--detectors", name.substr(3), siamese::kMinDetectorInputSize,
                               siamese::kMaxDetectorInputSize))
                         : siamese::kDefaultDetectorInputSize;
    return o.set_kind("cnn").set_input_size(size).set_threshold(threshold);
  }
  throw siamese::cli::UsageError("--detectors: unknown detector '" + name +
                                 "' (haar, lbp, hog, cnn, cnnNNN)");
}

std::vector<std::string> lfw_images(const std::string& dir, int limit) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".jpg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  if (limit > 0 && static_cast<int>(out.size()) > limit) {
    std::vector<std::string> spread;  // evenly over the people, not the first names only
    for (int i = 0; i < limit; ++i)
      spread.push_back(out[static_cast<size_t>(i) * out.size() / limit]);
    out.swap(spread);
  }
  return out;
}

}  // namespace

const siamese::cli::Program kProgramSpec{
    "detect_bench",
    R"(usage: detect_bench [--lfw DIR] [--limit N] [--detectors haar,lbp,hog,cnn,cnn320] [--threads 2]
                    [--threshold 0.5] [--speed-seconds 3] [--no-accuracy] [--no-speed]
                    [--no-framing] [--misses FILE] [--canvas PX]

The face detectors on LFW (a hit: the largest box near the centre overlaps the face's centre box
at IoU >= 0.4; other boxes per photo) and their speed on 640x480 frames.

  --lfw DIR            LFW photos (default $SIAMESE_LFW, else /work/shared/data/lfw)
  --limit N            at most N photos, spread over the people (default all)
  --detectors LIST     haar, lbp, hog, cnn and cnnNNN (the CNN at input NNN) (default
                       haar,lbp,cnn)
  --threads N          LibTorch and OpenCV threads (default 2)
  --threshold T        the CNN's score threshold (default 0.5)
  --speed-seconds S    seconds per speed figure (default 3)
  --no-accuracy        speed only
  --no-speed           accuracy only
  --no-framing         skip measuring the CNN box's framing against Haar's
  --misses FILE        a CSV line per photo a detector missed
  --canvas PX          each photo at the centre of a PX x PX gray canvas
)",
    {{"",
      {siamese::cli::Flag::text("lfw"), siamese::cli::Flag::integer("limit", 0, 100000000),
       siamese::cli::Flag::text("detectors"), siamese::cli::flags::threads(),
       siamese::cli::Flag::number("threshold", siamese::kMinDetectorThreshold,
                                  siamese::kMaxDetectorThreshold),
       siamese::cli::Flag::number("speed-seconds", 0.01, 3600),
       siamese::cli::Flag::on_off("no-accuracy"), siamese::cli::Flag::on_off("no-speed"),
       siamese::cli::Flag::on_off("no-framing"), siamese::cli::Flag::text("misses"),
       siamese::cli::Flag::integer("canvas", 0, 8192)},
      0,
      0,
      ""}}};

int run(const siamese::cli::Args& flags) {
  std::string lfw = flags.text("lfw");
  if (lfw.empty()) {
    const char* env = std::getenv("SIAMESE_LFW");
    lfw = env ? env : "/work/shared/data/lfw";
  }
  const int limit = static_cast<int>(flags.integer("limit", 0));
  const std::vector<std::string> names = split(flags.text("detectors", "haar,lbp,cnn"));
  const int threads = static_cast<int>(flags.integer("threads", 2));
  const double threshold = flags.number("threshold", 0.5);
  const double seconds = flags.number("speed-seconds", 3.0);
  const int canvas = static_cast<int>(flags.integer("canvas", 0));
  siamese::set_cpu_threads(threads);
  cv::setNumThreads(threads);

  {  // run_main reports what is thrown here
    std::vector<std::unique_ptr<siamese::FaceDetector>> detectors;
    for (const auto& n : names) {
      detectors.push_back(std::make_unique<siamese::FaceDetector>(options_of(n, threshold)));
    }
    const std::vector<std::string> images = lfw_images(lfw, limit);
    if (images.empty()) throw std::runtime_error("no LFW photos under " + lfw);

    if (!flags.has("no-accuracy")) {
      std::vector<int64_t> hits(names.size(), 0), others(names.size(), 0), none(names.size(), 0);
      std::vector<double> seconds_spent(names.size(), 0.0);
      std::vector<double> scale, shift_y, shift_x;
      siamese::TinyFaceDetector raw(
          siamese::TinyFaceDetectorOptions().set_score_threshold(threshold));
      siamese::FaceDetector haar(siamese::DetectorOptions{});
      const bool framing = !flags.has("no-framing") && canvas <= 0;
      std::ofstream misses;
      if (flags.has("misses")) {
        misses.open(flags.text("misses"));
        if (!misses) throw std::runtime_error(flags.text("misses") + ": cannot write (--misses)");
        misses << "detector,photo,width,height,boxes,near_x,near_y,near_width,near_height,iou\n";
      }
      for (size_t k = 0; k < images.size(); ++k) {
        if (k > 0 && k % 1000 == 0) std::cerr << k << "/" << images.size() << " photos\n";
        const cv::Mat image = siamese::read_image(images[k], 3);
        cv::Mat shown = image;
        cv::Point offset(0, 0);
        if (canvas > 0) {
          if (canvas < std::max(image.cols, image.rows)) {
            throw std::runtime_error(images[k] + " is larger than --canvas " +
                                     std::to_string(canvas));
          }
          shown = cv::Mat(canvas, canvas, image.type(), cv::Scalar::all(110));
          offset = cv::Point((canvas - image.cols) / 2, (canvas - image.rows) / 2);
          image.copyTo(shown(cv::Rect(offset, image.size())));
        }
        const siamese::ImageView view = siamese::view_of(shown);
        for (size_t d = 0; d < detectors.size(); ++d) {
          const auto t0 = Clock::now();
          std::vector<siamese::Box> boxes = detectors[d]->detect(view);
          seconds_spent[d] += std::chrono::duration<double>(Clock::now() - t0).count();
          for (auto& b : boxes) b.x -= offset.x, b.y -= offset.y;  // in the photo's pixels
          const int hit = hit_index(boxes, image.cols, image.rows);
          if (hit >= 0) ++hits[d];
          if (boxes.empty()) ++none[d];
          if (hit < 0 && misses.is_open()) {
            // The box that would have been the hit: the largest near the centre, any IoU.
            const int near = hit_index(boxes, image.cols, image.rows, 0.0);
            misses << names[d] << ',' << fs::relative(images[k], lfw).string() << ',' << image.cols
                   << ',' << image.rows << ',' << boxes.size();
            if (near >= 0) {
              const auto& b = boxes[static_cast<size_t>(near)];
              misses << ',' << b.x << ',' << b.y << ',' << b.width << ',' << b.height << ','
                     << siamese::box_iou(b, centre_box(image.cols, image.rows)) << '\n';
            } else {
              misses << ",,,,,\n";
            }
          }
          others[d] += static_cast<int64_t>(boxes.size()) - (hit >= 0 ? 1 : 0);
        }
        if (!framing) continue;
        // Framing: Haar's hit beside the raw CNN box that overlaps it most.
        const auto hb = haar.detect(view);
        const int h = hit_index(hb, image.cols, image.rows);
        if (h >= 0) {
          double best_iou = 0.0;
          siamese::FaceDetection best;
          for (const auto& d : raw.detect(view)) {
            const double iou = siamese::box_iou(hb[h], d.clipped_box(image.cols, image.rows));
            if (iou > best_iou) best_iou = iou, best = d;
          }
          if (best_iou >= 0.3) {
            const double mean_side = (best.width + best.height) / 2;
            scale.push_back(hb[h].width / mean_side);
            shift_y.push_back((hb[h].y + hb[h].height / 2.0 - best.y - best.height / 2) /
                              mean_side);
            shift_x.push_back((hb[h].x + hb[h].width / 2.0 - best.x - best.width / 2) / mean_side);
          }
        }
      }
      std::cout << "LFW detection: " << images.size() << " photos "
                << (canvas > 0 ? "on a " + std::to_string(canvas) + "x" + std::to_string(canvas) +
                                     " gray canvas"
                               : std::string("as they are"))
                << " (" << lfw
                << "); hit = largest box near the centre with IoU >= 0.4 with the centre box "
                   "(0.472 of the side)\n";
      std::cout << std::fixed << std::setprecision(4);
      for (size_t d = 0; d < names.size(); ++d) {
        const double n = static_cast<double>(images.size());
        std::cout << "  " << std::setw(7) << names[d] << ": hits " << hits[d] << " ("
                  << 100.0 * hits[d] / n << "%), no box " << none[d] << ", other boxes per image "
                  << others[d] / n << ", " << 1000.0 * seconds_spent[d] / n << " ms/photo\n";
      }
      if (framing)
        std::cout << "CNN framing vs Haar over " << scale.size()
                  << " photos where both hit: Haar side / mean CNN side median " << median(scale)
                  << ", centre y shift (Haar - CNN) / mean CNN side median " << median(shift_y)
                  << ", centre x shift median " << median(shift_x) << "\n";
    }

    if (!flags.has("no-speed")) {
      // 640x480 frames: an LFW photo at the centre of a gray frame.
      std::vector<cv::Mat> frames;
      for (size_t k = 0; k < 8; ++k) {
        const cv::Mat photo = siamese::read_image(images[k * images.size() / 8], 3);
        cv::Mat frame(480, 640, CV_8UC3, cv::Scalar::all(110));
        photo.copyTo(frame(
            cv::Rect((640 - photo.cols) / 2, (480 - photo.rows) / 2, photo.cols, photo.rows)));
        frames.push_back(frame);
      }
      std::vector<siamese::ImageView> views;
      for (const auto& f : frames) views.push_back(siamese::view_of(f));
      std::cout << std::fixed;
      std::cout << "Detector speed, 640x480 frames (one face each), " << threads
                << " threads, detectors alternating, " << seconds << " s each per batch size:\n";
      for (int batch : {1, 8}) {
        std::vector<double> fps(names.size(), 0.0);
        std::vector<double> faces(names.size(), 0.0);
        for (int round = 0; round < 2; ++round) {
          for (size_t d = 0; d < detectors.size(); ++d) {
            detectors[d]->detect(
                std::vector<siamese::ImageView>(views.begin(), views.begin() + batch));
            int64_t done = 0, found = 0;
            const auto t0 = Clock::now();
            double elapsed = 0.0;
            do {
              for (size_t start = 0; start < views.size(); start += batch) {
                const std::vector<siamese::ImageView> part(views.begin() + start,
                                                           views.begin() + start + batch);
                for (const auto& boxes : detectors[d]->detect(part)) found += boxes.empty() ? 0 : 1;
                done += batch;
              }
              elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            } while (elapsed < seconds / 2);
            fps[d] += done / elapsed / 2;
            faces[d] += found / elapsed / 2;
          }
        }
        for (size_t d = 0; d < names.size(); ++d) {
          std::cout << "  batch " << batch << " " << std::setw(7) << names[d] << ": "
                    << std::setprecision(1) << fps[d] << " frames/s, " << faces[d]
                    << " faces/s found\n";
        }
      }
    }
  }
  return 0;
}

int main(int argc, char** argv) { return siamese::cli::run_main(kProgramSpec, argc, argv, run); }
