// What the gallery knows about who is NOT someone (issue 15): negative anchors (per identity and
// the reserved "anyone" set), per-identity thresholds under the one threshold rule, the upgrade
// of a version-1 gallery, and `siamese-enroll calibrate` (report, outliers, --apply, --plot).
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "siamese/calibration.h"
#include "siamese/decision.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/matcher.h"
#include "siamese/model.h"
#include "siamese/model_file.h"
#include "siamese/threshold_policy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using siamese::EnrollmentSample;
using siamese::Gallery;
using siamese::GalleryMatrix;
using siamese::Matcher;

namespace {

constexpr int kSize = 2;

siamese::ModelInfo model2d() {
  siamese::ModelInfo info;
  info.fingerprint = "0123456789abcdef";
  info.embedding_size = kSize;
  return info;
}

EnrollmentSample sample_at(const std::string& file, float x, float y) {
  EnrollmentSample s;
  s.source_file = file;
  s.embedding = {x, y};
  return s;
}

torch::Tensor rows(std::initializer_list<std::pair<float, float>> points) {
  std::vector<float> v;
  for (const auto& [x, y] : points) {
    v.push_back(x);
    v.push_back(y);
  }
  return torch::tensor(v).reshape({static_cast<int64_t>(points.size()), kSize});
}

// alice near (0, 0), her brother bob near (1, 0); the threshold lets bob's faces reach alice.
std::string alice_and_bob(const std::string& tag) {
  const std::string path = siamese::testing::temp_dir(tag) + "/gallery.db";
  Gallery g = Gallery::open(path, model2d(), true);
  g.enroll_batch({{"alice", {sample_at("a1", 0.0f, 0.0f), sample_at("a2", 0.0f, 0.1f)}},
                  {"bob", {sample_at("b1", 1.0f, 0.0f)}}},
                 false);
  return path;
}

std::string query_text(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// The schema every gallery had before negative anchors (version 1), written as it was.
void write_version1_gallery(const std::string& path, const siamese::ModelInfo& model) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const std::string sql =
      "PRAGMA journal_mode = WAL;"
      "CREATE TABLE facts (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE identities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
      "  created TEXT NOT NULL, updated TEXT NOT NULL);"
      "CREATE TABLE embeddings (id INTEGER PRIMARY KEY, identity_id INTEGER NOT NULL "
      "  REFERENCES identities(id) ON DELETE CASCADE, source_file TEXT NOT NULL, "
      "  box_x INTEGER NOT NULL DEFAULT 0, box_y INTEGER NOT NULL DEFAULT 0, "
      "  box_w INTEGER NOT NULL DEFAULT 0, box_h INTEGER NOT NULL DEFAULT 0, "
      "  framing TEXT NOT NULL CHECK (framing IN ('detector', 'exact')), "
      "  enrolled TEXT NOT NULL, vector BLOB NOT NULL);"
      "CREATE INDEX embeddings_by_identity ON embeddings(identity_id);"
      "PRAGMA application_id = 1397309767; PRAGMA user_version = 1;"
      "INSERT INTO facts VALUES ('schema_version', '1'), ('created', '2026-01-01T00:00:00Z'),"
      "  ('model_fingerprint', '" +
      model.fingerprint +
      "'), ('embedding_size', '2'), ('metric', 'euclidean'),"
      "  ('threshold', '0.5');"
      "INSERT INTO identities VALUES (1, 'alice', '2026-01-01T00:00:00Z', "
      "  '2026-01-01T00:00:00Z'), (2, 'bob', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');"
      "INSERT INTO embeddings(identity_id, source_file, framing, enrolled, vector) VALUES "
      "  (1, 'a1', 'exact', '2026-01-01T00:00:00Z', x'0000000000000000'),"
      "  (2, 'b1', 'exact', '2026-01-01T00:00:00Z', x'0000803f00000000');";
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("a negative anchor stops a relative verifying as NAME while NAME still verifies",
          "[enrollment][gallery][negatives]") {
  const auto bob_face = rows({{0.6f, 0.0f}});  // her brother's face, 0.6 from her photos
  const auto alice_face = rows({{0.05f, 0.05f}});
  // A gallery with alice only: bob's face (0.6 from her) verifies as her at threshold 0.7.
  const std::string only_alice = siamese::testing::temp_dir("negatives-alice") + "/g.db";
  Gallery g = Gallery::open(only_alice, model2d(), true);
  g.enroll("alice", {sample_at("a1", 0.0f, 0.0f), sample_at("a2", 0.0f, 0.1f)}, false);
  {
    const Matcher before(g.snapshot().matrix, torch::kCPU, 0.7f);
    CHECK(before.match(bob_face)[0].verified);
  }
  g.add_negatives("alice", {sample_at("bob-photo", 0.9f, 0.0f)});
  const Matcher after(g.snapshot().matrix, torch::kCPU, 0.7f);
  const auto m = after.match(bob_face)[0];
  CHECK(m.name == "alice");
  CHECK_FALSE(m.verified);
  CHECK(m.rejection == siamese::kReasonNegativeAnchor);
  CHECK(m.negative_distance == Approx(0.3f));
  const auto a = after.match(alice_face)[0];
  CHECK(a.verified);
  CHECK(a.rejection.empty());
  // 1:1 as well (siamese-enroll verify).
  CHECK_FALSE(after.match_identity(bob_face, 0).verified);
  CHECK(after.match_identity(alice_face, 0).verified);

  SECTION("the reason reaches the track's decision") {
    siamese::DecisionEngine engine(
        siamese::DecisionOptions().set_confirm(2, 3).set_threshold(0.7f));
    std::optional<siamese::Decision> last;
    for (int i = 0; i < 3; ++i) {
      siamese::Evidence e;
      e.identity = m.name;
      e.distance = m.distance;
      e.rejection = m.rejection;
      if (auto c = engine.observe(1, e, i)) last = c;
    }
    REQUIRE(last);
    CHECK(last->state == siamese::DecisionState::kUnknown);
    CHECK(last->reason == siamese::kReasonNegativeAnchor);
    siamese::Evidence same;
    same.identity = m.name;
    same.distance = m.distance;
    for (int i = 0; i < 3; ++i) engine.observe(2, same, i);
    CHECK(engine.decision(2).verified());  // without the veto the same face verifies
  }
}

TEST_CASE("the reserved set for anyone keeps a face from verifying, and remove drops negatives",
          "[enrollment][gallery][negatives]") {
  const std::string path = alice_and_bob("negatives-anyone");
  Gallery g = Gallery::open(path, model2d(), false);
  g.add_negatives(siamese::kAnyoneName, {sample_at("poster", 0.0f, 1.0f)});
  g.add_negatives("bob", {sample_at("alice-photo", 0.1f, 0.0f)});
  const Matcher m(g.snapshot().matrix, torch::kCPU, 2.0f);
  CHECK_FALSE(m.match(rows({{0.0f, 0.8f}}))[0].verified);  // nearer the poster than alice
  CHECK(m.match(rows({{0.0f, 0.2f}}))[0].verified);        // nearer alice than the poster
  CHECK(m.match(rows({{0.9f, 0.0f}}))[0].verified);        // bob himself
  const auto ids = g.identities();
  REQUIRE(ids.size() == 2);
  CHECK(ids[1].name == "bob");
  CHECK(ids[1].negative_count == 1);
  CHECK(g.negatives().size() == 2);
  CHECK(g.negatives().front().identity == siamese::kAnyoneName);
  g.remove("bob");
  REQUIRE(g.negatives().size() == 1);
  CHECK(g.negatives().front().identity == siamese::kAnyoneName);
  CHECK(query_text(path, "SELECT count(*) FROM negatives") == "1");
  // An unknown name and the reserved name as an identity are refused, the gallery unchanged.
  CHECK_THROWS_WITH(g.add_negatives("carol", {sample_at("x", 0.0f, 0.0f)}),
                    Catch::Contains("no identity named 'carol'"));
  CHECK_THROWS_WITH(g.enroll("*", {sample_at("x", 0.0f, 0.0f)}, false),
                    Catch::Contains("reserved"));
  CHECK(g.negatives().size() == 1);
}

TEST_CASE("a per-identity threshold is applied, and an explicit threshold overrides it",
          "[enrollment][gallery][threshold]") {
  const std::string path = alice_and_bob("identity-threshold");
  Gallery g = Gallery::open(path, model2d(), false);
  g.set_identity_threshold("alice", 0.2f);
  CHECK(g.identities()[0].threshold == Approx(0.2f));
  CHECK_FALSE(g.identities()[1].threshold.has_value());
  const auto face = rows({{0.0f, 0.4f}});  // 0.3 from alice's nearest photo
  const siamese::ThresholdChoice gallery_choice{0.5f, siamese::ThresholdSource::kGallery, "", true};
  const siamese::ThresholdChoice explicit_choice{0.5f, siamese::ThresholdSource::kExplicit, "",
                                                 true};
  const Matcher own(g.snapshot().matrix, torch::kCPU, gallery_choice);
  CHECK(own.threshold_of(0) == Approx(0.2f));
  CHECK(own.threshold_of(1) == Approx(0.5f));
  CHECK_FALSE(own.match(face)[0].verified);
  const Matcher overridden(g.snapshot().matrix, torch::kCPU, explicit_choice);
  CHECK(overridden.threshold_of(0) == Approx(0.5f));
  CHECK(overridden.match(face)[0].verified);

  // The decision engine follows the same rule, margin 0.1 x the identity's threshold.
  const auto evidence = [](float distance, float second) {
    siamese::Evidence e;
    e.identity = "alice";
    e.distance = distance;
    e.second_distance = second;
    return e;
  };
  siamese::Evidence e = evidence(0.3f, 2.0f);
  e.identity_threshold = own.own_threshold(0);
  siamese::DecisionEngine plain(siamese::DecisionOptions().set_confirm(1, 1).set_threshold(0.5f));
  plain.observe(1, e, 0);
  CHECK_FALSE(plain.decision(1).verified());
  siamese::DecisionEngine forced(
      siamese::DecisionOptions().set_confirm(1, 1).set_threshold(0.5f).set_threshold_explicit(
          true));
  forced.observe(1, e, 0);
  CHECK(forced.decision(1).verified());
  siamese::Evidence close_call = evidence(0.15f, 0.165f);  // margin 0.015 < 0.1 x 0.2
  close_call.identity_threshold = 0.2f;
  siamese::DecisionEngine auto_margin(
      siamese::DecisionOptions().set_confirm(1, 1).set_threshold(0.5f).set_margin_auto(true));
  auto_margin.observe(1, close_call, 0);
  CHECK_FALSE(auto_margin.decision(1).verified());
  close_call.second_distance = 0.175f;  // margin 0.025 >= 0.02
  auto_margin.observe(2, close_call, 0);
  CHECK(auto_margin.decision(2).verified());

  // Bad values and names are refused; the gallery keeps what it had.
  CHECK_THROWS_AS(g.set_identity_threshold("alice", -1.0f), siamese::InputError);
  CHECK_THROWS_WITH(g.set_identity_threshold("carol", 0.3f), Catch::Contains("carol"));
  CHECK_THROWS_WITH(g.set_identity_thresholds({{"bob", 0.3f}, {"carol", 0.3f}}),
                    Catch::Contains("carol"));
  CHECK_FALSE(g.identities()[1].threshold.has_value());  // bob's went with the failed batch
  CHECK(g.identities()[0].threshold == Approx(0.2f));
  g.set_identity_threshold("alice", std::nullopt);
  CHECK_FALSE(g.identities()[0].threshold.has_value());
}

TEST_CASE("a version-1 gallery is read as having no negatives and upgraded on first write",
          "[enrollment][gallery][schema]") {
  const std::string path = siamese::testing::temp_dir("gallery-v1") + "/old.db";
  write_version1_gallery(path, model2d());
  // Written before galleries recorded preprocessing: refused until the operator vouches for it
  // (`siamese-enroll bind`), which upgrades nothing else.
  CHECK_THROWS_WITH(Gallery::open_reader(path, model2d()),
                    Catch::Contains("records no preprocessing"));
  Gallery::open_unbound(path, true).bind_preprocessing(model2d());
  {
    const Gallery reader = Gallery::open_reader(path, model2d());
    CHECK(reader.schema_version() == 1);
    const auto snap = reader.snapshot();
    CHECK(snap.matrix.names == std::vector<std::string>{"alice", "bob"});
    CHECK(snap.matrix.negative_count() == 0);
    CHECK(reader.negatives().empty());
    const auto ids = reader.identities();
    REQUIRE(ids.size() == 2);
    CHECK_FALSE(ids[0].threshold.has_value());
    CHECK(reader.threshold() == Approx(0.5f));
  }
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='schema_version'") == "1");
  Gallery g = Gallery::open(path, model2d(), false);
  // A failed write rolls the upgrade back with it.
  CHECK_THROWS(g.set_identity_threshold("carol", 0.3f));
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='schema_version'") == "1");
  g.set_identity_threshold("bob", 0.3f);
  CHECK(g.schema_version() == siamese::kGallerySchemaVersion);
  CHECK(query_text(path, "PRAGMA user_version") == std::to_string(siamese::kGallerySchemaVersion));
  const auto ids = g.identities();
  REQUIRE(ids.size() == 2);
  CHECK(ids[0].embedding_count == 1);
  CHECK(ids[1].threshold == Approx(0.3f));
  CHECK(g.threshold() == Approx(0.5f));
  g.add_negatives("alice", {sample_at("n", 1.0f, 1.0f)});
  CHECK(g.snapshot().matrix.negative_count() == 1);
  CHECK(query_text(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("calibration: spread, confusable pair, stranger ceiling, outliers and the rule",
          "[enrollment][calibrate]") {
  GalleryMatrix g;
  g.names = {"alice", "bob"};
  // alice: four photos 0.1 apart and one planted far away; bob: two photos 1.0 from alice.
  g.embeddings = rows({{0.0f, 0.0f},
                       {0.1f, 0.0f},
                       {0.0f, 0.1f},
                       {0.1f, 0.1f},
                       {0.0f, 3.0f},
                       {1.0f, 0.0f},
                       {1.1f, 0.0f}});
  g.owners = torch::tensor(std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1});
  g.sources = {"a1", "a2", "a3", "a4", "planted", "b1", "b2"};
  const auto strangers = rows({{-0.6f, 0.0f}});
  const auto r = siamese::calibrate_gallery(g, strangers, 0.5f);
  REQUIRE(r.people.size() == 2);
  const auto& a = r.people[0];
  CHECK(a.photos == 5);
  REQUIRE(a.outliers.size() == 1);
  CHECK(a.outliers[0].source_file == "planted");
  CHECK(a.genuine_max == Approx(0.1f));
  CHECK(a.confusable == "bob");
  CHECK(a.confusable_distance == Approx(0.9f));
  CHECK(a.stranger_ceiling == Approx(0.6f));
  // cap = 0.6 / 1.1; proposed halfway between 0.1 and it.
  CHECK(a.proposed == Approx(0.5f * (0.1f + 0.6f / 1.1f)));
  CHECK(a.separable);
  CHECK(a.proposed < a.stranger_ceiling);
  const auto& b = r.people[1];
  CHECK(b.confusable == "alice");
  CHECK(b.stranger_ceiling == Approx(1.6f));
  CHECK(b.genuine_max == Approx(0.1f));
  CHECK(b.proposed < b.confusable_distance / 1.1f + 1e-6f);
  // A person whose own photos are further apart than the nearest impostor is flagged.
  GalleryMatrix tight = g;
  tight.embeddings = rows({{0.0f, 0.0f},
                           {0.1f, 0.0f},
                           {0.0f, 0.1f},
                           {0.1f, 0.1f},
                           {0.0f, 3.0f},
                           {0.5f, 0.0f},
                           {1.5f, 0.0f}});
  const auto t = siamese::calibrate_gallery(tight, torch::Tensor(), 0.5f);
  CHECK_FALSE(t.people[1].separable);
  CHECK(t.people[1].proposed == Approx(0.4f / 1.1f));
  CHECK_THAT(t.people[1].note, Catch::Contains("FLAGGED"));
  // A gallery of one person and no strangers keeps the fallback, flagged.
  GalleryMatrix one;
  one.names = {"solo"};
  one.embeddings = rows({{0.0f, 0.0f}, {0.1f, 0.0f}});
  one.owners = torch::tensor(std::vector<int64_t>{0, 0});
  const auto o = siamese::calibrate_gallery(one, torch::Tensor(), 0.42f);
  CHECK(o.people[0].proposed == Approx(0.42f));
  CHECK_FALSE(o.people[0].separable);
  // The plot is a PNG of the promised size; an unwritable path names itself.
  const std::string png = siamese::testing::temp_dir("calibrate-plot") + "/plot.png";
  siamese::write_calibration_plot(r, png);
  const cv::Mat img = cv::imread(png);
  CHECK(img.cols == 960);
  CHECK(img.rows == 540);
  CHECK_THROWS_WITH(siamese::write_calibration_plot(r, "/nonexistent-dir/plot.png"),
                    Catch::Contains("/nonexistent-dir/plot.png"));
}

namespace {

// siamese-enroll with args (each quoted for the shell); stderr joins stdout.
int enroll(const std::vector<std::string>& args, std::string* output) {
  std::string command = SIAMESE_ENROLL_BIN;
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>&1";
  output->clear();
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output->append(buf, n);
  const int raw = ::pclose(pipe);
  const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  UNSCOPED_INFO("siamese-enroll exit " << status << ":\n" << *output);
  return status;
}

// An untrained model of the default architecture: the plumbing, not accuracy, is under test.
std::string make_model(const std::string& path, uint64_t seed) {
  torch::manual_seed(seed);
  const siamese::ArchOptions arch;
  siamese::Network net = siamese::Network::create(arch);
  siamese::ModelInfo info;
  info.arch = arch;
  info.input = siamese::default_input_spec(arch);
  info.embedding_size = arch.embedding_size;
  info.normalized = true;
  info.threshold = 0.5f;
  info.origin = "test_gallery_tuning (untrained)";
  siamese::save_model(path, net, info);
  return path;
}

json last_json_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '{') last = line;
  }
  INFO("output: " << text);
  REQUIRE(!last.empty());
  return json::parse(last);
}

std::string pgm(const std::string& att, const std::string& person, int i) {
  return att + "/" + person + "/" + std::to_string(i) + ".pgm";
}

}  // namespace

TEST_CASE("siamese-enroll add --not and threshold: a relative stops verifying, NAME still does",
          "[enrollment][cli][negatives]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = siamese::testing::temp_dir("enroll-negatives");
  const std::string model = make_model(dir + "/model.pt", 3);
  const std::string db = dir + "/gallery.db";
  const std::vector<std::string> base = {"--model",     model,      "--gallery", db,
                                         "--no-detect", "--device", "cpu"};
  const auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), base.begin(), base.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  std::string out;
  // s1 enrolled with a threshold loose enough that s2 (the "relative") verifies as s1.
  std::vector<std::string> s1_photos, s2_photos;
  for (int i = 1; i <= 5; ++i) s1_photos.push_back(pgm(att, "s1", i));
  for (int i = 1; i <= 5; ++i) s2_photos.push_back(pgm(att, "s2", i));
  auto add_s1 = with({"add", "--name", "s1", "--threshold", "1000"}, s1_photos);
  REQUIRE(enroll(add_s1, &out) == 0);
  const std::string relative = pgm(att, "s2", 3);
  REQUIRE(enroll(with({"identify", "--json"}, {relative}), &out) == 0);
  CHECK(last_json_line(out)["identity"] == "s1");

  auto add_not = with({"add", "--not", "s1"}, s2_photos);
  REQUIRE(enroll(add_not, &out) == 0);
  CHECK_THAT(out, Catch::Contains("added 5 negative anchors"));
  REQUIRE(enroll(with({"identify", "--json"}, {relative}), &out) == 0);
  json r = last_json_line(out);
  CHECK(r["verified"] == false);
  CHECK(r["reason"] == "negative-anchor");
  CHECK(r["nearest"] == "s1");
  REQUIRE(enroll(with({"identify"}, {relative}), &out) == 0);
  CHECK_THAT(out, Catch::Contains("negative-anchor"));
  REQUIRE(enroll(with({"identify", "--json"}, {pgm(att, "s1", 3)}), &out) == 0);
  CHECK(last_json_line(out)["identity"] == "s1");
  CHECK(enroll(with({"verify", "--claim", "s1"}, {relative}), &out) == 3);
  CHECK_THAT(out, Catch::Contains("negative-anchor"));
  CHECK(enroll(with({"verify", "--claim", "s1"}, {pgm(att, "s1", 3)}), &out) == 0);

  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  json l = last_json_line(out);
  CHECK(l["schema_version"] == siamese::kGallerySchemaVersion);
  CHECK(l["identities"][0]["negatives"] == 5);
  CHECK(l["identities"][0]["threshold"].is_null());
  CHECK(l["anyone_negatives"] == 0);

  // s1's own threshold: a new photo of s1 no longer verifies; an explicit --threshold wins.
  REQUIRE(enroll({"threshold", "--gallery", db, "s1", "0.0001"}, &out) == 0);
  REQUIRE(enroll({"list", "--gallery", db}, &out) == 0);
  CHECK_THAT(out, Catch::Contains("0.0001"));
  REQUIRE(enroll({"list", "--gallery", db, "--json", "--model", model}, &out) == 0);
  l = last_json_line(out);
  CHECK(l["identities"][0]["threshold"].get<float>() == Approx(0.0001f));
  CHECK(l["identities"][0]["threshold_in_force"].get<float>() == Approx(0.0001f));
  const std::string new_photo = pgm(att, "s1", 7);
  REQUIRE(enroll(with({"identify", "--json"}, {new_photo}), &out) == 0);
  CHECK(last_json_line(out)["verified"] == false);
  REQUIRE(enroll(with({"identify", "--json", "--threshold", "1000"}, {new_photo}), &out) == 0);
  CHECK(last_json_line(out)["verified"] == true);

  // Bad input: a clear error naming the flag or file, and the gallery as it was.
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  const json before = last_json_line(out);
  CHECK(enroll({"threshold", "--gallery", db, "s1", "-1"}, &out) == 2);  // a value, not a flag
  CHECK_THAT(out, Catch::Contains("threshold VALUE") && Catch::Contains("'-1'"));
  CHECK(enroll({"threshold", "--gallery", db, "--", "s1", "-1"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("threshold VALUE"));
  CHECK(enroll({"threshold", "--gallery", db, "s1", "near"}, &out) == 2);
  CHECK_THAT(out, Catch::Contains("threshold VALUE"));
  CHECK(enroll({"threshold", "--gallery", db, "carol", "0.3"}, &out) == 1);
  CHECK_THAT(out, Catch::Contains("'carol'"));
  CHECK(enroll(with({"add", "--not", "carol"}, s2_photos), &out) == 1);
  CHECK_THAT(out, Catch::Contains("--not carol"));
  const std::string missing = dir + "/no-such-folder";
  CHECK(enroll(with({"add", "--not", "s1"}, {missing}), &out) == 1);
  CHECK_THAT(out, Catch::Contains(missing));
  CHECK(enroll(with({"add", "--not", "s1", "--name", "x"}, s2_photos), &out) == 2);
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  CHECK(last_json_line(out)["identities"] == before["identities"]);

  // The reserved set, then remove: the identity's negatives go with it.
  REQUIRE(enroll(with({"add", "--not", "*"}, {pgm(att, "s3", 1)}), &out) == 0);
  CHECK_THAT(out, Catch::Contains("never verify as anyone"));
  REQUIRE(enroll({"remove", "--gallery", db, "s1"}, &out) == 0);
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  l = last_json_line(out);
  CHECK(l["identities"].empty());
  CHECK(l["anyone_negatives"] == 1);
}

TEST_CASE("calibrate on AT&T people keeps the strangers out, finds a planted outlier, --apply",
          "[enrollment][cli][calibrate]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = siamese::testing::temp_dir("enroll-calibrate");
  const std::string model = make_model(dir + "/model.pt", 5);
  const std::string db = dir + "/gallery.db";
  // s1-s4 photos 1-5 as links (no face image is copied), and a picture that is not s1 at all.
  for (const char* person : {"s1", "s2", "s3", "s4"}) {
    fs::create_directories(dir + "/people/" + person);
    for (int i = 1; i <= 5; ++i) {
      fs::create_symlink(pgm(att, person, i),
                         dir + "/people/" + person + "/" + std::to_string(i) + ".pgm");
    }
  }
  const std::string planted = dir + "/people/s1/9-planted.pgm";
  REQUIRE(cv::imwrite(planted, siamese::testing::synthetic_gray(92, 112, 11)));
  std::string out;
  const std::vector<std::string> face = {"--model",     model,      "--gallery", db,
                                         "--no-detect", "--device", "cpu"};
  auto cmd = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), face.begin(), face.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  REQUIRE(enroll(cmd({"add"}, {dir + "/people"}), &out) == 0);
  const std::vector<std::string> strangers = {att + "/s35", att + "/s36"};

  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  const json untouched = last_json_line(out);
  const std::string plot = dir + "/calibration.png";
  auto report_cmd = cmd({"calibrate", "--json", "--plot", plot, "--strangers"}, strangers);
  REQUIRE(enroll(report_cmd, &out) == 0);
  const json report = last_json_line(out);
  CHECK(report["strangers"] == 20);
  CHECK(report["applied"] == false);
  REQUIRE(report["people"].size() == 4);
  for (const auto& p : report["people"]) {
    INFO(p.dump());
    CHECK(p["proposed"].get<double>() < p["stranger_ceiling"].get<double>());
    CHECK(p["proposed"].get<double>() < p["confusable_distance"].get<double>());
  }
  const json& s1 = report["people"][0];
  REQUIRE(s1["name"] == "s1");
  REQUIRE(s1["outliers"].size() >= 1);
  bool found = false;
  for (const auto& o : s1["outliers"])
    found = found || o["source_file"] == fs::absolute(planted).string();
  CHECK(found);
  CHECK(cv::imread(plot).cols == 960);
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  CHECK(last_json_line(out)["identities"] == untouched["identities"]);  // no --apply: unchanged

  // --apply stores exactly the proposals; the given strangers then verify as nobody.
  auto apply_cmd = cmd({"calibrate", "--json", "--apply", "--strangers"}, strangers);
  REQUIRE(enroll(apply_cmd, &out) == 0);
  const json applied = last_json_line(out);
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  const json l = last_json_line(out);
  REQUIRE(l["identities"].size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(l["identities"][i]["threshold"] == applied["people"][i]["proposed"]);
    CHECK(applied["people"][i]["proposed"] == report["people"][i]["proposed"]);
  }
  std::vector<std::string> stranger_photos;
  for (int i = 1; i <= 10; ++i) stranger_photos.push_back(pgm(att, "s35", i));
  REQUIRE(enroll(cmd({"identify", "--json"}, stranger_photos), &out) == 0);
  std::istringstream lines(out);
  int answers = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    ++answers;
    CHECK(json::parse(line)["verified"] == false);
  }
  CHECK(answers == 10);

  // Bad input: a missing stranger folder names itself and changes nothing.
  const std::string missing = dir + "/no-strangers-here";
  CHECK(enroll(cmd({"calibrate", "--apply", "--strangers"}, {missing}), &out) == 1);
  CHECK_THAT(out, Catch::Contains(missing));
  CHECK(enroll(cmd({"calibrate"}, {att + "/s35"}), &out) == 2);  // folders without --strangers
  CHECK_THAT(out, Catch::Contains("--strangers"));
  REQUIRE(enroll({"list", "--gallery", db, "--json"}, &out) == 0);
  CHECK(last_json_line(out)["identities"] == l["identities"]);
}
