#include "postgres_server.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "test_support.h"

namespace siamese::testing {

namespace fs = std::filesystem;

namespace {

// The folder with initdb and pg_ctl: $SIAMESE_PG_BIN, else Debian's newest version.
std::string find_bin() {
  if (const char* env = std::getenv("SIAMESE_PG_BIN")) return env;
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl") && bin.string() > best) {
      best = bin.string();
    }
  }
  return best;
}

// A port nobody listens on now (the kernel's choice for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

void run_or_throw(const std::string& cmd, const std::string& what) {
  std::string out;
  if (run_shell(cmd, &out) != 0) throw std::runtime_error(what + " failed: " + cmd + "\n" + out);
}

}  // namespace

PostgresServer::PostgresServer(std::string bin, std::string dir, int port, bool as_postgres)
    : bin_(std::move(bin)), dir_(std::move(dir)), port_(port), as_postgres_(as_postgres) {}

std::string PostgresServer::command(const std::string& tool, const std::string& args) const {
  const std::string run = (as_postgres_ ? "runuser -u postgres -- " : "") + bin_ + "/" + tool;
  return run + " " + args;
}

std::unique_ptr<PostgresServer> PostgresServer::start_new(std::string* why) {
  const std::string bin = find_bin();
  if (bin.empty()) {
    *why = "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql";
    return nullptr;
  }
  const bool root = ::geteuid() == 0;
  const passwd* pg = root ? ::getpwnam("postgres") : nullptr;
  if (root && pg == nullptr) {
    *why = "running as root and there is no postgres user to run the server as";
    return nullptr;
  }
  char pattern[] = "/tmp/siamese-pg-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  const std::string dir = pattern;
  if (root && ::chown(dir.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
    throw std::runtime_error("cannot chown " + dir + " to postgres");
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(bin, dir, free_port(), root));
  run_or_throw(server->command("initdb", "-D " + dir +
                                             "/data -U postgres --auth=trust -E UTF8 "
                                             "--no-sync >" +
                                             dir + "/initdb.log 2>&1"),
               "initdb");
  server->start();
  return server;
}

void PostgresServer::start() {
  const std::string opts =
      "-p " + std::to_string(port_) + " -k " + dir_ + " -c listen_addresses=127.0.0.1 -c fsync=off";
  run_or_throw(command("pg_ctl", "-D " + dir_ + "/data -o \"" + opts + "\" -l " + dir_ +
                                     "/server.log -w -t 60 start >/dev/null"),
               "pg_ctl start");
  running_ = true;
}

void PostgresServer::stop() {
  run_or_throw(command("pg_ctl", "-D " + dir_ + "/data -m fast -w stop >/dev/null"), "pg_ctl stop");
  running_ = false;
}

PostgresServer::~PostgresServer() {
  std::string ignored;
  if (running_) {
    run_shell(command("pg_ctl", "-D " + dir_ + "/data -m immediate -w stop"), &ignored);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresServer::create_database(const std::string& name) {
  const std::string base = "postgresql://postgres@127.0.0.1:" + std::to_string(port_);
  PGconn* conn = PQconnectdb((base + "/postgres").c_str());
  PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string error = PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("CREATE DATABASE " + name + ": " + error);
  return base + "/" + name;
}

}  // namespace siamese::testing
