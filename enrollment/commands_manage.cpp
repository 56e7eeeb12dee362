// siamese-enroll list / bind / remove / rename / migrate: gallery bookkeeping that embeds no
// face.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/model_file.h"
#include "siamese/text_safety.h"
#include "siamese/threshold_policy.h"

namespace siamese::enroll {
namespace {

// The recorded preprocessing facts as JSON (null when none are recorded or they cannot be read).
nlohmann::json preprocessing_json(const std::string& stored) {
  nlohmann::json j = nlohmann::json::parse(stored, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json();
}

}  // namespace

int run_list(const Args& args) {
  const std::string path = args.required("gallery");
  const Gallery gallery = Gallery::open_unbound(path, false);
  const auto identities = gallery.identities();
  const auto threshold = gallery.threshold();
  int64_t total_embeddings = 0;
  for (const auto& r : identities) total_embeddings += r.embedding_count;
  // The threshold the element uses with this gallery needs the model's calibration.
  std::optional<ThresholdChoice> in_force;
  if (const auto model_path = args.value("model")) {
    const ModelInfo model = load_model(*model_path).info;
    if (model.fingerprint != gallery.model_fingerprint()) {
      throw MismatchError("gallery " + path + " was built with model " +
                          gallery.model_fingerprint() + ", not " + *model_path + " (" +
                          model.fingerprint + ")");
    }
    if (const std::string why = preprocessing_mismatch(gallery.preprocessing(), model);
        !why.empty()) {
      throw MismatchError("gallery " + path + " " + why + " (--model " + *model_path + ")");
    }
    in_force = choose_threshold(std::nullopt, threshold, model, total_embeddings);
  }
  int anyone_negatives = 0;
  for (const auto& n : gallery.negatives()) anyone_negatives += n.identity == kAnyoneName;
  if (args.has("json")) {
    auto list = nlohmann::json::array();
    for (const auto& r : identities) {
      nlohmann::json item = {{"name", r.name},
                             {"embeddings", r.embedding_count},
                             {"negatives", r.negative_count},
                             {"threshold", nullptr},
                             {"created", r.created},
                             {"updated", r.updated}};
      if (r.threshold) item["threshold"] = *r.threshold;
      if (in_force) item["threshold_in_force"] = identity_threshold(*in_force, r.threshold);
      list.push_back(item);
    }
    nlohmann::json out = {{"gallery", path},
                          {"schema_version", kGallerySchemaVersion},
                          {"model_fingerprint", gallery.model_fingerprint()},
                          {"embedding_size", gallery.embedding_size()},
                          {"metric", gallery.metric()},
                          {"preprocessing", preprocessing_json(gallery.preprocessing())},
                          {"created", gallery.created()},
                          {"threshold", nullptr},
                          {"anyone_negatives", anyone_negatives},
                          {"identities", list}};
    if (threshold) out["threshold"] = *threshold;
    if (in_force) {
      out["threshold_in_force"] = in_force->value;
      out["threshold_source"] = threshold_source_name(in_force->source);
      out["threshold_description"] = in_force->description;
    }
    std::cout << json_line(out) << "\n";
    return 0;
  }
  // Names and paths as escaped text: a name someone else stored may hold control characters.
  std::cout << "gallery " << escape_for_display(gallery.path()) << ": model "
            << gallery.model_fingerprint() << ", embedding size " << gallery.embedding_size()
            << ", " << gallery.metric() << ", threshold ";
  if (in_force) {
    std::cout << in_force->value << " (" << in_force->description << ")\n";
  } else if (threshold) {
    std::cout << *threshold << " (stored in the gallery)\n";
  } else {
    std::cout << "the default for a gallery of " << total_embeddings
              << " embeddings (give --model to see its value)\n";
  }
  size_t width = 8;
  for (const auto& r : identities) width = std::max(width, escape_for_display(r.name).size());
  std::cout << std::left << std::setw(static_cast<int>(width)) << "identity"
            << "  embeddings  negatives  threshold  created               updated\n";
  int total = 0;
  for (const auto& r : identities) {
    std::ostringstream own;
    if (r.threshold) own << std::fixed << std::setprecision(4) << *r.threshold;
    std::cout << std::left << std::setw(static_cast<int>(width)) << escape_for_display(r.name)
              << "  " << std::right << std::setw(10) << r.embedding_count << "  " << std::setw(9)
              << r.negative_count << "  " << std::setw(9) << (r.threshold ? own.str() : "-") << "  "
              << r.created << "  " << r.updated << "\n";
    total += r.embedding_count;
  }
  std::cout << identities.size() << " identities, " << total << " embeddings";
  if (anyone_negatives > 0) {
    std::cout << ", " << anyone_negatives << " negative anchors for anyone ('" << kAnyoneName
              << "')";
  }
  std::cout << "\n";
  return 0;
}

int run_bind(const Args& args) {
  const std::string path = args.required("gallery");
  const std::string model_path = args.required("model");
  const ModelInfo model = load_model(model_path).info;
  Gallery gallery = Gallery::open_unbound(path, true);
  const bool recorded = !gallery.preprocessing().empty();
  try {
    gallery.bind_preprocessing(model);
  } catch (const MismatchError& e) {
    throw MismatchError(std::string(e.what()) + " (--model " + model_path + ")");
  }
  std::cout << (recorded ? "already records" : "recorded") << " the preprocessing of "
            << escape_for_display(model_path) << " in " << escape_for_display(gallery.path())
            << "\n";
  return 0;
}

int run_remove(const Args& args) {
  const std::string path = args.required("gallery");
  Gallery gallery = Gallery::open_unbound(path, true);
  const std::string& name = args.positionals().at(0);
  gallery.remove(name);
  std::cout << "removed '" << escape_for_display(name) << "' from "
            << escape_for_display(gallery.path()) << "\n";
  return 0;
}

int run_rename(const Args& args) {
  const std::string path = args.required("gallery");
  const std::string& from = args.positionals().at(0);
  const std::string& to = args.positionals().at(1);
  try {
    check_identity_name(to);  // before the gallery is opened; OLD may be a bad stored name
  } catch (const InputError& e) {
    throw UsageError(std::string("rename: NEW: ") + e.what());
  }
  Gallery gallery = Gallery::open_unbound(path, true);
  gallery.rename(from, to);
  std::cout << "renamed '" << escape_for_display(from) << "' to '" << escape_for_display(to)
            << "' in " << escape_for_display(gallery.path()) << "\n";
  return 0;
}

int run_migrate(const Args& args) {
  const std::string from = args.required("from");
  const std::string to = args.required("to");
  const GalleryContent copied = migrate_gallery(from, to, args.has("replace"));
  std::cout << "migrated " << copied.identities.size() << " identities, " << copied.samples.size()
            << " embeddings, " << copied.negatives.size() << " negative anchors from "
            << escape_for_display(gallery_display_name(from)) << " to "
            << escape_for_display(gallery_display_name(to)) << "\n";
  return 0;
}

}  // namespace siamese::enroll
