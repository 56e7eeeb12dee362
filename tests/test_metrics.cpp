// The verification figures against values worked out by hand.
#include <catch2/catch.hpp>

#include "siamese/errors.h"
#include "siamese/metrics.h"

using namespace siamese;

namespace {
PairScores scores(std::vector<double> d, std::vector<bool> g) {
  PairScores s;
  s.distance = std::move(d);
  s.genuine = std::move(g);
  return s;
}
}  // namespace

TEST_CASE("AUC of a perfect, an inverted and a tied ranking", "[core][metrics]") {
  CHECK(roc_auc(scores({0.1, 0.2, 0.8, 0.9}, {true, true, false, false})) == Approx(1.0));
  CHECK(roc_auc(scores({0.9, 0.8, 0.1, 0.2}, {true, true, false, false})) == Approx(0.0));
  CHECK(roc_auc(scores({0.5, 0.5}, {true, false})) == Approx(0.5));
  // one genuine (0.3) ranks below one impostor (0.2): 3 of 4 ordered pairs right
  CHECK(roc_auc(scores({0.1, 0.3, 0.2, 0.9}, {true, true, false, false})) == Approx(0.75));
}

TEST_CASE("EER, TAR at FAR and best threshold by hand", "[core][metrics]") {
  // genuine 0.1 0.3 ; impostor 0.2 0.9
  const PairScores s = scores({0.1, 0.3, 0.2, 0.9}, {true, true, false, false});
  const ThresholdPoint e = equal_error_rate(s);
  // at t=0.15: FAR 0, FRR 0.5; at t=0.25: FAR .5 FRR .5 -> |diff| 0 -> EER 0.5
  CHECK(e.value == Approx(0.5));
  CHECK(e.threshold == Approx(0.25));
  const ThresholdPoint t = tar_at_far(s, 0.0);
  CHECK(t.value == Approx(0.5));
  CHECK(t.threshold == Approx(0.15));
  const ThresholdPoint b = best_threshold(s);
  CHECK(b.value == Approx(0.75));
  CHECK(accuracy_at(s, 0.15) == Approx(0.75));
  CHECK(accuracy_at(s, 0.5) == Approx(0.75));
  CHECK(accuracy_at(s, 1.0) == Approx(0.5));
}

TEST_CASE("all pairs of embeddings", "[core][metrics]") {
  const torch::Tensor e = torch::tensor({{0.0f, 0.0f}, {3.0f, 4.0f}, {0.0f, 1.0f}});
  const PairScores s = all_pairs(e, {7, 7, 8});
  REQUIRE(s.distance.size() == 3);
  CHECK(s.distance[0] == Approx(5.0));
  CHECK(s.genuine[0]);
  CHECK(s.distance[1] == Approx(1.0));
  CHECK_FALSE(s.genuine[1]);
  CHECK(s.genuine_count() == 1);
  CHECK_THROWS_AS(roc_auc(scores({0.1}, {true})), InputError);
}
