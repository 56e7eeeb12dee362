#include "audit_log.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <set>
#include <vector>

#include "siamese/errors.h"
#include "siamese/text_safety.h"

namespace siamese::samples {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS decisions ("
    " id INTEGER PRIMARY KEY,"
    " time TEXT NOT NULL,"          // wall clock, ISO 8601 UTC
    " running_time REAL NOT NULL,"  // seconds of the pipeline's running time
    " camera TEXT NOT NULL,"        // the faceverify element's name (one per camera)
    " track INTEGER NOT NULL,"      // faceverify's track id
    " identity TEXT NOT NULL,"      // the verified identity, or 'unknown'
    " distance REAL,"               // Euclidean distance to the nearest identity
    " decision TEXT NOT NULL,"      // grant, deny, revoke, tailgate, closed, or the element's state
    " reason TEXT,"                 // why, where the decision has a reason
    " gallery_generation INTEGER,"  // the element's gallery-generation
    " gallery_version TEXT,"        // gallery_version_of() the gallery file
    " threshold REAL)";             // the distance threshold the element decided with

// Columns added since the first version of the table, with their types: an older file gets them
// by ALTER TABLE (their values NULL in old rows).
const std::vector<std::pair<const char*, const char*>> kAddedColumns = {
    {"reason", "TEXT"},
    {"gallery_generation", "INTEGER"},
    {"gallery_version", "TEXT"},
    {"threshold", "REAL"}};

constexpr const char* kTimeIndex =
    "CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions(time)";

std::set<std::string> columns(sqlite3* db, const sql::FileRef& file) {
  sql::Statement q(db, file, "PRAGMA table_info(decisions)");
  std::set<std::string> names;
  while (q.step()) names.insert(q.text(1));
  return names;
}

}  // namespace

std::string gallery_version_of(const std::string& gallery_path) {
  const sql::FileRef file{gallery_path, "gallery", 2000};
  sql::Connection db = sql::open_connection(gallery_path, SQLITE_OPEN_READONLY, file);
  sql::Statement q(db.get(), file,
                   "SELECT IFNULL(MAX(updated), '')||'/'||COUNT(*)||'/'||"
                   "(SELECT COUNT(*) FROM embeddings) FROM identities");
  if (!q.step()) throw FileError(gallery_path, "cannot read the gallery's identities");
  return q.text(0);
}

AuditLog::AuditLog(const std::string& path) : file_{path, "siamese audit log", 5000} {
  // Created by us first (mode 0600, not the umask's default: it names people), never through a
  // symbolic link at it or at its journal files, never a FIFO or device.
  sql::create_private_file(file_, sql::Links::kRefuse);
  db_ = sql::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file_);
  sql::enable_wal(db_.get(), file_);
  {
    // Creation and upgrade in one transaction: another process upgrading the same file at the
    // same moment waits, then finds the columns there.
    sql::Transaction t(db_.get(), file_);
    sql::exec(db_.get(), file_, kSchema);
    const std::set<std::string> have = columns(db_.get(), file_);
    for (const auto& [name, type] : kAddedColumns) {
      if (have.count(name) != 0) continue;
      const std::string alter =
          std::string("ALTER TABLE decisions ADD COLUMN ") + name + " " + type;
      sql::exec(db_.get(), file_, alter.c_str());
    }
    sql::exec(db_.get(), file_, kTimeIndex);  // retention deletes by time
    t.commit();
  }
  insert_ = std::make_unique<sql::Statement>(
      db_.get(), file_,
      "INSERT INTO decisions (time, running_time, camera, track, identity, distance, decision, "
      "reason, gallery_generation, gallery_version, threshold) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
}

void AuditLog::append(const std::string& time, const std::string& camera, const DoorAction& a,
                      const AuditContext& c) {
  if (!db_) throw FileError(file_.path, "the audit log is closed");
  sql::Statement& s = *insert_;
  s.reset();
  s.bind(1, time)
      .bind(2, static_cast<double>(a.running_time) / 1e9)
      .bind(3, camera)
      .bind(4, static_cast<int64_t>(a.track_id))
      .bind(5, a.identity);
  if (std::isfinite(a.distance)) {
    s.bind(6, static_cast<double>(a.distance));
  } else {
    s.bind_null(6);
  }
  s.bind(7, a.decision);
  if (a.reason.empty()) {
    s.bind_null(8);
  } else {
    s.bind(8, a.reason);
  }
  if (c.gallery_generation > 0) {
    s.bind(9, c.gallery_generation);
  } else {
    s.bind_null(9);
  }
  if (c.gallery_version.empty()) {
    s.bind_null(10);
  } else {
    s.bind(10, c.gallery_version);
  }
  if (std::isfinite(c.threshold)) {
    s.bind(11, c.threshold);
  } else {
    s.bind_null(11);
  }
  s.run();
}

void AuditLog::close() {
  insert_.reset();
  db_.reset();
}

int64_t prune_audit_log(const std::string& path, const std::string& cutoff) {
  const sql::FileRef file{path, "siamese audit log", 5000};
  sql::Connection db =
      sql::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file);
  sql::Transaction t(db.get(), file);
  sql::Statement del(db.get(), file, "DELETE FROM decisions WHERE time < ?1");
  del.bind(1, cutoff).run();
  const int64_t n = sqlite3_changes(db.get());
  t.commit();
  return n;
}

std::string retention_cutoff(int days) {
  const std::time_t cutoff = std::time(nullptr) - static_cast<std::time_t>(days) * 86400;
  std::tm utc{};
  gmtime_r(&cutoff, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
  return text;
}

AuditRetention::AuditRetention(std::string path, int days, double period_s)
    : path_(std::move(path)), days_(days), period_s_(period_s) {
  if (days < 1) throw InputError("--audit-retention-days must be at least 1");
  thread_ = std::thread([this] { loop(); });
}

AuditRetention::~AuditRetention() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

int64_t AuditRetention::pruned() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pruned_;
}

void AuditRetention::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    int64_t n = 0;
    try {
      n = prune_audit_log(path_, retention_cutoff(days_));
    } catch (const std::exception& e) {
      std::cerr << "siamese-access-control: audit retention: " << escape_for_display(e.what())
                << " (retried in " << period_s_ << " s)\n";
    }
    lock.lock();
    pruned_ += n;
    wake_.wait_for(lock, std::chrono::duration<double>(period_s_), [this] { return stop_; });
  }
}

}  // namespace siamese::samples
