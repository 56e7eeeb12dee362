// siamese-access-control's audit log in PostgreSQL (issue 16) against a throwaway server
// (postgres_server.h): the walk video gives the same decision rows as with the SQLite log, in a
// table of the same columns; retention prunes old rows there; rows queued while the server is
// away are written when it is back; a bad URI and the flags that need an SQLite log are refused
// by name, with the password never printed.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "access_walk_fixture.h"
#include "audit_log.h"
#include "audit_postgres.h"
#include "postgres_server.h"
#include "samples_process.h"
#include "siamese/errors.h"
#include "test_support.h"

using siamese::testing::program_path;
using siamese::testing::query_rows;
using siamese::testing::run_program;
namespace ss = siamese::samples;

namespace {

constexpr const char* kColumns =
    "time, running_time, camera, track, identity, distance, decision, reason, gallery_generation,"
    " gallery_version, threshold, crop, margin, votes";

// Every row sql gives on the database at uri; each column as text, "" for NULL.
std::vector<std::vector<std::string>> pg_rows(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  INFO(PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* r = PQexec(conn, sql.c_str());
  INFO(PQerrorMessage(conn));
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; ok && i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
    rows.push_back(row);
  }
  PQclear(r);
  PQfinish(conn);
  REQUIRE(ok);
  return rows;
}

// A row as comparable text: the wall-clock time left out (it differs between runs; its length
// kept: ISO 8601 with milliseconds), numbers to 6 significant digits, NULL as "".
std::string row_text(const std::vector<std::string>& c) {
  std::string out = std::to_string(c[0].size());
  for (size_t i = 1; i < c.size(); ++i) {
    std::string v = c[i];
    const bool numeric = i == 1 || i == 5 || i == 10 || i == 12;
    if (numeric && !v.empty()) {
      char text[32];
      std::snprintf(text, sizeof text, "%.6g", std::stod(v));
      v = text;
    }
    out += "|" + v;
  }
  return out;
}

ss::DoorAction action(const std::string& decision, int64_t track) {
  ss::DoorAction a;
  a.kind = decision == "grant" ? ss::DoorAction::Kind::kGrant : ss::DoorAction::Kind::kDeny;
  a.decision = decision;
  a.track_id = track;
  a.identity = decision == "grant" ? "s1" : "unknown";
  a.distance = 0.25f;
  return a;
}

}  // namespace

TEST_CASE("siamese-access-control writes the SQLite log's rows to a PostgreSQL audit log",
          "[samples][postgres]") {
  SIAMESE_REQUIRE_ATT(data);
  SIAMESE_REQUIRE_POSTGRES(server);
  siamese::testing::use_build_plugins();
  const auto& w = siamese::testing::cached_access_walk(data, "access_postgres");
  const std::string sqlite_log = w.dir + "/audit.db";
  const std::string uri = server->create_database("audit");
  // The same URI with a password (the server trusts local connections and ignores it).
  const std::string with_password = "postgresql://postgres:s3cret@" + uri.substr(uri.find('@') + 1);
  {  // a row older than the retention: pruned at start
    ss::PostgresAuditLog old(uri);
    old.append("2000-01-01T00:00:00.000Z", "faceverify0", action("deny", 99));
  }

  auto sqlite_argv = siamese::testing::access_control_args(w, sqlite_log);
  const auto by_sqlite = run_program(sqlite_argv, 300);
  INFO(by_sqlite.output);
  REQUIRE(by_sqlite.status == 0);
  auto pg_argv = siamese::testing::access_control_args(w, with_password);
  pg_argv.insert(pg_argv.end(), {"--audit-retention-days", "30"});
  const auto by_pg = run_program(pg_argv, 300);
  INFO(by_pg.output);
  REQUIRE(by_pg.status == 0);
  CHECK(by_pg.output.find("s3cret") == std::string::npos);
  CHECK(by_pg.output.find("audit log " + uri) != std::string::npos);
  CHECK(by_pg.output.find("audit retention: 1 rows older than 30 days pruned") !=
        std::string::npos);
  CHECK(by_pg.output.find("3 granted") != std::string::npos);

  // The table has the SQLite log's columns, in its order.
  std::vector<std::string> sqlite_columns, pg_columns;
  for (const auto& c : query_rows(sqlite_log, "PRAGMA table_info(decisions)")) {
    sqlite_columns.push_back(c[1]);
  }
  for (const auto& c :
       pg_rows(uri,
               "SELECT column_name FROM information_schema.columns WHERE "
               "table_name = 'siamese_audit_decisions' ORDER BY ordinal_position")) {
    pg_columns.push_back(c[0]);
  }
  CHECK(pg_columns == sqlite_columns);

  // Row for row what the SQLite log of the same video holds (the pruned row gone).
  std::vector<std::string> expected, got;
  for (const auto& c :
       query_rows(sqlite_log, std::string("SELECT ") + kColumns + " FROM decisions ORDER BY id")) {
    expected.push_back(row_text(c));
  }
  for (const auto& c : pg_rows(
           uri, std::string("SELECT ") + kColumns + " FROM siamese_audit_decisions ORDER BY id")) {
    got.push_back(row_text(c));
  }
  REQUIRE(expected.size() >= 5);  // three grants, two denials at least
  CHECK(got == expected);
  std::map<std::string, int> decisions;
  for (const auto& c : pg_rows(uri, "SELECT decision FROM siamese_audit_decisions")) {
    ++decisions[c[0]];
  }
  CHECK(decisions["grant"] == 3);
  CHECK(decisions["deny"] == siamese::testing::kAccessWalkStrangers);
}

TEST_CASE("a PostgreSQL audit log queues rows while the server is away and prunes old rows",
          "[samples][postgres]") {
  SIAMESE_REQUIRE_POSTGRES(server);
  const std::string uri = server->create_database("queued");
  const auto count = [&] {
    return std::stoll(pg_rows(uri, "SELECT COUNT(*) FROM siamese_audit_decisions")[0][0]);
  };
  {
    ss::PostgresAuditLog log(uri);
    log.append("2000-01-01T00:00:00.000Z", "faceverify0", action("grant", 1));
    server->stop();  // the door goes on deciding: append returns at once
    log.append(ss::retention_cutoff(0), "faceverify0", action("deny", 2));
    log.append(ss::retention_cutoff(0), "faceverify0", action("grant", 3));
    server->start();
    log.close();  // the queued rows are written once the server is back
    CHECK(log.written() == 3);
    CHECK(log.lost() == 0);
  }
  CHECK(count() == 3);
  const auto rows = pg_rows(uri,
                            "SELECT track, identity, distance, decision, reason, votes "
                            "FROM siamese_audit_decisions ORDER BY id");
  CHECK(rows[1] == std::vector<std::string>{"2", "unknown", "0.25", "deny", "", ""});

  // Retention: the row of 2000 goes, on its own connection and thread.
  {
    ss::AuditRetention retention(uri, 1, 3600.0);
    retention.stop();
    CHECK(retention.pruned() == 1);
  }
  CHECK(count() == 2);
  CHECK(ss::prune_postgres_audit_log(uri, "2000-01-01T00:00:00.000Z") == 0);

  // A server that stays away at close: the rows are counted as lost, close does not hang.
  ss::PostgresAuditLog log(uri);
  server->stop();
  log.append(ss::retention_cutoff(0), "faceverify0", action("grant", 4));
  log.close();
  CHECK(log.lost() == 1);
  CHECK(log.written() == 0);
  server->start();
  CHECK(count() == 2);
}

TEST_CASE("siamese-access-control refuses a bad PostgreSQL audit log URI and crops or --http",
          "[samples][postgres]") {
  SIAMESE_REQUIRE_ATT(data);
  siamese::testing::use_build_plugins();
  const auto& w = siamese::testing::cached_access_walk(data, "access_postgres");
  // Nothing listens on port 1: an error naming the URI without its password, as a missing
  // gallery file is (status 1).
  const std::string bad = "postgresql://door:s3cret@127.0.0.1:1/audit";
  const auto r = run_program(siamese::testing::access_control_args(w, bad), 60);
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("postgresql://door@127.0.0.1:1/audit") != std::string::npos);
  CHECK(r.output.find("cannot connect to PostgreSQL") != std::string::npos);
  CHECK(r.output.find("s3cret") == std::string::npos);
  CHECK_THROWS_AS(ss::PostgresAuditLog(bad), siamese::FileError);

  // Face crops and the web console need an SQLite log: refused by flag (status 2).
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--keep-crops", w.dir + "/crops"}, "--keep-crops"},
      {{"--max-crops", "5"}, "--max-crops"},
      {{"--http", "127.0.0.1:0"}, "--http"}};
  for (const auto& [more, flag] : refused) {
    auto argv = siamese::testing::access_control_args(w, bad);
    argv.insert(argv.end(), more.begin(), more.end());
    const auto u = run_program(argv, 60);
    INFO(u.output);
    CHECK(u.status == 2);
    CHECK(u.output.find(flag) != std::string::npos);
    CHECK(u.output.find("PostgreSQL --audit-log") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(w.dir + "/crops"));
}
