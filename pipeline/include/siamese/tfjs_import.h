// Reads TensorFlow.js weights (a weights manifest and the binary shard files it names) as
// tf.io.loadWeights does, dequantising uint8/uint16/float16 tensors. Every file is hostile until
// checked: counts, ranks, shapes and byte sizes are bounded before anything is allocated.
// Thread-safety: free functions, no shared state.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace siamese {

/// One tensor of a tfjs weights file, dequantised to float32, in the manifest's layout.
struct TfjsTensor {
  std::string name;            // e.g. "conv32_1/conv1/conv/filters"
  std::vector<int64_t> shape;  // as the manifest gives it (tfjs layout: HWIO filters)
  std::string stored_dtype;    // "float32", or the quantization: "uint8", "uint16", "float16"
  std::string shard;           // the shard file its bytes start in
  torch::Tensor values;        // float32 CPU tensor of that shape
};

/// The tensors of one weights manifest, in manifest order.
struct TfjsWeights {
  std::string manifest_path;
  std::vector<TfjsTensor> tensors;
  int64_t shard_bytes = 0;  // the shard files' total size

  /// The tensor called name, or nullptr.
  const TfjsTensor* find(const std::string& name) const;
};

/// Upper bounds on what a manifest may ask for (a hostile file cannot make us allocate more).
struct TfjsLimits {
  int64_t max_manifest_bytes = 16 << 20;
  int64_t max_total_bytes = int64_t{1} << 30;  // all shards together
  int max_groups = 64;
  int max_shards = 256;
  int max_tensors = 4096;
  int max_rank = 6;
};

/// Reads manifest_path and its shard files (named relative to the manifest's folder): each
/// group's shards, concatenated, hold its tensors in order, with no byte left over. Throws
/// FileError naming the manifest or the shard, and the tensor, for a missing, corrupt,
/// truncated or oversized file, an unknown dtype or a shape out of bounds.
TfjsWeights read_tfjs_weights(const std::string& manifest_path, const TfjsLimits& limits = {});

/// Copies tensor `name` of weights into param (torch layout = the tfjs tensor permuted by
/// to_torch; empty: as it is) and adds name to used. Throws FileError naming the manifest and
/// the tensor when it is missing ("NETWORK needs it for PURPOSE") or its shape is not param's in
/// the file's layout ("NETWORK expects [...]").
void copy_tfjs_tensor(const TfjsWeights& weights, const std::string& name,
                      const std::vector<int64_t>& to_torch, torch::Tensor param,
                      const std::string& network, const std::string& purpose,
                      std::set<std::string>& used);

/// Throws FileError naming the manifest and the first tensor not in used ("is not part of
/// NETWORK"): a file with extra tensors is not the network it claims to be.
void check_every_tfjs_tensor_used(const TfjsWeights& weights, const std::set<std::string>& used,
                                  const std::string& network);

}  // namespace siamese
