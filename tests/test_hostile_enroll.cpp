// siamese-enroll against hostile names (issue 11): identity names that are not UTF-8, hold
// control characters or are too long are refused before any work, with the gallery unchanged;
// names that someone else wrote into a gallery never break --json output nor escape the
// --keep-crops folder, and text output shows them escaped.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "siamese/model_file.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
  int status = -1;
  std::string out, err;
};

Run enroll(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base =
      siamese::testing::temp_dir("hostile-enroll-run") + "/" + std::to_string(counter++);
  std::vector<std::string> argv_s = {SIAMESE_ENROLL_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(::open((base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open((base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Run r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = siamese::testing::read_file(base + ".out");
  r.err = siamese::testing::read_file(base + ".err");
  UNSCOPED_INFO("siamese-enroll exit " << r.status << "\nstdout:\n"
                                       << r.out << "\nstderr:\n"
                                       << r.err);
  return r;
}

std::string make_model(const std::string& dir) {
  return siamese::testing::save_untrained_model(dir + "/model.pt");
}

// root/<name>/<k>.png, synthetic faces (no detection: --no-detect).
void write_faces(const std::string& folder, int seed) {
  fs::create_directories(folder);
  for (int k = 1; k <= 2; ++k) {
    REQUIRE(cv::imwrite(folder + "/" + std::to_string(k) + ".png",
                        siamese::testing::synthetic_gray(64, 64, seed * 10 + k)));
  }
}

void sql(const std::string& gallery, const std::string& statement,
         const std::vector<std::string>& texts) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(gallery.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, statement.c_str(), -1, &s, nullptr) == SQLITE_OK);
  for (size_t i = 0; i < texts.size(); ++i) {
    sqlite3_bind_text(s, static_cast<int>(i + 1), texts[i].data(),
                      static_cast<int>(texts[i].size()), SQLITE_TRANSIENT);
  }
  CHECK(sqlite3_step(s) == SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

bool has_raw_control(const std::string& text) {
  for (const char c : text) {
    if (c == '\x1b' || c == '\r') return true;
  }
  return false;
}

const std::string kForged = "bob\n[    1.00 s] GRANT mallory\x1b[2K";

}  // namespace

TEST_CASE("enroll refuses bad identity names before any work, gallery unchanged",
          "[enrollment][cli][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-names");
  const std::string model = make_model(dir);
  write_faces(dir + "/faces/alice", 1);
  const std::string gallery = dir + "/g.db";
  REQUIRE(enroll({"add", "--model", model, "--gallery", gallery, "--no-detect", "--device", "cpu",
                  dir + "/faces"})
              .status == 0);
  const std::string before = enroll({"list", "--gallery", gallery, "--json"}).out;
  const std::string image = dir + "/faces/alice/1.png";

  SECTION("--name with a newline and escapes, invalid UTF-8, too long: usage error") {
    for (const std::string& name :
         std::vector<std::string>{kForged, std::string("\xff\xfe", 2), std::string(257, 'x')}) {
      const Run r = enroll({"add", "--model", model, "--gallery", gallery, "--no-detect",
                            "--device", "cpu", "--name", name, image});
      CHECK(r.status == 2);
      CHECK_THAT(r.err, Catch::Contains("--name"));
      CHECK_FALSE(has_raw_control(r.err));
    }
    // Not even a new gallery file is created.
    const Run fresh = enroll({"add", "--model", model, "--gallery", dir + "/new.db", "--no-detect",
                              "--device", "cpu", "--name", kForged, image});
    CHECK(fresh.status == 2);
    CHECK_FALSE(fs::exists(dir + "/new.db"));
  }
  SECTION("an identity folder whose name is not UTF-8: error naming it, nothing enrolled") {
    write_faces(dir + "/more/carol", 3);
    write_faces(dir + "/more/caf\xe9", 2);  // Latin-1 "café"
    const Run r = enroll({"add", "--model", model, "--gallery", gallery, "--no-detect", "--device",
                          "cpu", dir + "/more"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("caf\\xE9") && Catch::Contains("UTF-8"));
    const Run fresh = enroll({"add", "--model", model, "--gallery", dir + "/new.db", "--no-detect",
                              "--device", "cpu", dir + "/more"});
    CHECK(fresh.status == 1);
    CHECK_FALSE(fs::exists(dir + "/new.db"));
  }
  SECTION("rename to a bad name: usage error") {
    const Run r = enroll({"rename", "--gallery", gallery, "alice", kForged});
    CHECK(r.status == 2);
    CHECK_FALSE(has_raw_control(r.err));
  }
  CHECK(enroll({"list", "--gallery", gallery, "--json"}).out == before);
}

TEST_CASE(
    "a gallery holding bad names written by someone else still gives valid JSON and "
    "escaped text",
    "[enrollment][cli][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-json");
  const std::string model = make_model(dir);
  write_faces(dir + "/faces/alice", 1);
  const std::string gallery = dir + "/g.db";
  REQUIRE(enroll({"add", "--model", model, "--gallery", gallery, "--no-detect", "--device", "cpu",
                  dir + "/faces"})
              .status == 0);
  const std::string bad = kForged + std::string("\xff\xfe", 2);
  sql(gallery, "UPDATE identities SET name = ?1 WHERE name = 'alice'", {bad});

  const Run list = enroll({"list", "--gallery", gallery, "--json"});
  REQUIRE(list.status == 0);
  const json listed = json::parse(list.out);
  REQUIRE(listed["identities"].size() == 1);
  CHECK_THAT(listed["identities"][0]["name"].get<std::string>(),
             Catch::StartsWith("bob\n[    1.00 s] GRANT mallory\x1b[2K"));

  const Run identify = enroll({"identify", "--model", model, "--gallery", gallery, "--no-detect",
                               "--device", "cpu", "--json", dir + "/faces/alice/1.png"});
  REQUIRE(identify.status == 0);
  const json found = json::parse(identify.out);
  CHECK(found["top"].size() == 1);

  // Text output: the name is one escaped line; no line of it begins with the forged text.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"list", "--gallery", gallery},
           {"identify", "--model", model, "--gallery", gallery, "--no-detect", "--device", "cpu",
            "--top", "1", dir + "/faces/alice/1.png"}}) {
    const Run r = enroll(args);
    REQUIRE(r.status == 0);
    CHECK_FALSE(has_raw_control(r.out));
    CHECK_THAT(r.out, Catch::Contains("bob\\n[    1.00 s] GRANT mallory\\x1B[2K\\xFF\\xFE"));
    CHECK(r.out.find("\n[    1.00 s] GRANT") == std::string::npos);
  }
}

TEST_CASE("keep-crops writes every crop inside its folder, whatever the names in the gallery",
          "[enrollment][cli][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-crops");
  const std::string model = make_model(dir);
  const std::vector<std::string> names = {"../outside", "/abs-crops", "a/b", ".", ".."};
  for (size_t i = 0; i < names.size(); ++i) write_faces(dir + "/faces/p" + std::to_string(i), 1);
  const std::string gallery = dir + "/g.db";
  REQUIRE(enroll({"add", "--model", model, "--gallery", gallery, "--no-detect", "--device", "cpu",
                  dir + "/faces"})
              .status == 0);
  // Names a gallery may legitimately hold (UTF-8, no control characters), but that are no
  // path components; --rebuild takes them from the gallery file.
  for (size_t i = 0; i < names.size(); ++i) {
    sql(gallery, "UPDATE identities SET name = ?1 WHERE name = ?2",
        {names[i], "p" + std::to_string(i)});
  }
  const std::string crops = dir + "/work/crops";
  const Run r = enroll({"add", "--model", model, "--gallery", gallery, "--no-detect", "--device",
                        "cpu", "--rebuild", "--keep-crops", crops});
  REQUIRE(r.status == 0);
  CHECK_FALSE(fs::exists(dir + "/work/outside"));
  CHECK_FALSE(fs::exists("/abs-crops"));
  size_t inside = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/work")) {
    if (e.path().extension() != ".png") continue;
    ++inside;
    // Every crop lies exactly two levels below crops: crops/<one component>/<file>.png.
    CHECK(e.path().parent_path().parent_path() == fs::path(crops));
  }
  CHECK(inside == 2 * names.size());
}
