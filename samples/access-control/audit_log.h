// The access-control audit log: one SQLite table `decisions` (time, running_time, camera, track,
// identity, distance, decision) to which every decision is appended in its own transaction, so
// a crash loses at most the row being written. Never face images. The file is created with
// mode 0600 (it names people). Thread-safety: one AuditLog per thread.
#pragma once

#include <memory>
#include <string>

#include "door_policy.h"
#include "siamese/sqlite_db.h"

namespace siamese::samples {

class AuditLog {
 public:
  /// Opens or creates path and its table; throws siamese::FileError naming the file.
  explicit AuditLog(const std::string& path);
  AuditLog(const AuditLog&) = delete;  // insert_ refers to file_
  AuditLog& operator=(const AuditLog&) = delete;

  /// Appends one row stamped with time (ISO 8601 UTC); camera names the faceverify element.
  /// Throws siamese::FileError on failure.
  void append(const std::string& time, const std::string& camera, const DoorAction& action);
  /// Closes the database (also done by the destructor).
  void close();

  const std::string& path() const { return file_.path; }

 private:
  sql::FileRef file_;
  sql::Connection db_;
  std::unique_ptr<sql::Statement> insert_;
};

}  // namespace siamese::samples
