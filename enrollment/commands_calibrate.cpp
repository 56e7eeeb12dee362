// siamese-enroll threshold / calibrate: per-person thresholds, set by hand or proposed from the
// gallery's own embeddings and optional strangers' faces (siamese/calibration.h).
#include <nlohmann/json.hpp>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "enroll_job.h"
#include "siamese/calibration.h"
#include "siamese/errors.h"
#include "siamese/limits.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {
namespace {

nlohmann::json number_or_null(float v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string shown(float v) {
  if (std::isnan(v)) return "-";
  if (!std::isfinite(v)) return "none";
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << v;
  return out.str();
}

// The strangers' faces under dirs (each DIR's images and its subfolders' images), embedded as
// enrollment embeds. A missing folder or an unreadable image throws FileError naming it.
torch::Tensor embed_strangers(const Args& args, const std::vector<std::string>& dirs,
                              Embedder& embedder) {
  // A DIR's own images (as one set), then its subfolders' (as if each were a person): the first
  // plan reports missing and unreadable paths, the second only adds the subfolders.
  const EnrollmentPlan own = plan_enrollment(dirs, std::string("stranger"));
  if (!own.failed.empty()) {
    throw FileError(own.failed.front().path, "--strangers: " + own.failed.front().reason);
  }
  std::vector<PlannedImage> images = own.images;
  const EnrollmentPlan nested = plan_enrollment(dirs, std::nullopt);
  images.insert(images.end(), nested.images.begin(), nested.images.end());
  if (images.empty()) throw InputError("--strangers: no images in " + dirs.front());
  std::vector<EmbedRequest> requests;
  for (const auto& img : images)
    requests.push_back({"stranger", img.path, std::nullopt, Framing::kExact});
  FaceSource source = make_face_source(args, embedder.info().input.channels);
  EmbedOptions options;
  options.largest_face = true;  // a stranger photo's main face
  options.progress_label = "strangers";
  const EmbedOutcome out = embed_requests(requests, source, embedder, options);
  if (!out.failed.empty()) {
    throw FileError(out.failed.front().path, "--strangers: " + out.failed.front().reason);
  }
  std::vector<float> values;
  int64_t rows = 0;
  for (const auto& [who, samples] : out.identities) {
    for (const auto& s : samples) {
      values.insert(values.end(), s.embedding.begin(), s.embedding.end());
      ++rows;
    }
  }
  if (rows == 0) throw InputError("--strangers: no face found in " + dirs.front());
  const auto e = static_cast<int64_t>(values.size()) / rows;
  return torch::from_blob(values.data(), {rows, e}, torch::kFloat32).clone();
}

}  // namespace

int run_threshold(const Args& args) {
  const std::string path = args.required("gallery");
  const std::string& name = args.positionals().at(0);
  const std::string& text = args.positionals().at(1);
  // "auto" clears it: the gallery's threshold applies to them again.
  std::optional<float> value;
  if (text != "auto") {
    value =
        static_cast<float>(cli::parse_number("threshold VALUE", text, 0.0, kMaxDistanceThreshold));
  }
  Gallery gallery = Gallery::open_unbound(path, true);
  gallery.set_identity_threshold(name, value);
  std::cout << "threshold of '" << escape_for_display(name) << "' in "
            << escape_for_display(gallery.path()) << ": "
            << (value ? std::to_string(*value) : std::string("the gallery's (auto)")) << "\n";
  return 0;
}

int run_calibrate(const Args& args) {
  const bool with_strangers = args.has("strangers");
  if (!with_strangers && !args.positionals().empty()) {
    throw UsageError("calibrate: folders given without --strangers: " + args.positionals().front());
  }
  if (with_strangers && args.positionals().empty()) {
    throw UsageError("calibrate: --strangers needs at least one folder");
  }
  const bool apply = args.has("apply");
  Embedder embedder = load_embedder(args);
  const std::string path = args.required("gallery");
  Gallery gallery = [&] {
    try {
      return apply ? Gallery::open(path, embedder.info(), false)
                   : Gallery::open_reader(path, embedder.info());
    } catch (const MismatchError& e) {
      throw MismatchError(std::string(e.what()) + " [model in use: " + args.required("model") +
                          "]");
    }
  }();
  GallerySnapshot snapshot = gallery.snapshot();
  const ThresholdChoice base =
      choose_threshold(std::nullopt, snapshot.threshold, embedder.info(), snapshot.matrix.size());
  torch::Tensor strangers;
  if (with_strangers) strangers = embed_strangers(args, args.positionals(), embedder);
  const CalibrationReport report = calibrate_gallery(snapshot.matrix, strangers, base.value);
  if (const auto plot = args.value("plot")) write_calibration_plot(report, *plot);
  if (apply) {
    std::vector<std::pair<std::string, float>> values;
    for (const auto& p : report.people) values.emplace_back(p.name, p.proposed);
    gallery.set_identity_thresholds(values);
  }

  if (args.has("json")) {
    auto people = nlohmann::json::array();
    for (const auto& p : report.people) {
      auto outliers = nlohmann::json::array();
      for (const auto& o : p.outliers) {
        outliers.push_back({{"source_file", o.source_file},
                            {"median_distance", number_or_null(o.median_distance)},
                            {"why", o.why}});
      }
      people.push_back({{"name", p.name},
                        {"photos", p.photos},
                        {"genuine_median", number_or_null(p.genuine_median)},
                        {"genuine_max", number_or_null(p.genuine_max)},
                        {"confusable", p.confusable.empty() ? nlohmann::json(nullptr)
                                                            : nlohmann::json(p.confusable)},
                        {"confusable_distance", number_or_null(p.confusable_distance)},
                        {"stranger_ceiling", number_or_null(p.stranger_ceiling)},
                        {"outliers", outliers},
                        {"proposed", p.proposed},
                        {"separable", p.separable},
                        {"note", p.note}});
    }
    nlohmann::json out = {{"gallery", path},
                          {"strangers", strangers.defined() ? strangers.size(0) : 0},
                          {"gallery_threshold", base.value},
                          {"applied", apply},
                          {"people", people}};
    if (const auto plot = args.value("plot")) out["plot"] = *plot;
    std::cout << json_line(out) << "\n";
    return 0;
  }
  std::cout << "gallery " << escape_for_display(gallery.path()) << ": " << report.people.size()
            << " people, " << snapshot.matrix.size() << " photos, "
            << (strangers.defined() ? strangers.size(0) : 0)
            << " strangers; gallery threshold in force " << shown(base.value) << " ("
            << base.description << ")\n";
  size_t width = 8;
  for (const auto& p : report.people) width = std::max(width, escape_for_display(p.name).size());
  std::cout << std::left << std::setw(static_cast<int>(width)) << "person"
            << "  photos  genuine-med  genuine-max  confusable (distance)   stranger  proposed\n";
  int flagged = 0;
  for (const auto& p : report.people) {
    const std::string conf = p.confusable.empty() ? "-"
                                                  : escape_for_display(p.confusable) + " (" +
                                                        shown(p.confusable_distance) + ")";
    std::cout << std::left << std::setw(static_cast<int>(width)) << escape_for_display(p.name)
              << "  " << std::right << std::setw(6) << p.photos << "  " << std::setw(11)
              << shown(p.genuine_median) << "  " << std::setw(11) << shown(p.genuine_max) << "  "
              << std::left << std::setw(22) << conf << "  " << std::right << std::setw(8)
              << shown(p.stranger_ceiling) << "  " << std::setw(8) << shown(p.proposed)
              << (p.separable ? "" : " !") << "\n";
    std::cout << "  " << escape_for_display(p.note) << "\n";
    for (const auto& o : p.outliers) {
      std::cout << "  outlier photo " << escape_for_display(o.source_file) << ": "
                << escape_for_display(o.why) << "\n";
    }
    flagged += p.separable ? 0 : 1;
  }
  std::cout << flagged << " flagged (!)"
            << (apply ? "; the proposed thresholds are stored in the gallery\n"
                      : "; store them with --apply\n");
  if (const auto plot = args.value("plot")) {
    std::cout << "plot: " << escape_for_display(*plot) << "\n";
  }
  return 0;
}

}  // namespace siamese::enroll
