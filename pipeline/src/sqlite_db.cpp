#include "siamese/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "siamese/errors.h"

namespace siamese::sql {

void Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

std::string describe_error(sqlite3* db, const FileRef& file, const std::string& what) {
  const int code = sqlite3_extended_errcode(db) & 0xff;
  if (code == SQLITE_NOTADB) {
    return "not a " + file.kind + " (SQLite: " + sqlite3_errmsg(db) + ")";
  }
  std::string msg = what + ": " + sqlite3_errmsg(db);
  if (code == SQLITE_BUSY) {
    msg += " (another process held the " + file.kind + " for more than " +
           std::to_string(file.busy_timeout_ms / 1000) + " s)";
  }
  return msg;
}

Connection open_connection(const std::string& name, int flags, const FileRef& file) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(name.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) {
    throw FileError(file.path, "cannot open the " + file.kind + ": " +
                                   (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, file.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

void exec(sqlite3* db, const FileRef& file, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    throw FileError(file.path, describe_error(db, file, std::string("cannot run ") + sql));
  }
}

void enable_wal(sqlite3* db, const FileRef& file) {
  constexpr int kRetryMs = 5;
  for (int waited_ms = 0;; waited_ms += kRetryMs) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    const bool is_wal =
        rc == SQLITE_ROW &&
        sqlite3_stricmp(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal") == 0;
    sqlite3_finalize(stmt);
    if (is_wal) return;
    if (rc == SQLITE_ROW) {  // SQLite kept the old mode: WAL needs shared memory (not NFS)
      throw FileError(file.path,
                      "cannot switch the " + file.kind + " to WAL; keep it on a local disk");
    }
    const bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    if (!busy || waited_ms >= file.busy_timeout_ms) {
      throw FileError(file.path,
                      describe_error(db, file, "cannot switch the " + file.kind + " to WAL"));
    }
    sqlite3_sleep(kRetryMs);
  }
}

void create_private_file(const FileRef& file, Links links) {
  const std::string& path = file.path;
  const int nofollow = links == Links::kRefuse ? O_NOFOLLOW : 0;
  // O_NONBLOCK: opening a FIFO must not hang (fstat refuses it below).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | nofollow, 0600);
  if (fd < 0) {
    const int error = errno;
    throw FileError(path, "cannot create the " + file.kind + ": " +
                              (error == ELOOP && nofollow ? std::string("it is a symbolic link")
                                                          : std::string(std::strerror(error))));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  // A file we just created: 0600 whatever the umask. One that existed keeps its mode (the
  // owner may have chosen it); a fresh file is empty, an existing database is not.
  if (regular && st.st_size == 0) ::fchmod(fd, 0600);
  ::close(fd);
  if (!regular) throw FileError(path, "the " + file.kind + " is not a regular file");
  if (links == Links::kRefuse) {
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      struct stat side {};
      if (::lstat((path + suffix).c_str(), &side) == 0 && S_ISLNK(side.st_mode)) {
        throw FileError(path + suffix, "a symbolic link where the " + file.kind +
                                           "'s journal goes; refusing to write through it");
      }
    }
  }
}

Statement::Statement(sqlite3* db, const FileRef& file, const char* sql) : db_(db), file_(file) {
  if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
    throw FileError(file_.path, describe_error(db_, file_, "cannot prepare query"));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, const std::string& v) {
  check_bind(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind(int i, int64_t v) {
  check_bind(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}
Statement& Statement::bind(int i, double v) {
  check_bind(sqlite3_bind_double(stmt_, i, v));
  return *this;
}
Statement& Statement::bind_null(int i) {
  check_bind(sqlite3_bind_null(stmt_, i));
  return *this;
}
Statement& Statement::bind_blob(int i, const void* data, size_t bytes) {
  check_bind(sqlite3_bind_blob64(stmt_, i, data, bytes, SQLITE_TRANSIENT));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw FileError(file_.path, describe_error(db_, file_, "query failed"));
}

void Statement::run() {
  while (step()) {
  }
  sqlite3_reset(stmt_);
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? reinterpret_cast<const char*>(p) : "";
}
const void* Statement::blob(int col) const { return sqlite3_column_blob(stmt_, col); }
int Statement::bytes(int col) const { return sqlite3_column_bytes(stmt_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) {
    throw FileError(file_.path, describe_error(db_, file_, "cannot bind value"));
  }
}

Transaction::Transaction(sqlite3* db, const FileRef& file) : db_(db), file_(file) {
  exec(db_, file_, "BEGIN IMMEDIATE");
}
Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}
void Transaction::commit() {
  exec(db_, file_, "COMMIT");
  open_ = false;
}

std::string utc_now_iso8601(bool milliseconds) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!milliseconds) return std::string(buf) + "Z";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace siamese::sql
