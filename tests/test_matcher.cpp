// The matcher: per-identity minimum distances equal a brute-force computation, the threshold
// decision, top-k order, empty galleries and bad shapes; the same answers on CUDA.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "siamese/errors.h"
#include "siamese/matcher.h"

using siamese::GalleryMatrix;
using siamese::Matcher;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Random gallery: m rows owned by identities 0..names-2 (the last name has no embeddings).
GalleryMatrix random_gallery(int64_t m, int names, int64_t e, float offset, uint64_t seed) {
  torch::manual_seed(seed);
  GalleryMatrix g;
  for (int i = 0; i < names; ++i) g.names.push_back("id" + std::to_string(i));
  g.embeddings = torch::randn({m, e}) + offset;
  g.owners = torch::randint(0, names - 1, {m}, torch::kInt64);
  return g;
}

// Per identity, the minimum Euclidean distance, in double precision, one pair at a time.
std::vector<std::vector<double>> brute_force(const GalleryMatrix& g, const torch::Tensor& q) {
  const auto gd = g.embeddings.to(torch::kFloat64);
  const auto qd = q.to(torch::kFloat64);
  std::vector<std::vector<double>> out(static_cast<size_t>(q.size(0)),
                                       std::vector<double>(g.names.size(), kInf));
  for (int64_t i = 0; i < q.size(0); ++i) {
    for (int64_t j = 0; j < g.size(); ++j) {
      const double d = (qd[i] - gd[j]).norm().item<double>();
      auto& best = out[static_cast<size_t>(i)][static_cast<size_t>(g.owners[j].item<int64_t>())];
      best = std::min(best, d);
    }
  }
  return out;
}

void check_against_brute_force(float offset) {
  const GalleryMatrix g = random_gallery(60, 8, 16, offset, 7);
  const torch::Tensor q = torch::randn({9, 16}) + offset;
  const auto expected = brute_force(g, q);
  const Matcher matcher(g, torch::kCPU, 4.0f);
  const auto d = matcher.identity_distances(q);
  REQUIRE(d.sizes() == torch::IntArrayRef({9, 8}));
  const auto matches = matcher.match(q, 3);
  for (size_t i = 0; i < 9; ++i) {
    for (size_t k = 0; k < 8; ++k) {
      const double want = expected[i][k];
      const float got = d[static_cast<int64_t>(i)][static_cast<int64_t>(k)].item<float>();
      if (std::isinf(want)) {
        CHECK(std::isinf(got));  // the identity without embeddings
      } else {
        CHECK(got == Approx(want).margin(1e-4).epsilon(1e-5));
      }
    }
    // The best and runner-up identities, and the top-3, nearest first.
    std::vector<std::pair<double, int>> order;
    for (size_t k = 0; k < 8; ++k) order.push_back({expected[i][k], static_cast<int>(k)});
    std::sort(order.begin(), order.end());
    const auto& m = matches[i];
    CHECK(m.identity == order[0].second);
    CHECK(m.name == "id" + std::to_string(order[0].second));
    CHECK(m.distance == Approx(order[0].first).margin(1e-4));
    CHECK(m.second_distance == Approx(order[1].first).margin(1e-4));
    CHECK(m.verified == (m.distance <= 4.0f));
    REQUIRE(m.top.size() == 3);
    for (size_t r = 0; r < 3; ++r) {
      CHECK(m.top[r].identity == order[r].second);
      CHECK(m.top[r].distance == Approx(order[r].first).margin(1e-4));
    }
  }
}

}  // namespace

TEST_CASE("identity distances are the minimum over each identity's embeddings",
          "[enrollment][matcher]") {
  SECTION("unit-scale embeddings") { check_against_brute_force(0.0f); }
  // Embeddings far from the origin (as an unnormalised seed model gives) keep their precision.
  SECTION("embeddings with a large common offset") { check_against_brute_force(50.0f); }
}

TEST_CASE("a face is verified below the threshold, not above", "[enrollment][matcher]") {
  GalleryMatrix g;
  g.names = {"alice", "bob"};
  g.embeddings = torch::tensor({{0.0f, 0.0f}, {10.0f, 0.0f}, {0.0f, 3.0f}});
  g.owners = torch::tensor({0, 1, 0}, torch::kInt64);
  const auto q = torch::tensor({{0.0f, 0.5f}, {9.0f, 0.0f}, {5.0f, 20.0f}});
  const auto at = Matcher(g, torch::kCPU, 0.5001f).match(q, 2);
  CHECK(at[0].name == "alice");
  CHECK(at[0].distance == Approx(0.5f).margin(1e-5));
  CHECK(at[0].verified);
  CHECK(at[1].name == "bob");
  CHECK(at[1].distance == Approx(1.0f).margin(1e-5));
  CHECK(!at[1].verified);
  CHECK(at[2].name == "alice");  // nearest, but a stranger: not verified
  CHECK(at[2].distance == Approx(std::hypot(5.0f, 17.0f)).margin(1e-4));
  CHECK(!at[2].verified);
  const auto below = Matcher(g, torch::kCPU, 0.4999f).match(q, 1);
  CHECK(!below[0].verified);
  CHECK(below[0].name == "alice");  // the decision changes, not the identity
}

TEST_CASE("top-k is clipped to the identities and may be empty", "[enrollment][matcher]") {
  GalleryMatrix g;
  g.names = {"a", "b", "c"};
  g.embeddings = torch::tensor({{0.0f}, {1.0f}, {3.0f}});
  g.owners = torch::tensor({0, 1, 2}, torch::kInt64);
  const Matcher matcher(g, torch::kCPU, 0.1f);
  const auto many = matcher.match(torch::tensor({{2.2f}}), 10);
  REQUIRE(many[0].top.size() == 3);
  CHECK(many[0].top[0].name == "c");
  CHECK(many[0].top[1].name == "b");
  CHECK(many[0].top[2].name == "a");
  const auto none = matcher.match(torch::tensor({{2.2f}}), 0);
  CHECK(none[0].top.empty());
  CHECK(none[0].name == "c");
  CHECK(none[0].second_distance == Approx(1.2f));
  CHECK(matcher.match(torch::zeros({0, 1}), 3).empty());
  CHECK_THROWS_AS(matcher.match(torch::tensor({{2.2f}}), -1), siamese::InputError);
}

TEST_CASE("an empty gallery matches nobody", "[enrollment][matcher]") {
  GalleryMatrix g;
  g.names = {"enrolled-without-embeddings"};
  g.embeddings = torch::zeros({0, 4});
  g.owners = torch::zeros({0}, torch::kInt64);
  const Matcher matcher(g, torch::kCPU, 100.0f);
  CHECK(matcher.embedding_count() == 0);
  const auto m = matcher.match(torch::ones({2, 4}), 3);
  REQUIRE(m.size() == 2);
  CHECK(m[0].identity == -1);
  CHECK(m[0].name.empty());
  CHECK(std::isinf(m[0].distance));
  CHECK(std::isinf(m[0].second_distance));
  CHECK(!m[0].verified);
  CHECK(m[0].top.empty());
  CHECK(Matcher(GalleryMatrix{}, torch::kCPU, 1.0f).match(torch::ones({1, 4}))[0].identity == -1);
}

TEST_CASE("queries of the wrong size are refused with both shapes", "[enrollment][matcher]") {
  GalleryMatrix g;
  g.names = {"a"};
  g.embeddings = torch::zeros({2, 4});
  g.owners = torch::zeros({2}, torch::kInt64);
  const Matcher matcher(g, torch::kCPU, 1.0f);
  CHECK_THROWS_WITH(matcher.match(torch::zeros({1, 5})),
                    Catch::Contains("[1, 5]") && Catch::Contains("4"));
  CHECK_THROWS_AS(matcher.match(torch::zeros({4})), siamese::InputError);
  g.owners = torch::tensor({0, 3}, torch::kInt64);
  CHECK_THROWS_AS(Matcher(g, torch::kCPU, 1.0f), siamese::InputError);
}

TEST_CASE("the matcher gives the same answers on CUDA", "[enrollment][matcher][cuda]") {
  if (!torch::cuda::is_available()) {
    if (SIAMESE_EXPECT_CUDA) FAIL("the build expects CUDA but no GPU is usable");
    WARN("skipped: no CUDA device");
    return;
  }
  const GalleryMatrix g = random_gallery(5000, 300, 128, 0.0f, 3);
  const torch::Tensor q = torch::randn({32, 128});
  const auto cpu = Matcher(g, torch::kCPU, 15.0f).match(q, 5);
  const auto gpu = Matcher(g, torch::Device(torch::kCUDA, 0), 15.0f).match(q, 5);
  for (size_t i = 0; i < cpu.size(); ++i) {
    CHECK(gpu[i].identity == cpu[i].identity);
    CHECK(gpu[i].distance == Approx(cpu[i].distance).margin(1e-3));
    CHECK(gpu[i].verified == cpu[i].verified);
  }
}
