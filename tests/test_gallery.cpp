// The gallery database: schema and file mode, bookkeeping, refusal of another model's gallery,
// transactions that leave the file as it was when interrupted or killed, concurrent writers.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "../pipeline/src/gallery_hooks.h"
#include "gallery_test_data.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::EnrollmentSample;
using siamese::Gallery;
using siamese::IdentitySamples;

namespace {

constexpr int kSize = siamese::testing::kGalleryTestSize;
using siamese::testing::model_with;
using siamese::testing::sample;

std::string fresh_path(const std::string& tag) {
  return siamese::testing::temp_dir(tag) + "/gallery.db";
}

// Everything a user can observe of a gallery, for before/after comparisons.
struct Snapshot {
  std::vector<std::string> lines;
  std::vector<float> values;
  bool operator==(const Snapshot& o) const { return lines == o.lines && values == o.values; }
};

Snapshot snapshot(const std::string& path) {
  const Gallery g = Gallery::open_unbound(path, false);
  Snapshot s;
  s.lines.push_back(g.model_fingerprint() + " " + std::to_string(g.embedding_size()));
  for (const auto& r : g.identities()) {
    s.lines.push_back(r.name + " " + r.created + " " + r.updated + " " +
                      std::to_string(r.embedding_count));
  }
  for (const auto& r : g.samples()) s.lines.push_back(r.identity + " " + r.source_file);
  const auto m = g.load_matrix();
  const auto flat = m.embeddings.contiguous();
  s.values.assign(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  return s;
}

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  std::string out = sqlite3_step(st) == SQLITE_ROW
                        ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0))
                        : "no answer";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::string query_text(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const auto* t = sqlite3_column_text(st, 0);
    out = t ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Restores the hook whatever the test does.
struct HookGuard {
  explicit HookGuard(siamese::internal::GalleryRowHook h) {
    siamese::internal::set_gallery_row_hook(h);
  }
  ~HookGuard() { siamese::internal::set_gallery_row_hook(nullptr); }
};

void fail_at_third_row(int64_t rows) {
  if (rows == 3) throw std::runtime_error("simulated failure between writes");
}

void die_at_third_row(int64_t rows) {
  if (rows == 3) ::_exit(9);  // as if killed: no rollback, no cleanup
}

}  // namespace

TEST_CASE("a new gallery has the schema, WAL mode, its facts and mode 0600",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-schema");
  const mode_t old_umask = ::umask(0);  // a permissive umask must not widen the file
  {
    Gallery g = Gallery::open(path, model_with("00112233aabbccdd"), true);
    g.enroll("alice", {sample("a1.png", 0.0f)}, false);
  }
  ::umask(old_umask);
  CHECK(file_mode(path) == 0600);
  if (fs::exists(path + "-wal")) CHECK(file_mode(path + "-wal") == 0600);
  CHECK(query_text(path, "PRAGMA journal_mode") == "wal");
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='schema_version'") ==
        std::to_string(siamese::kGallerySchemaVersion));
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='model_fingerprint'") ==
        "00112233aabbccdd");
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='embedding_size'") == "4");
  CHECK(query_text(path, "SELECT value FROM facts WHERE key='metric'") == "euclidean");
  CHECK(!query_text(path, "SELECT value FROM facts WHERE key='created'").empty());
  CHECK(query_text(path,
                   "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                   "name IN ('facts','identities','embeddings')") == "3");
  CHECK(query_text(path, "SELECT length(vector) FROM embeddings") == "16");
  CHECK(integrity_check(path) == "ok");
}

TEST_CASE("enroll, list, remove and rename", "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-crud");
  Gallery g = Gallery::open(path, model_with("feedfeedfeedfeed"), true);
  EnrollmentSample detected = sample("/data/a2.png", 1.0f);
  detected.box = siamese::Box{10, 20, 30, 40};
  detected.framing = siamese::Framing::kDetectorBox;
  g.enroll("alice", {sample("/data/a1.png", 0.0f), detected}, false);
  g.enroll("bob", {sample("/data/b1.png", 5.0f)}, false);

  const auto ids = g.identities();
  REQUIRE(ids.size() == 2);
  CHECK(ids[0].name == "alice");
  CHECK(ids[0].embedding_count == 2);
  CHECK(ids[1].name == "bob");
  CHECK(ids[1].embedding_count == 1);
  CHECK(ids[0].created.size() == 20);  // 2024-01-02T03:04:05Z

  const auto samples = g.samples();
  REQUIRE(samples.size() == 3);
  CHECK(samples[1].source_file == "/data/a2.png");
  CHECK(samples[1].box == siamese::Box{10, 20, 30, 40});
  CHECK(samples[1].framing == siamese::Framing::kDetectorBox);
  CHECK(samples[0].framing == siamese::Framing::kExact);

  const auto m = g.load_matrix();
  REQUIRE(m.size() == 3);
  CHECK(m.names == std::vector<std::string>{"alice", "bob"});
  CHECK(m.owners[2].item<int64_t>() == 1);
  CHECK(m.embeddings[2][3].item<float>() == 5.75f);

  g.rename("bob", "robert");
  CHECK(g.identities()[1].name == "robert");
  CHECK_THROWS_AS(g.rename("nobody", "x"), siamese::InputError);
  CHECK_THROWS_AS(g.rename("alice", "robert"), siamese::InputError);
  g.remove("alice");
  CHECK(g.identities().size() == 1);
  CHECK(g.samples().size() == 1);
  CHECK_THROWS_WITH(g.remove("alice"), Catch::Contains("alice"));
  CHECK_THROWS_AS(g.enroll("", {sample("x", 0.0f)}, false), siamese::InputError);
  EnrollmentSample wrong = sample("short.png", 0.0f);
  wrong.embedding.pop_back();
  CHECK_THROWS_WITH(g.enroll("carol", {wrong}, false), Catch::Contains("short.png"));
}

TEST_CASE("a gallery of another model is refused, naming both fingerprints and the path",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-mismatch");
  Gallery::open(path, model_with("aaaaaaaaaaaaaaaa"), true).enroll("a", {sample("a", 0)}, false);
  try {
    Gallery::open(path, model_with("bbbbbbbbbbbbbbbb"), false);
    FAIL("opened a gallery of another model");
  } catch (const siamese::MismatchError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("aaaaaaaaaaaaaaaa") && Catch::Contains("bbbbbbbbbbbbbbbb") &&
                         Catch::Contains(path));
  }
  CHECK_THROWS_AS(Gallery::open(path, model_with("aaaaaaaaaaaaaaaa", 8), true),
                  siamese::MismatchError);
  // The refusal changed nothing.
  CHECK(Gallery::open(path, model_with("aaaaaaaaaaaaaaaa"), false).identities().size() == 1);

  const std::string missing = fresh_path("gallery-missing");
  CHECK_THROWS_WITH(Gallery::open(missing, model_with("aaaaaaaaaaaaaaaa"), false),
                    Catch::Contains(missing));
  CHECK(!fs::exists(missing));

  const std::string text = fs::path(missing).parent_path() / "notes.db";
  std::ofstream(text) << "this is not a database, it is a shopping list\n";
  CHECK_THROWS_AS(Gallery::open(text, model_with("aaaaaaaaaaaaaaaa"), true), siamese::FileError);
  CHECK_THROWS_WITH(Gallery::open_unbound(text, false), Catch::Contains(text));

  const std::string other = fs::path(missing).parent_path() / "other.db";
  sqlite3* db = nullptr;
  sqlite3_open(other.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  CHECK_THROWS_WITH(Gallery::open(other, model_with("aaaaaaaaaaaaaaaa"), true),
                    Catch::Contains("not a siamese gallery"));
}

TEST_CASE("an enrollment interrupted between writes leaves the gallery unchanged",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-interrupt");
  {
    Gallery g = Gallery::open(path, model_with("1111222233334444"), true);
    g.enroll("alice", {sample("a1", 0.0f), sample("a2", 1.0f)}, false);
    g.enroll("bob", {sample("b1", 2.0f)}, false);
    g.set_threshold(0.5f);
  }
  const Snapshot before = snapshot(path);
  const std::vector<IdentitySamples> batch = {
      {"alice", {sample("a3", 3.0f), sample("a4", 4.0f)}},  // replaces alice's two
      {"carol", {sample("c1", 5.0f), sample("c2", 6.0f)}}};

  SECTION("an exception after the third row rolls everything back") {
    Gallery g = Gallery::open(path, model_with("1111222233334444"), false);
    HookGuard hook(&fail_at_third_row);
    CHECK_THROWS_WITH(g.enroll_batch(batch, true), Catch::Contains("simulated failure"));
    CHECK_THROWS_WITH(g.rebind(model_with("5555666677778888"), batch),
                      Catch::Contains("simulated failure"));
    // The connection stays usable after the rollback.
    CHECK(g.identities().size() == 2);
  }
  SECTION("a process killed after the third row leaves the committed state") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      siamese::internal::set_gallery_row_hook(&die_at_third_row);
      try {
        Gallery g = Gallery::open(path, model_with("1111222233334444"), false);
        g.enroll_batch(batch, true);
      } catch (...) {
      }
      ::_exit(0);  // not reached when the hook kills the process
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 9);
  }
  CHECK(snapshot(path) == before);
  CHECK(Gallery::open_unbound(path, false).threshold() == 0.5f);
  CHECK(integrity_check(path) == "ok");
}

TEST_CASE("re-enrolling an identity with replace swaps its samples at once",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-replace");
  Gallery g = Gallery::open(path, model_with("abcdabcdabcdabcd"), true);
  g.enroll("alice", {sample("old1", 0.0f), sample("old2", 1.0f), sample("old3", 2.0f)}, false);
  g.enroll("bob", {sample("b1", 9.0f)}, false);
  g.enroll("alice", {sample("new1", 3.0f), sample("new2", 4.0f)}, true);
  auto samples = g.samples();
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].source_file == "new1");
  CHECK(samples[1].source_file == "new2");
  CHECK(samples[2].identity == "bob");
  g.enroll("alice", {sample("more", 5.0f)}, false);
  CHECK(g.identities()[0].embedding_count == 3);
}

TEST_CASE("concurrent enrollments through separate connections all land, uncorrupted",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-concurrent");
  Gallery::open(path, model_with("c0c0c0c0c0c0c0c0"), true);
  constexpr int kWriters = 4, kPerWriter = 15;
  // Two writers in other processes, forked before any thread of this test exists.
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      int code = 0;
      try {
        Gallery g = Gallery::open(path, model_with("c0c0c0c0c0c0c0c0"), false);
        for (int i = 0; i < kPerWriter; ++i) {
          const std::string name = "p" + std::to_string(p) + "-" + std::to_string(i);
          g.enroll(name, {sample(name + "a", 0.0f), sample(name + "b", 1.0f)}, false);
        }
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(child);
  }
  std::mutex mutex;
  std::vector<std::string> errors;  // Catch2 macros are not thread-safe: collect, check later
  const auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back(what);
  };
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      try {
        Gallery g = Gallery::open(path, model_with("c0c0c0c0c0c0c0c0"), false);
        for (int i = 0; i < kPerWriter; ++i) {
          const std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
          g.enroll(name, {sample(name + "a", static_cast<float>(i)), sample(name + "b", 1.0f)},
                   false);
        }
      } catch (const std::exception& e) {
        note(e.what());
      }
    });
  }
  // A reader (as the element is) loads the gallery meanwhile and never sees half an identity.
  std::thread reader([&] {
    try {
      Gallery g = Gallery::open(path, model_with("c0c0c0c0c0c0c0c0"), false);
      while (writing) {
        for (const auto& r : g.identities()) {
          if (r.embedding_count != 2) note("half an identity: " + r.name);
        }
      }
    } catch (const std::exception& e) {
      note(e.what());
    }
  });
  for (auto& t : threads) t.join();
  for (pid_t c : children) {
    int status = 0;
    ::waitpid(c, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  writing = false;
  reader.join();
  CHECK(errors == std::vector<std::string>{});
  const Gallery g = Gallery::open_unbound(path, false);
  CHECK(g.identities().size() == static_cast<size_t>((kWriters + 2) * kPerWriter));
  CHECK(g.samples().size() == static_cast<size_t>((kWriters + 2) * kPerWriter * 2));
  CHECK(integrity_check(path) == "ok");
}

TEST_CASE("change_counter moves on every commit, own or another connection's",
          "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-counter");
  Gallery a = Gallery::open(path, model_with("1234123412341234"), true);
  Gallery b = Gallery::open(path, model_with("1234123412341234"), false);
  const int64_t c0 = a.change_counter();
  CHECK(a.change_counter() == c0);  // nothing committed: stable
  b.enroll("x", {sample("x", 0.0f)}, false);
  const int64_t c1 = a.change_counter();
  CHECK(c1 != c0);
  a.enroll("y", {sample("y", 0.0f)}, false);
  const int64_t c2 = a.change_counter();
  CHECK(c2 != c1);
  b.rename("y", "z");
  CHECK(a.change_counter() != c2);
}

TEST_CASE("threshold, rebind and read-only opening", "[enrollment][gallery]") {
  const std::string path = fresh_path("gallery-rebind");
  Gallery g = Gallery::open(path, model_with("0000000000000001"), true);
  CHECK(!g.threshold());
  g.set_threshold(0.8f);
  CHECK(g.threshold() == 0.8f);
  CHECK_THROWS_AS(g.set_threshold(-1.0f), siamese::InputError);
  g.enroll("keep", {sample("k", 0.0f)}, false);
  g.enroll("drop", {sample("d", 0.0f)}, false);
  const std::string created = g.identities()[1].created;

  EnrollmentSample wide;
  wide.source_file = "k";
  wide.embedding.assign(6, 1.0f);
  const std::vector<EnrollmentSample> six{wide};
  g.rebind(model_with("0000000000000002", 6), {{"keep", six}});
  CHECK(g.model_fingerprint() == "0000000000000002");
  CHECK(g.embedding_size() == 6);
  CHECK(!g.threshold());  // it belonged to the old model
  REQUIRE(g.identities().size() == 1);
  CHECK(g.identities()[0].created == created);
  CHECK(g.load_matrix().embeddings.size(1) == 6);
  CHECK_NOTHROW(Gallery::open(path, model_with("0000000000000002", 6), false));

  Gallery ro = Gallery::open_unbound(path, false);
  CHECK_THROWS_AS(ro.remove("keep"), siamese::FileError);
}
