// What binds a gallery to a model: the weights' fingerprint, the embedding size, the metric and
// the preprocessing facts. The same weights imported with another crop policy (five-point
// alignment instead of dlib's 33 points, no flip-average) make other embeddings of the same
// face, so rows embedded one way must not be matched against faces embedded the other way.
#include <nlohmann/json.hpp>

#include <map>

#include "gallery_common.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/text_safety.h"

namespace siamese {
namespace {

using nlohmann::json;

constexpr size_t kShownDifferences = 4;
constexpr size_t kShownValueLength = 40;

// "input.crop.align_points" -> its value as JSON text, for every leaf of an object.
void flatten(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (!j.is_object()) {
    out[prefix] = j.dump();
    return;
  }
  for (const auto& [key, value] : j.items()) {
    flatten(value, prefix.empty() ? key : prefix + "." + key, out);
  }
}

std::string shown(const std::map<std::string, std::string>& facts, const std::string& key) {
  const auto it = facts.find(key);
  if (it == facts.end()) return "(absent)";
  std::string text = it->second;
  if (text.size() > kShownValueLength) text = text.substr(0, kShownValueLength) + "...";
  return escape_for_display(text);
}

}  // namespace

std::string preprocessing_mismatch(const std::string& stored, const ModelInfo& model) {
  const std::string current = preprocessing_facts(model);
  if (stored == current) return "";
  if (stored.empty()) {
    return "records no preprocessing facts (it was written before galleries recorded them), so "
           "its rows may come from other crops of the same weights";
  }
  const json stored_json = json::parse(stored, nullptr, /*allow_exceptions=*/false);
  if (!stored_json.is_object()) return "records preprocessing facts that cannot be read";
  std::map<std::string, std::string> was, now;
  flatten(stored_json, "", was);
  flatten(json::parse(current), "", now);
  std::map<std::string, std::string> all = was;
  all.insert(now.begin(), now.end());
  std::string differences;
  size_t count = 0;
  for (const auto& [key, unused] : all) {
    const auto before = was.find(key), after = now.find(key);
    if (before != was.end() && after != now.end() && before->second == after->second) continue;
    if (++count > kShownDifferences) continue;
    if (!differences.empty()) differences += "; ";
    differences += escape_for_display(key) + " " + shown(was, key) + " in the gallery, " +
                   shown(now, key) + " in the model";
  }
  if (count == 0) return "records its preprocessing facts in another form";  // same facts
  if (count > kShownDifferences) {
    differences += "; and " + std::to_string(count - kShownDifferences) + " more";
  }
  return "was embedded with other preprocessing (" + differences + ")";
}

namespace internal {

void check_binding(const std::string& path, const StoredBinding& stored, const ModelInfo& model) {
  if (stored.fingerprint != model.fingerprint || stored.embedding_size != model.embedding_size ||
      stored.metric != model.metric) {
    throw MismatchError(
        "gallery " + path + " was built with model fingerprint " + stored.fingerprint +
        " (embedding size " + std::to_string(stored.embedding_size) + ", " + stored.metric +
        "), but the model in use has fingerprint " + model.fingerprint + " (embedding size " +
        std::to_string(model.embedding_size) + ", " + model.metric +
        "); use the model that built it, a new gallery, or re-embed with "
        "`siamese-enroll add --rebuild`");
  }
  const std::string why = preprocessing_mismatch(stored.preprocessing, model);
  if (why.empty()) return;
  std::string remedy =
      "re-embed it with `siamese-enroll add --rebuild --model MODEL` (it reads "
      "the enrolled images again)";
  if (stored.preprocessing.empty()) {
    remedy +=
        ", or, if it was enrolled with this very model file, record that with "
        "`siamese-enroll bind --model MODEL --gallery " +
        path + "`";
  }
  throw MismatchError("gallery " + path + " " + why + "; " + remedy);
}

}  // namespace internal
}  // namespace siamese
