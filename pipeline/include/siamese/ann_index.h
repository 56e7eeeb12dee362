// An approximate nearest-neighbour index of a gallery's embeddings (issue 16): FAISS IVF-Flat
// (a k-means coarse quantizer, L2; each row stored uncompressed in the inverted list of its
// nearest centroid; a query scans only `probes` lists). For galleries where one exact matrix
// product per face is too slow (about a million embeddings). Thread-safety: an AnnIndex never
// changes once built; search() and patched() are const and may run concurrently.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace faiss {
struct IndexIVFFlat;
}

namespace siamese {

/// Default number of inverted lists searched per query.
constexpr int kDefaultAnnProbes = 16;

struct AnnSettings {
  int lists = 0;                   // inverted lists; 0 = about 4*sqrt(M), clamped to [1, M/39]
  int probes = kDefaultAnnProbes;  // lists searched per query (nprobe); clamped to lists
};

/// Whether this build has FAISS (false: AnnIndex::build() throws InputError saying so).
bool ann_available();

/// The inverted-list count that AnnSettings::lists = 0 chooses for a gallery of `rows` rows.
int automatic_ann_lists(int64_t rows);

class AnnIndex {
 public:
  ~AnnIndex();
  AnnIndex(const AnnIndex&) = delete;
  AnnIndex& operator=(const AnnIndex&) = delete;

  /// rows [M, E] (any float layout or device; copied). Trains the quantizer on at most
  /// 64*lists rows chosen with a fixed seed (same rows -> same index), then adds every row with
  /// id = its row number. Throws InputError for bad shapes/settings or a build without FAISS.
  static std::unique_ptr<AnnIndex> build(const torch::Tensor& rows, const AnnSettings& s);

  /// queries [N, E] -> {distances [N, k] float32 Euclidean, row ids [N, k] int64}, nearest
  /// first; -1 and +inf where fewer than k were found. probes: 0 = the index's, else clamped
  /// to [1, lists]. Throws InputError for a bad shape, a non-finite value or k <= 0.
  std::pair<torch::Tensor, torch::Tensor> search(const torch::Tensor& queries, int k,
                                                 int probes = 0) const;

  /// A new index equal to this one after a gallery change, same quantizer, no re-training,
  /// this one untouched: old row r becomes new_row_of_old[r] (-1 = removed; the kept rows fill
  /// 0..first_added-1), `added` [A, E] become rows first_added.. (about a copy of the index's
  /// memory). Throws InputError for bad sizes, ids or shapes.
  std::unique_ptr<AnnIndex> patched(const std::vector<int64_t>& new_row_of_old,
                                    const torch::Tensor& added, int64_t first_added) const;

  /// Rows in the index.
  int64_t size() const;
  /// Inverted lists (k-means centroids).
  int lists() const;
  /// Lists searched per query when search() is not told otherwise.
  int probes() const;
  /// Values per row (E).
  int dimension() const;

 private:
  AnnIndex(std::unique_ptr<faiss::IndexIVFFlat> index, int probes);
  std::unique_ptr<faiss::IndexIVFFlat> index_;
  int probes_ = kDefaultAnnProbes;
};

}  // namespace siamese
