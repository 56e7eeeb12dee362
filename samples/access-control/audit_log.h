// The access-control audit log: one SQLite table `decisions` (time, running_time, camera, track,
// identity, distance, decision, reason, and what the decision used: the gallery's generation and
// version, the threshold; the path of the face crop kept with --keep-crops; the margin and votes)
// to which every decision is appended in its own transaction, so a crash loses at most the row
// being written. Older files get the new columns by an upgrade in one transaction. Never face
// images in the table. The file is created with mode 0600 (it names people). AuditRetention prunes
// old rows and old crops (deleting the files) on its own thread and connection. Thread-safety: one
// AuditLog per thread; AuditRetention's methods are for the thread that made it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

/// The names of the identities of a gallery file, sorted, read-only (no LibTorch: the table
/// `identities` of pipeline/src/gallery.cpp). Throws siamese::FileError naming the file.
std::vector<std::string> gallery_identity_names(const std::string& gallery_path);

/// Where decisions are appended: the SQLite AuditLog below, or PostgresAuditLog
/// (audit_postgres.h; open_audit_log() picks by location).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  /// Appends one row stamped with time (ISO 8601 UTC); camera names the faceverify element;
  /// crop: the face crop kept of the track (--keep-crops), "" for none.
  virtual void append(const std::string& time, const std::string& camera, const DoorAction& action,
                      const AuditContext& context = {}, const std::string& crop = "") = 0;
  /// Closes the log (also done by the destructor).
  virtual void close() = 0;
  /// The log as messages name it (a path, or a URI without its password).
  virtual std::string display_name() const = 0;
  /// Rows that could not be written (0 for SQLite, which throws instead).
  virtual int64_t lost() const { return 0; }
};

class AuditLog : public AuditSink {
 public:
  /// Opens or creates path and its table (adding the columns an older file lacks, in one
  /// transaction); throws siamese::FileError naming the file.
  explicit AuditLog(const std::string& path);
  AuditLog(const AuditLog&) = delete;  // insert_ refers to file_
  AuditLog& operator=(const AuditLog&) = delete;

  /// Appends one row stamped with time (ISO 8601 UTC); camera names the faceverify element.
  /// Throws siamese::FileError on failure.
  /// crop: the face crop kept of the track (--keep-crops), "" for none.
  void append(const std::string& time, const std::string& camera, const DoorAction& action,
              const AuditContext& context = {}, const std::string& crop = "") override;
  /// Closes the database (also done by the destructor).
  void close() override;
  /// The file's path.
  std::string display_name() const override { return file_.path; }

  const std::string& path() const { return file_.path; }

 private:
  sql::FileRef file_;
  sql::Connection db_;
  std::unique_ptr<sql::Statement> insert_;
};

/// Deletes the rows of the audit log at path whose time is before cutoff (ISO 8601 UTC, as the
/// rows are stamped), and the crop files they name, in one transaction on its own connection;
/// returns how many rows. Throws siamese::FileError naming the file.
int64_t prune_audit_log(const std::string& path, const std::string& cutoff);

/// Deletes the kept face crops of the audit log at path that are older than cutoff ("" : no age
/// limit) or beyond the newest max_crops rows with a crop (0: no count limit), and clears their
/// rows' crop column to '' (kept, then pruned; NULL: never kept), in one transaction; returns how
/// many crops (rows) were pruned. A file is deleted before the transaction commits (a crash leaves
/// a path to a missing file, never a face no row names). Throws siamese::FileError naming the file.
int64_t prune_crops(const std::string& path, const std::string& cutoff, int64_t max_crops);

/// What AuditRetention prunes (0: that rule is off).
struct RetentionRules {
  int audit_days = 0;     // --audit-retention-days: rows (and their crops)
  int crop_days = 0;      // --crop-retention-days: crop files, rows kept
  int64_t max_crops = 0;  // --max-crops: the newest kept, older crop files deleted
};

/// The ISO 8601 UTC time `days` days before now, in the rows' format.
std::string retention_cutoff(int days);

/// Prunes rows older than `days` days from the audit log at path, an SQLite file or a PostgreSQL
/// URI (prune_postgres_audit_log; crops by their rules, SQLite only):
/// once at start, then every period_s or when nudged, on a thread of its own (never the bus
/// thread) with its own connection; a failure is reported on stderr and retried at the next
/// period. Stops (and joins) on destruction.
class AuditRetention {
 public:
  AuditRetention(std::string path, int days, double period_s);
  AuditRetention(std::string path, RetentionRules rules, double period_s);
  ~AuditRetention();
  AuditRetention(const AuditRetention&) = delete;
  AuditRetention& operator=(const AuditRetention&) = delete;

  /// Rows pruned so far.
  int64_t pruned() const;
  /// Crops pruned so far (by their own rules; those of pruned rows are not counted).
  int64_t crops_pruned() const;
  /// Prunes again now (a crop was written: --max-crops holds at once, not only hourly).
  void nudge();
  /// Serves a pending nudge, then stops and joins the thread (also done by the destructor).
  void stop();

 private:
  void loop();
  std::string path_;
  RetentionRules rules_;
  double period_s_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool nudged_ = false;
  int64_t pruned_ = 0;
  int64_t crops_pruned_ = 0;
  std::thread thread_;
};

}  // namespace siamese::samples
