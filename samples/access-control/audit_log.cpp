#include "audit_log.h"

#include <sqlite3.h>

#include <cmath>

#include "siamese/errors.h"

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
    " decision TEXT NOT NULL)";     // grant, deny, or the element's verified/unknown/pending

}  // namespace

AuditLog::AuditLog(const std::string& path) : file_{path, "siamese audit log", 5000} {
  // Created by us first (mode 0600, not the umask's default: it names people), never through a
  // symbolic link at it or at its journal files, never a FIFO or device.
  sql::create_private_file(file_, sql::Links::kRefuse);
  db_ = sql::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file_);
  sql::enable_wal(db_.get(), file_);
  sql::exec(db_.get(), file_, kSchema);
  insert_ = std::make_unique<sql::Statement>(
      db_.get(), file_,
      "INSERT INTO decisions (time, running_time, camera, track, identity, distance, decision) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
}

void AuditLog::append(const std::string& time, const std::string& camera, const DoorAction& a) {
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
  s.bind(7, a.decision).run();
}

void AuditLog::close() {
  insert_.reset();
  db_.reset();
}

}  // namespace siamese::samples
