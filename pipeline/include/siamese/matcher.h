// Matches a batch of query embeddings against a whole gallery on the model's device: one matrix
// product per batch (||q||^2 + ||g||^2 - 2 q.g), a scatter-min over identities, a top-k. An
// identity's distance is the MINIMUM over its enrolled embeddings (nearest sample: robust when
// a person is enrolled under several poses or lightings). Thread-safety: match() is const and
// may run concurrently on one Matcher.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace siamese {

/// Every enrolled embedding of a gallery as one matrix (what the matcher needs, no SQLite).
struct GalleryMatrix {
  std::vector<std::string> names;  // identity names; index = identity number
  torch::Tensor embeddings;        // [M, E] float
  torch::Tensor owners;            // [M] int64: identity number of each row
  int64_t size() const { return embeddings.defined() ? embeddings.size(0) : 0; }
};

struct Candidate {
  int identity = -1;  // index into GalleryMatrix::names
  std::string name;
  float distance = 0.0f;
};

struct Match {
  int identity = -1;             // best identity; -1 when the gallery is empty
  std::string name;              // its name ("" when none)
  float distance = 0.0f;         // distance to it (Euclidean; +inf when the gallery is empty)
  float second_distance = 0.0f;  // distance to the runner-up identity (+inf when none)
  bool verified = false;         // distance <= threshold
  std::vector<Candidate> top;    // the top_k identities, nearest first
};

class Matcher {
 public:
  /// Copies the gallery to device once. threshold: Euclidean distance at or below which a
  /// face is verified.
  Matcher(GalleryMatrix gallery, torch::Device device, float threshold);

  /// queries [N, E] (any device) -> one Match per row. Throws InputError on a size mismatch.
  std::vector<Match> match(const torch::Tensor& queries, int top_k = 1) const;

  /// Distances [N, identities] (min over each identity's embeddings), on the device.
  torch::Tensor identity_distances(const torch::Tensor& queries) const;

  const std::vector<std::string>& names() const { return names_; }
  float threshold() const { return threshold_; }
  int64_t embedding_count() const { return embeddings_.defined() ? embeddings_.size(0) : 0; }

 private:
  std::vector<std::string> names_;
  torch::Tensor embeddings_;  // [M, E] on device, centred (minus center_)
  torch::Tensor owners_;      // [M] on device
  torch::Tensor center_;      // [E] mean of the gallery rows: distances are shift-invariant and
                              // centring keeps ||q||^2 + ||g||^2 - 2 q.g accurate in float32
  torch::Tensor sq_norms_;    // [M] squared norms of the centred rows
  torch::Device device_;
  float threshold_;
};

}  // namespace siamese
