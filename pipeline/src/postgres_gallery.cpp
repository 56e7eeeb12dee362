#include "siamese/postgres_gallery.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "gallery_common.h"
#include "gallery_hooks.h"
#include "siamese/errors.h"
#include "siamese/sqlite_db.h"

namespace siamese {

namespace {

using internal::check_binding;
using internal::check_model;
using internal::check_name;
using internal::check_samples;
using internal::float_text;
using internal::framing_name;
using internal::parse_threshold;

// Tables are created once per database, under an advisory lock ("SIAG") so that two processes
// creating the same gallery at once do not both create them.
constexpr const char* kCreateLock = "SELECT pg_advisory_lock(1397311815)";
constexpr const char* kCreateUnlock = "SELECT pg_advisory_unlock(1397311815)";
constexpr const char* kSchema = R"sql(
CREATE TABLE siamese_facts (
  key   text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE siamese_identities (
  id        bigserial PRIMARY KEY,
  name      text NOT NULL UNIQUE,
  created   text NOT NULL,
  updated   text NOT NULL,
  threshold double precision
);
CREATE TABLE siamese_embeddings (
  id          bigserial PRIMARY KEY,
  identity_id bigint NOT NULL REFERENCES siamese_identities(id) ON DELETE CASCADE,
  source_file text NOT NULL,
  box_x       integer NOT NULL DEFAULT 0,
  box_y       integer NOT NULL DEFAULT 0,
  box_w       integer NOT NULL DEFAULT 0,
  box_h       integer NOT NULL DEFAULT 0,
  framing     text NOT NULL DEFAULT 'exact',
  enrolled    text NOT NULL,
  vector      bytea NOT NULL
);
CREATE INDEX siamese_embeddings_by_identity ON siamese_embeddings(identity_id);
CREATE TABLE siamese_negatives (
  id          bigserial PRIMARY KEY,
  identity_id bigint REFERENCES siamese_identities(id) ON DELETE CASCADE,
  source_file text NOT NULL,
  enrolled    text NOT NULL,
  vector      bytea NOT NULL
);
CREATE INDEX siamese_negatives_by_identity ON siamese_negatives(identity_id);
)sql";
// The change log: which identities each version changed (NULL: the whole gallery), so that a
// follower reads only those (changes_since). Galleries made before it get it on their first
// writable open; readers of one without it reload everything.
constexpr const char* kChangeLogSchema = R"sql(
CREATE TABLE IF NOT EXISTS siamese_changes (
  version  bigint NOT NULL,
  identity text
);
CREATE INDEX IF NOT EXISTS siamese_changes_by_version ON siamese_changes(version);
)sql";
// Versions the change log keeps; a follower further behind reloads everything.
constexpr int64_t kChangeLogVersions = 1000;
// A change to more identities than this is logged as a change to the whole gallery: reading
// everything again is as cheap as reading that many.
constexpr size_t kChangeLogMaxIdentities = 1000;
// Rows read per FETCH while loading: bounds the memory of one result.
constexpr int kFetchRows = 20000;

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

// libpq's messages end with a newline; errors read better on one line.
std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

Conn connect(const std::string& uri, const std::string& name) {
  const std::string timeout = std::to_string(kPostgresConnectTimeoutS);
  // connect_timeout first, so that one in the URI overrides it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "siamese", uri.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) throw PostgresConnectionError(name, "cannot connect to PostgreSQL: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw PostgresConnectionError(
        name, "cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn.get())));
  }
  // Notices (e.g. "relation already exists, skipping") are not the user's business.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

// COPY text format: backslash, tab, newline and carriage return escaped.
void append_copy_text(std::string& out, const std::string& text) {
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

// A bytea in COPY text format: \\x followed by hex digits.
void append_copy_bytea(std::string& out, const std::vector<float>& values) {
  static const char* kHex = "0123456789abcdef";
  out += "\\\\x";
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  for (size_t i = 0; i < values.size() * sizeof(float); ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
}

int64_t read_int8(const char* p) {
  uint32_t hi = 0;
  uint32_t lo = 0;
  std::memcpy(&hi, p, 4);
  std::memcpy(&lo, p + 4, 4);
  return static_cast<int64_t>((static_cast<uint64_t>(ntohl(hi)) << 32) | ntohl(lo));
}

double read_float8(const char* p) {
  const auto bits = static_cast<uint64_t>(read_int8(p));
  double d = 0.0;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// Rolls back unless committed (a failure leaves the gallery as it was).
class Tx {
 public:
  Tx(PGconn* conn, bool active = true) : conn_(conn), active_(active) {}
  ~Tx() {
    if (active_) PQclear(PQexec(conn_, "ROLLBACK"));
  }
  void done() { active_ = false; }

 private:
  PGconn* conn_;
  bool active_;
};

class PostgresGallery final : public GalleryStore {
 public:
  PostgresGallery(std::string name, Conn conn) : name_(std::move(name)), conn_(std::move(conn)) {}

  void open(const ModelInfo* model, bool create, bool writable);

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
  int schema_version() const override { return std::atoi(fact("schema_version").c_str()); }
  GallerySnapshot snapshot() const override;
  std::string fact(const std::string& key) const override;
  // Every fact by key, in the caller's transaction.
  std::map<std::string, std::string> all_facts() const;
  GalleryContent content() const override;
  void write_content(const GalleryContent& content, bool replace) override;
  const std::string& location() const override { return name_; }
  const FileIdentity& file_identity() const override { return no_file_; }
  int64_t change_counter() const override;
  std::optional<GalleryDelta> changes_since(int64_t version) const override;

 private:
  // Runs sql with text parameters; throws FileError naming the gallery and quoting the server.
  Result run(const std::string& sql, const std::vector<std::string>& params = {},
             bool binary_results = false) const;
  // Begins a write transaction: takes the version row (writers queue here) and bumps it.
  void begin_write();
  // Logs the identities noted as changed (touched), announces the new version and commits.
  void commit_write();
  // Notes that the open write transaction changes identity `name` (kAnyoneName: the reserved
  // negative anchors), or everything.
  void touched(const std::string& name) { touched_.insert(name); }
  void touched_everything() { whole_gallery_changed_ = true; }
  // The identities with embeddings whose name passes sql_filter ("" = all; a condition on
  // siamese_identities i), their rows, and their negative anchors (with the reserved set's when
  // with_anyone), into one matrix. Caller holds a read transaction.
  GalleryMatrix read_matrix(const std::string& sql_filter, bool with_anyone,
                            int embedding_size) const;
  // Creates the change log when a writable connection opens a gallery without one.
  void ensure_change_log(bool writable);
  // COPY rows (COPY text format lines) into table(columns).
  void copy_in(const std::string& table_and_columns, const std::string& rows);
  void put_fact(const std::string& key, const std::string& value);
  // The model (fingerprint, size, metric) and the preprocessing its rows were embedded with
  // ("" only when copying a gallery written before it was recorded).
  void write_binding(const ModelInfo& model, const std::string& preprocessing);
  internal::StoredBinding binding() const {
    return {fact("model_fingerprint"), std::atoi(fact("embedding_size").c_str()), fact("metric"),
            fact("preprocessing")};
  }
  int64_t upsert_identity(const std::string& name, const std::string& now);
  std::optional<int64_t> identity_id(const std::string& name) const;
  void append_samples(std::string& rows, int64_t identity_id,
                      const std::vector<EnrollmentSample>& samples, const std::string& now,
                      int64_t& rows_written) const;
  std::optional<float> identity_threshold(const std::string& name, const char* text) const;
  void check_schema_version() const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string name_;  // the URI without its password
  Conn conn_;
  std::string version_;                 // the version the open write transaction writes
  std::set<std::string> touched_;       // identities the open write transaction changes
  bool whole_gallery_changed_ = false;  // ... or all of it
  bool has_change_log_ = false;
  const FileIdentity no_file_{};
};

void PostgresGallery::fail(const std::string& what) const {
  const std::string message = what + ": " + trimmed(PQerrorMessage(conn_.get()));
  if (PQstatus(conn_.get()) != CONNECTION_OK) throw PostgresConnectionError(name_, message);
  throw FileError(name_, message);
}

Result PostgresGallery::run(const std::string& sql, const std::vector<std::string>& params,
                            bool binary_results) const {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  Result r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                        values.data(), nullptr, nullptr, binary_results ? 1 : 0));
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string message =
        r ? trimmed(PQresultErrorMessage(r.get())) : trimmed(PQerrorMessage(conn_.get()));
    const std::string first_line = sql.substr(0, sql.find('\n'));
    const std::string what = "PostgreSQL: " + message + " (in: " + first_line.substr(0, 60) + ")";
    if (PQstatus(conn_.get()) != CONNECTION_OK) throw PostgresConnectionError(name_, what);
    throw FileError(name_, what);
  }
  return r;
}

void PostgresGallery::check_schema_version() const {
  const int version = schema_version();
  if (version < 1 || version > kGallerySchemaVersion) {
    throw FileError(name_, "gallery schema version " + std::to_string(version) +
                               " is not supported (this build reads version " +
                               std::to_string(kGallerySchemaVersion) + ")");
  }
}

void PostgresGallery::open(const ModelInfo* model, bool create, bool writable) {
  if (model) check_model(*model);
  if (!writable) run("SET default_transaction_read_only = on");
  const auto has_tables = [this] {
    return std::string(PQgetvalue(run("SELECT to_regclass('siamese_facts') IS NOT NULL").get(), 0,
                                  0)) == "t";
  };
  if (!has_tables()) {
    if (!create) {
      throw FileError(name_,
                      "no siamese gallery in this database (create it with `siamese-enroll add`)");
    }
    // A session lock taken BEFORE the transaction, so that the transaction's catalog view
    // starts after the creator that held it committed.
    run(kCreateLock);
    struct Unlock {
      PGconn* conn;
      ~Unlock() { PQclear(PQexec(conn, kCreateUnlock)); }
    } unlock{conn_.get()};
    run("BEGIN");
    Tx tx(conn_.get());
    if (!has_tables()) {  // another process may have created it meanwhile
      Result r(PQexec(conn_.get(), (std::string(kSchema) + kChangeLogSchema).c_str()));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail("PostgreSQL: creating tables");
      const std::string now = sql::utc_now_iso8601();
      run("INSERT INTO siamese_facts(key, value) VALUES ('schema_version', $1), ('created', $2), "
          "('version', '0'), ('model_fingerprint', $3), ('embedding_size', $4), ('metric', $5), "
          "('preprocessing', $6)",
          {std::to_string(kGallerySchemaVersion), now, model->fingerprint,
           std::to_string(model->embedding_size), model->metric, preprocessing_facts(*model)});
    }
    run("COMMIT");
    tx.done();
  }
  check_schema_version();
  ensure_change_log(writable);
  if (model) check_binding(name_, binding(), *model);
}

void PostgresGallery::ensure_change_log(bool writable) {
  const auto has_log = [this] {
    return std::string(PQgetvalue(run("SELECT to_regclass('siamese_changes') IS NOT NULL").get(), 0,
                                  0)) == "t";
  };
  has_change_log_ = has_log();
  if (has_change_log_ || !writable) return;
  run(kCreateLock);
  struct Unlock {
    PGconn* conn;
    ~Unlock() { PQclear(PQexec(conn, kCreateUnlock)); }
  } unlock{conn_.get()};
  Result r(PQexec(conn_.get(), kChangeLogSchema));  // several statements: not PQexecParams
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail("PostgreSQL: creating change log");
  has_change_log_ = true;
}

std::map<std::string, std::string> PostgresGallery::all_facts() const {
  std::map<std::string, std::string> facts;
  Result r = run("SELECT key, value FROM siamese_facts");
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    facts[PQgetvalue(r.get(), i, 0)] = PQgetvalue(r.get(), i, 1);
  }
  return facts;
}

std::string PostgresGallery::fact(const std::string& key) const {
  Result r = run("SELECT value FROM siamese_facts WHERE key = $1", {key});
  return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : std::string();
}

int64_t PostgresGallery::change_counter() const { return std::atoll(fact("version").c_str()); }

void PostgresGallery::begin_write() {
  run("BEGIN");
  Tx tx(conn_.get());  // the caller's Tx takes over once this returns
  Result r =
      run("UPDATE siamese_facts SET value = (value::bigint + 1)::text WHERE key = 'version' "
          "RETURNING value");
  if (PQntuples(r.get()) != 1) throw FileError(name_, "the gallery has no version row");
  version_ = PQgetvalue(r.get(), 0, 0);
  touched_.clear();
  whole_gallery_changed_ = false;
  tx.done();
}

void PostgresGallery::commit_write() {
  if (has_change_log_) {
    std::string rows;
    if (whole_gallery_changed_ || touched_.empty() || touched_.size() > kChangeLogMaxIdentities) {
      rows = version_ + "\t\\N\n";  // NULL: everything
    } else {
      for (const auto& name : touched_) {
        rows += version_ + '\t';
        append_copy_text(rows, name);
        rows += '\n';
      }
    }
    copy_in("siamese_changes(version, identity)", rows);
    run("DELETE FROM siamese_changes WHERE version <= $1::bigint - " +
            std::to_string(kChangeLogVersions),
        {version_});
  }
  run("SELECT pg_notify($1, $2)", {kPostgresGalleryChannel, version_});
  run("COMMIT");
}

void PostgresGallery::copy_in(const std::string& table_and_columns, const std::string& rows) {
  if (rows.empty()) return;
  Result start(PQexec(conn_.get(), ("COPY " + table_and_columns + " FROM STDIN").c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) fail("PostgreSQL: COPY");
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < rows.size(); at += kChunk) {
    const size_t n = std::min(kChunk, rows.size() - at);
    if (PQputCopyData(conn_.get(), rows.data() + at, static_cast<int>(n)) != 1) {
      fail("PostgreSQL: COPY");
    }
  }
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) fail("PostgreSQL: COPY");
  std::string error;
  while (PGresult* r = PQgetResult(conn_.get())) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty()) {
      error = trimmed(PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  if (!error.empty()) throw FileError(name_, "PostgreSQL: " + error + " (in: COPY)");
}

void PostgresGallery::put_fact(const std::string& key, const std::string& value) {
  run("INSERT INTO siamese_facts(key, value) VALUES ($1, $2) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      {key, value});
}

int64_t PostgresGallery::upsert_identity(const std::string& name, const std::string& now) {
  Result r =
      run("INSERT INTO siamese_identities(name, created, updated) VALUES ($1, $2, $2) "
          "ON CONFLICT (name) DO UPDATE SET updated = excluded.updated RETURNING id",
          {name, now});
  return std::atoll(PQgetvalue(r.get(), 0, 0));
}

std::optional<int64_t> PostgresGallery::identity_id(const std::string& name) const {
  Result r = run("SELECT id FROM siamese_identities WHERE name = $1", {name});
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return std::atoll(PQgetvalue(r.get(), 0, 0));
}

void PostgresGallery::append_samples(std::string& rows, int64_t identity_id,
                                     const std::vector<EnrollmentSample>& samples,
                                     const std::string& now, int64_t& rows_written) const {
  for (const auto& s : samples) {
    rows += std::to_string(identity_id) + '\t';
    append_copy_text(rows, s.source_file);
    rows += '\t' + std::to_string(s.box.x) + '\t' + std::to_string(s.box.y) + '\t' +
            std::to_string(s.box.width) + '\t' + std::to_string(s.box.height) + '\t' +
            framing_name(s.framing) + '\t' + now + '\t';
    append_copy_bytea(rows, s.embedding);
    rows += '\n';
    ++rows_written;
    if (auto hook = internal::gallery_row_hook()) hook(rows_written);
  }
}

constexpr const char* kEmbeddingColumns =
    "siamese_embeddings(identity_id, source_file, box_x, box_y, box_w, box_h, framing, "
    "enrolled, vector)";

void PostgresGallery::enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) {
  const int size = std::atoi(fact("embedding_size").c_str());
  for (const auto& [name, samples] : identities) {
    check_name(name);
    if (samples.empty()) throw InputError("gallery " + name_ + ": no samples for '" + name + "'");
    check_samples(name_, name, samples, size);
  }
  const std::string now = sql::utc_now_iso8601();
  begin_write();
  Tx tx(conn_.get());
  // Re-read under the version row's lock: a rebind by another process may have committed.
  if (std::atoi(fact("embedding_size").c_str()) != size) {
    throw MismatchError("gallery " + name_ + " was rebound meanwhile");
  }
  std::set<std::string> replaced;
  std::string rows;
  int64_t written = 0;
  for (const auto& [name, samples] : identities) {
    const int64_t id = upsert_identity(name, now);
    touched(name);
    if (replace && replaced.insert(name).second) {
      run("DELETE FROM siamese_embeddings WHERE identity_id = $1", {std::to_string(id)});
    }
    append_samples(rows, id, samples, now, written);
  }
  copy_in(kEmbeddingColumns, rows);
  commit_write();
  tx.done();
}

void PostgresGallery::remove(const std::string& name) {
  begin_write();
  Tx tx(conn_.get());
  const auto id = identity_id(name);
  if (!id) throw InputError("gallery " + name_ + ": no identity named '" + name + "'");
  run("DELETE FROM siamese_identities WHERE id = $1", {std::to_string(*id)});  // cascades
  touched(name);
  commit_write();
  tx.done();
}

void PostgresGallery::rename(const std::string& old_name, const std::string& new_name) {
  check_name(new_name);
  begin_write();
  Tx tx(conn_.get());
  if (!identity_id(old_name)) {
    throw InputError("gallery " + name_ + ": no identity named '" + old_name + "'");
  }
  if (identity_id(new_name)) {
    throw InputError("gallery " + name_ + ": identity '" + new_name + "' already exists");
  }
  run("UPDATE siamese_identities SET name = $1, updated = $2 WHERE name = $3",
      {new_name, sql::utc_now_iso8601(), old_name});
  touched(old_name);
  touched(new_name);
  commit_write();
  tx.done();
}

void PostgresGallery::rebind(const ModelInfo& model,
                             const std::vector<IdentitySamples>& identities) {
  check_model(model);
  std::map<std::string, std::vector<const EnrollmentSample*>> wanted;
  for (const auto& [name, samples] : identities) {
    check_name(name);
    check_samples(name_, name, samples, model.embedding_size);
    for (const auto& s : samples) wanted[name].push_back(&s);
  }
  const std::string now = sql::utc_now_iso8601();
  begin_write();
  Tx tx(conn_.get());
  touched_everything();
  run("DELETE FROM siamese_embeddings");
  run("DELETE FROM siamese_negatives");
  run("UPDATE siamese_identities SET threshold = NULL");
  std::vector<std::string> existing;
  {
    Result r = run("SELECT name FROM siamese_identities");
    for (int i = 0; i < PQntuples(r.get()); ++i) existing.emplace_back(PQgetvalue(r.get(), i, 0));
  }
  for (const auto& name : existing) {
    if (wanted.count(name) == 0) run("DELETE FROM siamese_identities WHERE name = $1", {name});
  }
  write_binding(model, preprocessing_facts(model));
  run("DELETE FROM siamese_facts WHERE key = 'threshold'");
  std::string rows;
  int64_t written = 0;
  for (const auto& [name, samples] : wanted) {
    std::vector<EnrollmentSample> copy;
    copy.reserve(samples.size());
    for (const auto* s : samples) copy.push_back(*s);
    append_samples(rows, upsert_identity(name, now), copy, now, written);
  }
  copy_in(kEmbeddingColumns, rows);
  commit_write();
  tx.done();
}

void PostgresGallery::write_binding(const ModelInfo& model, const std::string& preprocessing) {
  put_fact("model_fingerprint", model.fingerprint);
  put_fact("embedding_size", std::to_string(model.embedding_size));
  put_fact("metric", model.metric);
  if (preprocessing.empty()) {
    run("DELETE FROM siamese_facts WHERE key = 'preprocessing'");
  } else {
    put_fact("preprocessing", preprocessing);
  }
}

void PostgresGallery::bind_preprocessing(const ModelInfo& model) {
  check_model(model);
  begin_write();
  Tx tx(conn_.get());
  touched_everything();  // readers that refused it read it again
  internal::StoredBinding stored = binding();
  const std::string facts = preprocessing_facts(model);
  if (stored.preprocessing.empty()) stored.preprocessing = facts;  // what this call records
  check_binding(name_, stored, model);  // another model, or other facts already recorded
  put_fact("preprocessing", facts);
  commit_write();
  tx.done();
}

void PostgresGallery::set_threshold(std::optional<float> threshold) {
  if (threshold && !(std::isfinite(*threshold) && *threshold >= 0.0f)) {
    throw InputError("gallery " + name_ + ": threshold must be a finite distance >= 0, not " +
                     float_text(*threshold));
  }
  begin_write();
  Tx tx(conn_.get());
  touched_everything();  // the default threshold of every identity
  if (threshold) {
    put_fact("threshold", float_text(*threshold));
  } else {
    run("DELETE FROM siamese_facts WHERE key = 'threshold'");
  }
  commit_write();
  tx.done();
}

void PostgresGallery::add_negatives(const std::string& name,
                                    const std::vector<EnrollmentSample>& samples) {
  if (samples.empty()) {
    throw InputError("gallery " + name_ + ": no negative anchors for '" + name + "'");
  }
  check_samples(name_, name, samples, std::atoi(fact("embedding_size").c_str()));
  const std::string now = sql::utc_now_iso8601();
  begin_write();
  Tx tx(conn_.get());
  std::string owner = "\\N";  // NULL: kAnyoneName's
  touched(name);
  if (name != kAnyoneName) {
    const auto id = identity_id(name);
    if (!id) {
      throw InputError("gallery " + name_ + ": no identity named '" + name +
                       "' (--not names an enrolled identity, or '" + kAnyoneName +
                       "' for faces that must never verify as anyone)");
    }
    owner = std::to_string(*id);
  }
  std::string rows;
  int64_t written = 0;
  for (const auto& s : samples) {
    rows += owner + '\t';
    append_copy_text(rows, s.source_file);
    rows += '\t' + now + '\t';
    append_copy_bytea(rows, s.embedding);
    rows += '\n';
    ++written;
    if (auto hook = internal::gallery_row_hook()) hook(written);
  }
  copy_in("siamese_negatives(identity_id, source_file, enrolled, vector)", rows);
  commit_write();
  tx.done();
}

void PostgresGallery::set_identity_threshold(const std::string& name,
                                             std::optional<float> threshold) {
  if (threshold) {
    set_identity_thresholds({{name, *threshold}});
    return;
  }
  begin_write();
  Tx tx(conn_.get());
  Result r = run("UPDATE siamese_identities SET threshold = NULL WHERE name = $1", {name});
  if (std::string(PQcmdTuples(r.get())) == "0") {
    throw InputError("gallery " + name_ + ": no identity named '" + name + "'");
  }
  touched(name);
  commit_write();
  tx.done();
}

void PostgresGallery::set_identity_thresholds(
    const std::vector<std::pair<std::string, float>>& thresholds) {
  for (const auto& [name, t] : thresholds) {
    if (!(std::isfinite(t) && t >= 0.0f)) {
      throw InputError("gallery " + name_ + ": threshold of '" + name +
                       "' must be a finite distance >= 0, not " + float_text(t));
    }
  }
  begin_write();
  Tx tx(conn_.get());
  for (const auto& [name, t] : thresholds) {
    Result r =
        run("UPDATE siamese_identities SET threshold = $1 WHERE name = $2", {float_text(t), name});
    if (std::string(PQcmdTuples(r.get())) == "0") {
      throw InputError("gallery " + name_ + ": no identity named '" + name + "'");
    }
    touched(name);
  }
  commit_write();
  tx.done();
}

std::optional<float> PostgresGallery::identity_threshold(const std::string& name,
                                                         const char* text) const {
  const double t = std::strtod(text, nullptr);
  if (!std::isfinite(t) || t < 0.0) {
    throw FileError(name_, "the stored threshold of '" + name + "' is not a finite distance >= 0");
  }
  return static_cast<float>(t);
}

std::vector<IdentityRecord> PostgresGallery::identities() const {
  Result r =
      run("SELECT i.name, i.created, i.updated, "
          "(SELECT count(*) FROM siamese_embeddings e WHERE e.identity_id = i.id), "
          "(SELECT count(*) FROM siamese_negatives n WHERE n.identity_id = i.id), i.threshold "
          "FROM siamese_identities i ORDER BY i.name COLLATE \"C\"");
  std::vector<IdentityRecord> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    IdentityRecord rec;
    rec.name = PQgetvalue(r.get(), i, 0);
    rec.created = PQgetvalue(r.get(), i, 1);
    rec.updated = PQgetvalue(r.get(), i, 2);
    rec.embedding_count = std::atoi(PQgetvalue(r.get(), i, 3));
    rec.negative_count = std::atoi(PQgetvalue(r.get(), i, 4));
    if (!PQgetisnull(r.get(), i, 5)) {
      rec.threshold = identity_threshold(rec.name, PQgetvalue(r.get(), i, 5));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<StoredSample> PostgresGallery::samples() const {
  Result r =
      run("SELECT i.name, e.source_file, e.enrolled, e.box_x, e.box_y, e.box_w, e.box_h, e.framing "
          "FROM siamese_embeddings e JOIN siamese_identities i ON i.id = e.identity_id "
          "ORDER BY i.name COLLATE \"C\", e.id");
  std::vector<StoredSample> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    StoredSample s;
    s.identity = PQgetvalue(r.get(), i, 0);
    s.source_file = PQgetvalue(r.get(), i, 1);
    s.enrolled = PQgetvalue(r.get(), i, 2);
    s.box = Box{std::atoi(PQgetvalue(r.get(), i, 3)), std::atoi(PQgetvalue(r.get(), i, 4)),
                std::atoi(PQgetvalue(r.get(), i, 5)), std::atoi(PQgetvalue(r.get(), i, 6))};
    s.framing = std::string(PQgetvalue(r.get(), i, 7)) == "detector" ? Framing::kDetectorBox
                                                                     : Framing::kExact;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<StoredNegative> PostgresGallery::negatives() const {
  Result r =
      run("SELECT i.name, n.source_file, n.enrolled FROM siamese_negatives n "
          "LEFT JOIN siamese_identities i ON i.id = n.identity_id "
          "ORDER BY i.name IS NOT NULL, i.name COLLATE \"C\", n.id");
  std::vector<StoredNegative> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back({PQgetisnull(r.get(), i, 0) ? std::string(kAnyoneName)
                                              : std::string(PQgetvalue(r.get(), i, 0)),
                   PQgetvalue(r.get(), i, 1), PQgetvalue(r.get(), i, 2)});
  }
  return out;
}

GallerySnapshot PostgresGallery::snapshot() const {
  // One snapshot for facts and rows: REPEATABLE READ sees one committed state throughout.
  run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  Tx tx(conn_.get());
  check_schema_version();
  GallerySnapshot snap;
  std::map<std::string, std::string> facts = all_facts();
  snap.model_fingerprint = facts["model_fingerprint"];
  snap.preprocessing = facts["preprocessing"];
  snap.embedding_size = std::atoi(facts["embedding_size"].c_str());
  snap.metric = facts["metric"];
  snap.threshold = parse_threshold(name_, facts["threshold"]);
  snap.version = std::atoll(facts["version"].c_str());
  const int size = snap.embedding_size;
  if (size <= 0 || size > kMaxGalleryEmbeddingSize) {
    throw FileError(name_, "the gallery's embedding size " + std::to_string(size) +
                               " is outside 1.." + std::to_string(kMaxGalleryEmbeddingSize));
  }
  snap.matrix = read_matrix("", /*with_anyone=*/true, size);
  run("COMMIT");
  tx.done();
  return snap;
}

std::optional<GalleryDelta> PostgresGallery::changes_since(int64_t version) const {
  if (!has_change_log_) return std::nullopt;
  run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  Tx tx(conn_.get());
  check_schema_version();
  std::map<std::string, std::string> facts = all_facts();
  GalleryDelta delta;
  delta.version = std::atoll(facts["version"].c_str());
  delta.model_fingerprint = facts["model_fingerprint"];
  delta.preprocessing = facts["preprocessing"];
  delta.embedding_size = std::atoi(facts["embedding_size"].c_str());
  delta.threshold = parse_threshold(name_, facts["threshold"]);
  if (delta.version < version) return std::nullopt;  // another gallery now: read it all
  const std::string since = "version > " + std::to_string(version);
  {
    // Every version since must be in the log (pruned or written by an older build: it is not)
    // and none may have changed the whole gallery.
    Result r =
        run("SELECT count(DISTINCT version), count(*) FILTER (WHERE identity IS NULL) "
            "FROM siamese_changes WHERE " +
            since);
    const int64_t versions = std::atoll(PQgetvalue(r.get(), 0, 0));
    const int64_t wholes = std::atoll(PQgetvalue(r.get(), 0, 1));
    if (versions != delta.version - version || wholes > 0) return std::nullopt;
  }
  {
    Result r = run("SELECT DISTINCT identity FROM siamese_changes WHERE " + since);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::string name(PQgetvalue(r.get(), i, 0), PQgetlength(r.get(), i, 0));
      if (name == kAnyoneName) {
        delta.change.anyone_replaced = true;
      } else {
        delta.change.replaced.push_back(std::move(name));
      }
    }
  }
  if (delta.embedding_size > 0 && delta.embedding_size <= kMaxGalleryEmbeddingSize &&
      (!delta.change.replaced.empty() || delta.change.anyone_replaced)) {
    delta.change.rows =
        read_matrix("i.name IN (SELECT identity FROM siamese_changes WHERE " + since + ")",
                    delta.change.anyone_replaced, delta.embedding_size);
  }
  run("COMMIT");
  tx.done();
  return delta;
}

GalleryMatrix PostgresGallery::read_matrix(const std::string& sql_filter, bool with_anyone,
                                           int size) const {
  const int bytes = size * static_cast<int>(sizeof(float));
  // Rows of the identities that pass the filter, by their ids spelled out: a literal list lets
  // the planner use the identity index where a subquery of unknown size made it scan every row.
  std::string of_filtered;
  if (!sql_filter.empty()) {
    Result r = run("SELECT i.id FROM siamese_identities i WHERE " + sql_filter);
    of_filtered = "identity_id = ANY('{";
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      of_filtered += (row ? "," : "") + std::string(PQgetvalue(r.get(), row, 0));
    }
    of_filtered += "}'::bigint[])";
  }
  // The identities that have embeddings, in name order (as SQLite's snapshot), with how many
  // each has: every row's place in the matrix is known before the rows come, so they stream
  // in table order (no server-side sort of the whole table) straight into the tensor.
  GalleryMatrix m;
  struct Slot {
    int64_t number = 0;  // identity number
    int64_t next = 0;    // next free row
    int64_t end = 0;
  };
  std::unordered_map<int64_t, Slot> slot_of;  // identity id ->
  std::map<int64_t, int64_t> number_of;       // identity id -> identity number (negatives)
  int64_t rows = 0;
  {
    Result r =
        run("SELECT i.id, i.name, i.threshold, c.n FROM siamese_identities i JOIN "
            "(SELECT identity_id, count(*) AS n FROM siamese_embeddings" +
                (of_filtered.empty() ? std::string() : " WHERE " + of_filtered) +
                " GROUP BY identity_id) c ON c.identity_id = i.id ORDER BY i.name COLLATE \"C\"",
            {}, /*binary_results=*/true);
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      const int64_t id = read_int8(PQgetvalue(r.get(), row, 0));
      const int64_t count = read_int8(PQgetvalue(r.get(), row, 3));
      const auto number = static_cast<int64_t>(m.names.size());
      m.names.emplace_back(PQgetvalue(r.get(), row, 1), PQgetlength(r.get(), row, 1));
      if (PQgetisnull(r.get(), row, 2)) {
        m.thresholds.push_back(std::nullopt);
      } else {
        const double t = read_float8(PQgetvalue(r.get(), row, 2));
        if (!std::isfinite(t) || t < 0.0) {
          throw FileError(name_, "the stored threshold of '" + m.names.back() +
                                     "' is not a finite distance >= 0");
        }
        m.thresholds.push_back(static_cast<float>(t));
      }
      slot_of[id] = Slot{number, rows, rows + count};
      number_of[id] = number;
      rows += count;
    }
  }
  m.embeddings = torch::empty({rows, size}, torch::kFloat32);
  m.owners = torch::empty({rows}, torch::kInt64);
  m.sources.resize(static_cast<size_t>(rows));
  float* values = m.embeddings.data_ptr<float>();
  int64_t* owners = m.owners.data_ptr<int64_t>();
  run("DECLARE siamese_rows NO SCROLL CURSOR FOR "
      "SELECT identity_id, vector, source_file FROM siamese_embeddings" +
      (of_filtered.empty() ? std::string() : " WHERE " + of_filtered));
  const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM siamese_rows";
  int64_t seen = 0;
  for (;;) {
    Result r = run(fetch, {}, /*binary_results=*/true);
    const int n = PQntuples(r.get());
    if (n == 0) break;
    for (int row = 0; row < n; ++row) {
      const auto it = slot_of.find(read_int8(PQgetvalue(r.get(), row, 0)));
      if (it == slot_of.end() || it->second.next >= it->second.end) {
        throw FileError(name_, "an embedding row does not belong to a counted identity");
      }
      Slot& slot = it->second;
      if (PQgetlength(r.get(), row, 1) != bytes) {
        throw FileError(name_, "corrupt embedding of '" + m.names[slot.number] +
                                   "': " + std::to_string(PQgetlength(r.get(), row, 1)) +
                                   " bytes, expected " + std::to_string(bytes));
      }
      std::memcpy(values + slot.next * size, PQgetvalue(r.get(), row, 1),
                  static_cast<size_t>(bytes));
      owners[slot.next] = slot.number;
      m.sources[static_cast<size_t>(slot.next)].assign(PQgetvalue(r.get(), row, 2),
                                                       PQgetlength(r.get(), row, 2));
      ++slot.next;
      ++seen;
    }
  }
  if (seen != rows) throw FileError(name_, "the embedding rows changed while being read");
  if (rows > 0 && !torch::isfinite(m.embeddings).all().item<bool>()) {
    throw FileError(name_, "the gallery holds an embedding with a non-finite value");
  }
  {
    std::string where;
    if (!of_filtered.empty()) {
      where = " WHERE " + of_filtered + (with_anyone ? " OR identity_id IS NULL" : "");
    } else if (!with_anyone) {
      where = " WHERE identity_id IS NOT NULL";
    }
    Result r =
        run("SELECT identity_id, vector FROM siamese_negatives" + where + " ORDER BY id", {}, true);
    std::vector<float> neg;
    std::vector<int64_t> neg_owners;
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      int64_t owner = kAnyoneOwner;
      if (!PQgetisnull(r.get(), row, 0)) {
        const auto it = number_of.find(read_int8(PQgetvalue(r.get(), row, 0)));
        if (it == number_of.end()) continue;  // an identity with no embeddings matches nobody
        owner = it->second;
      }
      if (PQgetlength(r.get(), row, 1) != bytes) {
        throw FileError(name_,
                        "corrupt negative anchor: " + std::to_string(PQgetlength(r.get(), row, 1)) +
                            " bytes, expected " + std::to_string(bytes));
      }
      const size_t at = neg.size();
      neg.resize(at + static_cast<size_t>(size));
      std::memcpy(neg.data() + at, PQgetvalue(r.get(), row, 1), static_cast<size_t>(bytes));
      neg_owners.push_back(owner);
    }
    const auto count = static_cast<int64_t>(neg_owners.size());
    if (count > 0) {
      m.negatives = torch::from_blob(neg.data(), {count, size}, torch::kFloat32).clone();
      m.negative_owners = torch::from_blob(neg_owners.data(), {count}, torch::kInt64).clone();
      if (!torch::isfinite(m.negatives).all().item<bool>()) {
        throw FileError(name_, "the gallery holds a negative anchor with a non-finite value");
      }
    }
  }
  run("CLOSE siamese_rows");
  return m;
}

GalleryContent PostgresGallery::content() const {
  run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  Tx tx(conn_.get());
  check_schema_version();
  GalleryContent c;
  c.model.fingerprint = fact("model_fingerprint");
  c.preprocessing = fact("preprocessing");
  c.model.embedding_size = std::atoi(fact("embedding_size").c_str());
  c.model.metric = fact("metric");
  c.created = fact("created");
  c.threshold = parse_threshold(name_, fact("threshold"));
  const int size = c.model.embedding_size;
  if (size <= 0 || size > kMaxGalleryEmbeddingSize) {
    throw FileError(name_, "the gallery's embedding size " + std::to_string(size) +
                               " is outside 1.." + std::to_string(kMaxGalleryEmbeddingSize));
  }
  const auto floats = [&](const Result& r, int row) {
    if (PQgetlength(r.get(), row, 0) != size * static_cast<int>(sizeof(float))) {
      throw FileError(name_, "corrupt embedding: " + std::to_string(PQgetlength(r.get(), row, 0)) +
                                 " bytes, expected " + std::to_string(size * sizeof(float)));
    }
    std::vector<float> v(static_cast<size_t>(size));
    std::memcpy(v.data(), PQgetvalue(r.get(), row, 0), v.size() * sizeof(float));
    return v;
  };
  c.identities = identities();
  c.samples = samples();
  {
    Result r =
        run("SELECT e.vector FROM siamese_embeddings e JOIN siamese_identities i "
            "ON i.id = e.identity_id ORDER BY i.name COLLATE \"C\", e.id",
            {}, true);
    for (int i = 0; i < PQntuples(r.get()); ++i) c.sample_embeddings.push_back(floats(r, i));
  }
  c.negatives = negatives();
  {
    Result r =
        run("SELECT n.vector FROM siamese_negatives n LEFT JOIN siamese_identities i "
            "ON i.id = n.identity_id ORDER BY i.name IS NOT NULL, i.name COLLATE \"C\", n.id",
            {}, true);
    for (int i = 0; i < PQntuples(r.get()); ++i) c.negative_embeddings.push_back(floats(r, i));
  }
  run("COMMIT");
  tx.done();
  return c;
}

void PostgresGallery::write_content(const GalleryContent& c, bool replace) {
  check_model(c.model);
  begin_write();
  Tx tx(conn_.get());
  touched_everything();
  {
    Result r = run("SELECT count(*) FROM siamese_identities");
    const std::string count = PQgetvalue(r.get(), 0, 0);
    if (count != "0" && !replace) {
      throw InputError("gallery " + name_ + " is not empty (" + count +
                       " identities); --replace replaces what it holds");
    }
  }
  run("DELETE FROM siamese_identities");  // cascades to embeddings and negatives
  run("DELETE FROM siamese_negatives");   // kAnyoneName's
  run("DELETE FROM siamese_facts WHERE key = 'threshold'");
  write_binding(c.model, c.preprocessing);
  if (!c.created.empty()) put_fact("created", c.created);
  if (c.threshold) put_fact("threshold", float_text(*c.threshold));
  std::map<std::string, int64_t> id_of;
  for (const auto& rec : c.identities) {
    check_name(rec.name);
    Result r = rec.threshold
                   ? run("INSERT INTO siamese_identities(name, created, updated, threshold) "
                         "VALUES ($1, $2, $3, $4) RETURNING id",
                         {rec.name, rec.created, rec.updated, float_text(*rec.threshold)})
                   : run("INSERT INTO siamese_identities(name, created, updated) "
                         "VALUES ($1, $2, $3) RETURNING id",
                         {rec.name, rec.created, rec.updated});
    id_of[rec.name] = std::atoll(PQgetvalue(r.get(), 0, 0));
  }
  const auto owner = [&](const std::string& name) {
    const auto it = id_of.find(name);
    if (it == id_of.end()) throw InputError("gallery content: unknown identity '" + name + "'");
    return it->second;
  };
  std::string rows;
  for (size_t i = 0; i < c.samples.size(); ++i) {
    const StoredSample& s = c.samples[i];
    const std::vector<float>& v = c.sample_embeddings.at(i);
    check_samples(name_, s.identity, {internal::sample_of(s.source_file, v)},
                  c.model.embedding_size);
    rows += std::to_string(owner(s.identity)) + '\t';
    append_copy_text(rows, s.source_file);
    rows += '\t' + std::to_string(s.box.x) + '\t' + std::to_string(s.box.y) + '\t' +
            std::to_string(s.box.width) + '\t' + std::to_string(s.box.height) + '\t' +
            framing_name(s.framing) + '\t';
    append_copy_text(rows, s.enrolled);
    rows += '\t';
    append_copy_bytea(rows, v);
    rows += '\n';
  }
  copy_in(kEmbeddingColumns, rows);
  rows.clear();
  for (size_t i = 0; i < c.negatives.size(); ++i) {
    const StoredNegative& n = c.negatives[i];
    const std::vector<float>& v = c.negative_embeddings.at(i);
    check_samples(name_, n.identity, {internal::sample_of(n.source_file, v)},
                  c.model.embedding_size);
    rows += (n.identity == kAnyoneName ? std::string("\\N") : std::to_string(owner(n.identity)));
    rows += '\t';
    append_copy_text(rows, n.source_file);
    rows += '\t';
    append_copy_text(rows, n.enrolled);
    rows += '\t';
    append_copy_bytea(rows, v);
    rows += '\n';
  }
  copy_in("siamese_negatives(identity_id, source_file, enrolled, vector)", rows);
  commit_write();
  tx.done();
}

}  // namespace

std::unique_ptr<GalleryStore> open_postgres_store(const std::string& uri, const ModelInfo* model,
                                                  bool create, bool writable) {
  const std::string name = gallery_display_name(uri);
  if (create && model == nullptr) throw InputError("gallery " + name + ": creating needs a model");
  auto store = std::make_unique<PostgresGallery>(name, connect(uri, name));
  store->open(model, create, writable);
  return store;
}

PostgresChangeListener::PostgresChangeListener(const std::string& uri)
    : name_(gallery_display_name(uri)) {
  Conn conn = connect(uri, name_);
  Result r(PQexec(conn.get(), (std::string("LISTEN ") + kPostgresGalleryChannel).c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw FileError(name_, "PostgreSQL: LISTEN: " + trimmed(PQerrorMessage(conn.get())));
  }
  conn_ = conn.release();
  last_heard_ = heartbeat_sent_ = std::chrono::steady_clock::now();
}

PostgresChangeListener::~PostgresChangeListener() { PQfinish(conn_); }

int PostgresChangeListener::wait(std::chrono::milliseconds timeout,
                                 std::chrono::milliseconds heartbeat) {
  const auto lost = [this](const std::string& what) {
    throw FileError(name_, "PostgreSQL: lost the listening connection (" + what +
                               "): " + trimmed(PQerrorMessage(conn_)));
  };
  const auto drain = [this] {
    int count = 0;
    while (PGnotify* n = PQnotifies(conn_)) {
      ++count;
      PQfreemem(n);
    }
    return count;
  };
  const auto now = std::chrono::steady_clock::now();
  if (!heartbeat_in_flight_ && now - heartbeat_sent_ >= heartbeat) {
    if (PQsendQuery(conn_, "SELECT 1") != 1) lost("heartbeat");
    heartbeat_in_flight_ = true;
    heartbeat_sent_ = now;
  }
  int count = drain();
  if (count == 0) {
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (fd.fd < 0) lost("closed");
    const int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
    if (ready < 0 && errno != EINTR) lost("poll");
    if (ready <= 0) return 0;
  }
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) lost("read");
  while (heartbeat_in_flight_ && PQisBusy(conn_) == 0) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) {
      heartbeat_in_flight_ = false;
      last_heard_ = std::chrono::steady_clock::now();
      break;
    }
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) lost("heartbeat");
  }
  count += drain();
  if (count > 0) last_heard_ = std::chrono::steady_clock::now();
  return count;
}

}  // namespace siamese
