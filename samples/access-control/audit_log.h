// The access-control audit log: one SQLite table `decisions` (time, running_time, camera, track,
// identity, distance, decision, reason, and what the decision used: the gallery's generation and
// version, the threshold) to which every decision is appended in its own transaction, so a crash
// loses at most the row being written. Older files get the new columns by an upgrade in one
// transaction. Never face images. The file is created with mode 0600 (it names people).
// AuditRetention prunes old rows on its own thread and connection. Thread-safety: one AuditLog
// per thread; AuditRetention's methods are for the thread that made it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "door_policy.h"
#include "siamese/sqlite_db.h"

namespace siamese::samples {

constexpr double kAuditRetentionPeriodS = 3600.0;  // how often old rows are pruned

/// What a decision was made with, recorded beside it.
struct AuditContext {
  int64_t gallery_generation = 0;  // the element's gallery-generation (0: unknown)
  std::string gallery_version;     // gallery_version_of() of the gallery file ("" unknown)
  double threshold = 0.0;          // the element's threshold (NaN: unknown)
};

/// A gallery file's state as a user can match it: "LAST-CHANGE/IDENTITIES/EMBEDDINGS", the
/// latest identity update time (ISO 8601 UTC), the number of identities and of embeddings,
/// what `sqlite3 GALLERY "SELECT MAX(updated)||'/'||COUNT(*)||'/'||(SELECT COUNT(*) FROM
/// embeddings) FROM identities"` prints. Read-only. Throws siamese::FileError naming the file.
std::string gallery_version_of(const std::string& gallery_path);

class AuditLog {
 public:
  /// Opens or creates path and its table (adding the columns an older file lacks, in one
  /// transaction); throws siamese::FileError naming the file.
  explicit AuditLog(const std::string& path);
  AuditLog(const AuditLog&) = delete;  // insert_ refers to file_
  AuditLog& operator=(const AuditLog&) = delete;

  /// Appends one row stamped with time (ISO 8601 UTC); camera names the faceverify element.
  /// Throws siamese::FileError on failure.
  void append(const std::string& time, const std::string& camera, const DoorAction& action,
              const AuditContext& context = {});
  /// Closes the database (also done by the destructor).
  void close();

  const std::string& path() const { return file_.path; }

 private:
  sql::FileRef file_;
  sql::Connection db_;
  std::unique_ptr<sql::Statement> insert_;
};

/// Deletes the rows of the audit log at path whose time is before cutoff (ISO 8601 UTC, as the
/// rows are stamped), in one transaction on its own connection; returns how many.
/// Throws siamese::FileError naming the file.
int64_t prune_audit_log(const std::string& path, const std::string& cutoff);

/// The ISO 8601 UTC time `days` days before now, in the rows' format.
std::string retention_cutoff(int days);

/// Prunes rows older than `days` days from the audit log at path: once at start, then every
/// period_s, on a thread of its own (never the bus thread) with its own connection; a failure
/// is reported on stderr and retried at the next period. Stops (and joins) on destruction.
class AuditRetention {
 public:
  AuditRetention(std::string path, int days, double period_s);
  ~AuditRetention();
  AuditRetention(const AuditRetention&) = delete;
  AuditRetention& operator=(const AuditRetention&) = delete;

  /// Rows pruned so far.
  int64_t pruned() const;

 private:
  void loop();
  std::string path_;
  int days_;
  double period_s_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  int64_t pruned_ = 0;
  std::thread thread_;
};

}  // namespace siamese::samples
