// siamese-render-walk: renders faces (AT&T's grey ones, or LFW's colour photos cut to their
// middle) walking across a textured 640x480 backdrop (one or two at once) into an MJPG AVI,
// with a ground-truth file, optionally under camera conditions (--condition). Deterministic in
// --seed.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "avi_writer.h"
#include "background.h"
#include "conditions.h"
#include "siamese/cli.h"
#include "truth_file.h"
#include "walk_plan.h"

namespace fs = std::filesystem;
namespace cli = siamese::cli;
namespace ss = siamese::samples;

namespace {

constexpr const char* kProgram = "siamese-render-walk";
constexpr const char* kUsage =
    R"(usage: siamese-render-walk --data DIR --people LIST --out VIDEO.avi --truth FILE [options]

Renders faces from DIR (one subfolder per identity, e.g. the AT&T faces or LFW) walking across
a textured backdrop, one or two at once, into an MJPG AVI, and writes the ground truth: per
frame the box and identity of every face ("s3", or "stranger:s21" for the --strangers).

  --data DIR              identity folders (e.g. ../shared/data/att_faces or ../shared/data/lfw)
  --people LIST           identities shown under their name, e.g. "s1-s10" or
                          "Colin_Powell,Tony_Blair"
  --images LIST           which images of each person, by file stem (default 1-10), e.g. "6-10";
                          a number N also finds LFW's PERSON/PERSON_000N.jpg
  --strangers LIST        identities shown as strangers (never enrolled), e.g. "s21-s30"
  --stranger-images LIST  which images of each stranger (default: --images)
  --out VIDEO.avi         the video to write (MJPG in AVI)
  --truth FILE            ground truth: FILE.json (default) or FILE.csv
  --fps N                 frames per second (default 25)
  --segment S             seconds one walker takes to cross the frame (default 3)
  --seconds S             total length instead: the segments share it
  --gap S                 seconds of empty frame between walkers (default 0.4)
  --pairs F               fraction of segments with two walkers at once (default 0.3)
  --min-face PX, --max-face PX   face height range (default 120, 190)
  --image-period S        a walker shows its next image after S seconds (default 0.6)
  --width PX, --height PX frame size (default 640x480)
  --centre-crop F          show the middle F of each image's width and height (default 1: the
                          whole image); 0.6 for LFW's 250x250 photos, whose face fills their
                          middle: the truth box is the shown part, as with AT&T's images
  --quality Q             JPEG quality 1-100 (default 90)
Images are shown in colour (grey images stay grey).
  --seed N                the same seed gives the same video and truth (default 0)
  --condition LIST        camera conditions, comma-separated (default none; "all": every one):
      rotate     each walker's photo turned about its centre by 5-25 degrees, either way
      blur       defocus: the frame through a disc of radius 5 px
      lowlight   the frame's pixel values times 0.25
      sidelight  strong light from one side of each walker: the face times 1.6 at its lit edge,
                 falling linearly to 0.3 at the other
      noise      sensor noise: Gaussian, sigma 10 per pixel and channel, new on every frame
      jpeg       JPEG quality at most 15 (blocking and ringing)
      small      faces 40-60 px high (instead of --min-face/--max-face)
      occlusion  over each walker's face a dark bar across the eyes (0.17 of the face's
                 height) or a skin-toned hand-sized ellipse (0.45 x 0.5 of the face)
    The random parts (angles, sides, occluders, noise) follow --seed; the frame changes run
    blur, lowlight, noise, then the JPEG encoding. The truth's boxes stay the shown photo's
    box; the JSON truth lists the conditions and each walker's angle, light side and occluder.
)";

bool all_digits(const std::string& text) {
  if (text.empty() || text.size() > 4) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// DIR/label/stem.ext for the first image extension that exists; for a number N, also LFW's
// naming DIR/label/label_000N.jpg.
std::string find_image(const fs::path& data, const std::string& label, const std::string& stem) {
  for (const char* ext : {".pgm", ".png", ".jpg", ".jpeg", ".bmp", ".ppm"}) {
    if (fs::exists(data / label / (stem + ext))) return label + "/" + stem + ext;
  }
  if (all_digits(stem)) {
    char number[8];
    std::snprintf(number, sizeof number, "_%04d", std::stoi(stem));
    const std::string lfw = label + number + ".jpg";
    if (fs::exists(data / label / lfw)) return label + "/" + lfw;
  }
  throw std::runtime_error((data / label / stem).string() + ".pgm: no such image (--data, " +
                           "--images)");
}

std::vector<ss::Cast> make_cast(const cli::Args& flags, const fs::path& data) {
  std::vector<ss::Cast> cast;
  const auto images = cli::expand_list(flags.text("images", "1-10"), "--images");
  const auto stranger_images =
      flags.has("stranger-images")
          ? cli::expand_list(flags.text("stranger-images"), "--stranger-images")
          : images;
  auto add = [&](const std::string& list, const std::string& flag, bool stranger,
                 const std::vector<std::string>& stems) {
    for (const auto& label : cli::expand_list(list, flag)) {
      if (!fs::is_directory(data / label)) {
        throw std::runtime_error((data / label).string() + ": no such identity folder (" + flag +
                                 ")");
      }
      ss::Cast c{label, stranger, {}};
      for (const auto& stem : stems) c.images.push_back(find_image(data, label, stem));
      cast.push_back(std::move(c));
    }
  };
  add(flags.required("people"), "--people", false, images);
  if (flags.has("strangers")) add(flags.text("strangers"), "--strangers", true, stranger_images);
  return cast;
}

const cli::Program kProgramSpec{kProgram,
                                kUsage,
                                {{"",
                                  {cli::Flag::text("data"),
                                   cli::Flag::text("people"),
                                   cli::Flag::text("images"),
                                   cli::Flag::text("strangers"),
                                   cli::Flag::text("stranger-images"),
                                   cli::Flag::text("out"),
                                   cli::Flag::text("truth"),
                                   cli::Flag::number("fps", 1, 240),
                                   cli::Flag::number("segment", 0.2, 3600),
                                   cli::Flag::number("seconds", 0.5, 1e6),
                                   cli::Flag::number("gap", 0, 3600),
                                   cli::Flag::number("pairs", 0, 1),
                                   cli::Flag::integer("min-face", 16, 4320),
                                   cli::Flag::integer("max-face", 16, 4320),
                                   cli::Flag::number("image-period", 0.01, 3600),
                                   cli::Flag::integer("width", 64, 7680),
                                   cli::Flag::integer("height", 64, 4320),
                                   cli::Flag::integer("quality", 1, 100),
                                   cli::Flag::integer("seed", 0, 2147483647L),
                                   cli::Flag::number("centre-crop", 0.05, 1.0),
                                   cli::Flag::text("condition")},
                                  0,
                                  0,
                                  ""}}};

int run(const cli::Args& flags) {
  const fs::path data = flags.required("data");
  const std::string out = flags.required("out");
  const std::string truth = flags.required("truth");
  if (fs::path(out).extension() != ".avi") throw cli::UsageError("--out must name an .avi file");
  if (!fs::is_directory(data))
    throw std::runtime_error(data.string() + ": no such folder (--data)");

  ss::WalkOptions o;
  o.width = static_cast<int>(flags.integer("width", o.width));
  o.height = static_cast<int>(flags.integer("height", o.height));
  o.fps = flags.number("fps", o.fps);
  o.segment_s = flags.number("segment", o.segment_s);
  o.gap_s = flags.number("gap", o.gap_s);
  o.pair_fraction = flags.number("pairs", o.pair_fraction);
  o.min_face = static_cast<int>(flags.integer("min-face", o.min_face));
  o.max_face = static_cast<int>(flags.integer("max-face", o.max_face));
  o.image_period_s = flags.number("image-period", o.image_period_s);
  o.seed = static_cast<uint64_t>(flags.integer("seed", 0));
  const int quality = static_cast<int>(flags.integer("quality", 90));
  const double centre_crop = flags.number("centre-crop", 1.0);
  ss::Conditions conditions;
  try {
    conditions = ss::parse_conditions(flags.text("condition"));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(std::string("--condition: ") + e.what());
  }
  if (ss::has_condition(conditions, ss::Condition::kSmall)) {
    if (flags.has("min-face") || flags.has("max-face")) {
      throw cli::UsageError("--condition small sets the face heights: drop --min-face/--max-face");
    }
    o.min_face = ss::kSmallFaceMin;
    o.max_face = ss::kSmallFaceMax;
  }
  const bool rotate = ss::has_condition(conditions, ss::Condition::kRotate);

  const std::vector<ss::Cast> cast = make_cast(flags, data);
  std::map<std::string, cv::Mat> faces;      // decoded once
  std::map<std::string, cv::Mat> originals;  // rotate: the whole images, to turn then cut
  for (const auto& c : cast) {
    for (const auto& rel : c.images) {
      // Colour as stored (a grey image becomes three equal channels, as it was drawn before).
      cv::Mat img = cv::imread((data / rel).string(), cv::IMREAD_COLOR);
      if (img.empty()) throw std::runtime_error((data / rel).string() + ": cannot read the image");
      if (rotate) originals[rel] = img;
      const int w = std::max(1, static_cast<int>(std::lround(img.cols * centre_crop)));
      const int h = std::max(1, static_cast<int>(std::lround(img.rows * centre_crop)));
      faces[rel] = img(cv::Rect((img.cols - w) / 2, (img.rows - h) / 2, w, h)).clone();
    }
  }
  o.face_aspect = static_cast<double>(faces.begin()->second.cols) / faces.begin()->second.rows;

  if (flags.has("seconds")) {  // the segments share the requested length
    const double seconds = flags.number("seconds", 0.0);
    const ss::WalkPlan probe = ss::plan_walk(cast, o);
    int segments = 0;
    for (size_t i = 0; i < probe.walkers.size(); ++i) {
      if (i == 0 || probe.walkers[i].first_frame != probe.walkers[i - 1].first_frame) ++segments;
    }
    o.segment_s = (seconds - o.gap_s * (segments + 1)) / segments;
    if (o.segment_s < 0.2) {
      throw cli::UsageError("--seconds " + flags.text("seconds") + " is too short for " +
                            std::to_string(segments) + " segments");
    }
  }
  ss::WalkPlan plan;
  try {
    plan = ss::plan_walk(cast, o);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }

  // Each walker's look under the conditions; under rotate, its photos turned once.
  std::vector<ss::WalkerLook> looks;
  std::map<std::pair<size_t, std::string>, cv::Mat> turned;
  for (size_t i = 0; i < plan.walkers.size(); ++i) {
    looks.push_back(ss::walker_look(conditions, o.seed, i));
    if (!rotate) continue;
    for (const auto& rel : plan.walkers[i].images) {
      turned[{i, rel}] = ss::rotated_face(originals.at(rel), looks[i].angle_deg, centre_crop);
    }
  }

  ss::MjpegAviWriter writer(out, o.width, o.height, o.fps);
  const std::vector<int> jpeg_params{cv::IMWRITE_JPEG_QUALITY,
                                     ss::jpeg_quality(conditions, quality)};
  std::vector<unsigned char> jpeg;
  const cv::Mat background = ss::make_background(o.width, o.height, o.seed);
  cv::Mat frame, scaled;
  for (int f = 0; f < plan.frame_count; ++f) {
    background.copyTo(frame);
    for (size_t i = 0; i < plan.walkers.size(); ++i) {
      const ss::Walker& w = plan.walkers[i];
      if (f < w.first_frame || f > w.last_frame) continue;
      const ss::Rect r = ss::box_at(w, o, f);
      const std::string& rel = w.images[static_cast<size_t>(ss::image_at(w, o, f))];
      const cv::Mat& face = rotate ? turned.at({i, rel}) : faces.at(rel);
      cv::resize(face, scaled, cv::Size(r.width, r.height), 0, 0,
                 r.height < face.rows ? cv::INTER_AREA : cv::INTER_LINEAR);
      if (!conditions.empty()) ss::dress_face(scaled, looks[i]);
      scaled.copyTo(frame(cv::Rect(r.x, r.y, r.width, r.height)));
    }
    if (!conditions.empty()) ss::degrade_frame(frame, conditions, o.seed, f);
    cv::imencode(".jpg", frame, jpeg, jpeg_params);
    writer.write(jpeg);
  }
  writer.close();
  ss::write_truth(truth, plan, fs::path(out).filename().string(), conditions, looks);

  int strangers = 0;
  for (const auto& w : plan.walkers) strangers += w.stranger ? 1 : 0;
  std::cout << kProgram << ": wrote " << out << " (" << plan.frame_count << " frames, " << o.width
            << "x" << o.height << " at " << o.fps << " fps, "
            << plan.walkers.size() - static_cast<size_t>(strangers) << " people, " << strangers
            << " strangers";
  if (!conditions.empty()) {
    std::cout << "; under";
    for (const auto c : conditions) std::cout << " " << ss::condition_name(c);
  }
  std::cout << ") and " << truth << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
