#include "audit_log.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>
#include <vector>

#include "audit_postgres.h"
#include "siamese/errors.h"
#include "siamese/gallery_location.h"
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
    " threshold REAL,"              // the distance threshold the element decided with
    " crop TEXT,"                   // the face crop kept (--keep-crops); '' once pruned
    " margin REAL,"                 // runner-up minus best distance (NULL: none given)
    " votes INTEGER)";              // votes for the identity in the confirm window

// Columns added since the first version of the table, with their types: an older file gets them
// by ALTER TABLE (their values NULL in old rows).
const std::vector<std::pair<const char*, const char*>> kAddedColumns = {
    {"reason", "TEXT"},
    {"gallery_generation", "INTEGER"},
    {"gallery_version", "TEXT"},
    {"threshold", "REAL"},
    {"crop", "TEXT"},
    {"margin", "REAL"},
    {"votes", "INTEGER"}};

constexpr const char* kTimeIndex =
    "CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions(time)";

std::set<std::string> columns(sqlite3* db, const sql::FileRef& file) {
  sql::Statement q(db, file, "PRAGMA table_info(decisions)");
  std::set<std::string> names;
  while (q.step()) names.insert(q.text(1));
  return names;
}

// Deletes a kept crop folder (a track's PNG files; a symbolic link is removed, never followed);
// one already gone is not an error (pruned by hand, or by a run that crashed before its commit).
// Throws FileError for any other failure.
void delete_crop(const std::string& crop) {
  std::error_code ec;
  std::filesystem::remove_all(crop, ec);
  if (ec) throw FileError(crop, "cannot delete the kept face crops: " + ec.message());
}

// Deletes the crop files the rows selected by `where` name, unless a row outside them still
// names the file (a tailgate and a deny of one track share it). `where` may use ?1, the cutoff
// ("": where does not use it). Inside the caller's transaction.
void delete_crops_of(sqlite3* db, const sql::FileRef& file, const std::string& where,
                     const std::string& cutoff) {
  const std::string sql =
      "SELECT DISTINCT crop FROM decisions WHERE crop > '' AND (" + where +
      ") AND crop NOT IN (SELECT crop FROM decisions WHERE crop > '' AND NOT (" + where + "))";
  sql::Statement q(db, file, sql.c_str());
  if (!cutoff.empty()) q.bind(1, cutoff);
  std::vector<std::string> crops;
  while (q.step()) crops.push_back(q.text(0));
  for (const auto& crop : crops) delete_crop(crop);
}

}  // namespace

std::vector<std::string> gallery_identity_names(const std::string& gallery_path) {
  if (siamese::is_postgres_location(gallery_path)) {  // issue 16
    return siamese::read_postgres_gallery_people(gallery_path).names;
  }
  const sql::FileRef file{gallery_path, "gallery", 2000};
  sql::Connection db = sql::open_connection(gallery_path, SQLITE_OPEN_READONLY, file);
  sql::Statement q(db.get(), file, "SELECT name FROM identities ORDER BY name");
  std::vector<std::string> names;
  while (q.step()) names.push_back(q.text(0));
  return names;
}

std::string gallery_version_of(const std::string& gallery_path) {
  if (siamese::is_postgres_location(gallery_path)) {  // issue 16: the same three facts
    const auto people = siamese::read_postgres_gallery_people(gallery_path);
    return people.last_updated + "/" + std::to_string(people.names.size()) + "/" +
           std::to_string(people.embeddings);
  }
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
      "reason, gallery_generation, gallery_version, threshold, crop, margin, votes) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
}

void AuditLog::append(const std::string& time, const std::string& camera, const DoorAction& a,
                      const AuditContext& c, const std::string& crop) {
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
  if (crop.empty()) {
    s.bind_null(12);
  } else {
    s.bind(12, crop);
  }
  if (std::isfinite(a.margin)) {
    s.bind(13, a.margin);
  } else {
    s.bind_null(13);
  }
  if (a.votes > 0) {
    s.bind(14, static_cast<int64_t>(a.votes));
  } else {
    s.bind_null(14);
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
  if (columns(db.get(), file).count("crop") != 0) {
    delete_crops_of(db.get(), file, "time < ?1", cutoff);
  }
  sql::Statement del(db.get(), file, "DELETE FROM decisions WHERE time < ?1");
  del.bind(1, cutoff).run();
  const int64_t n = sqlite3_changes(db.get());
  t.commit();
  return n;
}

int64_t prune_crops(const std::string& path, const std::string& cutoff, int64_t max_crops) {
  if (cutoff.empty() && max_crops <= 0) return 0;
  const sql::FileRef file{path, "siamese audit log", 5000};
  sql::Connection db =
      sql::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file);
  sql::Transaction t(db.get(), file);
  if (columns(db.get(), file).count("crop") == 0) return 0;  // no crop was ever kept
  std::string where;
  if (!cutoff.empty()) where = "time < ?1";
  if (max_crops > 0) {
    if (!where.empty()) where += " OR ";
    where += "id NOT IN (SELECT id FROM decisions WHERE crop > '' ORDER BY id DESC LIMIT " +
             std::to_string(max_crops) + ")";
  }
  delete_crops_of(db.get(), file, where, cutoff);
  const std::string clear = "UPDATE decisions SET crop = '' WHERE crop > '' AND (" + where + ")";
  sql::Statement update(db.get(), file, clear.c_str());
  if (!cutoff.empty()) update.bind(1, cutoff);
  update.run();
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
    : AuditRetention(std::move(path), RetentionRules{days, 0, 0}, period_s) {
  if (days < 1) throw InputError("--audit-retention-days must be at least 1");
}

AuditRetention::AuditRetention(std::string path, RetentionRules rules, double period_s)
    : path_(std::move(path)), rules_(rules), period_s_(period_s) {
  if (rules.audit_days < 0 || rules.crop_days < 0 || rules.max_crops < 0) {
    throw InputError("retention: days and --max-crops must not be negative");
  }
  thread_ = std::thread([this] { loop(); });
}

AuditRetention::~AuditRetention() { stop(); }

void AuditRetention::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t AuditRetention::pruned() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pruned_;
}

int64_t AuditRetention::crops_pruned() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return crops_pruned_;
}

void AuditRetention::nudge() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

void AuditRetention::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    lock.unlock();
    int64_t n = 0, crops = 0;
    try {
      if (siamese::is_postgres_location(path_)) {  // issue 16: rows only, no crops kept there
        if (rules_.audit_days > 0) {
          n = prune_postgres_audit_log(path_, retention_cutoff(rules_.audit_days));
        }
      } else {
        if (rules_.audit_days > 0) n = prune_audit_log(path_, retention_cutoff(rules_.audit_days));
        crops = prune_crops(path_, rules_.crop_days > 0 ? retention_cutoff(rules_.crop_days) : "",
                            rules_.max_crops);
      }
    } catch (const std::exception& e) {
      std::cerr << "siamese-access-control: audit retention: " << escape_for_display(e.what())
                << " (retried in " << period_s_ << " s)\n";
    }
    lock.lock();
    pruned_ += n;
    crops_pruned_ += crops;
    wake_.wait_for(lock, std::chrono::duration<double>(period_s_),
                   [this] { return stop_ || nudged_; });
    const bool again = nudged_;  // a nudge before the stop is still served
    nudged_ = false;
    if (stop_ && !again) break;
  }
}

}  // namespace siamese::samples
