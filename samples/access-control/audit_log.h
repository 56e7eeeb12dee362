// The access-control audit log: one SQLite table `decisions` (time, running_time, camera, track,
// identity, distance, decision) to which every decision is appended in its own transaction, so
// a crash loses at most the row being written. Never face images. The file is created with
// mode 0600 (it names people). Thread-safety: one AuditLog per thread.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "door_policy.h"

namespace siamese::samples {

class AuditLog {
 public:
  /// Opens or creates path and its table; throws std::runtime_error naming the file.
  explicit AuditLog(const std::string& path);

  /// Appends one row stamped with time (ISO 8601 UTC); camera names the faceverify element.
  /// Throws std::runtime_error on failure.
  void append(const std::string& time, const std::string& camera, const DoorAction& action);
  /// Closes the database (also done by the destructor).
  void close();

  const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  void exec(const char* sql);
  std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> insert_;
};

/// The current UTC time as ISO 8601 with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string utc_now_iso8601();

}  // namespace siamese::samples
