// The shared SQLite layer (siamese/sqlite_db.h) that the gallery and the access-control audit
// log both use: private files, refused links, errors that name the file and its kind, rollback.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "siamese/errors.h"
#include "siamese/sqlite_db.h"
#include "test_support.h"

namespace sql = siamese::sql;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("a database file is created readable by its owner only, whatever the umask",
          "[core][sqlite]") {
  const std::string dir = siamese::testing::temp_dir("sqlite-private");
  const sql::FileRef file{dir + "/new.db", "siamese gallery", 1000};
  const mode_t old_mask = ::umask(0);
  sql::create_private_file(file, sql::Links::kFollow);
  ::umask(old_mask);
  CHECK(mode_of(file.path) == 0600);
  // An existing database keeps the mode its owner gave it.
  { std::ofstream(file.path) << "x"; }
  ::chmod(file.path.c_str(), 0640);
  sql::create_private_file(file, sql::Links::kFollow);
  CHECK(mode_of(file.path) == 0640);
}

TEST_CASE("a symbolic link is followed or refused as the caller asks", "[core][sqlite]") {
  const std::string dir = siamese::testing::temp_dir("sqlite-links");
  const std::string target = dir + "/real.db";
  { std::ofstream(target) << ""; }
  REQUIRE(::symlink(target.c_str(), (dir + "/link.db").c_str()) == 0);
  const sql::FileRef link{dir + "/link.db", "siamese audit log", 1000};
  CHECK_NOTHROW(sql::create_private_file(link, sql::Links::kFollow));
  CHECK_THROWS_WITH(sql::create_private_file(link, sql::Links::kRefuse),
                    Catch::Contains(link.path) && Catch::Contains("symbolic link"));
  // A link where SQLite's journal goes is refused too.
  const sql::FileRef plain{dir + "/plain.db", "siamese audit log", 1000};
  REQUIRE(::symlink(target.c_str(), (plain.path + "-wal").c_str()) == 0);
  CHECK_THROWS_WITH(sql::create_private_file(plain, sql::Links::kRefuse),
                    Catch::Contains(plain.path + "-wal"));
}

TEST_CASE("a file that is not a database is named with the kind the user knows it as",
          "[core][sqlite]") {
  const std::string dir = siamese::testing::temp_dir("sqlite-notadb");
  const sql::FileRef file{dir + "/text.db", "siamese audit log", 1000};
  { std::ofstream(file.path) << std::string(4096, 'x'); }
  sql::Connection db = sql::open_connection(file.path, SQLITE_OPEN_READWRITE, file);
  CHECK_THROWS_WITH(sql::exec(db.get(), file, "SELECT count(*) FROM sqlite_master"),
                    Catch::Contains(file.path) && Catch::Contains("not a siamese audit log"));
}

TEST_CASE("a transaction left without commit is rolled back", "[core][sqlite]") {
  const std::string dir = siamese::testing::temp_dir("sqlite-rollback");
  const sql::FileRef file{dir + "/t.db", "test database", 1000};
  sql::create_private_file(file, sql::Links::kRefuse);
  sql::Connection db = sql::open_connection(file.path, SQLITE_OPEN_READWRITE, file);
  sql::enable_wal(db.get(), file);
  sql::exec(db.get(), file, "CREATE TABLE t (v INTEGER)");
  try {
    sql::Transaction tx(db.get(), file);
    sql::Statement(db.get(), file, "INSERT INTO t VALUES (?1)").bind(1, int64_t{7}).run();
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  sql::Statement count(db.get(), file, "SELECT count(*) FROM t");
  REQUIRE(count.step());
  CHECK(count.integer(0) == 0);
  CHECK_THROWS_WITH(sql::Statement(db.get(), file, "SELECT nope FROM t"),
                    Catch::Contains(file.path) && Catch::Contains("no such column"));
}

TEST_CASE("time stamps are ISO 8601 UTC, with milliseconds when asked", "[core][sqlite]") {
  CHECK(std::regex_match(sql::utc_now_iso8601(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK(std::regex_match(sql::utc_now_iso8601(true),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}
