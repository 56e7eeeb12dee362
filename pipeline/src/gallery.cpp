#include "siamese/gallery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "gallery_hooks.h"
#include "siamese/errors.h"
#include "siamese/text_safety.h"

namespace siamese {

namespace internal {
namespace {
// The one process-wide slot: a test seam, never set by the programs.
std::atomic<GalleryRowHook> g_row_hook{nullptr};
}  // namespace

GalleryRowHook set_gallery_row_hook(GalleryRowHook hook) { return g_row_hook.exchange(hook); }
}  // namespace internal

namespace {

// Marks the file as ours ("SIAG") so a foreign SQLite database is refused by name.
constexpr int32_t kApplicationId = 0x53494147;

// The schema. Embeddings are float32 in native byte order (little-endian on every platform
// LibTorch supports); the box and framing let --rebuild re-crop the same region.
constexpr const char* kSchema = R"sql(
CREATE TABLE facts (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE identities (
  id      INTEGER PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE,
  created TEXT NOT NULL,
  updated TEXT NOT NULL
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

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* framing_name(Framing f) { return f == Framing::kDetectorBox ? "detector" : "exact"; }

std::string sqlite_error(sqlite3* db, const std::string& what) {
  const int code = sqlite3_extended_errcode(db);
  std::string msg = what + ": " + sqlite3_errmsg(db);
  if ((code & 0xff) == SQLITE_BUSY) {
    msg += " (another process held the gallery for more than " +
           std::to_string(kGalleryBusyTimeoutMs / 1000) + " s)";
  } else if ((code & 0xff) == SQLITE_NOTADB) {
    msg = "not a siamese gallery (SQLite: " + std::string(sqlite3_errmsg(db)) + ")";
  }
  return msg;
}

// One prepared statement; every failure becomes a FileError naming the gallery.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw FileError(path_, sqlite_error(db_, "cannot prepare query"));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& bind_blob(int i, const void* data, size_t bytes) {
    check(sqlite3_bind_blob64(stmt_, i, data, bytes, SQLITE_TRANSIENT));
    return *this;
  }
  /// true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw FileError(path_, sqlite_error(db_, "query failed"));
  }
  void run() {
    while (step()) {
    }
    sqlite3_reset(stmt_);
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  const void* blob(int col) const { return sqlite3_column_blob(stmt_, col); }
  int bytes(int col) const { return sqlite3_column_bytes(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw FileError(path_, sqlite_error(db_, "cannot bind value"));
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    throw FileError(path, sqlite_error(db, std::string("cannot run ") + sql));
  }
}

// Switches the file to WAL. The mode is stored in the file, so only the first opener changes
// it; SQLite answers a mode change that meets another connection with SQLITE_BUSY at once,
// without the busy handler, so two enrollments starting together retry here up to the timeout.
void enable_wal(sqlite3* db, const std::string& path) {
  constexpr int kRetryMs = 5;
  for (int waited_ms = 0;; waited_ms += kRetryMs) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    const bool is_wal = rc == SQLITE_ROW &&
                        sqlite3_stricmp(reinterpret_cast<const char*>(
                                            sqlite3_column_text(stmt, 0)), "wal") == 0;
    sqlite3_finalize(stmt);
    if (is_wal) return;
    if (rc == SQLITE_ROW) {  // SQLite kept the old mode: WAL needs shared memory (not NFS)
      throw FileError(path, "cannot switch the gallery to WAL; keep galleries on a local disk");
    }
    const bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    if (!busy || waited_ms >= kGalleryBusyTimeoutMs) {
      throw FileError(path, sqlite_error(db, "cannot switch the gallery to WAL"));
    }
    sqlite3_sleep(kRetryMs);
  }
}

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (an exception).
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    exec(db_, path_, "BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(db_, path_, "COMMIT");
    open_ = false;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool open_ = true;
};

// Creates an empty file readable by its owner only, before SQLite writes anything to it (the
// -wal and -shm files SQLite creates later copy this mode). An existing file is left alone.
void create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;  // another process created it first: fine
    throw FileError(path, std::string("cannot create gallery: ") + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // the umask may only remove bits, but be explicit
  ::close(fd);
}

sqlite3* open_db(const std::string& path, bool writable) {
  sqlite3* db = nullptr;
  const int flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
                    SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw FileError(path, "cannot open gallery: " + msg);
  }
  sqlite3_busy_timeout(db, kGalleryBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  return db;
}

bool has_schema(sqlite3* db, const std::string& path) {
  Statement q(db, path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='facts'");
  q.step();
  return q.integer(0) > 0;
}

void put_fact(sqlite3* db, const std::string& path, const std::string& key,
              const std::string& value) {
  Statement q(db, path, "INSERT OR REPLACE INTO facts(key, value) VALUES (?1, ?2)");
  q.bind(1, key).bind(2, value).run();
}

void write_binding(sqlite3* db, const std::string& path, const ModelInfo& model) {
  put_fact(db, path, "model_fingerprint", model.fingerprint);
  put_fact(db, path, "embedding_size", std::to_string(model.embedding_size));
  put_fact(db, path, "metric", model.metric);
}

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

// The id of identity `name`, inserting it when absent; updates its `updated` time.
int64_t upsert_identity(sqlite3* db, const std::string& path, const std::string& name,
                        const std::string& now) {
  Statement ins(db, path,
                "INSERT INTO identities(name, created, updated) VALUES (?1, ?2, ?2) "
                "ON CONFLICT(name) DO UPDATE SET updated = excluded.updated");
  ins.bind(1, name).bind(2, now).run();
  Statement sel(db, path, "SELECT id FROM identities WHERE name = ?1");
  sel.bind(1, name);
  sel.step();
  return sel.integer(0);
}

// Writes the rows of one identity; calls the test hook after each row.
void insert_samples(sqlite3* db, const std::string& path, int64_t identity_id,
                    const std::vector<EnrollmentSample>& samples, const std::string& now,
                    int64_t& rows_written) {
  Statement ins(db, path,
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

void delete_identity_samples(sqlite3* db, const std::string& path, int64_t identity_id) {
  Statement del(db, path, "DELETE FROM embeddings WHERE identity_id = ?1");
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

void Gallery::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Gallery::Gallery(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

Gallery Gallery::open(const std::string& path, const ModelInfo& model, bool create) {
  check_model(model);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && !create) {
    throw FileError(path, "no such gallery (create it with `siamese-enroll add`)");
  }
  if (exists && S_ISDIR(st.st_mode)) throw FileError(path, "is a folder, not a gallery file");
  if (!exists) create_private_file(path);

  Gallery g(path, open_db(path, true));
  sqlite3* db = g.db_.get();
  exec(db, path, "PRAGMA foreign_keys = ON");
  if (create) {
    // journal_mode is persistent in the file; it cannot change inside a transaction.
    enable_wal(db, path);
    Transaction tx(db, path);
    if (!has_schema(db, path)) {
      int64_t app_id = 0, tables = 0;
      {
        Statement q(db, path, "SELECT (SELECT application_id FROM pragma_application_id), "
                              "(SELECT count(*) FROM sqlite_master)");
        q.step();
        app_id = q.integer(0);
        tables = q.integer(1);
      }
      if (tables > 0 || (app_id != 0 && app_id != kApplicationId)) {
        throw FileError(path, "not a siamese gallery (a SQLite database of something else)");
      }
      exec(db, path, kSchema);
      exec(db, path, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
      exec(db, path, ("PRAGMA user_version = " + std::to_string(kGallerySchemaVersion)).c_str());
      put_fact(db, path, "schema_version", std::to_string(kGallerySchemaVersion));
      put_fact(db, path, "created", now_utc());
      write_binding(db, path, model);
    }
    tx.commit();
    ++g.own_commits_;
  }
  if (!has_schema(db, path)) throw FileError(path, "not a siamese gallery (no facts table)");
  const int version = std::atoi(g.fact("schema_version").c_str());
  if (version < 1 || version > kGallerySchemaVersion) {
    throw FileError(path, "gallery schema version " + std::to_string(version) +
                              " is not supported (this build reads version " +
                              std::to_string(kGallerySchemaVersion) + ")");
  }
  const std::string stored = g.model_fingerprint();
  const int stored_size = g.embedding_size();
  if (stored != model.fingerprint || stored_size != model.embedding_size ||
      g.metric() != model.metric) {
    throw MismatchError("gallery " + path + " was built with model fingerprint " + stored +
                        " (embedding size " + std::to_string(stored_size) + ", " + g.metric() +
                        "), but the model in use has fingerprint " + model.fingerprint +
                        " (embedding size " + std::to_string(model.embedding_size) + ", " +
                        model.metric +
                        "); use the model that built it, a new gallery, or re-embed with "
                        "`siamese-enroll add --rebuild`");
  }
  return g;
}

Gallery Gallery::open_unbound(const std::string& path, bool writable) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw FileError(path, "no such gallery");
  if (S_ISDIR(st.st_mode)) throw FileError(path, "is a folder, not a gallery file");
  Gallery g(path, open_db(path, writable));
  exec(g.db_.get(), path, "PRAGMA foreign_keys = ON");
  if (!has_schema(g.db_.get(), path)) {
    throw FileError(path, "not a siamese gallery (no facts table)");
  }
  const int version = std::atoi(g.fact("schema_version").c_str());
  if (version < 1 || version > kGallerySchemaVersion) {
    throw FileError(path, "gallery schema version " + std::to_string(version) +
                              " is not supported");
  }
  return g;
}

std::string Gallery::fact(const std::string& key) const {
  Statement q(db_.get(), path_, "SELECT value FROM facts WHERE key = ?1");
  q.bind(1, key);
  return q.step() ? q.text(0) : std::string();
}

std::string Gallery::model_fingerprint() const { return fact("model_fingerprint"); }
int Gallery::embedding_size() const { return std::atoi(fact("embedding_size").c_str()); }
std::string Gallery::metric() const { return fact("metric"); }
std::string Gallery::created() const { return fact("created"); }

std::optional<float> Gallery::threshold() const {
  const std::string t = fact("threshold");
  if (t.empty()) return std::nullopt;
  return std::strtof(t.c_str(), nullptr);
}

void Gallery::set_threshold(std::optional<float> threshold) {
  if (threshold && !(std::isfinite(*threshold) && *threshold >= 0.0f)) {
    throw InputError("gallery " + path_ + ": threshold must be a finite distance >= 0, not " +
                     float_text(*threshold));
  }
  Transaction tx(db_.get(), path_);
  if (threshold) {
    put_fact(db_.get(), path_, "threshold", float_text(*threshold));
  } else {
    Statement del(db_.get(), path_, "DELETE FROM facts WHERE key = 'threshold'");
    del.run();
  }
  tx.commit();
  ++own_commits_;
}

void Gallery::enroll(const std::string& name, const std::vector<EnrollmentSample>& samples,
                     bool replace) {
  enroll_batch({IdentitySamples{name, samples}}, replace);
}

void Gallery::enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) {
  const int size = embedding_size();
  for (const auto& [name, samples] : identities) {
    check_name(name);
    if (samples.empty()) throw InputError("gallery " + path_ + ": no samples for '" + name + "'");
    check_samples(path_, name, samples, size);
  }
  sqlite3* db = db_.get();
  const std::string now = now_utc();
  Transaction tx(db, path_);
  // Re-read under the write lock: a rebind by another process may have changed the binding.
  if (embedding_size() != size) throw MismatchError("gallery " + path_ + " was rebound meanwhile");
  std::set<std::string> replaced;
  int64_t rows = 0;
  for (const auto& [name, samples] : identities) {
    const int64_t id = upsert_identity(db, path_, name, now);
    if (replace && replaced.insert(name).second) delete_identity_samples(db, path_, id);
    insert_samples(db, path_, id, samples, now, rows);
  }
  tx.commit();
  ++own_commits_;
}

void Gallery::remove(const std::string& name) {
  Transaction tx(db_.get(), path_);
  Statement sel(db_.get(), path_, "SELECT id FROM identities WHERE name = ?1");
  sel.bind(1, name);
  if (!sel.step()) throw InputError("gallery " + path_ + ": no identity named '" + name + "'");
  const int64_t id = sel.integer(0);
  sel.reset();  // a statement still stepping would block the COMMIT
  delete_identity_samples(db_.get(), path_, id);
  Statement del(db_.get(), path_, "DELETE FROM identities WHERE id = ?1");
  del.bind(1, id).run();
  tx.commit();
  ++own_commits_;
}

void Gallery::rename(const std::string& old_name, const std::string& new_name) {
  check_name(new_name);
  Transaction tx(db_.get(), path_);
  Statement sel(db_.get(), path_, "SELECT count(*) FROM identities WHERE name = ?1");
  sel.bind(1, old_name);
  sel.step();
  if (sel.integer(0) == 0) {
    throw InputError("gallery " + path_ + ": no identity named '" + old_name + "'");
  }
  sel.reset();
  sel.bind(1, new_name);
  sel.step();
  const bool taken = sel.integer(0) > 0;
  sel.reset();
  if (taken) throw InputError("gallery " + path_ + ": identity '" + new_name + "' already exists");
  Statement upd(db_.get(), path_, "UPDATE identities SET name = ?1, updated = ?2 WHERE name = ?3");
  upd.bind(1, new_name).bind(2, now_utc()).bind(3, old_name).run();
  tx.commit();
  ++own_commits_;
}

void Gallery::rebind(const ModelInfo& model,
                     const std::vector<std::pair<std::string, std::vector<EnrollmentSample>>>&
                         identities) {
  check_model(model);
  std::map<std::string, std::vector<const EnrollmentSample*>> wanted;
  for (const auto& [name, samples] : identities) {
    check_name(name);
    check_samples(path_, name, samples, model.embedding_size);
    for (const auto& s : samples) wanted[name].push_back(&s);
  }
  sqlite3* db = db_.get();
  const std::string now = now_utc();
  Transaction tx(db, path_);
  exec(db, path_, "DELETE FROM embeddings");
  // Keep the rows (and creation times) of identities that stay; drop the others.
  std::vector<std::string> existing;
  {
    Statement sel(db, path_, "SELECT name FROM identities");
    while (sel.step()) existing.push_back(sel.text(0));
  }
  Statement del(db, path_, "DELETE FROM identities WHERE name = ?1");
  for (const auto& name : existing) {
    if (wanted.count(name) == 0) {
      del.reset();
      del.bind(1, name).run();
    }
  }
  write_binding(db, path_, model);
  Statement clear(db, path_, "DELETE FROM facts WHERE key = 'threshold'");
  clear.run();
  int64_t rows = 0;
  for (const auto& [name, samples] : wanted) {
    std::vector<EnrollmentSample> copy;
    copy.reserve(samples.size());
    for (const auto* s : samples) copy.push_back(*s);
    const int64_t id = upsert_identity(db, path_, name, now);
    insert_samples(db, path_, id, copy, now, rows);
  }
  tx.commit();
  ++own_commits_;
}

std::vector<IdentityRecord> Gallery::identities() const {
  Statement q(db_.get(), path_,
              "SELECT i.name, i.created, i.updated, "
              "(SELECT count(*) FROM embeddings e WHERE e.identity_id = i.id) "
              "FROM identities i ORDER BY i.name");
  std::vector<IdentityRecord> out;
  while (q.step()) {
    out.push_back({q.text(0), q.text(1), q.text(2), static_cast<int>(q.integer(3))});
  }
  return out;
}

std::vector<StoredSample> Gallery::samples() const {
  Statement q(db_.get(), path_,
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

GalleryMatrix Gallery::load_matrix() const {
  // One read transaction: the facts and the rows come from the same committed state.
  exec(db_.get(), path_, "BEGIN");
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db_.get()};
  const int size = embedding_size();
  Statement q(db_.get(), path_,
              "SELECT i.id, i.name, e.vector FROM embeddings e "
              "JOIN identities i ON i.id = e.identity_id ORDER BY i.name, e.id");
  GalleryMatrix m;
  std::vector<float> values;
  std::vector<int64_t> owners;
  int64_t last_id = -1;
  while (q.step()) {
    const int64_t id = q.integer(0);
    if (id != last_id) {
      m.names.push_back(q.text(1));
      last_id = id;
    }
    const int bytes = q.bytes(2);
    if (bytes != size * static_cast<int>(sizeof(float))) {
      throw FileError(path_, "corrupt embedding of '" + q.text(1) + "': " +
                                 std::to_string(bytes) + " bytes, expected " +
                                 std::to_string(size * sizeof(float)));
    }
    const size_t at = values.size();
    values.resize(at + static_cast<size_t>(size));
    std::memcpy(values.data() + at, q.blob(2), static_cast<size_t>(bytes));  // blobs may be unaligned
    owners.push_back(static_cast<int64_t>(m.names.size()) - 1);
  }
  const auto rows = static_cast<int64_t>(owners.size());
  m.embeddings = torch::from_blob(values.data(), {rows, size}, torch::kFloat32).clone();
  m.owners = torch::from_blob(owners.data(), {rows}, torch::kInt64).clone();
  return m;
}

int64_t Gallery::change_counter() const {
  uint64_t h = 14695981039346656037ull;
  {
    Statement q(db_.get(), path_, "PRAGMA data_version");
    q.step();
    h = mix(h, static_cast<uint64_t>(q.integer(0)));
  }
  h = mix(h, static_cast<uint64_t>(own_commits_));
  h = mix_stat(h, path_);
  h = mix_stat(h, path_ + "-wal");
  return static_cast<int64_t>(h & 0x7fffffffffffffffull);
}

}  // namespace siamese
