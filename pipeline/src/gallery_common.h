// Checks shared by the gallery stores (gallery.cpp: SQLite, postgres_gallery.cpp): names,
// samples, the model binding and stored thresholds, so both stores refuse the same things with
// the same words. Not installed, not public API. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "siamese/gallery.h"

namespace siamese::internal {

/// "detector" or "exact": how a stored box was read.
const char* framing_name(Framing f);
/// A float as text that reads back exactly (%.9g).
std::string float_text(float v);
/// Throws InputError for a model without fingerprint or embedding size.
void check_model(const ModelInfo& model);
/// Throws InputError for a name that is not safe text or is the reserved kAnyoneName.
void check_name(const std::string& name);
/// Throws InputError naming the gallery `path` for a wrong-sized or non-finite embedding.
void check_samples(const std::string& path, const std::string& name,
                   const std::vector<EnrollmentSample>& samples, int embedding_size);
/// A gallery's binding as stored: what its rows were embedded with.
struct StoredBinding {
  std::string fingerprint;
  int embedding_size = 0;
  std::string metric;
  std::string preprocessing;  // "" in a gallery written before it was recorded
};
/// Throws MismatchError naming both models (or the preprocessing facts that differ) unless the
/// stored binding is this model's (gallery_binding.cpp).
void check_binding(const std::string& path, const StoredBinding& stored, const ModelInfo& model);
/// A sample of source with embedding v (for check_samples).
inline EnrollmentSample sample_of(const std::string& source, const std::vector<float>& v) {
  EnrollmentSample s;
  s.source_file = source;
  s.embedding = v;
  return s;
}
/// A stored threshold ("" = none); throws FileError naming path for a value a door must not
/// trust.
std::optional<float> parse_threshold(const std::string& path, const std::string& text);

}  // namespace siamese::internal
