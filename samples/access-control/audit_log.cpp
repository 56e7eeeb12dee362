#include "audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

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

std::string utc_now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

AuditLog::AuditLog(const std::string& path) : path_(path) {
  // Create the file ourselves first, so that it gets mode 0600 and not the umask's default.
  // Never through a symbolic link (a planted one would make us write where it points), and
  // never a FIFO or device (O_NONBLOCK: opening a FIFO must not hang; fstat refuses it).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                        0600);
  if (fd < 0) {
    const int error = errno;
    throw std::runtime_error(path + ": cannot create the audit log: " +
                             (error == ELOOP ? std::string("it is a symbolic link")
                                             : std::string(std::strerror(error))));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) throw std::runtime_error(path + ": the audit log is not a regular file");
  // SQLite's own journal files beside it: a planted link there would be written through too.
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    struct stat side {};
    if (::lstat((path + suffix).c_str(), &side) == 0 && S_ISLNK(side.st_mode)) {
      throw std::runtime_error(path + suffix + ": a symbolic link where the audit log's " +
                               "journal goes; refusing to write through it");
    }
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
                                 nullptr);
  db_.reset(db);
  if (rc != SQLITE_OK) {
    throw std::runtime_error(
        path + ": cannot open the audit log: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec(kSchema);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO decisions (time, running_time, camera, track, "
                         "identity, distance, decision) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
  }
  insert_.reset(stmt);
}

void AuditLog::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(path_ + ": " + message + " (is it an audit log?)");
  }
}

void AuditLog::append(const std::string& time, const std::string& camera, const DoorAction& a) {
  if (!db_) throw std::runtime_error(path_ + ": the audit log is closed");
  sqlite3_stmt* s = insert_.get();
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, time.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 2, static_cast<double>(a.running_time) / 1e9);
  sqlite3_bind_text(s, 3, camera.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 4, a.track_id);
  sqlite3_bind_text(s, 5, a.identity.c_str(), -1, SQLITE_TRANSIENT);
  if (std::isfinite(a.distance)) {
    sqlite3_bind_double(s, 6, a.distance);
  } else {
    sqlite3_bind_null(s, 6);
  }
  sqlite3_bind_text(s, 7, a.decision.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(s) != SQLITE_DONE) {
    throw std::runtime_error(path_ +
                             ": cannot append to the audit log: " + sqlite3_errmsg(db_.get()));
  }
}

void AuditLog::close() {
  insert_.reset();
  db_.reset();
}

}  // namespace siamese::samples
