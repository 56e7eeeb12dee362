#include "siamese/ann_index.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "siamese/errors.h"

#if SIAMESE_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/random.h>
#include <omp.h>
#else
namespace faiss {
struct IndexIVFFlat {};  // so that AnnIndex's unique_ptr can be destroyed in a build without FAISS
}  // namespace faiss
#endif

namespace siamese {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kTrainRowsPerList = 64;  // k-means sample: at most this many rows per centroid
constexpr int kMinRowsPerList = 39;    // faiss's own minimum for a meaningful centroid

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// [N, E] float32, contiguous, on the CPU, every value finite; `what` names it in errors.
// (Unused in a build without FAISS.)
[[maybe_unused]] torch::Tensor checked_matrix(const torch::Tensor& t, const std::string& what,
                                              int64_t dimension) {
  if (!t.defined() || t.dim() != 2)
    throw InputError("AnnIndex: " + what + " must be a matrix [N, E], got " +
                     (t.defined() ? shape_of(t) : std::string("an undefined tensor")));
  if (!t.is_floating_point())
    throw InputError("AnnIndex: " + what + " must hold floating-point values");
  if (dimension >= 0 && t.size(1) != dimension)
    throw InputError("AnnIndex: " + what + " have " + std::to_string(t.size(1)) +
                     " values per row, the index " + std::to_string(dimension));
  if (t.size(1) == 0) throw InputError("AnnIndex: " + what + " have no values per row");
  torch::Tensor m = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  // A plain loop: for one face, tensor ops would cost more than the search itself.
  const float* p = m.data_ptr<float>();
  const int64_t count = m.numel();
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(p[i]))
      throw InputError("AnnIndex: " + what + " hold a NaN or infinite value (row " +
                       std::to_string(i / m.size(1)) + ")");
  }
  return m;
}

}  // namespace

int automatic_ann_lists(int64_t rows) {
  const double lists = std::round(4.0 * std::sqrt(static_cast<double>(std::max<int64_t>(rows, 0))));
  const int64_t most = std::max<int64_t>(1, rows / kMinRowsPerList);
  return static_cast<int>(std::clamp<int64_t>(static_cast<int64_t>(lists), 1, most));
}

#if SIAMESE_HAVE_FAISS

namespace {

// FAISS parallelises an IVF search over queries with OpenMP, so a frame's few faces gain
// little, while each calling thread (every GStreamer streaming thread) gets an OpenMP team of
// its own, as large as the machine, whose threads spin after each region: with several streams
// that oversubscribes the cores for a few faces' worth of work. Measured on 2 cores, 100k rows,
// 16 probes: a batch of 8 took 2.6 ms on 2 threads and 3.0 ms on one (a second core for 15%);
// gallery_scale_bench's batch of 64 was no faster on 2 threads. So a small batch runs on the
// calling thread alone (its OpenMP setting restored afterwards); a large one (an offline
// evaluation) uses the caller's OpenMP threads.
constexpr int64_t kSerialQueries = 16;

using FaissId = faiss::Index::idx_t;  // int64_t

class OmpThreadsGuard {
 public:
  explicit OmpThreadsGuard(bool serial) : saved_(omp_get_max_threads()), active_(serial) {
    if (active_) omp_set_num_threads(1);
  }
  ~OmpThreadsGuard() {
    if (active_) omp_set_num_threads(saved_);
  }
  OmpThreadsGuard(const OmpThreadsGuard&) = delete;
  OmpThreadsGuard& operator=(const OmpThreadsGuard&) = delete;

 private:
  int saved_;
  bool active_;
};

std::unique_ptr<faiss::IndexIVFFlat> empty_ivf(const faiss::IndexFlatL2& quantizer, int lists) {
  auto index = std::make_unique<faiss::IndexIVFFlat>(new faiss::IndexFlatL2(quantizer), quantizer.d,
                                                     lists, faiss::METRIC_L2);
  index->own_fields = true;
  index->is_trained = true;
  return index;
}

}  // namespace

bool ann_available() { return true; }

AnnIndex::AnnIndex(std::unique_ptr<faiss::IndexIVFFlat> index, int probes)
    : index_(std::move(index)), probes_(std::clamp(probes, 1, static_cast<int>(index_->nlist))) {
  index_->nprobe = static_cast<size_t>(probes_);
}

AnnIndex::~AnnIndex() = default;

std::unique_ptr<AnnIndex> AnnIndex::build(const torch::Tensor& rows, const AnnSettings& s) {
  const torch::Tensor m = checked_matrix(rows, "gallery rows", -1);
  const int64_t count = m.size(0);
  const int dimension = static_cast<int>(m.size(1));
  if (count == 0) throw InputError("AnnIndex: the gallery has no rows to index");
  if (s.lists < 0 || s.lists > count)
    throw InputError("AnnIndex: lists must be 0 (automatic) or 1.." + std::to_string(count) +
                     " (the gallery's rows), got " + std::to_string(s.lists));
  if (s.probes < 1)
    throw InputError("AnnIndex: probes must be at least 1, got " + std::to_string(s.probes));
  const int lists = s.lists == 0 ? automatic_ann_lists(count) : s.lists;

  // The k-means sample: a fixed-seed permutation's first rows (same rows -> same index).
  const int64_t train_count = std::min<int64_t>(count, int64_t{kTrainRowsPerList} * lists);
  torch::Tensor train = m;
  if (train_count < count) {
    std::vector<int> perm(static_cast<size_t>(count));
    faiss::rand_perm(perm.data(), perm.size(), 1234);
    std::vector<int64_t> chosen(perm.begin(), perm.begin() + train_count);
    std::sort(chosen.begin(), chosen.end());
    train = m.index_select(0, torch::tensor(chosen, torch::kLong));
  }
  faiss::IndexFlatL2 quantizer(dimension);
  auto index = empty_ivf(quantizer, lists);
  index->is_trained = false;
  index->cp.seed = 1234;
  index->cp.min_points_per_centroid = 1;  // an explicit small gallery: no warning on stderr
  index->cp.max_points_per_centroid = kTrainRowsPerList;
  try {
    index->train(train_count, train.data_ptr<float>());
    std::vector<FaissId> ids(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) ids[static_cast<size_t>(i)] = i;
    index->add_with_ids(count, m.data_ptr<float>(), ids.data());
  } catch (const faiss::FaissException& e) {
    throw InputError(std::string("AnnIndex: FAISS could not build the index: ") + e.what());
  }
  return std::unique_ptr<AnnIndex>(new AnnIndex(std::move(index), s.probes));
}

std::pair<torch::Tensor, torch::Tensor> AnnIndex::search(const torch::Tensor& queries, int k,
                                                         int probes) const {
  if (k <= 0) throw InputError("AnnIndex: k must be at least 1, got " + std::to_string(k));
  if (probes < 0)
    throw InputError("AnnIndex: probes must be 0 (the index's) or more, got " +
                     std::to_string(probes));
  const torch::Tensor q = checked_matrix(queries, "queries", index_->d);
  const int64_t n = q.size(0);
  torch::Tensor distances = torch::empty({n, k}, torch::kFloat);
  torch::Tensor ids = torch::empty({n, k}, torch::kLong);
  if (n == 0) return {distances, ids};
  faiss::SearchParametersIVF params;
  params.nprobe = static_cast<size_t>(
      std::clamp(probes == 0 ? probes_ : probes, 1, static_cast<int>(index_->nlist)));
  static_assert(sizeof(FaissId) == sizeof(int64_t), "faiss ids are 64-bit");
  {
    const OmpThreadsGuard guard(n < kSerialQueries);
    index_->search(n, q.data_ptr<float>(), k, distances.data_ptr<float>(),
                   reinterpret_cast<FaissId*>(ids.data_ptr<int64_t>()), &params);
  }
  // faiss gives squared L2 (rounding can make it slightly negative); the matcher's scale is
  // the Euclidean distance.
  float* d = distances.data_ptr<float>();
  const int64_t* id = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < n * k; ++i) d[i] = id[i] < 0 ? kInf : std::sqrt(std::max(d[i], 0.0f));
  return {distances, ids};
}

std::unique_ptr<AnnIndex> AnnIndex::patched(const std::vector<int64_t>& new_row_of_old,
                                            const torch::Tensor& added, int64_t first_added) const {
  const int64_t old_count = size();
  if (static_cast<int64_t>(new_row_of_old.size()) != old_count)
    throw InputError("AnnIndex: new_row_of_old has " + std::to_string(new_row_of_old.size()) +
                     " entries, the index " + std::to_string(old_count) + " rows");
  if (first_added < 0)
    throw InputError("AnnIndex: first_added must be >= 0, got " + std::to_string(first_added));
  // Ids stay dense (0..size()-1), so the next patched() can index new_row_of_old by id: the
  // kept rows must fill 0..first_added-1 exactly.
  std::vector<bool> taken(static_cast<size_t>(first_added), false);
  int64_t kept_rows = 0;
  for (size_t r = 0; r < new_row_of_old.size(); ++r) {
    const int64_t to = new_row_of_old[r];
    if (to < -1 || to >= first_added)
      throw InputError("AnnIndex: new_row_of_old[" + std::to_string(r) +
                       "] = " + std::to_string(to) + " is outside -1.." +
                       std::to_string(first_added - 1) + " (first_added - 1)");
    if (to >= 0) {
      if (taken[static_cast<size_t>(to)])
        throw InputError("AnnIndex: new_row_of_old gives row " + std::to_string(to) + " twice");
      taken[static_cast<size_t>(to)] = true;
      ++kept_rows;
    }
  }
  if (kept_rows != first_added)
    throw InputError("AnnIndex: new_row_of_old keeps " + std::to_string(kept_rows) +
                     " rows but first_added is " + std::to_string(first_added) +
                     " (kept rows must be renumbered 0..first_added-1)");
  torch::Tensor extra;
  if (added.defined() && added.numel() > 0) extra = checked_matrix(added, "added rows", index_->d);

  const auto* quantizer = dynamic_cast<const faiss::IndexFlatL2*>(index_->quantizer);
  const auto* from = dynamic_cast<const faiss::ArrayInvertedLists*>(index_->invlists);
  if (!quantizer || !from) throw InputError("AnnIndex: unexpected FAISS index layout");
  auto index = empty_ivf(*quantizer, lists());
  auto* to = dynamic_cast<faiss::ArrayInvertedLists*>(index->invlists);
  if (!to) throw InputError("AnnIndex: unexpected FAISS index layout");
  const size_t code_size = from->code_size;
  int64_t total = 0;
  for (size_t list = 0; list < from->nlist; ++list) {
    const std::vector<FaissId>& old_ids = from->ids[list];
    const uint8_t* old_codes = from->codes[list].data();
    std::vector<FaissId>& ids = to->ids[list];
    std::vector<uint8_t>& codes = to->codes[list];
    ids.reserve(old_ids.size());
    codes.resize(old_ids.size() * code_size);
    size_t kept = 0;
    for (size_t e = 0; e < old_ids.size(); ++e) {
      const int64_t row = new_row_of_old[static_cast<size_t>(old_ids[e])];
      if (row < 0) continue;
      ids.push_back(row);
      std::memcpy(codes.data() + kept * code_size, old_codes + e * code_size, code_size);
      ++kept;
    }
    codes.resize(kept * code_size);
    total += static_cast<int64_t>(kept);
  }
  index->ntotal = total;
  if (extra.defined()) {
    const int64_t a = extra.size(0);
    std::vector<FaissId> ids(static_cast<size_t>(a));
    for (int64_t i = 0; i < a; ++i) ids[static_cast<size_t>(i)] = first_added + i;
    try {
      index->add_with_ids(a, extra.data_ptr<float>(), ids.data());
    } catch (const faiss::FaissException& e) {
      throw InputError(std::string("AnnIndex: FAISS could not add rows: ") + e.what());
    }
  }
  return std::unique_ptr<AnnIndex>(new AnnIndex(std::move(index), probes_));
}

int64_t AnnIndex::size() const { return index_->ntotal; }
int AnnIndex::lists() const { return static_cast<int>(index_->nlist); }
int AnnIndex::probes() const { return probes_; }
int AnnIndex::dimension() const { return index_->d; }

#else  // no FAISS: the type exists, build() says why it cannot be used

namespace {
[[noreturn]] void no_faiss() {
  throw InputError("AnnIndex: this build has no FAISS (apt-get install libfaiss-dev and rebuild)");
}
}  // namespace

bool ann_available() { return false; }
AnnIndex::AnnIndex(std::unique_ptr<faiss::IndexIVFFlat> index, int probes)
    : index_(std::move(index)), probes_(probes) {}
AnnIndex::~AnnIndex() = default;
std::unique_ptr<AnnIndex> AnnIndex::build(const torch::Tensor&, const AnnSettings&) { no_faiss(); }
std::pair<torch::Tensor, torch::Tensor> AnnIndex::search(const torch::Tensor&, int, int) const {
  no_faiss();
}
std::unique_ptr<AnnIndex> AnnIndex::patched(const std::vector<int64_t>&, const torch::Tensor&,
                                            int64_t) const {
  no_faiss();
}
int64_t AnnIndex::size() const { return 0; }
int AnnIndex::lists() const { return 0; }
int AnnIndex::probes() const { return probes_; }
int AnnIndex::dimension() const { return 0; }

#endif

}  // namespace siamese
