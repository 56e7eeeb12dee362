// siamese-enroll add: plan the files, embed them (no lock held), then commit the whole run in
// ONE transaction, so a failure or a kill leaves the gallery as it was.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "audit_tracks.h"
#include "commands.h"
#include "enroll_job.h"
#include "siamese/errors.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {
namespace {

namespace fs = std::filesystem;

nlohmann::json issues_json(const std::vector<Issue>& issues) {
  auto out = nlohmann::json::array();
  for (const auto& i : issues) out.push_back({{"path", i.path}, {"reason", i.reason}});
  return out;
}

void print_issues(const char* title, const std::vector<Issue>& issues) {
  if (issues.empty()) return;
  std::cout << title << " " << issues.size() << ":\n";
  for (const auto& i : issues) {
    std::cout << "  " << escape_for_display(i.path) << ": " << escape_for_display(i.reason) << "\n";
  }
}

// The stored samples of a gallery as requests to re-embed them with the new model.
std::vector<EmbedRequest> rebuild_requests(const Gallery& gallery, std::vector<Issue>& skipped) {
  std::vector<EmbedRequest> out;
  for (const auto& s : gallery.samples()) {
    std::error_code ec;
    if (!fs::exists(s.source_file, ec)) {
      skipped.push_back({s.source_file, "source file no longer exists: embedding of '" +
                                            s.identity + "' dropped by --rebuild"});
      continue;
    }
    out.push_back({s.identity, s.source_file, s.box, s.framing});
  }
  return out;
}

}  // namespace

// `add --threshold strict`: the model's validation threshold at a 1e-4 false-accept rate (1%
// for models that do not record it). `--threshold auto` clears a stored threshold: the
// default for the gallery's size applies again (threshold_policy.h).
constexpr const char* kStrictThreshold = "strict";
constexpr const char* kAutoThreshold = "auto";

// `add --not NAME DIR...`: faces that must never verify as NAME (a relative, a poster, a known
// impostor), or as anyone with NAME kAnyoneName; one transaction, only into an existing gallery.
int run_add_negatives(const Args& args) {
  const std::string gallery_path = args.required("gallery");
  const std::string target = args.required("not");
  for (const char* flag :
       {"name", "rebuild", "replace", "threshold", "keep-crops", "from-track", "camera"}) {
    if (args.has(flag)) {
      throw UsageError(std::string("add: --not and --") + flag + " contradict each other");
    }
  }
  if (args.positionals().empty()) {
    throw UsageError("add --not NAME: give the folders or image files of the faces that are not " +
                     target);
  }
  if (target != kAnyoneName) {
    try {
      check_identity_name(target);
    } catch (const InputError& e) {
      throw UsageError(std::string("add: --not: ") + e.what());
    }
  }
  const EnrollmentPlan plan = plan_enrollment(args.positionals(), target);
  // A negative anchor set is all or nothing: a missing folder stops the run before any change.
  if (!plan.failed.empty()) throw FileError(plan.failed.front().path, plan.failed.front().reason);
  if (plan.images.empty()) {
    throw InputError("add --not " + target + ": no images in " + args.positionals().front());
  }
  Embedder embedder = load_embedder(args);
  const ModelInfo& info = embedder.info();
  Gallery gallery = [&] {
    try {
      return Gallery::open(gallery_path, info, false);
    } catch (const MismatchError& e) {
      throw MismatchError(std::string(e.what()) + " [model in use: " + args.required("model") +
                          "]");
    }
  }();
  if (target != kAnyoneName) {
    const auto ids = gallery.identities();
    if (std::none_of(ids.begin(), ids.end(),
                     [&](const IdentityRecord& r) { return r.name == target; })) {
      throw InputError("add: --not " + escape_for_display(target) + ": no identity named '" +
                       escape_for_display(target) + "' in " + gallery_display_name(gallery_path) +
                       " (use '" + kAnyoneName + "' for faces that must never verify as anyone)");
    }
  }
  FaceSource source = make_face_source(args, info.input.channels);
  std::vector<EmbedRequest> requests;
  for (const auto& img : plan.images)
    requests.push_back({target, img.path, std::nullopt, Framing::kExact});
  EmbedOptions options;
  options.largest_face = args.has("largest-face");
  options.progress_label = "negative anchors";
  const EmbedOutcome added = embed_requests(requests, source, embedder, options);
  std::vector<Issue> skipped = plan.skipped;
  skipped.insert(skipped.end(), added.skipped.begin(), added.skipped.end());
  if (!added.failed.empty()) {
    // Nothing is stored when a face of the set cannot be read: the set would be incomplete.
    throw FileError(added.failed.front().path,
                    added.failed.front().reason + " (no negative anchor was stored)");
  }
  if (added.identities.empty()) {
    throw InputError("add --not " + target + ": no face found in the images given");
  }
  gallery.add_negatives(target, added.identities.front().second);
  const std::string who =
      target == kAnyoneName ? std::string("anyone") : "'" + escape_for_display(target) + "'";
  if (args.has("json")) {
    nlohmann::json out = {{"gallery", gallery_display_name(gallery_path)},
                          {"not", target},
                          {"negatives", added.embedded},
                          {"skipped", issues_json(skipped)},
                          {"failed", nlohmann::json::array()}};
    std::cout << json_line(out) << "\n";
  } else {
    std::cout << "added " << added.embedded << " negative anchor"
              << (added.embedded == 1 ? "" : "s") << " to "
              << escape_for_display(gallery_display_name(gallery_path))
              << ": faces that must never verify as " << who << "\n";
    print_issues("skipped", skipped);
  }
  return 0;
}

int run_add(const Args& args) {
  if (args.has("not")) return run_add_negatives(args);
  const std::string gallery_path = args.required("gallery");
  const bool rebuild = args.has("rebuild");
  const bool replace = args.has("replace");
  const bool strict = args.value("threshold") == std::optional<std::string>(kStrictThreshold);
  const bool automatic = args.value("threshold") == std::optional<std::string>(kAutoThreshold);
  std::optional<float> threshold =
      strict || automatic || !args.has("threshold")
          ? std::nullopt
          : std::optional<float>(static_cast<float>(cli::parse_number(
                "--threshold", args.required("threshold"), 0.0, kMaxDistanceThreshold)));
  std::optional<std::string> name = args.value("name");
  std::vector<std::string> inputs = args.positionals();
  if (args.has("from-track")) {
    // `add NAME --from-track AUDIT.db:TRACK`: the crop siamese-access-control kept of a track,
    // enrolled as an image file is (same detector and checks, one transaction).
    if (rebuild || args.has("not")) throw UsageError("add: --from-track enrolls one new face");
    if (!name && inputs.size() == 1) name = inputs.front();
    if (!name || (args.has("name") && !inputs.empty()) || inputs.size() > 1) {
      throw UsageError("add --from-track AUDIT.db:TRACK: give the person's NAME (only)");
    }
    inputs = {kept_crop_of(parse_track_ref(args.required("from-track"), args.text("camera")))};
  } else if (args.has("camera")) {
    throw UsageError("add: --camera goes with --from-track");
  }
  if (name) {
    try {
      check_identity_name(*name);
    } catch (const InputError& e) {
      throw UsageError(std::string("add: --name: ") + e.what());
    }
  }
  if (inputs.empty() && !rebuild && !threshold && !strict && !automatic) {
    throw UsageError("usage: siamese-enroll " + enroll_program().commands.front().synopsis);
  }
  // Listed before any work: a folder named as no identity may be (a control character, invalid
  // UTF-8) stops the run before the model loads or the gallery is created.
  const EnrollmentPlan plan = plan_enrollment(inputs, name);
  for (const auto& img : plan.images) {
    try {
      check_identity_name(img.identity);
    } catch (const InputError& e) {
      throw InputError("add: " + escape_for_display(fs::path(img.path).parent_path().string()) +
                       ": " + e.what() + "; rename the folder or give --name");
    }
  }

  Embedder embedder = load_embedder(args);
  const ModelInfo& info = embedder.info();
  if (strict) {
    // Against a gallery a stranger's face meets every enrolled embedding: the 1e-4 point.
    ThresholdChoice choice;
    try {
      choice = strict_threshold(info);
    } catch (const InputError& e) {
      throw InputError(args.required("model") + ": " + e.what() + "; give --threshold T");
    }
    if (info.validation.threshold_at_far_1e4 < 0) {
      std::cerr << "siamese-enroll: " << args.required("model")
                << " records no threshold at FAR=1e-4 (written before it was recorded); using "
                   "its threshold at FAR=1%\n";
    }
    threshold = choice.value;
  }
  FaceSource source = make_face_source(args, info.input.channels);

  std::vector<Issue> skipped, failed;
  std::vector<EmbedRequest> old_requests;
  std::optional<Gallery> gallery;
  bool drops_tuning = false;  // --rebuild drops negative anchors and per-identity thresholds
  if (rebuild) {
    gallery.emplace(Gallery::open_unbound(gallery_path, true));
    old_requests = rebuild_requests(*gallery, skipped);
    const auto ids = gallery->identities();
    drops_tuning = !gallery->negatives().empty() ||
                   std::any_of(ids.begin(), ids.end(),
                               [](const IdentityRecord& r) { return r.threshold.has_value(); });
  } else {
    gallery.emplace(open_gallery(args, embedder, true));
  }

  // Files already recorded for an identity are not embedded twice (add is re-runnable).
  std::set<std::pair<std::string, std::string>> enrolled;
  if (!replace) {
    for (const auto& s : gallery->samples()) enrolled.insert({s.identity, s.source_file});
  }
  skipped.insert(skipped.end(), plan.skipped.begin(), plan.skipped.end());
  failed.insert(failed.end(), plan.failed.begin(), plan.failed.end());
  std::vector<EmbedRequest> new_requests;
  for (const auto& img : plan.images) {
    if (enrolled.count({img.identity, img.path})) {
      skipped.push_back({img.path, "already enrolled as '" + img.identity + "'"});
    } else {
      new_requests.push_back({img.identity, img.path, std::nullopt, Framing::kExact});
    }
  }

  EmbedOptions options;
  options.largest_face = args.has("largest-face");
  options.keep_crops_dir = args.text("keep-crops");
  EmbedOutcome rebuilt;
  if (rebuild) {
    options.progress_label = "re-embedded";
    rebuilt = embed_requests(old_requests, source, embedder, options);
    options.progress_label = "images";
  }
  EmbedOutcome added = embed_requests(new_requests, source, embedder, options);
  for (const auto* o : {&rebuilt, &added}) {
    skipped.insert(skipped.end(), o->skipped.begin(), o->skipped.end());
    failed.insert(failed.end(), o->failed.begin(), o->failed.end());
  }

  if (rebuild) {
    // Old identities re-embedded, then this run's images (replacing or joining them).
    std::vector<IdentitySamples> merged = rebuilt.identities;
    for (const auto& [who, samples] : added.identities) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const IdentitySamples& m) { return m.first == who; });
      if (it == merged.end()) {
        merged.push_back({who, samples});
      } else if (replace) {
        it->second = samples;
      } else {
        it->second.insert(it->second.end(), samples.begin(), samples.end());
      }
    }
    gallery->rebind(info, merged);
  } else if (!added.identities.empty()) {
    gallery->enroll_batch(added.identities, replace);
  }
  if (threshold || automatic) gallery->set_threshold(threshold);
  const ThresholdChoice in_force = threshold_in_force(*gallery, info);

  if (args.has("json")) {
    auto identities = nlohmann::json::array();
    for (const auto& [who, samples] : added.identities) {
      identities.push_back({{"name", who}, {"images", samples.size()}});
    }
    nlohmann::json out = {{"gallery", gallery_display_name(gallery_path)},
                          {"model_fingerprint", info.fingerprint},
                          {"enrolled", added.embedded},
                          {"identities", identities},
                          {"rebuilt", rebuilt.embedded},
                          {"skipped", issues_json(skipped)},
                          {"failed", issues_json(failed)},
                          {"threshold", nullptr}};
    if (const auto t = gallery->threshold()) out["threshold"] = *t;
    out["threshold_in_force"] = in_force.value;
    out["threshold_source"] = threshold_source_name(in_force.source);
    std::cout << json_line(out) << "\n";
  } else {
    if (rebuild) {
      std::cout << "re-embedded " << rebuilt.embedded << " images with model " << info.fingerprint
                << "\n";
    }
    std::cout << "enrolled " << added.embedded << (added.embedded == 1 ? " image" : " images")
              << " of " << added.identities.size()
              << (added.identities.size() == 1 ? " identity" : " identities") << " into "
              << escape_for_display(gallery_display_name(gallery_path));
    std::string sep = " (";
    for (const auto& [who, samples] : added.identities) {
      std::cout << sep << escape_for_display(who) << ": " << samples.size();
      sep = ", ";
    }
    std::cout << (added.identities.empty() ? "" : ")") << "\n";
    if (threshold) std::cout << "gallery threshold set to " << *threshold << "\n";
    std::cout << "threshold in force: " << in_force.value << " (" << in_force.description << ")\n";
    print_issues("skipped", skipped);
    print_issues("failed", failed);
  }
  if (drops_tuning) {
    std::cerr << "siamese-enroll: warning: --rebuild dropped the gallery's negative anchors and "
                 "per-identity thresholds (made with the old model); add them again\n";
  }
  if (!failed.empty()) {
    std::cerr << "siamese-enroll: " << failed.size() << " file(s) failed; the " << added.embedded
              << " enrolled image(s) are kept\n";
    return 1;
  }
  return 0;
}

}  // namespace siamese::enroll
