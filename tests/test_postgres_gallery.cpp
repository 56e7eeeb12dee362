// The PostgreSQL gallery against a throwaway server (postgres_server.h): the same operations
// and refusals as the SQLite gallery, one transaction per change with a NOTIFY, writers in two
// processes, the password kept out of every message, and migration SQLite <-> PostgreSQL.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "../pipeline/src/gallery_hooks.h"
#include "gallery_test_data.h"
#include "postgres_server.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/postgres_gallery.h"
#include "test_support.h"

using siamese::Gallery;
using siamese::IdentitySamples;
using siamese::testing::model_with;
using siamese::testing::sample;

namespace {

const siamese::ModelInfo kModel = model_with("0123456789abcdef");

// Everything a gallery holds, as comparable text and values (times included).
std::vector<std::string> content_lines(const siamese::GalleryContent& c) {
  std::vector<std::string> out;
  out.push_back(c.model.fingerprint + " " + std::to_string(c.model.embedding_size) + " " +
                c.model.metric + " " + c.created + " " +
                (c.threshold ? std::to_string(*c.threshold) : "-"));
  for (const auto& r : c.identities) {
    out.push_back("identity " + r.name + " " + r.created + " " + r.updated + " " +
                  std::to_string(r.embedding_count) + " " + std::to_string(r.negative_count) + " " +
                  (r.threshold ? std::to_string(*r.threshold) : "-"));
  }
  for (size_t i = 0; i < c.samples.size(); ++i) {
    const auto& s = c.samples[i];
    std::string line = "sample " + s.identity + " " + s.source_file + " " + s.enrolled + " " +
                       std::to_string(s.box.x) + "," + std::to_string(s.box.y) + "," +
                       std::to_string(s.box.width) + "," + std::to_string(s.box.height) + " " +
                       std::to_string(static_cast<int>(s.framing));
    for (float v : c.sample_embeddings.at(i)) line += " " + std::to_string(v);
    out.push_back(line);
  }
  for (size_t i = 0; i < c.negatives.size(); ++i) {
    std::string line = "negative " + c.negatives[i].identity + " " + c.negatives[i].source_file +
                       " " + c.negatives[i].enrolled;
    for (float v : c.negative_embeddings.at(i)) line += " " + std::to_string(v);
    out.push_back(line);
  }
  return out;
}

// A gallery with a bit of everything: two people, a box, thresholds, negative anchors.
void fill(Gallery& g) {
  auto boxed = sample("s1/1.pgm", 0.0f);
  boxed.box = siamese::Box{3, 4, 50, 60};
  boxed.framing = siamese::Framing::kDetectorBox;
  g.enroll_batch({IdentitySamples{"s1", {boxed, sample("s1/2.pgm", 0.5f)}},
                  IdentitySamples{"s2", {sample("tab\there.pgm", 2.0f)}}},
                 false);
  g.set_threshold(0.75f);
  g.set_identity_threshold("s2", 0.5f);
  g.add_negatives("s1", {sample("poster.pgm", 3.0f)});
  g.add_negatives(siamese::kAnyoneName, {sample("mask.pgm", 4.0f)});
}

}  // namespace

TEST_CASE("a PostgreSQL URI loses its password wherever the gallery is named", "[enrollment]") {
  using siamese::gallery_display_name;
  CHECK(gallery_display_name("postgresql://door:s3cret@db.example:5432/gallery") ==
        "postgresql://door@db.example:5432/gallery");
  CHECK(gallery_display_name("postgres://door:s3cret@db/g?sslmode=require&password=x2&a=b") ==
        "postgres://door@db/g?sslmode=require&a=b");
  CHECK(gallery_display_name("postgresql:///g?password=x2") == "postgresql:///g");
  CHECK(gallery_display_name("gallery.db") == "gallery.db");
  CHECK(siamese::is_postgres_location("postgres://h/db"));
  CHECK_FALSE(siamese::is_postgres_location("postgresql.db"));
  // A server nobody listens on: the error names the URI, without the password.
  try {
    Gallery::open("postgresql://door:s3cret@127.0.0.1:1/gallery?connect_timeout=2", kModel, true);
    FAIL("opened a gallery on a closed port");
  } catch (const siamese::FileError& e) {
    const std::string what = e.what();
    CHECK(what.find("postgresql://door@127.0.0.1:1/gallery") != std::string::npos);
    CHECK(what.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("a PostgreSQL gallery enrolls, removes, renames and keeps thresholds and negatives",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("ops");
  CHECK_THROWS_WITH(Gallery::open(uri, kModel, false), Catch::Contains("no siamese gallery"));
  Gallery g = Gallery::open(uri, kModel, true);
  CHECK(g.is_postgres());
  CHECK(g.schema_version() == siamese::kGallerySchemaVersion);
  fill(g);

  const Gallery reader = Gallery::open_reader(uri, kModel);
  const auto ids = reader.identities();
  REQUIRE(ids.size() == 2);
  CHECK(ids[0].name == "s1");
  CHECK(ids[0].embedding_count == 2);
  CHECK(ids[0].negative_count == 1);
  CHECK(ids[1].threshold == 0.5f);
  CHECK(reader.threshold() == 0.75f);
  const auto samples = reader.samples();
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].box.width == 50);
  CHECK(samples[0].framing == siamese::Framing::kDetectorBox);
  CHECK(samples[2].source_file == "tab\there.pgm");
  const auto negatives = reader.negatives();
  REQUIRE(negatives.size() == 2);
  CHECK(negatives[0].identity == siamese::kAnyoneName);

  const siamese::GallerySnapshot snap = reader.snapshot();
  CHECK(snap.model_fingerprint == kModel.fingerprint);
  CHECK(snap.matrix.names == std::vector<std::string>{"s1", "s2"});
  REQUIRE(snap.matrix.embeddings.size(0) == 3);
  CHECK(snap.matrix.embeddings[2][1].item<float>() == 2.25f);
  CHECK(snap.matrix.negatives.size(0) == 2);
  CHECK(snap.matrix.thresholds.at(1) == 0.5f);

  g.rename("s2", "s3");
  CHECK_THROWS_AS(g.rename("s1", "s3"), siamese::InputError);
  CHECK_THROWS_WITH(g.remove("nobody"), Catch::Contains(uri) && Catch::Contains("nobody"));
  g.enroll("s1", {sample("s1/3.pgm", 9.0f)}, /*replace=*/true);
  CHECK(reader.identities()[0].embedding_count == 1);
  g.remove("s1");
  CHECK(reader.identities().size() == 1);
  CHECK(reader.negatives().size() == 1);  // s1's went with it; anyone's stay
  g.set_identity_threshold("s3", std::nullopt);
  g.set_threshold(std::nullopt);
  CHECK_FALSE(reader.threshold().has_value());
  CHECK_FALSE(reader.identities()[0].threshold.has_value());
  CHECK_THROWS_AS(g.set_identity_thresholds({{"s3", 0.4f}, {"ghost", 0.4f}}), siamese::InputError);
  CHECK_FALSE(reader.identities()[0].threshold.has_value());  // one transaction: nothing
}

TEST_CASE("a PostgreSQL gallery from another model is refused naming both",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("mismatch");
  Gallery::open(uri, kModel, true).enroll("a", {sample("a", 0)}, false);
  CHECK_THROWS_WITH(Gallery::open_reader(uri, model_with("ffffffffffffffff")),
                    Catch::Contains("0123456789abcdef") && Catch::Contains("ffffffffffffffff"));
  CHECK_THROWS_AS(Gallery::open(uri, model_with("0123456789abcdef", 8), true),
                  siamese::MismatchError);
  CHECK(Gallery::open_unbound(uri, false).identities().size() == 1);

  // The same weights with other preprocessing: refused, naming the fact.
  siamese::ModelInfo flipped = kModel;
  flipped.flip_average = !kModel.flip_average;
  CHECK_THROWS_WITH(Gallery::open_reader(uri, flipped), Catch::Contains("flip_average"));
  // As an older build wrote it (no preprocessing recorded): refused until bound.
  PGconn* conn = PQconnectdb(uri.c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PQclear(PQexec(conn, "DELETE FROM siamese_facts WHERE key = 'preprocessing'"));
  PQfinish(conn);
  CHECK_THROWS_WITH(Gallery::open_reader(uri, kModel), Catch::Contains("records no preprocessing"));
  Gallery::open_unbound(uri, true).bind_preprocessing(kModel);
  CHECK(Gallery::open_reader(uri, kModel).snapshot().preprocessing ==
        siamese::preprocessing_facts(kModel));
  CHECK_THROWS_AS(Gallery::open_reader(uri, flipped), siamese::MismatchError);
}

TEST_CASE("a PostgreSQL change that fails half-way leaves the gallery as it was",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("rollback");
  Gallery g = Gallery::open(uri, kModel, true);
  g.enroll("a", {sample("a1", 0)}, false);
  const int64_t version = g.change_counter();
  const auto old_hook = siamese::internal::set_gallery_row_hook([](int64_t rows) {
    if (rows == 2) throw std::runtime_error("interrupted at row 2");
  });
  CHECK_THROWS_WITH(g.enroll_batch({IdentitySamples{"a", {sample("a2", 1)}},
                                    IdentitySamples{"b", {sample("b", 2)}}},
                                   /*replace=*/true),
                    "interrupted at row 2");
  siamese::internal::set_gallery_row_hook(old_hook);
  CHECK(g.identities().size() == 1);
  CHECK(g.samples().at(0).source_file == "a1");
  CHECK(g.change_counter() == version);
  // The connection is usable after the rollback.
  g.enroll("b", {sample("b", 2)}, false);
  CHECK(g.change_counter() == version + 1);
}

TEST_CASE("every PostgreSQL change is announced with NOTIFY and bumps the version",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("notify");
  Gallery g = Gallery::open(uri, kModel, true);
  siamese::PostgresChangeListener listener(uri);
  const int64_t v0 = g.change_counter();
  g.enroll("a", {sample("a", 0)}, false);
  g.remove("a");
  int notices = 0;
  for (int i = 0; i < 100 && notices < 2; ++i)
    notices += listener.wait(std::chrono::milliseconds(100));
  CHECK(notices == 2);
  CHECK(g.change_counter() == v0 + 2);
  CHECK(listener.wait(std::chrono::milliseconds(50)) == 0);  // a failed change announces nothing
  CHECK_THROWS(g.remove("a"));
  CHECK(listener.wait(std::chrono::milliseconds(200)) == 0);
}

TEST_CASE("two processes enrolling into one PostgreSQL gallery at once both land",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("writers");
  constexpr int kEach = 20;
  std::vector<pid_t> children;
  for (int writer = 0; writer < 2; ++writer) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        // Both create the gallery: the tables are made once, under an advisory lock.
        Gallery g = Gallery::open(uri, kModel, true);
        for (int i = 0; i < kEach; ++i) {
          const std::string name = "w" + std::to_string(writer) + "-" + std::to_string(i);
          g.enroll(name, {sample(name, static_cast<float>(i))}, false);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", writer, e.what());
        status = 1;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const Gallery g = Gallery::open_reader(uri, kModel);
  CHECK(g.identities().size() == 2 * kEach);
  CHECK(g.change_counter() == 2 * kEach);
}

TEST_CASE("a gallery migrates SQLite to PostgreSQL and back unchanged", "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string dir = siamese::testing::temp_dir("pg-migrate");
  const std::string uri = server->create_database("migrate");
  {
    Gallery g = Gallery::open(dir + "/a.db", kModel, true);
    fill(g);
  }
  const auto original = content_lines(Gallery::open_unbound(dir + "/a.db", false).content());
  siamese::migrate_gallery(dir + "/a.db", uri, false);
  CHECK(content_lines(Gallery::open_unbound(uri, false).content()) == original);
  siamese::migrate_gallery(uri, dir + "/b.db", false);
  CHECK(content_lines(Gallery::open_unbound(dir + "/b.db", false).content()) == original);
  // The copy matches as the original does.
  CHECK(Gallery::open_reader(dir + "/b.db", kModel)
            .snapshot()
            .matrix.embeddings.equal(
                Gallery::open_reader(dir + "/a.db", kModel).snapshot().matrix.embeddings));

  // A target that holds identities is refused unless replaced, and left as it was.
  {
    Gallery other = Gallery::open(dir + "/c.db", model_with("1111111111111111"), true);
    other.enroll("someone", {sample("x", 7)}, false);
  }
  CHECK_THROWS_WITH(siamese::migrate_gallery(dir + "/c.db", uri, false),
                    Catch::Contains("not empty") && Catch::Contains(uri));
  CHECK(content_lines(Gallery::open_unbound(uri, false).content()) == original);
  siamese::migrate_gallery(dir + "/c.db", uri, /*replace=*/true);
  const Gallery replaced = Gallery::open_unbound(uri, false);
  CHECK(replaced.model_fingerprint() == "1111111111111111");
  REQUIRE(replaced.identities().size() == 1);
  CHECK(replaced.negatives().empty());
}

TEST_CASE("siamese-enroll takes a PostgreSQL URI: migrate, list, rename, remove",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string enroll = SIAMESE_ENROLL_BIN;
  const std::string dir = siamese::testing::temp_dir("pg-cli");
  const std::string uri = server->create_database("cli");
  {
    Gallery g = Gallery::open(dir + "/a.db", kModel, true);
    fill(g);
  }
  std::string out;
  REQUIRE(siamese::testing::run_shell(
              enroll + " migrate --from " + dir + "/a.db --to '" + uri + "'", &out) == 0);
  CHECK_THAT(out, Catch::Contains("migrated 2 identities, 3 embeddings, 2 negative anchors"));
  CHECK(siamese::testing::run_shell(enroll + " migrate --from " + dir + "/a.db --to '" + uri + "'",
                                    &out) == 1);
  CHECK_THAT(out, Catch::Contains("not empty"));
  REQUIRE(siamese::testing::run_shell(enroll + " rename --gallery '" + uri + "' s2 s9", &out) == 0);
  REQUIRE(siamese::testing::run_shell(enroll + " remove --gallery '" + uri + "' s1", &out) == 0);
  REQUIRE(siamese::testing::run_shell(enroll + " list --gallery '" + uri + "'", &out) == 0);
  CHECK_THAT(out, Catch::Contains("s9") && !Catch::Contains("s1"));
}

TEST_CASE("the people of a PostgreSQL gallery are read without LibTorch for access control",
          "[enrollment][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("people");
  Gallery g = Gallery::open(uri, kModel, true);
  fill(g);
  const siamese::PostgresGalleryPeople people = siamese::read_postgres_gallery_people(uri);
  CHECK(people.names == std::vector<std::string>{"s1", "s2"});
  CHECK(people.embeddings == 3);
  CHECK(people.last_updated == g.identities().at(1).updated);
  try {
    siamese::read_postgres_gallery_people(
        "postgresql://door:s3cret@127.0.0.1:1/people?connect_timeout=2");
    FAIL("read a gallery on a closed port");
  } catch (const siamese::FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("door@127.0.0.1:1/people") && !Catch::Contains("s3cret"));
  }
}
