// What a reader that must not serve a stale or forged gallery relies on: one-transaction
// snapshots, validated stored thresholds, file identities that change on replacement,
// read-only readers in folders they cannot write, writers that leave no changes in the -wal,
// and foreign databases refused before anything in them is changed.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "gallery_test_data.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::EnrollmentSample;
using siamese::Gallery;

namespace {

constexpr int kSize = siamese::testing::kGalleryTestSize;
using siamese::testing::model_with;
using siamese::testing::sample;

// Runs SQL on the file through a plain SQLite connection (another program's view).
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
  INFO(message);
}

std::string journal_mode(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  const std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return mode;
}

const siamese::ModelInfo kModel = model_with("5a5a5a5a5a5a5a5a");

std::string gallery_of(const std::string& tag, const std::vector<std::string>& names) {
  const std::string path = siamese::testing::temp_dir(tag) + "/gallery.db";
  Gallery g = Gallery::open(path, kModel, true);
  float base = 0.0f;
  for (const auto& n : names) g.enroll(n, {sample(n, base += 1.0f)}, false);
  return path;
}

// A folder an unprivileged user can reach (the build tree may sit under a private home).
std::string reachable_temp_dir() {
  char name[] = "/tmp/siamese-readonly-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  ::chmod(name, 0755);
  return name;
}

}  // namespace

TEST_CASE("a snapshot reads binding, threshold and rows together", "[enrollment][gallery]") {
  const std::string path = gallery_of("safety-snapshot", {"ann", "bob"});
  Gallery::open(path, kModel, false).set_threshold(0.25f);
  const siamese::GallerySnapshot s = Gallery::open_reader(path, kModel).snapshot();
  CHECK(s.model_fingerprint == kModel.fingerprint);
  CHECK(s.embedding_size == kSize);
  CHECK(s.metric == "euclidean");
  REQUIRE(s.threshold);
  CHECK(*s.threshold == 0.25f);
  CHECK(s.matrix.names == std::vector<std::string>{"ann", "bob"});
  CHECK(s.matrix.size() == 2);
}

TEST_CASE("a stored threshold that is not a finite distance >= 0 is refused on read",
          "[enrollment][gallery]") {
  for (const std::string bad : {"inf", "-inf", "nan", "-3", "0.5x", "abc", "1 "}) {
    CAPTURE(bad);
    const std::string path = gallery_of("safety-threshold", {"ann"});
    raw_sql(path, "INSERT OR REPLACE INTO facts(key, value) VALUES ('threshold', '" + bad + "')");
    const Gallery g = Gallery::open_reader(path, kModel);
    CHECK_THROWS_AS(g.threshold(), siamese::FileError);
    CHECK_THROWS_WITH(g.snapshot(), Catch::Contains(path) && Catch::Contains(bad) &&
                                        Catch::Contains("finite distance >= 0"));
  }
}

TEST_CASE("a replaced gallery file has another file identity", "[enrollment][gallery]") {
  const std::string path = gallery_of("safety-identity", {"ann"});
  const std::string other = gallery_of("safety-identity-new", {"bob"});
  const Gallery reader = Gallery::open_reader(path, kModel);
  REQUIRE(siamese::file_identity_of(path) == reader.file_identity());
  fs::rename(other, path);  // mv new.db gallery.db
  const auto now = siamese::file_identity_of(path);
  REQUIRE(now);
  CHECK(*now != reader.file_identity());
  CHECK(Gallery::open_reader(path, kModel).snapshot().matrix.names ==
        std::vector<std::string>{"bob"});
  fs::remove(path);
  CHECK_FALSE(siamese::file_identity_of(path));
}

TEST_CASE("writers leave every change in the gallery file, none in its -wal",
          "[enrollment][gallery]") {
  const std::string path = gallery_of("safety-checkpoint", {"ann", "bob"});
  // A reader holds the file open, so the writer's close does not clean up for it.
  const Gallery reader = Gallery::open_reader(path, kModel);
  (void)reader.snapshot();
  Gallery writer = Gallery::open(path, kModel, false);
  writer.remove("ann");
  std::error_code ec;
  const auto wal_size = fs::file_size(path + "-wal", ec);
  CHECK((ec || wal_size == 0));
  // A copy of the file alone (what deployment tools and backups take) holds the removal.
  const std::string copy = siamese::testing::temp_dir("safety-checkpoint-copy") + "/copy.db";
  fs::copy_file(path, copy);
  CHECK(Gallery::open_reader(copy, kModel).snapshot().matrix.names ==
        std::vector<std::string>{"bob"});
}

TEST_CASE("a foreign SQLite database is refused before anything in it changes",
          "[enrollment][gallery]") {
  const std::string path = siamese::testing::temp_dir("safety-foreign") + "/other.db";
  raw_sql(path, "CREATE TABLE songs (title TEXT)");
  REQUIRE(journal_mode(path) == "delete");
  CHECK_THROWS_WITH(Gallery::open(path, kModel, true),
                    Catch::Contains(path) && Catch::Contains("not a siamese gallery"));
  CHECK(journal_mode(path) == "delete");  // not switched to WAL
  CHECK_FALSE(fs::exists(path + "-wal"));
}

TEST_CASE("a reader that cannot write the gallery's folder still reads it",
          "[enrollment][gallery]") {
  const std::string dir = reachable_temp_dir();
  const std::string path = dir + "/gallery.db";
  {
    Gallery g = Gallery::open(path, kModel, true);
    g.enroll("ann", {sample("ann", 1.0f)}, false);
  }
  ::chmod(path.c_str(), 0644);
  ::chmod(dir.c_str(), 0555);
  // Root may write anywhere: read as an unprivileged user in a child process instead.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    if (::access(dir.c_str(), W_OK) == 0) ::_exit(4);  // the folder must be unwritable here
    try {
      const auto s = Gallery::open_reader(path, kModel).snapshot();
      const auto listed = Gallery::open_unbound(path, false).identities();
      ::_exit(s.matrix.names == std::vector<std::string>{"ann"} && listed.size() == 1 ? 0 : 2);
    } catch (...) {
      ::_exit(1);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::chmod(dir.c_str(), 0755);
  fs::remove_all(dir);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE(
    "a gallery whose -wal holds changes is refused, not read stale, where the reader "
    "cannot write its folder",
    "[enrollment][gallery]") {
  const std::string dir = reachable_temp_dir();
  const std::string path = dir + "/gallery.db";
  Gallery::open(path, kModel, true).enroll("ann", {sample("ann", 1.0f)}, false);
  // Another program's connection commits and keeps the change in the -wal while open.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_wal_autocheckpoint(db, 0);
  REQUIRE(sqlite3_exec(db, "DELETE FROM embeddings; DELETE FROM identities;", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  ::chmod(path.c_str(), 0644);
  ::chmod((path + "-wal").c_str(), 0644);
  ::chmod((path + "-shm").c_str(), 0644);
  ::chmod(dir.c_str(), 0555);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    try {
      // Either it reads the current state (no identities) or refuses; never the stale "ann".
      const auto s = Gallery::open_reader(path, kModel).snapshot();
      ::_exit(s.matrix.names.empty() ? 0 : 2);
    } catch (const siamese::FileError&) {
      ::_exit(0);
    } catch (...) {
      ::_exit(1);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::chmod(dir.c_str(), 0755);
  sqlite3_close(db);
  fs::remove_all(dir);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
