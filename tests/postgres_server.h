// A throwaway PostgreSQL server for tests: initdb + pg_ctl start into a fresh folder under /tmp
// on a free 127.0.0.1 port (socket in the same folder), stopped and deleted when it goes. As
// root it runs the server as the Debian `postgres` user (initdb refuses root). Thread-safety:
// one owner; start()/stop() from the test thread.
#pragma once

#include <memory>
#include <string>

namespace siamese::testing {

class PostgresServer {
 public:
  /// Starts a server, or returns nullptr with *why set when the PostgreSQL binaries (or, as
  /// root, the postgres user) are absent. Throws std::runtime_error when they are present but
  /// the server does not start.
  static std::unique_ptr<PostgresServer> start_new(std::string* why);
  /// Stops the server (immediate mode) and deletes its folder.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// A new empty database; returns its URI (postgresql://postgres@127.0.0.1:PORT/NAME).
  std::string create_database(const std::string& name);
  /// Stops (fast mode) and starts the server again on the same port.
  void stop();
  void start();

 private:
  PostgresServer(std::string bin, std::string dir, int port, bool as_postgres);
  std::string command(const std::string& tool, const std::string& args) const;
  std::string bin_;
  std::string dir_;
  int port_;
  bool as_postgres_;  // run the tools through runuser -u postgres
  bool running_ = false;
};

}  // namespace siamese::testing

/// Starts a PostgresServer into `var`, or skips the current test with the reason (WARN +
/// return) when PostgreSQL is not installed.
#define SIAMESE_REQUIRE_POSTGRES(var)                                                   \
  std::string var##_why;                                                                \
  auto var = ::siamese::testing::PostgresServer::start_new(&var##_why);                 \
  if (!var) {                                                                           \
    WARN("skipped: " << var##_why << " (install Debian's postgresql: tests/setup.sh)"); \
    return;                                                                             \
  }
