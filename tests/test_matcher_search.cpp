// The matcher's approximate search (SearchSettings::approximate: the FAISS IVF index of
// ann_index.h): with every list probed it answers as the exact search does, a patched matcher
// keeps and patches its index, a runner-up the index did not return is never counted farther
// than the last candidate, and a build without FAISS refuses it by name.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "matcher_test_support.h"
#include "siamese/ann_index.h"
#include "siamese/errors.h"
#include "siamese/matcher.h"

using siamese::GalleryMatrix;
using siamese::Matcher;

namespace {

const siamese::ThresholdChoice kChoice{0.6f, siamese::ThresholdSource::kGallery, "test", true};

// `people` identities of `per` noisy views around random centres, like face embeddings.
GalleryMatrix clustered(int people, int per, int width, uint64_t seed) {
  torch::manual_seed(seed);
  GalleryMatrix m;
  const auto centres = torch::randn({people, width});
  m.embeddings = centres.repeat_interleave(per, 0) + 0.15 * torch::randn({people * per, width});
  m.owners = torch::arange(people, torch::kInt64).repeat_interleave(per);
  for (int i = 0; i < people; ++i) m.names.push_back("p" + std::to_string(100000 + i));
  return m;
}

siamese::SearchSettings ivf(int lists, int probes) {
  siamese::SearchSettings s;
  s.approximate = true;
  s.index.lists = lists;
  s.index.probes = probes;
  return s;
}

}  // namespace

TEST_CASE("an IVF search probing every list answers as the exact search", "[enrollment]") {
  if (!siamese::ann_available()) {
    WARN("skipped: this build has no FAISS (apt-get install libfaiss-dev: tests/setup.sh)");
    return;
  }
  const GalleryMatrix gallery = clustered(300, 4, 32, 11);
  const Matcher exact(gallery, torch::kCPU, kChoice);
  const Matcher approximate(gallery, torch::kCPU, kChoice, ivf(16, 16));
  REQUIRE(approximate.index() != nullptr);
  CHECK(approximate.index()->lists() == 16);
  CHECK(exact.index() == nullptr);
  const auto faces = gallery.embeddings.index({torch::indexing::Slice(0, 1200, 7)}) +
                     0.05 * torch::randn({172, 32});
  siamese::testing::check_same_matches(approximate.match(faces, 3), exact.match(faces, 3), 1e-3,
                                       false);
}

TEST_CASE("a patched IVF matcher patches its index and finds the changed people", "[enrollment]") {
  if (!siamese::ann_available()) {
    WARN("skipped: this build has no FAISS (apt-get install libfaiss-dev: tests/setup.sh)");
    return;
  }
  const GalleryMatrix gallery = clustered(200, 5, 32, 5);
  const Matcher base(gallery, torch::kCPU, kChoice, ivf(0, 8));  // automatic lists: 25
  // Remove p100003; give p100010 new views around a new centre; add a newcomer.
  siamese::MatcherChange change;
  change.replaced = {"p100003", "p100010", "zz-new"};
  change.rows.names = {"p100010", "zz-new"};
  change.rows.thresholds = {std::nullopt, std::nullopt};
  const auto moved = torch::randn({1, 32}), newcomer = torch::randn({1, 32});
  change.rows.embeddings =
      torch::cat({moved.repeat({3, 1}), newcomer.repeat({2, 1})}) + 0.1 * torch::randn({5, 32});
  change.rows.owners = torch::tensor({0, 0, 0, 1, 1}, torch::kInt64);
  const auto patched = base.patched(change, kChoice);
  REQUIRE(patched->index() != nullptr);
  CHECK(patched->index()->lists() == base.index()->lists());  // patched, not retrained
  CHECK(patched->index()->size() == patched->embedding_count());
  CHECK(patched->embedding_count() == 1000 - 5 - 5 + 5);

  const auto old_view = gallery.embeddings[3 * 5].unsqueeze(0);
  const auto answers = patched->match(torch::cat({old_view, moved, newcomer}), 1);
  CHECK(answers[0].name != "p100003");  // removed: never comes back
  CHECK(answers[1].name == "p100010");
  CHECK(answers[2].name == "zz-new");
  CHECK(base.match(old_view, 1)[0].name == "p100003");  // the base is untouched
  // Growing it 4-fold retrains the index on the new rows.
  siamese::MatcherChange grow;
  for (int i = 0; i < 800; ++i) grow.replaced.push_back("q" + std::to_string(1000 + i));
  GalleryMatrix more = clustered(800, 5, 32, 9);
  for (int i = 0; i < 800; ++i) more.names[static_cast<size_t>(i)] = grow.replaced[i];
  more.thresholds.assign(800, std::nullopt);
  grow.rows = more;
  const auto grown = patched->patched(grow, kChoice);
  CHECK(grown->index()->size() == 4995);
  CHECK(grown->index()->lists() == siamese::automatic_ann_lists(4995));
}

TEST_CASE("an IVF runner-up outside the candidates counts at the last candidate's distance",
          "[enrollment]") {
  if (!siamese::ann_available()) {
    WARN("skipped: this build has no FAISS (apt-get install libfaiss-dev: tests/setup.sh)");
    return;
  }
  const GalleryMatrix gallery = clustered(50, 6, 16, 2);
  siamese::SearchSettings one = ivf(1, 1);
  one.candidates = 3;  // fewer than p100000's 6 views: every candidate is p100000's
  const Matcher m(gallery, torch::kCPU, kChoice, one);
  const auto answer = m.match(gallery.embeddings[0].unsqueeze(0), 1)[0];
  REQUIRE(answer.name == "p100000");
  const auto exact =
      Matcher(gallery, torch::kCPU, kChoice).match(gallery.embeddings[0].unsqueeze(0), 1)[0];
  CHECK(answer.second_distance < exact.second_distance);  // not +inf, not the true runner-up
  CHECK(answer.second_distance >= answer.distance);
}

TEST_CASE("an approximate search in a build without FAISS is refused naming the package",
          "[enrollment]") {
  if (siamese::ann_available()) {
    const GalleryMatrix gallery = clustered(10, 2, 8, 1);
    siamese::SearchSettings none = ivf(0, 16);
    none.candidates = 0;
    CHECK_THROWS_WITH(Matcher(gallery, torch::kCPU, kChoice, none),
                      Catch::Contains("candidates must be >= 1"));
    return;
  }
  CHECK_THROWS_WITH(Matcher(GalleryMatrix{}, torch::kCPU, kChoice, ivf(0, 16)),
                    Catch::Contains("libfaiss-dev"));
}
