#include "siamese/gallery.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "gallery_common.h"
#include "gallery_hooks.h"
#include "siamese/errors.h"
#include "siamese/postgres_gallery.h"
#include "siamese/sqlite_db.h"
#include "siamese/text_safety.h"

namespace siamese {

namespace fs = std::filesystem;

namespace internal {
namespace {
// The one process-wide slot: a test seam, never set by the programs.
std::atomic<GalleryRowHook> g_row_hook{nullptr};
}  // namespace

GalleryRowHook set_gallery_row_hook(GalleryRowHook hook) { return g_row_hook.exchange(hook); }
GalleryRowHook gallery_row_hook() { return g_row_hook.load(); }

const char* framing_name(Framing f) { return f == Framing::kDetectorBox ? "detector" : "exact"; }

std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

void check_model(const ModelInfo& model) {
  if (model.fingerprint.empty()) throw InputError("gallery: the model has no fingerprint");
  if (model.embedding_size <= 0) {
    throw InputError("gallery: the model's embedding size is " +
                     std::to_string(model.embedding_size));
  }
}

void check_name(const std::string& name) {
  check_identity_name(name);  // text_safety.h: UTF-8, no control characters, bounded length
  if (name == kAnyoneName) {
    throw InputError(std::string("identity name \"") + kAnyoneName +
                     "\" is reserved (the negative anchors of `siamese-enroll add --not '*'`)");
  }
}

void check_samples(const std::string& path, const std::string& name,
                   const std::vector<EnrollmentSample>& samples, int embedding_size) {
  for (const auto& s : samples) {
    if (static_cast<int>(s.embedding.size()) != embedding_size) {
      throw InputError("gallery " + path + ": embedding of " + s.source_file + " (identity '" +
                       name + "') has " + std::to_string(s.embedding.size()) +
                       " values, the gallery stores " + std::to_string(embedding_size));
    }
    for (float v : s.embedding) {
      if (!std::isfinite(v)) {
        throw InputError("gallery " + path + ": embedding of " + s.source_file +
                         " contains a non-finite value");
      }
    }
  }
}

// A stored threshold as a distance; a value a door must not trust throws.
std::optional<float> parse_threshold(const std::string& path, const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const float t = std::strtof(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(t) || t < 0.0f) {
    throw FileError(path, "the gallery's stored threshold \"" + text +
                              "\" is not a finite distance >= 0; set one with `siamese-enroll "
                              "add --gallery ... --threshold T`");
  }
  return t;
}

}  // namespace internal

namespace {

using internal::check_binding;
using internal::check_model;
using internal::check_name;
using internal::check_samples;
using internal::float_text;
using internal::framing_name;
using internal::parse_threshold;
using sql::exec;
using sql::Statement;
using sql::Transaction;

// A deferred BEGIN ... COMMIT: every read inside sees one committed state of the file.
class ReadTransaction {
 public:
  ReadTransaction(sqlite3* db, const sql::FileRef& file) : db_(db) { exec(db, file, "BEGIN"); }
  ~ReadTransaction() { sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr); }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  sqlite3* db_;
};

// Marks the file as ours ("SIAG") so a foreign SQLite database is refused by name.
constexpr int32_t kApplicationId = 0x53494147;

// The schema of version 1; a new gallery is created with it and upgraded at once, so each table
// is defined once. Embeddings are float32 in native byte order (little-endian on every platform
// LibTorch supports); the box and framing let --rebuild re-crop the same region.
constexpr const char* kSchema = R"sql(
CREATE TABLE facts (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE identities (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  created   TEXT NOT NULL,
  updated   TEXT NOT NULL
);
CREATE TABLE embeddings (
  id          INTEGER PRIMARY KEY,
  identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
  source_file TEXT NOT NULL,
  box_x       INTEGER NOT NULL DEFAULT 0,
  box_y       INTEGER NOT NULL DEFAULT 0,
  box_w       INTEGER NOT NULL DEFAULT 0,
  box_h       INTEGER NOT NULL DEFAULT 0,
  framing     TEXT NOT NULL CHECK (framing IN ('detector', 'exact')),
  enrolled    TEXT NOT NULL,
  vector      BLOB NOT NULL
);
CREATE INDEX embeddings_by_identity ON embeddings(identity_id);
)sql";

// Version 1 -> 2: an identity's own threshold (NULL: the gallery's) and negative anchors,
// faces that must never verify as their identity (identity_id NULL: as anyone).
constexpr const char* kUpgradeToVersion2 = R"sql(
ALTER TABLE identities ADD COLUMN threshold REAL;
CREATE TABLE negatives (
  id          INTEGER PRIMARY KEY,
  identity_id INTEGER REFERENCES identities(id) ON DELETE CASCADE,
  source_file TEXT NOT NULL,
  enrolled    TEXT NOT NULL,
  vector      BLOB NOT NULL
);
CREATE INDEX negatives_by_identity ON negatives(identity_id);
)sql";

// Whether a read on the connection works (a WAL file needs its -shm, which a read-only
// connection cannot create in a folder it cannot write).
bool can_read(sqlite3* db) {
  return sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) ==
         SQLITE_OK;
}

// "file:" URI of a path (RFC 3986 escapes for the characters SQLite's URI parser reads).
std::string file_uri(const std::string& path) {
  std::string uri = "file:";
  for (const unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      uri += buf;
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri;
}

off_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// How the gallery's errors name it, and how long a writer waits for another one.
sql::FileRef gallery_file(const std::string& path) {
  return sql::FileRef{path, "siamese gallery", kGalleryBusyTimeoutMs};
}

sql::Connection open_db(const sql::FileRef& file, bool writable) {
  const std::string& path = file.path;
  if (writable) return sql::open_connection(path, SQLITE_OPEN_READWRITE, file);
  sql::Connection db = sql::open_connection(path, SQLITE_OPEN_READONLY, file);
  if (can_read(db.get())) return db;
  const int code = sqlite3_extended_errcode(db.get()) & 0xff;
  const std::string msg = sqlite3_errmsg(db.get());
  db.reset();
  if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY) {
    throw FileError(path, "cannot read gallery: " + msg);
  }
  // A WAL gallery in a folder this user cannot write: SQLite cannot create its -shm. Every
  // committed change is in the main file once the -wal is empty (checkpointed); then it can
  // be read as immutable. Changes are picked up by reopening (the file's stat changes).
  if (file_size_or_zero(path + "-wal") > 0) {
    throw FileError(path, "cannot read gallery: its folder is not writable by this user and " +
                              path + "-wal holds changes not yet in the gallery file (" + msg +
                              "); give this user write access to the folder, or let a writer "
                              "checkpoint it (any siamese-enroll command does on exit)");
  }
  db = sql::open_connection(file_uri(path) + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                            file);
  if (!can_read(db.get())) {
    throw FileError(path, "cannot read gallery: " + std::string(sqlite3_errmsg(db.get())));
  }
  return db;
}

FileIdentity identity_before_open(const std::string& path) {
  return file_identity_of(path).value_or(FileIdentity{});
}

bool has_schema(sqlite3* db, const sql::FileRef& file) {
  Statement q(db, file, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='facts'");
  q.step();
  return q.integer(0) > 0;
}

void put_fact(sqlite3* db, const sql::FileRef& file, const std::string& key,
              const std::string& value) {
  Statement q(db, file, "INSERT OR REPLACE INTO facts(key, value) VALUES (?1, ?2)");
  q.bind(1, key).bind(2, value).run();
}

// The binding: model (fingerprint, size, metric) and the preprocessing its rows were embedded
// with ("" only when copying a gallery written before it was recorded).
void write_binding(sqlite3* db, const sql::FileRef& file, const ModelInfo& model,
                   const std::string& preprocessing) {
  put_fact(db, file, "model_fingerprint", model.fingerprint);
  put_fact(db, file, "embedding_size", std::to_string(model.embedding_size));
  put_fact(db, file, "metric", model.metric);
  if (preprocessing.empty()) {
    Statement del(db, file, "DELETE FROM facts WHERE key = 'preprocessing'");
    del.run();
  } else {
    put_fact(db, file, "preprocessing", preprocessing);
  }
}

// A stored per-identity threshold; a value a door must not trust throws.
std::optional<float> identity_threshold_of(const std::string& path, const std::string& name,
                                           const Statement& q, int column) {
  if (q.is_null(column)) return std::nullopt;
  const double t = q.real(column);
  if (!std::isfinite(t) || t < 0.0) {
    throw FileError(path, "the stored threshold of '" + name + "' is not a finite distance >= 0");
  }
  return static_cast<float>(t);
}

// The id of identity `name`, inserting it when absent; updates its `updated` time.
int64_t upsert_identity(sqlite3* db, const sql::FileRef& file, const std::string& name,
                        const std::string& now) {
  Statement ins(db, file,
                "INSERT INTO identities(name, created, updated) VALUES (?1, ?2, ?2) "
                "ON CONFLICT(name) DO UPDATE SET updated = excluded.updated");
  ins.bind(1, name).bind(2, now).run();
  Statement sel(db, file, "SELECT id FROM identities WHERE name = ?1");
  sel.bind(1, name);
  sel.step();
  return sel.integer(0);
}

// Writes the rows of one identity; calls the test hook after each row.
void insert_samples(sqlite3* db, const sql::FileRef& file, int64_t identity_id,
                    const std::vector<EnrollmentSample>& samples, const std::string& now,
                    int64_t& rows_written) {
  Statement ins(db, file,
                "INSERT INTO embeddings(identity_id, source_file, box_x, box_y, box_w, box_h, "
                "framing, enrolled, vector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  for (const auto& s : samples) {
    ins.reset();
    ins.bind(1, identity_id)
        .bind(2, s.source_file)
        .bind(3, int64_t{s.box.x})
        .bind(4, int64_t{s.box.y})
        .bind(5, int64_t{s.box.width})
        .bind(6, int64_t{s.box.height})
        .bind(7, std::string(framing_name(s.framing)))
        .bind(8, now)
        .bind_blob(9, s.embedding.data(), s.embedding.size() * sizeof(float));
    ins.run();
    ++rows_written;
    if (auto hook = internal::g_row_hook.load()) hook(rows_written);
  }
}

void delete_identity_samples(sqlite3* db, const sql::FileRef& file, int64_t identity_id) {
  Statement del(db, file, "DELETE FROM embeddings WHERE identity_id = ?1");
  del.bind(1, identity_id).run();
}

// FNV-1a over 64-bit words: a compact, order-sensitive mix for change_counter().
uint64_t mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t mix_stat(uint64_t h, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return mix(h, 0);
  h = mix(h, static_cast<uint64_t>(st.st_ino));
  h = mix(h, static_cast<uint64_t>(st.st_size));
  h = mix(h, static_cast<uint64_t>(st.st_mtim.tv_sec));
  return mix(h, static_cast<uint64_t>(st.st_mtim.tv_nsec));
}

}  // namespace

std::optional<FileIdentity> file_identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

// The SQLite store: one database file.
class SqliteGallery final : public GalleryStore {
 public:
  static std::unique_ptr<SqliteGallery> open(const std::string& path, const ModelInfo& model,
                                             bool create);
  static std::unique_ptr<SqliteGallery> open_unbound(const std::string& path, bool writable);
  static std::unique_ptr<SqliteGallery> open_reader(const std::string& path,
                                                    const ModelInfo& model);
  SqliteGallery(sql::FileRef file, sql::Connection db, FileIdentity identity);

  void enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) override;
  void remove(const std::string& name) override;
  void rename(const std::string& old_name, const std::string& new_name) override;
  void bind_preprocessing(const ModelInfo& model) override;
  void rebind(const ModelInfo& model, const std::vector<IdentitySamples>& identities) override;
  void set_threshold(std::optional<float> threshold) override;
  void add_negatives(const std::string& name,
                     const std::vector<EnrollmentSample>& samples) override;
  void set_identity_threshold(const std::string& name, std::optional<float> threshold) override;
  void set_identity_thresholds(
      const std::vector<std::pair<std::string, float>>& thresholds) override;
  std::vector<IdentityRecord> identities() const override;
  std::vector<StoredSample> samples() const override;
  std::vector<StoredNegative> negatives() const override;
  int schema_version() const override;
  GallerySnapshot snapshot() const override;
  std::string fact(const std::string& key) const override;
  GalleryContent content() const override;
  void write_content(const GalleryContent& content, bool replace) override;
  const std::string& location() const override { return file_.path; }
  const FileIdentity& file_identity() const override { return file_identity_; }
  int64_t change_counter() const override;

 private:
  std::string model_fingerprint() const { return fact("model_fingerprint"); }
  int embedding_size() const { return std::atoi(fact("embedding_size").c_str()); }
  std::string metric() const { return fact("metric"); }
  internal::StoredBinding binding() const {
    return {model_fingerprint(), embedding_size(), metric(), fact("preprocessing")};
  }
  std::optional<float> threshold() const { return parse_threshold(file_.path, fact("threshold")); }
  void check_schema_version() const;
  void upgrade_schema();  // inside a write transaction: version 1 -> current
  void after_commit();
  sql::FileRef file_;  // the path, and how errors name the file
  sql::Connection db_;
  FileIdentity file_identity_;
  int64_t own_commits_ = 0;
};

SqliteGallery::SqliteGallery(sql::FileRef file, sql::Connection db, FileIdentity identity)
    : file_(std::move(file)), db_(std::move(db)), file_identity_(identity) {}

int SqliteGallery::schema_version() const { return std::atoi(fact("schema_version").c_str()); }

void SqliteGallery::upgrade_schema() {
  if (schema_version() >= 2) return;
  exec(db_.get(), file_, kUpgradeToVersion2);
  put_fact(db_.get(), file_, "schema_version", std::to_string(kGallerySchemaVersion));
  exec(db_.get(), file_,
       ("PRAGMA user_version = " + std::to_string(kGallerySchemaVersion)).c_str());
}

void SqliteGallery::check_schema_version() const {
  const int version = schema_version();
  if (version < 1 || version > kGallerySchemaVersion) {
    throw FileError(file_.path, "gallery schema version " + std::to_string(version) +
                                    " is not supported (this build reads version " +
                                    std::to_string(kGallerySchemaVersion) + ")");
  }
}

std::unique_ptr<SqliteGallery> SqliteGallery::open(const std::string& path, const ModelInfo& model,
                                                   bool create) {
  check_model(model);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && !create) {
    throw FileError(path, "no such gallery (create it with `siamese-enroll add`)");
  }
  if (exists && S_ISDIR(st.st_mode)) throw FileError(path, "is a folder, not a gallery file");
  const sql::FileRef file = gallery_file(path);
  if (!exists) sql::create_private_file(file, sql::Links::kFollow);

  const FileIdentity identity = identity_before_open(path);  // before opening: see file_identity()
  auto g = std::make_unique<SqliteGallery>(file, open_db(file, true), identity);
  sqlite3* db = g->db_.get();
  exec(db, file, "PRAGMA foreign_keys = ON");
  if (create) {
    // Refuse a foreign database before changing anything in it (journal mode included).
    if (!has_schema(db, file)) {
      Statement q(db, file,
                  "SELECT (SELECT application_id FROM pragma_application_id), "
                  "(SELECT count(*) FROM sqlite_master)");
      q.step();
      const int64_t app_id = q.integer(0);
      if (q.integer(1) > 0 || (app_id != 0 && app_id != kApplicationId)) {
        throw FileError(path, "not a siamese gallery (a SQLite database of something else)");
      }
    }
    // journal_mode is persistent in the file; it cannot change inside a transaction.
    sql::enable_wal(db, file);
    Transaction tx(db, file);
    if (!has_schema(db, file)) {
      // Another process may have created a foreign table since the check above.
      Statement q(db, file, "SELECT count(*) FROM sqlite_master");
      q.step();
      if (q.integer(0) > 0) {
        throw FileError(path, "not a siamese gallery (a SQLite database of something else)");
      }
      exec(db, file, kSchema);
      exec(db, file, kUpgradeToVersion2);
      exec(db, file, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
      exec(db, file, ("PRAGMA user_version = " + std::to_string(kGallerySchemaVersion)).c_str());
      put_fact(db, file, "schema_version", std::to_string(kGallerySchemaVersion));
      put_fact(db, file, "created", sql::utc_now_iso8601());
      write_binding(db, file, model, preprocessing_facts(model));
    }
    tx.commit();
    g->after_commit();
  }
  if (!has_schema(db, file)) throw FileError(path, "not a siamese gallery (no facts table)");
  g->check_schema_version();
  check_binding(path, g->binding(), model);
  return g;
}

std::unique_ptr<SqliteGallery> SqliteGallery::open_unbound(const std::string& path, bool writable) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw FileError(path, "no such gallery");
  if (S_ISDIR(st.st_mode)) throw FileError(path, "is a folder, not a gallery file");
  const sql::FileRef file = gallery_file(path);
  auto g = std::make_unique<SqliteGallery>(
      file, open_db(file, writable),
      FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  if (writable) exec(g->db_.get(), file, "PRAGMA foreign_keys = ON");
  if (!has_schema(g->db_.get(), file)) {
    throw FileError(path, "not a siamese gallery (no facts table)");
  }
  g->check_schema_version();
  return g;
}

std::unique_ptr<SqliteGallery> SqliteGallery::open_reader(const std::string& path,
                                                          const ModelInfo& model) {
  check_model(model);
  // Where this user may write, the connection is opened read-write (and made query-only) so
  // that SQLite can keep the WAL in order: when the last connection to a file closes, it
  // checkpoints the WAL into that file and deletes it, so that a file moved into the
  // gallery's place is never read with the -wal of the one it replaced.
  const std::string folder =
      fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : std::string(".");
  const bool can_write = ::access(path.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0;
  auto g = open_unbound(path, can_write);
  if (can_write) exec(g->db_.get(), g->file_, "PRAGMA query_only = 1");
  check_binding(path, g->binding(), model);
  return g;
}

void SqliteGallery::after_commit() {
  ++own_commits_;
  // Move the change into the gallery file and empty the -wal, so that the file alone holds
  // the gallery: a copy or rename of it carries every change, and readers that cannot write
  // the folder can read it. Readers only delay this; when one holds it up, the next commit
  // (or the last connection's close) finishes it.
  sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

std::string SqliteGallery::fact(const std::string& key) const {
  Statement q(db_.get(), file_, "SELECT value FROM facts WHERE key = ?1");
  q.bind(1, key);
  return q.step() ? q.text(0) : std::string();
}

void SqliteGallery::set_threshold(std::optional<float> threshold) {
  if (threshold && !(std::isfinite(*threshold) && *threshold >= 0.0f)) {
    throw InputError("gallery " + file_.path + ": threshold must be a finite distance >= 0, not " +
                     float_text(*threshold));
  }
  Transaction tx(db_.get(), file_);
  upgrade_schema();
  if (threshold) {
    put_fact(db_.get(), file_, "threshold", float_text(*threshold));
  } else {
    Statement del(db_.get(), file_, "DELETE FROM facts WHERE key = 'threshold'");
    del.run();
  }
  tx.commit();
  after_commit();
}

void SqliteGallery::enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) {
  const int size = embedding_size();
  for (const auto& [name, samples] : identities) {
    check_name(name);
    if (samples.empty())
      throw InputError("gallery " + file_.path + ": no samples for '" + name + "'");
    check_samples(file_.path, name, samples, size);
  }
  sqlite3* db = db_.get();
  const std::string now = sql::utc_now_iso8601();
  Transaction tx(db, file_);
  upgrade_schema();
  // Re-read under the write lock: a rebind by another process may have changed the binding.
  if (embedding_size() != size)
    throw MismatchError("gallery " + file_.path + " was rebound meanwhile");
  std::set<std::string> replaced;
  int64_t rows = 0;
  for (const auto& [name, samples] : identities) {
    const int64_t id = upsert_identity(db, file_, name, now);
    if (replace && replaced.insert(name).second) delete_identity_samples(db, file_, id);
    insert_samples(db, file_, id, samples, now, rows);
  }
  tx.commit();
  after_commit();
}

void SqliteGallery::remove(const std::string& name) {
  Transaction tx(db_.get(), file_);
  upgrade_schema();
  Statement sel(db_.get(), file_, "SELECT id FROM identities WHERE name = ?1");
  sel.bind(1, name);
  if (!sel.step()) throw InputError("gallery " + file_.path + ": no identity named '" + name + "'");
  const int64_t id = sel.integer(0);
  sel.reset();  // a statement still stepping would block the COMMIT
  delete_identity_samples(db_.get(), file_, id);
  Statement del_negatives(db_.get(), file_, "DELETE FROM negatives WHERE identity_id = ?1");
  del_negatives.bind(1, id).run();
  Statement del(db_.get(), file_, "DELETE FROM identities WHERE id = ?1");
  del.bind(1, id).run();
  tx.commit();
  after_commit();
}

void SqliteGallery::rename(const std::string& old_name, const std::string& new_name) {
  check_name(new_name);
  Transaction tx(db_.get(), file_);
  upgrade_schema();
  Statement sel(db_.get(), file_, "SELECT count(*) FROM identities WHERE name = ?1");
  sel.bind(1, old_name);
  sel.step();
  if (sel.integer(0) == 0) {
    throw InputError("gallery " + file_.path + ": no identity named '" + old_name + "'");
  }
  sel.reset();
  sel.bind(1, new_name);
  sel.step();
  const bool taken = sel.integer(0) > 0;
  sel.reset();
  if (taken)
    throw InputError("gallery " + file_.path + ": identity '" + new_name + "' already exists");
  Statement upd(db_.get(), file_, "UPDATE identities SET name = ?1, updated = ?2 WHERE name = ?3");
  upd.bind(1, new_name).bind(2, sql::utc_now_iso8601()).bind(3, old_name).run();
  tx.commit();
  after_commit();
}

void SqliteGallery::bind_preprocessing(const ModelInfo& model) {
  check_model(model);
  Transaction tx(db_.get(), file_);
  internal::StoredBinding stored = binding();
  const std::string facts = preprocessing_facts(model);
  if (stored.preprocessing.empty()) stored.preprocessing = facts;  // what this call records
  check_binding(file_.path, stored, model);  // another model, or other facts already recorded
  put_fact(db_.get(), file_, "preprocessing", facts);
  tx.commit();
  after_commit();
}

void SqliteGallery::rebind(
    const ModelInfo& model,
    const std::vector<std::pair<std::string, std::vector<EnrollmentSample>>>& identities) {
  check_model(model);
  std::map<std::string, std::vector<const EnrollmentSample*>> wanted;
  for (const auto& [name, samples] : identities) {
    check_name(name);
    check_samples(file_.path, name, samples, model.embedding_size);
    for (const auto& s : samples) wanted[name].push_back(&s);
  }
  sqlite3* db = db_.get();
  const std::string now = sql::utc_now_iso8601();
  Transaction tx(db, file_);
  upgrade_schema();
  exec(db, file_, "DELETE FROM embeddings");
  exec(db, file_, "DELETE FROM negatives");
  exec(db, file_, "UPDATE identities SET threshold = NULL");
  // Keep the rows (and creation times) of identities that stay; drop the others.
  std::vector<std::string> existing;
  {
    Statement sel(db, file_, "SELECT name FROM identities");
    while (sel.step()) existing.push_back(sel.text(0));
  }
  Statement del(db, file_, "DELETE FROM identities WHERE name = ?1");
  for (const auto& name : existing) {
    if (wanted.count(name) == 0) {
      del.reset();
      del.bind(1, name).run();
    }
  }
  write_binding(db, file_, model, preprocessing_facts(model));
  Statement clear(db, file_, "DELETE FROM facts WHERE key = 'threshold'");
  clear.run();
  int64_t rows = 0;
  for (const auto& [name, samples] : wanted) {
    std::vector<EnrollmentSample> copy;
    copy.reserve(samples.size());
    for (const auto* s : samples) copy.push_back(*s);
    const int64_t id = upsert_identity(db, file_, name, now);
    insert_samples(db, file_, id, copy, now, rows);
  }
  tx.commit();
  after_commit();
}

std::vector<IdentityRecord> SqliteGallery::identities() const {
  const bool v2 = schema_version() >= 2;  // a version-1 file has neither column nor table
  const std::string sql =
      std::string(
          "SELECT i.name, i.created, i.updated, "
          "(SELECT count(*) FROM embeddings e WHERE e.identity_id = i.id), ") +
      (v2 ? "(SELECT count(*) FROM negatives n WHERE n.identity_id = i.id), i.threshold "
          : "0, NULL ") +
      "FROM identities i ORDER BY i.name";
  Statement q(db_.get(), file_, sql.c_str());
  std::vector<IdentityRecord> out;
  while (q.step()) {
    IdentityRecord r;
    r.name = q.text(0);
    r.created = q.text(1);
    r.updated = q.text(2);
    r.embedding_count = static_cast<int>(q.integer(3));
    r.negative_count = static_cast<int>(q.integer(4));
    r.threshold = identity_threshold_of(file_.path, r.name, q, 5);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<StoredNegative> SqliteGallery::negatives() const {
  std::vector<StoredNegative> out;
  if (schema_version() < 2) return out;
  Statement q(db_.get(), file_,
              "SELECT i.name, n.source_file, n.enrolled FROM negatives n "
              "LEFT JOIN identities i ON i.id = n.identity_id "
              "ORDER BY i.name IS NOT NULL, i.name, n.id");
  while (q.step()) {
    out.push_back({q.is_null(0) ? std::string(kAnyoneName) : q.text(0), q.text(1), q.text(2)});
  }
  return out;
}

void SqliteGallery::add_negatives(const std::string& name,
                                  const std::vector<EnrollmentSample>& samples) {
  if (samples.empty()) {
    throw InputError("gallery " + file_.path + ": no negative anchors for '" + name + "'");
  }
  check_samples(file_.path, name, samples, embedding_size());
  sqlite3* db = db_.get();
  const std::string now = sql::utc_now_iso8601();
  Transaction tx(db, file_);
  upgrade_schema();
  std::optional<int64_t> id;
  if (name != kAnyoneName) {
    Statement sel(db, file_, "SELECT id FROM identities WHERE name = ?1");
    sel.bind(1, name);
    if (!sel.step()) {
      throw InputError("gallery " + file_.path + ": no identity named '" + name +
                       "' (--not names an enrolled identity, or '" + kAnyoneName +
                       "' for faces that must never verify as anyone)");
    }
    id = sel.integer(0);
  }
  Statement ins(db, file_,
                "INSERT INTO negatives(identity_id, source_file, enrolled, vector) "
                "VALUES (?1, ?2, ?3, ?4)");
  int64_t rows = 0;
  for (const auto& s : samples) {
    ins.reset();
    if (id) {
      ins.bind(1, *id);
    } else {
      ins.bind_null(1);
    }
    ins.bind(2, s.source_file)
        .bind(3, now)
        .bind_blob(4, s.embedding.data(), s.embedding.size() * sizeof(float));
    ins.run();
    ++rows;
    if (auto hook = internal::g_row_hook.load()) hook(rows);
  }
  tx.commit();
  after_commit();
}

void SqliteGallery::set_identity_threshold(const std::string& name,
                                           std::optional<float> threshold) {
  if (!threshold) {
    Transaction tx(db_.get(), file_);
    upgrade_schema();
    Statement upd(db_.get(), file_, "UPDATE identities SET threshold = NULL WHERE name = ?1");
    upd.bind(1, name).run();
    if (sqlite3_changes(db_.get()) == 0) {
      throw InputError("gallery " + file_.path + ": no identity named '" + name + "'");
    }
    tx.commit();
    after_commit();
    return;
  }
  set_identity_thresholds({{name, *threshold}});
}

void SqliteGallery::set_identity_thresholds(
    const std::vector<std::pair<std::string, float>>& thresholds) {
  for (const auto& [name, t] : thresholds) {
    if (!(std::isfinite(t) && t >= 0.0f)) {
      throw InputError("gallery " + file_.path + ": threshold of '" + name +
                       "' must be a finite distance >= 0, not " + float_text(t));
    }
  }
  Transaction tx(db_.get(), file_);
  upgrade_schema();
  Statement upd(db_.get(), file_, "UPDATE identities SET threshold = ?1 WHERE name = ?2");
  for (const auto& [name, t] : thresholds) {
    upd.reset();
    upd.bind(1, static_cast<double>(t)).bind(2, name).run();
    if (sqlite3_changes(db_.get()) == 0) {
      throw InputError("gallery " + file_.path + ": no identity named '" + name + "'");
    }
  }
  tx.commit();
  after_commit();
}

std::vector<StoredSample> SqliteGallery::samples() const {
  Statement q(db_.get(), file_,
              "SELECT i.name, e.source_file, e.enrolled, e.box_x, e.box_y, e.box_w, e.box_h, "
              "e.framing FROM embeddings e JOIN identities i ON i.id = e.identity_id "
              "ORDER BY i.name, e.id");
  std::vector<StoredSample> out;
  while (q.step()) {
    StoredSample s;
    s.identity = q.text(0);
    s.source_file = q.text(1);
    s.enrolled = q.text(2);
    s.box = Box{static_cast<int>(q.integer(3)), static_cast<int>(q.integer(4)),
                static_cast<int>(q.integer(5)), static_cast<int>(q.integer(6))};
    s.framing = q.text(7) == "detector" ? Framing::kDetectorBox : Framing::kExact;
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// The negative anchors of the identities in number_of (and of anyone) into m.
void read_negatives(sqlite3* db, const sql::FileRef& file,
                    const std::map<int64_t, int64_t>& number_of, int size, GalleryMatrix& m) {
  Statement q(db, file, "SELECT identity_id, vector FROM negatives ORDER BY id");
  std::vector<float> values;
  std::vector<int64_t> owners;
  while (q.step()) {
    int64_t owner = kAnyoneOwner;
    if (!q.is_null(0)) {
      const auto it = number_of.find(q.integer(0));
      if (it == number_of.end()) continue;  // an identity with no embeddings matches nobody
      owner = it->second;
    }
    const int bytes = q.bytes(1);
    if (bytes != size * static_cast<int>(sizeof(float))) {
      throw FileError(file.path, "corrupt negative anchor: " + std::to_string(bytes) +
                                     " bytes, expected " + std::to_string(size * sizeof(float)));
    }
    const size_t at = values.size();
    values.resize(at + static_cast<size_t>(size));
    std::memcpy(values.data() + at, q.blob(1), static_cast<size_t>(bytes));
    owners.push_back(owner);
  }
  const auto rows = static_cast<int64_t>(owners.size());
  if (rows == 0) return;
  m.negatives = torch::from_blob(values.data(), {rows, size}, torch::kFloat32).clone();
  m.negative_owners = torch::from_blob(owners.data(), {rows}, torch::kInt64).clone();
  if (!torch::isfinite(m.negatives).all().item<bool>()) {
    throw FileError(file.path, "the gallery holds a negative anchor with a non-finite value");
  }
}

}  // namespace

GallerySnapshot SqliteGallery::snapshot() const {
  // One read transaction: the facts and the rows come from the same committed state.
  const ReadTransaction read(db_.get(), file_);
  check_schema_version();
  GallerySnapshot snap;
  snap.model_fingerprint = model_fingerprint();
  snap.preprocessing = fact("preprocessing");
  snap.embedding_size = embedding_size();
  snap.metric = metric();
  snap.threshold = threshold();
  const int size = snap.embedding_size;
  if (size <= 0 || size > kMaxGalleryEmbeddingSize) {
    throw FileError(file_.path, "the gallery's embedding size " + std::to_string(size) +
                                    " is outside 1.." + std::to_string(kMaxGalleryEmbeddingSize));
  }
  const bool v2 = schema_version() >= 2;
  const std::string sql = std::string("SELECT i.id, i.name, e.vector, e.source_file, ") +
                          (v2 ? "i.threshold" : "NULL") +
                          " FROM embeddings e JOIN identities i ON i.id = e.identity_id "
                          "ORDER BY i.name, e.id";
  Statement q(db_.get(), file_, sql.c_str());
  GalleryMatrix m;
  std::vector<float> values;
  std::vector<int64_t> owners;
  std::map<int64_t, int64_t> number_of;  // identity id -> identity number
  int64_t last_id = -1;
  while (q.step()) {
    const int64_t id = q.integer(0);
    if (id != last_id) {
      number_of[id] = static_cast<int64_t>(m.names.size());
      m.names.push_back(q.text(1));
      m.thresholds.push_back(identity_threshold_of(file_.path, m.names.back(), q, 4));
      last_id = id;
    }
    m.sources.push_back(q.text(3));
    const int bytes = q.bytes(2);
    if (bytes != size * static_cast<int>(sizeof(float))) {
      throw FileError(file_.path, "corrupt embedding of '" + q.text(1) +
                                      "': " + std::to_string(bytes) + " bytes, expected " +
                                      std::to_string(size * sizeof(float)));
    }
    const size_t at = values.size();
    values.resize(at + static_cast<size_t>(size));
    std::memcpy(values.data() + at, q.blob(2),
                static_cast<size_t>(bytes));  // blobs may be unaligned
    owners.push_back(static_cast<int64_t>(m.names.size()) - 1);
  }
  const auto rows = static_cast<int64_t>(owners.size());
  m.embeddings = torch::from_blob(values.data(), {rows, size}, torch::kFloat32).clone();
  m.owners = torch::from_blob(owners.data(), {rows}, torch::kInt64).clone();
  if (rows > 0 && !torch::isfinite(m.embeddings).all().item<bool>()) {
    throw FileError(file_.path, "the gallery holds an embedding with a non-finite value");
  }
  if (v2) read_negatives(db_.get(), file_, number_of, size, m);
  snap.matrix = std::move(m);
  return snap;
}

namespace {

std::vector<float> floats_of(const Statement& q, int col, int size, const std::string& path) {
  if (q.bytes(col) != size * static_cast<int>(sizeof(float))) {
    throw FileError(path, "corrupt embedding: " + std::to_string(q.bytes(col)) +
                              " bytes, expected " + std::to_string(size * sizeof(float)));
  }
  std::vector<float> v(static_cast<size_t>(size));
  std::memcpy(v.data(), q.blob(col), v.size() * sizeof(float));
  return v;
}

}  // namespace

GalleryContent SqliteGallery::content() const {
  const ReadTransaction read(db_.get(), file_);
  check_schema_version();
  GalleryContent c;
  c.model.fingerprint = model_fingerprint();
  c.preprocessing = fact("preprocessing");
  c.model.embedding_size = embedding_size();
  c.model.metric = metric();
  c.created = fact("created");
  c.threshold = threshold();
  const int size = c.model.embedding_size;
  if (size <= 0 || size > kMaxGalleryEmbeddingSize) {
    throw FileError(file_.path, "the gallery's embedding size " + std::to_string(size) +
                                    " is outside 1.." + std::to_string(kMaxGalleryEmbeddingSize));
  }
  c.identities = identities();
  c.samples = samples();
  {
    Statement q(db_.get(), file_,
                "SELECT e.vector FROM embeddings e JOIN identities i ON i.id = e.identity_id "
                "ORDER BY i.name, e.id");
    while (q.step()) c.sample_embeddings.push_back(floats_of(q, 0, size, file_.path));
  }
  c.negatives = negatives();
  if (schema_version() >= 2) {
    Statement q(db_.get(), file_,
                "SELECT n.vector FROM negatives n LEFT JOIN identities i ON i.id = n.identity_id "
                "ORDER BY i.name IS NOT NULL, i.name, n.id");
    while (q.step()) c.negative_embeddings.push_back(floats_of(q, 0, size, file_.path));
  }
  return c;
}

void SqliteGallery::write_content(const GalleryContent& c, bool replace) {
  check_model(c.model);
  sqlite3* db = db_.get();
  Transaction tx(db, file_);
  upgrade_schema();
  {
    Statement q(db, file_, "SELECT count(*) FROM identities");
    q.step();
    if (q.integer(0) > 0 && !replace) {
      throw InputError("gallery " + file_.path + " is not empty (" + std::to_string(q.integer(0)) +
                       " identities); --replace replaces what it holds");
    }
  }
  exec(db, file_, "DELETE FROM embeddings");
  exec(db, file_, "DELETE FROM negatives");
  exec(db, file_, "DELETE FROM identities");
  exec(db, file_, "DELETE FROM facts WHERE key = 'threshold'");
  write_binding(db, file_, c.model, c.preprocessing);
  if (!c.created.empty()) put_fact(db, file_, "created", c.created);
  if (c.threshold) put_fact(db, file_, "threshold", float_text(*c.threshold));
  std::map<std::string, int64_t> id_of;
  {
    Statement ins(db, file_,
                  "INSERT INTO identities(name, created, updated, threshold) "
                  "VALUES (?1, ?2, ?3, ?4)");
    for (const auto& r : c.identities) {
      check_name(r.name);
      ins.reset();
      ins.bind(1, r.name).bind(2, r.created).bind(3, r.updated);
      if (r.threshold) {
        ins.bind(4, static_cast<double>(*r.threshold));
      } else {
        ins.bind_null(4);
      }
      ins.run();
      id_of[r.name] = sqlite3_last_insert_rowid(db);
    }
  }
  const auto owner = [&](const std::string& name) {
    const auto it = id_of.find(name);
    if (it == id_of.end()) throw InputError("gallery content: unknown identity '" + name + "'");
    return it->second;
  };
  {
    Statement ins(db, file_,
                  "INSERT INTO embeddings(identity_id, source_file, box_x, box_y, box_w, box_h, "
                  "framing, enrolled, vector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    for (size_t i = 0; i < c.samples.size(); ++i) {
      const StoredSample& s = c.samples[i];
      const std::vector<float>& v = c.sample_embeddings.at(i);
      check_samples(file_.path, s.identity, {internal::sample_of(s.source_file, v)},
                    c.model.embedding_size);
      ins.reset();
      ins.bind(1, owner(s.identity))
          .bind(2, s.source_file)
          .bind(3, int64_t{s.box.x})
          .bind(4, int64_t{s.box.y})
          .bind(5, int64_t{s.box.width})
          .bind(6, int64_t{s.box.height})
          .bind(7, std::string(framing_name(s.framing)))
          .bind(8, s.enrolled)
          .bind_blob(9, v.data(), v.size() * sizeof(float));
      ins.run();
    }
  }
  {
    Statement ins(db, file_,
                  "INSERT INTO negatives(identity_id, source_file, enrolled, vector) "
                  "VALUES (?1, ?2, ?3, ?4)");
    for (size_t i = 0; i < c.negatives.size(); ++i) {
      const StoredNegative& n = c.negatives[i];
      const std::vector<float>& v = c.negative_embeddings.at(i);
      check_samples(file_.path, n.identity, {internal::sample_of(n.source_file, v)},
                    c.model.embedding_size);
      ins.reset();
      if (n.identity == kAnyoneName) {
        ins.bind_null(1);
      } else {
        ins.bind(1, owner(n.identity));
      }
      ins.bind(2, n.source_file)
          .bind(3, n.enrolled)
          .bind_blob(4, v.data(), v.size() * sizeof(float));
      ins.run();
    }
  }
  tx.commit();
  after_commit();
}

int64_t SqliteGallery::change_counter() const {
  uint64_t h = 14695981039346656037ull;
  {
    Statement q(db_.get(), file_, "PRAGMA data_version");
    q.step();
    h = mix(h, static_cast<uint64_t>(q.integer(0)));
  }
  h = mix(h, static_cast<uint64_t>(own_commits_));
  h = mix_stat(h, file_.path);
  h = mix_stat(h, file_.path + "-wal");
  return static_cast<int64_t>(h & 0x7fffffffffffffffull);
}

// ---- Gallery: the handle, forwarding to its store ----------------------------------------

Gallery Gallery::open(const std::string& path, const ModelInfo& model, bool create) {
  if (is_postgres_location(path)) return Gallery(open_postgres_store(path, &model, create, true));
  return Gallery(SqliteGallery::open(path, model, create));
}

Gallery Gallery::open_unbound(const std::string& path, bool writable) {
  if (is_postgres_location(path))
    return Gallery(open_postgres_store(path, nullptr, false, writable));
  return Gallery(SqliteGallery::open_unbound(path, writable));
}

Gallery Gallery::open_reader(const std::string& path, const ModelInfo& model) {
  if (is_postgres_location(path)) return Gallery(open_postgres_store(path, &model, false, false));
  return Gallery(SqliteGallery::open_reader(path, model));
}

void Gallery::enroll(const std::string& name, const std::vector<EnrollmentSample>& samples,
                     bool replace) {
  store_->enroll_batch({IdentitySamples{name, samples}}, replace);
}
void Gallery::enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) {
  store_->enroll_batch(identities, replace);
}
void Gallery::remove(const std::string& name) { store_->remove(name); }
void Gallery::rename(const std::string& old_name, const std::string& new_name) {
  store_->rename(old_name, new_name);
}
void Gallery::rebind(const ModelInfo& model, const std::vector<IdentitySamples>& identities) {
  store_->rebind(model, identities);
}
void Gallery::bind_preprocessing(const ModelInfo& model) { store_->bind_preprocessing(model); }
void Gallery::set_threshold(std::optional<float> threshold) { store_->set_threshold(threshold); }
void Gallery::add_negatives(const std::string& name, const std::vector<EnrollmentSample>& samples) {
  store_->add_negatives(name, samples);
}
void Gallery::set_identity_threshold(const std::string& name, std::optional<float> threshold) {
  store_->set_identity_threshold(name, threshold);
}
void Gallery::set_identity_thresholds(
    const std::vector<std::pair<std::string, float>>& thresholds) {
  store_->set_identity_thresholds(thresholds);
}
std::vector<IdentityRecord> Gallery::identities() const { return store_->identities(); }
std::vector<StoredSample> Gallery::samples() const { return store_->samples(); }
std::vector<StoredNegative> Gallery::negatives() const { return store_->negatives(); }
int Gallery::schema_version() const { return store_->schema_version(); }
GalleryMatrix Gallery::load_matrix() const { return store_->snapshot().matrix; }
GallerySnapshot Gallery::snapshot() const { return store_->snapshot(); }
std::string Gallery::model_fingerprint() const { return store_->fact("model_fingerprint"); }
std::string Gallery::preprocessing() const { return store_->fact("preprocessing"); }
int Gallery::embedding_size() const { return std::atoi(store_->fact("embedding_size").c_str()); }
std::string Gallery::metric() const { return store_->fact("metric"); }
std::string Gallery::created() const { return store_->fact("created"); }
std::optional<float> Gallery::threshold() const {
  return parse_threshold(store_->location(), store_->fact("threshold"));
}

GalleryContent migrate_gallery(const std::string& from, const std::string& to, bool replace) {
  const GalleryContent content = Gallery::open_unbound(from, /*writable=*/false).content();
  // A new target is created bound to the source's model; an existing one is rebound by
  // write_content (refused unless replace when it holds identities).
  const bool exists = is_postgres_location(to) ? true : file_identity_of(to).has_value();
  Gallery target = [&] {
    if (!exists) return Gallery::open(to, content.model, /*create=*/true);
    try {
      return Gallery::open_unbound(to, /*writable=*/true);
    } catch (const FileError&) {
      if (!is_postgres_location(to)) throw;
      return Gallery::open(to, content.model, /*create=*/true);  // a database without tables
    }
  }();
  target.write_content(content, replace);
  return content;
}

}  // namespace siamese
