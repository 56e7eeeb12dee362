#include "audit_postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "siamese/errors.h"
#include "siamese/gallery_location.h"
#include "siamese/text_safety.h"

namespace siamese::samples {

namespace {

constexpr const char* kProgram = "siamese-access-control";
constexpr int kConnectTimeoutS = 5;  // as the PostgreSQL gallery's

// The SQLite log's columns (audit_log.cpp), in PostgreSQL's types; time stays ISO 8601 text,
// so that retention compares it as the SQLite log does. The advisory lock keeps two processes
// creating the table at once from failing on each other.
constexpr const char* kSchema =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(1397311816);"
    "CREATE TABLE IF NOT EXISTS siamese_audit_decisions ("
    " id BIGSERIAL PRIMARY KEY,"
    " time TEXT NOT NULL,"
    " running_time DOUBLE PRECISION NOT NULL,"
    " camera TEXT NOT NULL,"
    " track BIGINT NOT NULL,"
    " identity TEXT NOT NULL,"
    " distance DOUBLE PRECISION,"
    " decision TEXT NOT NULL,"
    " reason TEXT,"
    " gallery_generation BIGINT,"
    " gallery_version TEXT,"
    " threshold DOUBLE PRECISION,"
    " crop TEXT,"
    " margin DOUBLE PRECISION,"
    " votes INTEGER);"
    "CREATE INDEX IF NOT EXISTS siamese_audit_decisions_by_time"
    " ON siamese_audit_decisions(time);"
    "COMMIT";

constexpr const char* kInsert =
    "INSERT INTO siamese_audit_decisions (time, running_time, camera, track, identity, distance,"
    " decision, reason, gallery_generation, gallery_version, threshold, crop, margin, votes)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

// libpq's messages end with a newline; errors read better on one line.
std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

PGconn* as_conn(const std::shared_ptr<void>& p) { return static_cast<PGconn*>(p.get()); }

// A connection to uri, or nullptr with *why set.
std::shared_ptr<void> try_connect(const std::string& uri, std::string* why) {
  const std::string timeout = std::to_string(kConnectTimeoutS);
  // connect_timeout first, so that one in the URI overrides it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "siamese-access-control", uri.c_str(), nullptr};
  std::shared_ptr<void> conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1),
                             [](void* c) { PQfinish(static_cast<PGconn*>(c)); });
  if (!conn) {
    *why = "out of memory";
    return nullptr;
  }
  if (PQstatus(as_conn(conn)) != CONNECTION_OK) {
    *why = trimmed(PQerrorMessage(as_conn(conn)));
    return nullptr;
  }
  PQsetNoticeProcessor(
      as_conn(conn), [](void*, const char*) {}, nullptr);  // "already exists, skipping"
  return conn;
}

std::shared_ptr<void> connect_or_throw(const std::string& uri, const std::string& name) {
  std::string why;
  auto conn = try_connect(uri, &why);
  if (!conn) throw FileError(name, "cannot connect to PostgreSQL: " + why);
  return conn;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

}  // namespace

std::unique_ptr<AuditSink> open_audit_log(const std::string& location) {
  if (siamese::is_postgres_location(location)) return std::make_unique<PostgresAuditLog>(location);
  return std::make_unique<AuditLog>(location);
}

PostgresAuditLog::PostgresAuditLog(const std::string& uri)
    : uri_(uri), name_(siamese::gallery_display_name(uri)) {
  conn_ = connect_or_throw(uri_, name_);
  Result r(PQexec(as_conn(conn_), kSchema));  // several statements: not PQexecParams
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw FileError(name_, "PostgreSQL: creating the table siamese_audit_decisions: " +
                               trimmed(PQerrorMessage(as_conn(conn_))));
  }
  thread_ = std::thread([this] { loop(); });
}

PostgresAuditLog::~PostgresAuditLog() { close(); }

void PostgresAuditLog::append(const std::string& time, const std::string& camera,
                              const DoorAction& a, const AuditContext& c, const std::string& crop) {
  Row row(14);
  row[0] = time;
  row[1] = number(static_cast<double>(a.running_time) / 1e9);
  row[2] = camera;
  row[3] = std::to_string(a.track_id);
  row[4] = a.identity;
  if (std::isfinite(a.distance)) row[5] = number(a.distance);
  row[6] = a.decision;
  if (!a.reason.empty()) row[7] = a.reason;
  if (c.gallery_generation > 0) row[8] = std::to_string(c.gallery_generation);
  if (!c.gallery_version.empty()) row[9] = c.gallery_version;
  if (std::isfinite(c.threshold)) row[10] = number(c.threshold);
  if (!crop.empty()) row[11] = crop;
  if (std::isfinite(a.margin)) row[12] = number(a.margin);
  if (a.votes > 0) row[13] = std::to_string(a.votes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) throw FileError(name_, "the audit log is closed");
    if (queue_.size() >= kAuditQueueRows) {
      ++lost_;
      if (!reported_full_) {
        std::cerr << kProgram << ": audit log " << escape_for_display(name_) << ": "
                  << kAuditQueueRows << " rows wait for the server; new rows are dropped\n";
      }
      reported_full_ = true;
      return;
    }
    reported_full_ = false;
    queue_.push_back(std::move(row));
  }
  wake_.notify_all();
}

PostgresAuditLog::Outcome PostgresAuditLog::insert(const Row& row, std::string* why) {
  if (!conn_ || PQstatus(as_conn(conn_)) != CONNECTION_OK) {
    conn_.reset();
    conn_ = try_connect(uri_, why);
    if (!conn_) return Outcome::kLost;
  }
  const char* values[14];
  for (size_t i = 0; i < row.size(); ++i) values[i] = row[i] ? row[i]->c_str() : nullptr;
  Result r(PQexecParams(as_conn(conn_), kInsert, 14, nullptr, values, nullptr, nullptr, 0));
  if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) return Outcome::kWritten;
  *why = r ? trimmed(PQresultErrorMessage(r.get())) : trimmed(PQerrorMessage(as_conn(conn_)));
  if (why->empty()) *why = trimmed(PQerrorMessage(as_conn(conn_)));
  // A dropped connection: the row waits for the next one. Anything else the server refused
  // would be refused again: dropped.
  return PQstatus(as_conn(conn_)) != CONNECTION_OK ? Outcome::kLost : Outcome::kRefused;
}

void PostgresAuditLog::loop() {
  double retry_s = 1.0;
  bool away = false;  // reported the server as away; cleared when a row is written
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, all written
    const Row row = queue_.front();
    const bool stopping = stop_;
    lock.unlock();
    std::string why;
    const Outcome outcome = insert(row, &why);
    lock.lock();
    if (outcome == Outcome::kWritten) {
      queue_.pop_front();
      ++written_;
      if (away)
        std::cerr << kProgram << ": audit log " << escape_for_display(name_) << ": "
                  << "the server is back; queued rows written\n";
      away = false;
      retry_s = 1.0;
      continue;
    }
    if (outcome == Outcome::kRefused) {
      queue_.pop_front();
      ++lost_;
      std::cerr << kProgram << ": audit log " << escape_for_display(name_)
                << ": a row was refused and dropped: " << escape_for_display(why) << "\n";
      continue;
    }
    if (stopping) {  // closing, and the server is away after one more attempt: give up
      lost_ += static_cast<int64_t>(queue_.size());
      std::cerr << kProgram << ": audit log " << escape_for_display(name_) << ": " << queue_.size()
                << " rows not written at close: " << escape_for_display(why) << "\n";
      queue_.clear();
      break;
    }
    if (!away) {
      std::cerr << kProgram << ": audit log " << escape_for_display(name_)
                << ": the server is away, rows are queued (retried with back-off): "
                << escape_for_display(why) << "\n";
    }
    away = true;
    wake_.wait_for(lock, std::chrono::duration<double>(retry_s), [this] { return stop_; });
    retry_s = std::min(retry_s * 2, kAuditRetryMaxS);
  }
}

void PostgresAuditLog::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  conn_.reset();
}

int64_t PostgresAuditLog::lost() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lost_;
}

int64_t PostgresAuditLog::written() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return written_;
}

int64_t prune_postgres_audit_log(const std::string& uri, const std::string& cutoff) {
  const std::string name = siamese::gallery_display_name(uri);
  auto conn = connect_or_throw(uri, name);
  const char* values[] = {cutoff.c_str()};
  Result r(PQexecParams(as_conn(conn), "DELETE FROM siamese_audit_decisions WHERE time < $1", 1,
                        nullptr, values, nullptr, nullptr, 0));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw FileError(
        name, "PostgreSQL: pruning the audit log: " + (r ? trimmed(PQresultErrorMessage(r.get()))
                                                         : trimmed(PQerrorMessage(as_conn(conn)))));
  }
  return std::atoll(PQcmdTuples(r.get()));
}

}  // namespace siamese::samples
