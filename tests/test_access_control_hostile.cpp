// siamese-access-control's pieces against a hostile host (issue 11): --on-grant / --on-deny
// commands inherit no descriptor of the controller (the video file, the audit log, sockets,
// pipes), and the audit log is never opened through a planted symbolic link.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "action_command.h"
#include "audit_log.h"
#include "test_support.h"

namespace fs = std::filesystem;
namespace ss = siamese::samples;

TEST_CASE("on-grant commands get stdin, stdout and stderr only", "[samples][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-action");
  const std::string secret = dir + "/video.avi", listing = dir + "/fds.txt";
  std::ofstream(secret) << "frames";
  // Descriptors a controller holds without O_CLOEXEC: a file and both ends of a pipe.
  const int file_fd = ::open(secret.c_str(), O_RDONLY);
  int pipe_fds[2] = {-1, -1};
  REQUIRE(file_fd >= 0);
  REQUIRE(::pipe(pipe_fds) == 0);
  struct stat pipe_stat {};
  REQUIRE(::fstat(pipe_fds[0], &pipe_stat) == 0);
  const std::string our_pipe = "pipe:[" + std::to_string(pipe_stat.st_ino) + "]";
  {
    // ls lists its own descriptors: 0, 1 (the listing), 2 and the one reading /proc/self/fd.
    ss::ActionCommand command("ls -l /proc/self/fd > '" + listing + "'");
    ss::DoorAction grant;
    grant.kind = ss::DoorAction::Kind::kGrant;
    grant.decision = "grant";
    grant.identity = "s1";
    REQUIRE(command.run(grant, "2024-05-01T12:00:00.000Z"));
    command.wait_all();
  }
  ::close(file_fd);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  const std::string text = siamese::testing::read_file(listing);
  INFO(text);
  std::set<int> fds;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    const auto space = line.rfind(' ', arrow - 1);
    fds.insert(std::stoi(line.substr(space + 1, arrow - space - 1)));
  }
  CHECK(fds.count(0) == 1);
  CHECK(fds.count(1) == 1);
  CHECK(fds.count(2) == 1);
  CHECK(fds.size() <= 4);  // plus ls's own directory descriptor
  CHECK(text.find(secret) == std::string::npos);
  CHECK(text.find(our_pipe) == std::string::npos);
}

TEST_CASE("the audit log is never opened through a planted symbolic link", "[samples][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-audit");
  const std::string target = dir + "/precious.txt", audit = dir + "/audit.db";
  std::ofstream(target) << "precious";
  SECTION("at the log's own path") {
    fs::create_symlink(target, audit);
    CHECK_THROWS_WITH(ss::AuditLog(audit),
                      Catch::Contains(audit) && Catch::Contains("symbolic link"));
  }
  SECTION("where its journal goes") {
    fs::create_symlink(target, audit + "-wal");
    CHECK_THROWS_WITH(ss::AuditLog(audit), Catch::Contains(audit + "-wal"));
  }
  CHECK(siamese::testing::read_file(target) == "precious");
  // A plain path still works.
  ss::AuditLog log(dir + "/fresh.db");
  ss::DoorAction deny;
  deny.kind = ss::DoorAction::Kind::kDeny;
  deny.decision = "deny";
  deny.identity = "unknown";
  CHECK_NOTHROW(log.append("2024-05-01T12:00:00.000Z", "faceverify0", deny));
}
