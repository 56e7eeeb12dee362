// The readers the fuzzers drive, one function per target, shared by the libFuzzer entry points
// (fuzz_target.cpp) and the regression test (tests/test_fuzz_regressions.cpp), so an input the
// fuzzer found is replayed exactly as it ran. Thread-safety: one Scratch per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace siamese::fuzz {

/// What a reader made of one input: accepted, or refused with a typed error (its message).
/// Anything else (an untyped exception, a crash, a broken invariant) is a finding.
struct Outcome {
  bool accepted = false;
  std::string error;
};

/// A private temporary folder where inputs are written as files; removed by the destructor.
class Scratch {
 public:
  /// Creates a fresh folder under $TMPDIR (or /tmp); throws std::runtime_error when it cannot.
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  /// The path of a file in the folder.
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  /// Writes bytes to file(name), replacing it; throws std::runtime_error when it cannot.
  std::string write(const std::string& name, const uint8_t* data, size_t size) const;

 private:
  std::string dir_;
};

/// One fuzz target: its name (the folder under fuzz/regressions/) and its reader.
struct Target {
  const char* name;
  Outcome (*feed)(const Scratch& scratch, const uint8_t* data, size_t size);
};

/// The bytes as a model file: siamese::load_model, describe_model, then one forward pass of a
/// zero batch at the stated input size when it is small. siamese::Error and c10::Error refuse.
Outcome feed_model_file(const Scratch& scratch, const uint8_t* data, size_t size);

/// The bytes as a gallery file: Gallery::open_unbound (read-only), every query, load_matrix,
/// then Gallery::open bound to a model with the gallery's own fingerprint and a Matcher over it.
/// siamese::Error refuses; a matrix whose shapes or owners contradict it is a finding.
Outcome feed_gallery(const Scratch& scratch, const uint8_t* data, size_t size);

/// The bytes as an image file: siamese::read_image as gray and as BGR, then view_of.
Outcome feed_image(const Scratch& scratch, const uint8_t* data, size_t size);

/// The bytes as `gst-launch-1.0 -m` output, line by line through siamese-bus-json's reader;
/// every printed line must parse back as JSON. Needs gst_init. Never refuses.
Outcome feed_bus_json(const Scratch& scratch, const uint8_t* data, size_t size);

/// The bytes as a TensorFlow.js weights manifest and its one shard, split at the first line
/// "#shard" (manifest before it, the bytes of group1-shard1of1.bin after): read_tfjs_weights.
/// siamese::Error refuses; a tensor that contradicts the manifest is a finding.
Outcome feed_tfjs_manifest(const Scratch& scratch, const uint8_t* data, size_t size);

/// Every target, in a fixed order.
const std::vector<Target>& targets();

/// The target called name; throws std::invalid_argument listing the names otherwise.
const Target& target_named(const std::string& name);

/// Small valid inputs of a target (the fuzzer's seeds; none is a face photo): file name ->
/// bytes. Written through scratch when a reader needs a file to build them.
std::vector<std::pair<std::string, std::string>> seed_inputs(const std::string& target,
                                                             const Scratch& scratch);

}  // namespace siamese::fuzz
