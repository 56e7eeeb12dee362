// Incremental gallery updates (issue 16): Matcher::patched applies a change to a loaded matcher
// and must answer exactly as a matcher built afresh from the changed gallery; the PostgreSQL
// change log (Gallery::changes_since) says which identities changed since a version, and says
// "read everything" whenever it cannot tell (a whole-gallery change, a gap in the log, no log).
#include <libpq-fe.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "gallery_test_data.h"
#include "matcher_test_support.h"
#include "postgres_server.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/matcher.h"

using siamese::Gallery;
using siamese::GalleryMatrix;
using siamese::Matcher;
using siamese::MatcherChange;

namespace {

constexpr int kWidth = siamese::testing::kGalleryTestSize;

// A gallery as plain values: per identity its rows, own threshold and negative anchors.
struct Person {
  std::vector<std::vector<float>> rows;
  std::optional<float> threshold;
  std::vector<std::vector<float>> negatives;
};
struct People {
  std::map<std::string, Person> by_name;
  std::vector<std::vector<float>> anyone;  // the reserved negative anchors
};

std::vector<float> random_row(std::mt19937& rng) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(kWidth);
  for (auto& x : v) x = n(rng);
  return v;
}

torch::Tensor matrix_of(const std::vector<std::vector<float>>& rows) {
  auto t = torch::empty({static_cast<int64_t>(rows.size()), kWidth});
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int c = 0; c < kWidth; ++c) t[static_cast<int64_t>(r)][c] = rows[r][c];
  }
  return t;
}

// The GalleryMatrix a snapshot of `people` would give (names in order; only people with rows;
// the reserved set only when with_anyone).
GalleryMatrix matrix_from(const People& people, bool with_anyone = true) {
  GalleryMatrix m;
  std::vector<std::vector<float>> rows, negatives;
  std::vector<int64_t> owners, negative_owners;
  for (const auto& [name, p] : people.by_name) {
    if (p.rows.empty()) continue;
    const auto number = static_cast<int64_t>(m.names.size());
    m.names.push_back(name);
    m.thresholds.push_back(p.threshold);
    for (const auto& r : p.rows) rows.push_back(r), owners.push_back(number);
    for (const auto& r : p.negatives) negatives.push_back(r), negative_owners.push_back(number);
  }
  if (with_anyone) {
    for (const auto& r : people.anyone) {
      negatives.push_back(r), negative_owners.push_back(siamese::kAnyoneOwner);
    }
  }
  if (!rows.empty()) {
    m.embeddings = matrix_of(rows);
    m.owners = torch::tensor(owners, torch::kInt64);
  }
  if (!negatives.empty()) {
    m.negatives = matrix_of(negatives);
    m.negative_owners = torch::tensor(negative_owners, torch::kInt64);
  }
  return m;
}

// Both matchers give the same answers to the same faces.
void check_same_answers(const Matcher& patched, const Matcher& fresh, std::mt19937& rng,
                        const std::vector<std::vector<float>>& near) {
  REQUIRE(patched.names() == fresh.names());
  CHECK(patched.embedding_count() == fresh.embedding_count());
  CHECK(patched.negative_count() == fresh.negative_count());
  for (size_t i = 0; i < fresh.names().size(); ++i) {
    CHECK(patched.threshold_of(static_cast<int>(i)) == fresh.threshold_of(static_cast<int>(i)));
  }
  std::vector<std::vector<float>> faces = near;
  std::normal_distribution<float> jitter(0.0f, 0.05f);
  for (auto& f : faces) {
    for (auto& x : f) x += jitter(rng);
  }
  for (int i = 0; i < 20; ++i) faces.push_back(random_row(rng));
  siamese::testing::check_same_matches(patched.match(matrix_of(faces), 3),
                                       fresh.match(matrix_of(faces), 3), 1e-4, true);
}

// Everyone's rows, for probes near enrolled faces.
std::vector<std::vector<float>> all_rows(const People& people) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, p] : people.by_name) {
    for (const auto& r : p.rows) out.push_back(r);
    for (const auto& r : p.negatives) out.push_back(r);
  }
  for (const auto& r : people.anyone) out.push_back(r);
  return out;
}

}  // namespace

TEST_CASE("a patched matcher answers as one built afresh from the changed gallery",
          "[enrollment]") {
  std::mt19937 rng(16);
  People before;
  for (const char* name : {"b", "c", "d", "e", "f", "g", "h", "k"}) {
    Person& p = before.by_name[name];
    for (int i = 0; i < 3; ++i) p.rows.push_back(random_row(rng));
  }
  before.by_name["d"].threshold = 0.8f;
  before.by_name["e"].negatives.push_back(random_row(rng));
  before.by_name["g"].negatives.push_back(random_row(rng));
  before.anyone.push_back(random_row(rng));
  const siamese::ThresholdChoice choice{1.5f, siamese::ThresholdSource::kGallery, "test", true};
  const Matcher base(matrix_from(before), torch::kCPU, choice);
  std::vector<std::vector<float>> faces = all_rows(before);
  const auto base_answers = base.match(matrix_of(faces), 3);

  // Remove c, replace e (new rows, no negatives, a threshold), add a and z, give g a second
  // negative anchor, replace the reserved set.
  People after = before;
  after.by_name.erase("c");
  after.by_name["e"] = Person{{random_row(rng), random_row(rng)}, 0.3f, {}};
  after.by_name["a"] = Person{{random_row(rng)}, std::nullopt, {random_row(rng)}};
  after.by_name["z"] = Person{{random_row(rng), random_row(rng)}, std::nullopt, {}};
  after.by_name["g"].negatives.push_back(random_row(rng));
  after.anyone = {random_row(rng), random_row(rng)};
  MatcherChange change;
  change.replaced = {"c", "e", "a", "z", "g"};
  change.anyone_replaced = true;
  People changed;
  for (const auto& name : change.replaced) {
    if (after.by_name.count(name)) changed.by_name[name] = after.by_name[name];
  }
  changed.anyone = after.anyone;
  change.rows = matrix_from(changed);

  const Matcher fresh(matrix_from(after), torch::kCPU, choice);
  CHECK(base.embedding_count_after(change) == fresh.embedding_count());
  const auto patched = base.patched(change, choice);
  for (const auto& r : all_rows(after)) faces.push_back(r);
  check_same_answers(*patched, fresh, rng, faces);

  // The base is untouched: readers holding it mid-batch see the old gallery.
  const auto again = base.match(matrix_of(all_rows(before)), 3);
  REQUIRE(again.size() == base_answers.size());
  for (size_t i = 0; i < again.size(); ++i) {
    CHECK(again[i].name == base_answers[i].name);
    CHECK(again[i].distance == base_answers[i].distance);
  }

  SECTION("removing everyone leaves a matcher that matches nobody") {
    MatcherChange all;
    all.replaced = base.names();
    all.anyone_replaced = true;
    const auto empty = base.patched(all, choice);
    CHECK(empty->names().empty());
    CHECK(empty->embedding_count() == 0);
    CHECK(empty->match(matrix_of({random_row(rng)}))[0].identity == -1);
  }
  SECTION("an empty matcher takes a first identity") {
    const Matcher none(GalleryMatrix{}, torch::kCPU, choice);
    MatcherChange first;
    first.replaced = {"a"};
    People only;
    only.by_name["a"] = after.by_name["a"];
    first.rows = matrix_from(only);
    check_same_answers(*none.patched(first, choice),
                       Matcher(matrix_from(only), torch::kCPU, choice), rng, all_rows(only));
  }
}

TEST_CASE("a matcher change that does not fit is refused", "[enrollment]") {
  std::mt19937 rng(3);
  People people;
  people.by_name["a"].rows = {random_row(rng)};
  const siamese::ThresholdChoice choice{1.0f, siamese::ThresholdSource::kGallery, "test", true};
  const Matcher base(matrix_from(people), torch::kCPU, choice);
  MatcherChange stray;
  stray.replaced = {"b"};
  People other;
  other.by_name["c"].rows = {random_row(rng)};
  stray.rows = matrix_from(other);
  CHECK_THROWS_WITH(base.patched(stray, choice),
                    Catch::Contains("'c' has rows but is not replaced"));
  MatcherChange narrow;
  narrow.replaced = {"c"};
  narrow.rows = matrix_from(other);
  narrow.rows.embeddings = narrow.rows.embeddings.narrow(1, 0, kWidth - 1);
  CHECK_THROWS_AS(base.patched(narrow, choice), siamese::InputError);
}

namespace {

const siamese::ModelInfo kModel = siamese::testing::model_with("0123456789abcdef");

// Enrolls each person's rows (replacing), thresholds and negatives: one change each.
siamese::EnrollmentSample sample_of(const std::vector<float>& row, const std::string& file) {
  siamese::EnrollmentSample s;
  s.source_file = file;
  s.embedding = row;
  return s;
}
std::vector<siamese::EnrollmentSample> samples_of(const std::vector<std::vector<float>>& rows) {
  std::vector<siamese::EnrollmentSample> out;
  for (const auto& r : rows) out.push_back(sample_of(r, "f" + std::to_string(out.size())));
  return out;
}

// Runs SQL on the database directly (what an older build or an administrator might do).
void run_sql(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(conn);
  REQUIRE(ok);
}

}  // namespace

TEST_CASE("a PostgreSQL follower reads only what changed and ends where a full read does",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("changes");
  std::mt19937 rng(7);
  Gallery g = Gallery::open(uri, kModel, true);
  std::map<std::string, std::vector<std::vector<float>>> rows;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    rows[name] = {random_row(rng), random_row(rng)};
    g.enroll(name, samples_of(rows[name]), false);
  }
  g.add_negatives("b", {sample_of(random_row(rng), "poster")});
  g.set_identity_threshold("c", 0.9f);
  const siamese::GallerySnapshot first = g.snapshot();
  CHECK(first.version == g.change_counter());
  const siamese::ThresholdChoice choice{2.0f, siamese::ThresholdSource::kGallery, "test", true};
  const Matcher loaded(first.matrix, torch::kCPU, choice);

  CHECK(g.changes_since(first.version)->change.replaced.empty());  // nothing yet

  g.enroll("f", samples_of({random_row(rng)}), false);
  g.enroll("b", samples_of({random_row(rng)}), true);  // re-enrolled: its negative stays
  g.remove("c");
  g.rename("d", "dd");
  g.add_negatives("a", {sample_of(random_row(rng), "mask")});
  g.add_negatives(siamese::kAnyoneName, {sample_of(random_row(rng), "photo")});
  g.set_identity_threshold("e", 0.4f);

  const std::optional<siamese::GalleryDelta> delta = g.changes_since(first.version);
  REQUIRE(delta);
  CHECK(delta->version == g.change_counter());
  CHECK(delta->model_fingerprint == kModel.fingerprint);
  std::set<std::string> replaced(delta->change.replaced.begin(), delta->change.replaced.end());
  CHECK(replaced == std::set<std::string>{"a", "b", "c", "d", "dd", "e", "f"});
  CHECK(delta->change.anyone_replaced);
  CHECK(delta->change.rows.names == std::vector<std::string>{"a", "b", "dd", "e", "f"});

  const siamese::GallerySnapshot now = g.snapshot();
  std::vector<std::vector<float>> faces;
  for (const auto& [name, r] : rows) faces.insert(faces.end(), r.begin(), r.end());
  check_same_answers(*loaded.patched(delta->change, choice),
                     Matcher(now.matrix, torch::kCPU, choice), rng, faces);

  SECTION("a change to the whole gallery asks for a full read") {
    g.set_threshold(0.7f);
    CHECK_FALSE(g.changes_since(now.version));
    CHECK_FALSE(g.changes_since(first.version));
  }
  SECTION("a gap in the log (pruned, or an older build's change) asks for a full read") {
    run_sql(uri, "DELETE FROM siamese_changes WHERE version = " + std::to_string(now.version));
    CHECK_FALSE(g.changes_since(first.version));
    CHECK(g.changes_since(now.version));  // nothing missing after it
  }
  SECTION("a gallery made before the change log gets one on its first writable open") {
    run_sql(uri, "DROP TABLE siamese_changes");
    CHECK_FALSE(Gallery::open_reader(uri, kModel).changes_since(now.version));
    Gallery writer = Gallery::open(uri, kModel, false);
    writer.remove("a");
    const auto after = Gallery::open_reader(uri, kModel).changes_since(now.version);
    REQUIRE(after);
    CHECK(after->change.replaced == std::vector<std::string>{"a"});
    CHECK(after->change.rows.names.empty());
  }
  SECTION("a gallery recreated behind the follower's back asks for a full read") {
    CHECK_FALSE(g.changes_since(now.version + 100));
  }
}
