// Matches a batch of query embeddings against a whole gallery on the model's device: one matrix
// product per batch (||q||^2 + ||g||^2 - 2 q.g), a scatter-min over identities, a top-k. An
// identity's distance is the MINIMUM over its enrolled embeddings (nearest sample: robust when
// a person is enrolled under several poses or lightings). Thread-safety: match() is const and
// may run concurrently on one Matcher. Negative anchors (faces that must never verify as an
// identity, or as anyone) veto a match that is closer to them than to the identity. For very
// large galleries match() can search an IVF index instead (SearchSettings, ann_index.h): only
// the candidates it returns compete, which is approximate.
#pragma once

#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "siamese/ann_index.h"
#include "siamese/threshold_policy.h"

namespace siamese {

/// negative_owners value of the reserved set of faces that must never verify as anyone.
constexpr int64_t kAnyoneOwner = -1;
/// Match::rejection (and a decision's reason) when a negative anchor vetoed the match.
constexpr const char* kReasonNegativeAnchor = "negative-anchor";

/// Every enrolled embedding of a gallery as one matrix (what the matcher needs, no SQLite).
struct GalleryMatrix {
  std::vector<std::string> names;    // identity names; index = identity number
  torch::Tensor embeddings;          // [M, E] float
  torch::Tensor owners;              // [M] int64: identity number of each row
  std::vector<std::string> sources;  // [M] source file of each row ("" when not known)
  torch::Tensor negatives;           // [K, E] float: faces that must not verify as their owner
  torch::Tensor negative_owners;     // [K] int64: identity number, or kAnyoneOwner
  std::vector<std::optional<float>> thresholds;  // per identity its own threshold (or empty)
  int64_t size() const { return embeddings.defined() ? embeddings.size(0) : 0; }
  int64_t negative_count() const { return negatives.defined() ? negatives.size(0) : 0; }
};

/// A gallery change as the matcher applies it: every identity named in `replaced` loses its
/// rows, negative anchors and threshold and takes those it has in `rows` (absent there: removed);
/// with anyone_replaced the reserved set (kAnyoneOwner) is replaced by the one in `rows`.
struct MatcherChange {
  std::vector<std::string> replaced;
  bool anyone_replaced = false;
  GalleryMatrix rows;  // names: the replaced identities that have embeddings now
};

/// How match() finds each face's nearest identities.
struct SearchSettings {
  /// false: exact (one matrix product per batch); true: the gallery's IVF index (FAISS), which
  /// may miss a face's nearest row (see the recall figures in the README).
  bool approximate = false;
  AnnSettings index;  // lists and probes of the IVF index
  /// Rows the index returns per face: the identities among them compete (best, runner-up).
  int candidates = 64;
};

struct Candidate {
  int identity = -1;  // index into GalleryMatrix::names
  std::string name;
  float distance = 0.0f;
};

struct Match {
  int identity = -1;               // best identity; -1 when the gallery is empty
  std::string name;                // its name ("" when none)
  float distance = 0.0f;           // distance to it (Euclidean; +inf when the gallery is empty)
  float second_distance = 0.0f;    // distance to the runner-up identity (+inf when none)
  bool verified = false;           // distance <= threshold and no rejection
  float threshold = 0.0f;          // the threshold in force for this identity
  std::string rejection;           // kReasonNegativeAnchor when a negative anchor vetoed it
  float negative_distance = 0.0f;  // to the nearest vetoing negative anchor (+inf when none)
  std::vector<Candidate> top;      // the top_k identities, nearest first
};

class Matcher {
 public:
  /// Copies the gallery to device once. threshold: Euclidean distance at or below which a
  /// face is verified; an identity's own stored threshold replaces it for that identity.
  Matcher(GalleryMatrix gallery, torch::Device device, float threshold);
  /// As above with the threshold's source: an explicit one overrides identities' own
  /// (identity_threshold()), and how to search (an approximate search builds the IVF index
  /// here). Throws InputError for a NaN threshold, inconsistent shapes, or an approximate search
  /// in a build without FAISS.
  Matcher(GalleryMatrix gallery, torch::Device device, const ThresholdChoice& threshold,
          const SearchSettings& search = {});

  /// The matcher of the gallery after `change` (pipeline/src/matcher_patch.cpp): this one's
  /// rows minus the replaced identities' plus change.rows, without re-reading or re-centring
  /// the rest; identities stay in name order; the same search, its index patched (or rebuilt
  /// once the gallery has grown or shrunk 4-fold since it was trained). This matcher is not
  /// touched (readers may be using it). Throws InputError when change.rows is inconsistent or names
  /// an identity not in change.replaced.
  std::shared_ptr<const Matcher> patched(const MatcherChange& change,
                                         const ThresholdChoice& threshold) const;
  /// How many embeddings patched(change, ...) will hold.
  int64_t embedding_count_after(const MatcherChange& change) const;

  /// queries [N, E] (any device) -> one Match per row. Throws InputError on a size mismatch.
  std::vector<Match> match(const torch::Tensor& queries, int top_k = 1) const;

  /// 1:1: query [1, E] against identity number `identity` alone (its threshold, its negative
  /// anchors and the reserved set's). Throws InputError for a bad shape or identity number.
  Match match_identity(const torch::Tensor& query, int identity) const;

  /// Distances [N, identities] (min over each identity's embeddings), on the device.
  torch::Tensor identity_distances(const torch::Tensor& queries) const;

  const std::vector<std::string>& names() const { return names_; }
  float threshold() const { return threshold_; }
  /// The threshold in force for identity number `identity` (its own, unless explicit).
  float threshold_of(int identity) const;
  /// Identity number `identity`'s own stored threshold, if it has one (whatever the source).
  std::optional<float> own_threshold(int identity) const;
  int64_t embedding_count() const { return embeddings_.defined() ? embeddings_.size(0) : 0; }
  int64_t negative_count() const { return negatives_.defined() ? negatives_.size(0) : 0; }
  const SearchSettings& search() const { return search_; }
  /// The IVF index searched (nullptr for an exact search or an empty gallery).
  const AnnIndex* index() const { return index_.get(); }

 private:
  // match() through the IVF index (pipeline/src/matcher_search.cpp).
  std::vector<Match> match_approximate(const torch::Tensor& queries, int top_k) const;
  // Builds index_ over embeddings_ (and the owners' CPU copy it needs).
  void build_index();
  // patched(): base's index with base's rows where keep (in order) and then `added` (centred),
  // or a new one when the gallery has outgrown the quantizer.
  void patch_index_from(const Matcher& base, const torch::Tensor& keep, const torch::Tensor& added);
  // Fills m from identities ranked nearest first (identity number, distance): best, runner-up,
  // the top_k, and the negative anchors' veto (negative_row: this face's distances to them).
  void fill_match(Match& m, const std::vector<std::pair<int, float>>& ranked, int top_k,
                  const float* negative_row) const;
  // Throws InputError unless queries is [N, E] for this gallery's E.
  void check_queries(const torch::Tensor& queries) const;
  torch::Tensor negative_distances(const torch::Tensor& queries) const;  // [N, K] CPU
  void veto(Match& m, const float* negative_row) const;
  std::vector<std::string> names_;
  torch::Tensor embeddings_;  // [M, E] on device, centred (minus center_)
  torch::Tensor owners_;      // [M] on device
  torch::Tensor center_;      // [E] mean of the gallery rows: distances are shift-invariant and
                              // centring keeps ||q||^2 + ||g||^2 - 2 q.g accurate in float32
  torch::Tensor sq_norms_;    // [M] squared norms of the centred rows
  torch::Tensor negatives_;   // [K, E] on device, centred like embeddings_
  std::vector<int64_t> negative_owners_;  // [K] identity number or kAnyoneOwner
  std::vector<float> thresholds_;         // per identity, resolved by identity_threshold()
  std::vector<std::optional<float>> own_thresholds_;  // per identity, as stored
  torch::Device device_;
  float threshold_;
  SearchSettings search_;
  std::shared_ptr<const AnnIndex> index_;  // over embeddings_ (centred), when approximate
  int64_t index_trained_rows_ = 0;         // rows the index's quantizer was trained on
  torch::Tensor owners_cpu_;               // owners_ on the CPU, for the index's row ids
};

}  // namespace siamese
