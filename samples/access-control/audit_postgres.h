// The access-control audit log in PostgreSQL (issue 16): the SQLite log's columns in a table
// `siamese_audit_decisions` of any database (a PostgreSQL gallery's too), one INSERT (its own
// transaction) per decision. Rows are queued in memory and written by a thread of its own, so a
// slow or lost server never holds up the door; a lost connection is retried with back-off and
// the queued rows are written once it is back. Thread-safety: append() and close() from one
// thread (the bus thread); the counters from any.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit_log.h"

namespace siamese::samples {

constexpr size_t kAuditQueueRows = 100000;  // rows queued while the server is away, then dropped
constexpr double kAuditRetryMaxS = 30.0;    // the longest wait between reconnection attempts

/// Opens the audit log at location: a PostgreSQL URI (PostgresAuditLog) or an SQLite file
/// (AuditLog). Throws siamese::FileError naming it (a URI without its password).
std::unique_ptr<AuditSink> open_audit_log(const std::string& location);

class PostgresAuditLog : public AuditSink {
 public:
  /// Connects to uri and creates the table if missing; throws siamese::FileError naming the
  /// URI without its password and quoting the server.
  explicit PostgresAuditLog(const std::string& uri);
  ~PostgresAuditLog() override;
  PostgresAuditLog(const PostgresAuditLog&) = delete;
  PostgresAuditLog& operator=(const PostgresAuditLog&) = delete;

  /// Queues one row and returns at once; a full queue drops the row (counted, on stderr).
  void append(const std::string& time, const std::string& camera, const DoorAction& action,
              const AuditContext& context = {}, const std::string& crop = "") override;
  /// Writes the queued rows (one reconnection attempt if the server is away; the rest are
  /// dropped, counted and reported), then stops the writer. Also done by the destructor.
  void close() override;
  /// The URI without its password.
  std::string display_name() const override { return name_; }
  /// Rows dropped: refused by the server, left unwritten at close, or over the queue's limit.
  int64_t lost() const override;
  /// Rows written so far.
  int64_t written() const;

 private:
  using Row = std::vector<std::optional<std::string>>;  // the 14 columns as text, NULL: none
  enum class Outcome { kWritten, kRefused, kLost };
  Outcome insert(const Row& row, std::string* why);
  void loop();

  std::string uri_, name_;
  std::shared_ptr<void> conn_;  // PGconn, used by the writer thread only after the constructor
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Row> queue_;
  bool stop_ = false;
  bool reported_full_ = false;
  int64_t written_ = 0, lost_ = 0;
  std::thread thread_;
};

/// Deletes the rows of the PostgreSQL audit log at uri whose time is before cutoff (ISO 8601
/// UTC), on its own connection; returns how many. Throws siamese::FileError naming the URI.
int64_t prune_postgres_audit_log(const std::string& uri, const std::string& cutoff);

}  // namespace siamese::samples
