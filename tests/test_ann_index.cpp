// The approximate gallery index (AnnIndex, FAISS IVF-Flat): on clustered, face-like data its
// nearest row agrees with exact search, searching every list IS exact search, concurrent
// searches agree, patched() renumbers/removes/adds without touching the original, bad input is
// refused. Skips (with a warning) in a build without FAISS, where build() must say why.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include "siamese/ann_index.h"
#include "siamese/errors.h"

using Catch::Matchers::Contains;
using siamese::AnnIndex;
using siamese::AnnSettings;

namespace {

constexpr int64_t kIdentities = 2000;
constexpr int64_t kPerIdentity = 5;
constexpr int64_t kDim = 128;
// Per-value noise: a sample lies about 0.57 from its identity's centre, centres about 1.41 apart
// (random unit vectors): 0.4 of the between-identity distance (gallery_scale_bench takes 0.5,
// and 10 samples per identity, and counts identities rather than rows).
const double kNoise = 0.57 / std::sqrt(static_cast<double>(kDim));

#define SKIP_WITHOUT_FAISS()                                                     \
  if (!siamese::ann_available()) {                                               \
    WARN("skipped: built without FAISS (tests/setup.sh installs libfaiss-dev)"); \
    return;                                                                      \
  }

torch::Tensor unit_rows(int64_t n) {
  return torch::nn::functional::normalize(torch::randn({n, kDim}),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

struct Clustered {
  torch::Tensor centres;  // [kIdentities, kDim]
  torch::Tensor rows;     // [kIdentities * kPerIdentity, kDim]; row r belongs to r / kPerIdentity
  torch::Tensor probes;   // [kIdentities, kDim]: one fresh noisy view of each identity
};

const Clustered& clustered() {
  static const Clustered data = [] {
    torch::manual_seed(16);
    Clustered c;
    c.centres = unit_rows(kIdentities);
    c.rows = c.centres.repeat_interleave(kPerIdentity, 0) +
             kNoise * torch::randn({kIdentities * kPerIdentity, kDim});
    c.probes = c.centres + kNoise * torch::randn({kIdentities, kDim});
    return c;
  }();
  return data;
}

// Exact search: the k nearest rows by Euclidean distance, {distances, ids}.
std::pair<torch::Tensor, torch::Tensor> exact(const torch::Tensor& rows, const torch::Tensor& q,
                                              int k) {
  const torch::Tensor d = torch::cdist(q.to(torch::kDouble), rows.to(torch::kDouble));
  auto [values, ids] = d.topk(k, 1, false, true);
  return {values.to(torch::kFloat), ids};
}

// The same neighbours in the same order, but for rows at the same distance (float rounding
// may order a tie either way).
bool same_neighbours(const torch::Tensor& d, const torch::Tensor& id, const torch::Tensor& want_d,
                     const torch::Tensor& want_id) {
  return id.eq(want_id).logical_or(torch::isclose(d, want_d, 1e-5, 1e-5)).all().item<bool>();
}

}  // namespace

TEST_CASE("ANN nearest rows agree with exact search on clustered data", "[enrollment][ann]") {
  SKIP_WITHOUT_FAISS();
  const Clustered& c = clustered();
  const auto index = AnnIndex::build(c.rows, AnnSettings{});
  CHECK(index->size() == kIdentities * kPerIdentity);
  CHECK(index->dimension() == kDim);
  CHECK(index->lists() == siamese::automatic_ann_lists(index->size()));
  CHECK(index->lists() == 256);  // 4*sqrt(10000) = 400, clamped to 10000/39
  CHECK(index->probes() == 16);
  const auto [want_d, want_id] = exact(c.rows, c.probes, 1);
  const auto [d, id] = index->search(c.probes, 1);
  REQUIRE(d.sizes() == torch::IntArrayRef({kIdentities, 1}));
  REQUIRE(id.scalar_type() == torch::kLong);
  REQUIRE(d.scalar_type() == torch::kFloat);
  const torch::Tensor same = id.eq(want_id).squeeze(1);
  const int64_t agree = same.sum().item<int64_t>();
  CHECK(agree >= kIdentities * 99 / 100);
  // Where the same row was found, its distance is the exact Euclidean distance.
  CHECK(torch::allclose(d.squeeze(1).masked_select(same), want_d.squeeze(1).masked_select(same),
                        1e-4, 1e-4));
  // Genuine probes land on their own identity (exact search: every one).
  const torch::Tensor own = torch::arange(kIdentities);
  CHECK(want_id.squeeze(1).div(kPerIdentity, "floor").eq(own).all().item<bool>());
  CHECK(id.squeeze(1).div(kPerIdentity, "floor").eq(own).sum().item<int64_t>() >=
        kIdentities * 995 / 1000);
}

TEST_CASE("ANN searching every list equals exact search", "[enrollment][ann]") {
  SKIP_WITHOUT_FAISS();
  const Clustered& c = clustered();
  AnnSettings s;
  s.lists = 32;
  s.probes = 1000;  // clamped to the lists
  const auto index = AnnIndex::build(c.rows, s);
  CHECK(index->lists() == 32);
  CHECK(index->probes() == 32);
  torch::manual_seed(3);
  const torch::Tensor strangers = unit_rows(200);
  const torch::Tensor q = torch::cat({c.probes.slice(0, 0, 200), strangers});
  const auto [want_d, want_id] = exact(c.rows, q, 5);
  const auto [d, id] = index->search(q, 5);
  CHECK(same_neighbours(d, id, want_d, want_id));
  CHECK(torch::allclose(d, want_d, 1e-4, 1e-4));
  // The per-call probes does the same on an index built with few.
  s.probes = 2;
  const auto few = AnnIndex::build(c.rows, s);
  CHECK(few->probes() == 2);
  const auto [fd, fid] = few->search(q, 5, few->lists());
  CHECK(same_neighbours(fd, fid, want_d, want_id));
}

TEST_CASE("ANN index is deterministic and fills missing neighbours with -1", "[enrollment][ann]") {
  SKIP_WITHOUT_FAISS();
  const Clustered& c = clustered();
  const auto a = AnnIndex::build(c.rows, AnnSettings{});
  const auto b = AnnIndex::build(c.rows, AnnSettings{});
  const auto [da, ia] = a->search(c.probes, 3);
  const auto [db, ib] = b->search(c.probes, 3);
  CHECK(torch::equal(ia, ib));
  CHECK(torch::equal(da, db));
  // A tiny gallery: more neighbours asked for than rows.
  AnnSettings one;
  one.lists = 1;
  const auto tiny = AnnIndex::build(c.rows.slice(0, 0, 3), one);
  const auto [d, id] = tiny->search(c.rows.slice(0, 0, 1), 5);
  CHECK(id[0][0].item<int64_t>() == 0);
  CHECK(d[0][0].item<float>() == Approx(0.0f).margin(1e-3));
  for (int j = 3; j < 5; ++j) {
    CHECK(id[0][j].item<int64_t>() == -1);
    CHECK(std::isinf(d[0][j].item<float>()));
  }
}

TEST_CASE("ANN searches from several threads at once agree", "[enrollment][ann]") {
  SKIP_WITHOUT_FAISS();
  const Clustered& c = clustered();
  const auto index = AnnIndex::build(c.rows, AnnSettings{});
  const auto [want_d, want_id] = index->search(c.probes, 3);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      // Single faces (the streaming-thread case) and one larger batch.
      std::vector<torch::Tensor> d, id;
      for (int64_t i = 0; i < 300; ++i) {
        auto r = index->search(c.probes.slice(0, i, i + 1), 3);
        d.push_back(r.first);
        id.push_back(r.second);
      }
      auto rest = index->search(c.probes.slice(0, 300), 3);
      d.push_back(rest.first);
      id.push_back(rest.second);
      got[t] = {torch::cat(d), torch::cat(id)};
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& [d, id] : got) {
    CHECK(torch::equal(id, want_id));
    CHECK(torch::equal(d, want_d));
  }
  // A small batch runs on the calling thread alone, and leaves the caller's OpenMP setting
  // (LibTorch's thread count is OpenMP's) as it found it.
  const int threads_before = torch::get_num_threads();
  torch::set_num_threads(3);
  (void)index->search(c.probes.slice(0, 0, 2), 1);
  CHECK(torch::get_num_threads() == 3);
  torch::set_num_threads(threads_before);
}

TEST_CASE("ANN patched index renumbers, removes and adds rows", "[enrollment][ann]") {
  SKIP_WITHOUT_FAISS();
  const Clustered& c = clustered();
  const auto index = AnnIndex::build(c.rows, AnnSettings{});
  const auto before = index->search(c.probes, 3);

  // Remove every row of the first 100 identities and one row of every 7th identity; the rest
  // move down; 10 rows of 2 new identities are appended.
  const int64_t old_count = index->size();
  std::vector<int64_t> new_row_of_old(static_cast<size_t>(old_count), -1);
  std::vector<int64_t> kept_old;
  std::set<int64_t> removed;
  for (int64_t r = 0; r < old_count; ++r) {
    const int64_t identity = r / kPerIdentity;
    const bool remove = identity < 100 || (identity % 7 == 0 && r % kPerIdentity == 2);
    if (remove) {
      removed.insert(r);
      continue;
    }
    new_row_of_old[static_cast<size_t>(r)] = static_cast<int64_t>(kept_old.size());
    kept_old.push_back(r);
  }
  torch::manual_seed(9);
  const torch::Tensor new_centres = unit_rows(2);
  const torch::Tensor added =
      new_centres.repeat_interleave(5, 0) + kNoise * torch::randn({10, kDim});
  const auto first_added = static_cast<int64_t>(kept_old.size());
  const auto patched = index->patched(new_row_of_old, added, first_added);
  REQUIRE(patched->size() == first_added + 10);
  CHECK(patched->lists() == index->lists());
  CHECK(patched->probes() == index->probes());
  const torch::Tensor new_rows =
      torch::cat({c.rows.index_select(0, torch::tensor(kept_old, torch::kLong)), added});

  // The original is unchanged.
  CHECK(index->size() == old_count);
  const auto again = index->search(c.probes, 3);
  CHECK(torch::equal(again.second, before.second));
  CHECK(torch::equal(again.first, before.first));

  // Every list searched: exactly the exact answer over the new matrix (renumbered ids point at
  // the right vectors, removed rows are gone).
  const torch::Tensor some = c.probes.slice(0, 0, 400);  // 100 removed identities, 300 kept
  const auto [want_d, want_id] = exact(new_rows, some, 3);
  const auto [all_d, all_id] = patched->search(some, 3, patched->lists());
  CHECK(same_neighbours(all_d, all_id, want_d, want_id));
  CHECK(torch::allclose(all_d, want_d, 1e-4, 1e-4));

  // With the usual probes: the same lists as before, so a kept identity's probe finds its old
  // nearest row under its new number; no id beyond the new rows.
  const auto [d, id] = patched->search(c.probes, 1);
  CHECK(id.max().item<int64_t>() < patched->size());
  int64_t compared = 0;
  for (int64_t i = 100; i < kIdentities; ++i) {
    const int64_t old_best = before.second[i][0].item<int64_t>();
    if (removed.count(old_best)) continue;
    ++compared;
    CHECK(id[i][0].item<int64_t>() == new_row_of_old[static_cast<size_t>(old_best)]);
  }
  CHECK(compared > 1800);

  // Added rows are found as themselves; probes of removed identities find none of their rows.
  const auto [ad, aid] = patched->search(added, 1);
  CHECK(torch::equal(aid.squeeze(1), torch::arange(first_added, first_added + 10)));
  CHECK(ad.max().item<float>() < 1e-3f);
  const auto gone = patched->search(c.probes.slice(0, 0, 100), 5);
  for (int64_t i = 0; i < 100; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      const int64_t row = gone.second[i][j].item<int64_t>();
      REQUIRE(row >= 0);
      if (row < first_added) {
        CHECK(kept_old[static_cast<size_t>(row)] / kPerIdentity >= 100);
      }
    }
  }

  // A patch of a patch with nothing added, and the first index still answers as before.
  std::vector<int64_t> identity_map(static_cast<size_t>(patched->size()));
  for (size_t r = 0; r < identity_map.size(); ++r) identity_map[r] = static_cast<int64_t>(r);
  const auto same = patched->patched(identity_map, torch::Tensor(), patched->size());
  CHECK(torch::equal(same->search(c.probes, 3).second, patched->search(c.probes, 3).second));
  CHECK(torch::equal(index->search(c.probes, 3).second, before.second));
}

TEST_CASE("ANN index refuses bad shapes, settings and ids", "[enrollment][ann]") {
  if (!siamese::ann_available()) {
    REQUIRE_THROWS_WITH(AnnIndex::build(torch::zeros({10, 4}), AnnSettings{}),
                        Contains("no FAISS") && Contains("libfaiss-dev"));
    WARN("skipped the rest: built without FAISS (tests/setup.sh installs libfaiss-dev)");
    return;
  }
  using siamese::InputError;
  const Clustered& c = clustered();
  REQUIRE_THROWS_AS(AnnIndex::build(torch::zeros({10}), AnnSettings{}), InputError);
  REQUIRE_THROWS_WITH(AnnIndex::build(torch::zeros({10}), AnnSettings{}),
                      Contains("[N, E]") && Contains("[10]"));
  REQUIRE_THROWS_WITH(AnnIndex::build(torch::zeros({0, 8}), AnnSettings{}), Contains("no rows"));
  REQUIRE_THROWS_WITH(AnnIndex::build(torch::zeros({5, 8}, torch::kLong), AnnSettings{}),
                      Contains("floating-point"));
  torch::Tensor bad = c.rows.slice(0, 0, 50).clone();
  bad[3][2] = std::nanf("");
  REQUIRE_THROWS_WITH(AnnIndex::build(bad, AnnSettings{}), Contains("NaN"));
  AnnSettings s;
  s.lists = 51;
  REQUIRE_THROWS_WITH(AnnIndex::build(c.rows.slice(0, 0, 50), s),
                      Contains("lists") && Contains("51"));
  s.lists = -1;
  REQUIRE_THROWS_AS(AnnIndex::build(c.rows.slice(0, 0, 50), s), InputError);
  s.lists = 0;
  s.probes = 0;
  REQUIRE_THROWS_WITH(AnnIndex::build(c.rows.slice(0, 0, 50), s), Contains("probes"));

  s.lists = 2;
  s.probes = 1;
  const auto index = AnnIndex::build(c.rows.slice(0, 0, 50), s);
  REQUIRE_THROWS_WITH(index->search(c.probes.slice(0, 0, 2), 0), Contains("k must be"));
  REQUIRE_THROWS_WITH(index->search(c.probes.slice(0, 0, 2), 1, -1), Contains("probes"));
  REQUIRE_THROWS_WITH(index->search(torch::zeros({2, kDim + 1}), 1),
                      Contains(std::to_string(kDim + 1)) && Contains(std::to_string(kDim)));
  REQUIRE_THROWS_WITH(index->search(torch::zeros({kDim}), 1), Contains("[N, E]"));
  REQUIRE_THROWS_WITH(index->search(torch::full({1, kDim}, INFINITY), 1), Contains("infinite"));
  CHECK(index->search(torch::zeros({0, kDim}), 2).second.sizes() == torch::IntArrayRef({0, 2}));

  std::vector<int64_t> map(50);
  for (size_t r = 0; r < map.size(); ++r) map[r] = static_cast<int64_t>(r);
  REQUIRE_THROWS_WITH(index->patched(std::vector<int64_t>(49, 0), torch::Tensor(), 49),
                      Contains("49 entries") && Contains("50 rows"));
  REQUIRE_THROWS_WITH(index->patched(map, torch::Tensor(), 49), Contains("outside"));
  map[7] = 3;
  REQUIRE_THROWS_WITH(index->patched(map, torch::Tensor(), 50), Contains("row 3 twice"));
  map[7] = -2;
  REQUIRE_THROWS_WITH(index->patched(map, torch::Tensor(), 50), Contains("outside"));
  map[7] = -1;  // a gap: row 7 of the new numbering is nobody's
  REQUIRE_THROWS_WITH(index->patched(map, torch::Tensor(), 50),
                      Contains("keeps 49 rows") && Contains("first_added is 50"));
  for (size_t r = 8; r < map.size(); ++r) map[r] = static_cast<int64_t>(r) - 1;
  REQUIRE_THROWS_WITH(index->patched(map, torch::zeros({2, kDim - 1}), 49), Contains("added rows"));
  REQUIRE_THROWS_WITH(index->patched(map, torch::Tensor(), -1), Contains("first_added"));
  const auto removed = index->patched(map, torch::Tensor(), 49);
  CHECK(removed->size() == 49);
  const auto [d, id] = removed->search(c.rows.slice(0, 7, 9), 1, removed->lists());
  CHECK(d[0][0].item<float>() > 0.1f);   // old row 7 is gone: its own vector is far from all
  CHECK(id[1][0].item<int64_t>() == 7);  // old row 8 is row 7 now
  CHECK(d[1][0].item<float>() == Approx(0.0f).margin(1e-3));
}
