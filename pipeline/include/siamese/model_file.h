// The model file: weights plus every fact that makes them usable (format version,
// architecture, input geometry and normalisation, crop policy, embedding size, metric,
// calibrated threshold, validation figures, weights fingerprint). The same loader takes a
// TorchScript branch exported from PyTorch, with its facts in the extra file "siamese.json"
// or a JSON sidecar "<file>.json". Thread-safety: free functions, no shared state.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "siamese/model.h"
#include "siamese/preprocess.h"

namespace siamese {

constexpr int kModelFormatVersion = 1;
constexpr const char* kDefaultMetric = "euclidean";
/// Bounds of the architecture facts a model file may state (larger values are refused when it
/// is read: they would allocate a network far beyond any face model's).
constexpr int kMaxBaseChannels = 128;
constexpr int kMaxEmbeddingSize = 4096;
constexpr int kImpostorTailSize = 1024;

/// Verification figures measured on validation identities when the model was trained.
struct ValidationFigures {
  double auc = 0.0;
  double eer = 1.0;
  double tar_at_far_1e2 = 0.0;         // true-accept rate at a 1% false-accept rate
  double threshold_at_far_1e2 = -1.0;  // the distance where it was read (-1: not recorded);
                                       // stricter than `threshold`, suits 1:N galleries
  // At a 1e-4 false-accept rate: a stranger's face meets every enrolled embedding, so a gallery
  // of ~100 embeddings accepts about 1% of strangers' faces there (enroll --threshold strict).
  // Read on validation pairs plus every (training image, validation image) pair: ~10x more
  // impostors than validation alone, enough to resolve 1e-4 (`impostor_pairs` says how many).
  double tar_at_far_1e4 = 0.0;
  double threshold_at_far_1e4 = -1.0;  // -1: not recorded (older files)
  int64_t impostor_pairs = 0;
  // The smallest impostor distances among those impostor_pairs, ascending (at most
  // kImpostorTailSize): sizes the default threshold to a gallery (threshold_policy.h).
  std::vector<float> impostor_tail;
  double accuracy = 0.0;  // at the calibrated threshold
  int identities = 0;
  int64_t pairs = 0;
};

/// The figures under the JSON keys of a model file's "validation" facts (also siamese-eval's).
nlohmann::json validation_json(const ValidationFigures& figures);

struct ModelInfo {
  int format_version = kModelFormatVersion;
  ArchOptions arch;
  InputSpec input;
  int embedding_size = 0;
  bool normalized = false;    // embeddings have unit L2 norm
  bool flip_average = false;  // embedding = mean over the face and its mirror image (see
                              // infer_embeddings); absent in older files = false
  std::string metric = kDefaultMetric;
  float threshold = 1.0f;  // Euclidean distance; a face is verified when distance <= threshold
  ValidationFigures validation;
  std::string fingerprint;  // 16 hex digits over the weights; set by save_model/load_model
  std::string origin;       // free text: what produced the file (program, data, epochs)
  std::string licence;      // the weights' licence, for imported networks ("" = unstated)
};

/// How to read embeddings from this model's branch.
inline EmbeddingRule embedding_rule(const ModelInfo& info) {
  return EmbeddingRule{info.flip_average, info.normalized};
}

/// A model ready for inference: its facts and its network (on the CPU, in eval mode).
struct LoadedModel {
  ModelInfo info;
  Network network;
  std::string path;
};

/// The input geometry and normalisation of a fresh native architecture.
InputSpec default_input_spec(const ArchOptions& arch);

/// The facts of a fresh network of a native architecture, as siamese-train starts them: its
/// default input spec and embedding size, unit-norm embeddings for "default". The threshold,
/// origin and the rest are the caller's.
ModelInfo fresh_model_info(const ArchOptions& arch);

/// The facts besides the weights that decide the embedding an image gets (input geometry and
/// normalisation, crop policy and alignment, flip_average, normalized), as compact JSON with
/// sorted keys. A gallery records it beside the fingerprint: the same weights imported with
/// another crop policy make other embeddings, and must not match its rows.
std::string preprocessing_facts(const ModelInfo& info);

/// Writes archive to path atomically (a fresh temporary file beside it, renamed over path: a
/// planted "<path>.tmp" link is never followed). Throws FileError naming the path:
/// "cannot write WHAT: ...".
void save_archive(const std::string& path, torch::serialize::OutputArchive& archive,
                  const std::string& what);

/// Writes network and info to path (fingerprint computed here, written atomically through a
/// temporary file). Throws FileError naming the path.
void save_model(const std::string& path, Network& network, ModelInfo info);

/// Reads a model file or a TorchScript module; checks version, architecture, every fact's range
/// (check_input_spec, kMaxBaseChannels, kMaxEmbeddingSize, finite thresholds), the weights'
/// shapes against the architecture's, and the fingerprint. Throws FileError naming the path
/// (and the fact) for a missing, truncated, corrupt, tampered or foreign file.
LoadedModel load_model(const std::string& path);

/// 16 hex digits (FNV-1a 64) over the names, shapes and bytes of parameters and buffers.
std::string fingerprint_of(const Network& network);

/// The facts as JSON text (for logs, siamese-eval --json and `start()`'s configuration line).
std::string describe_model(const ModelInfo& info);

}  // namespace siamese
