// events_bench: what siamese-access-control's MQTT events cost and survive, on a real broker.
// Starts mosquitto (127.0.0.1, a free port, persistence in a temp folder), subscribes with a
// persistent session, runs the given siamese-access-control command with --mqtt added, stops
// the broker --down-for seconds once --down-after seconds have passed since the first event,
// and prints: events made, delivered once, repeated, lost, held while the broker was away, and
// the latency from a face's first frame to the event's arrival at the subscriber (median, p95).
//   events_bench [--down-after S --down-for S] -- siamese-access-control ARGS...
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_stats.h"

extern char** environ;

namespace {

constexpr const char* kBroker = "/usr/sbin/mosquitto";

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-05-01T12:00:00.123Z" -> microseconds since 1970 (UTC).
int64_t parse_iso_us(const std::string& t) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000000 + ms * 1000;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

struct Arrival {
  int64_t at_us;
  std::string payload;
};

std::mutex g_mutex;
std::vector<Arrival> g_arrivals;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  double down_after = -1, down_for = 0;
  std::vector<std::string> command;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--down-after" && i + 1 < argc) {
      down_after = std::atof(argv[++i]);
    } else if (a == "--down-for" && i + 1 < argc) {
      down_for = std::atof(argv[++i]);
    } else if (a == "--") {
      command.assign(argv + i + 1, argv + argc);
      break;
    } else {
      std::cerr << "usage: events_bench [--down-after S --down-for S] -- "
                   "siamese-access-control ARGS...\n";
      return 2;
    }
  }
  if (command.empty()) {
    std::cerr << "events_bench: no siamese-access-control command after --\n";
    return 2;
  }
  char dir_template[] = "/tmp/events-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const int port = free_port();
  const passwd* user = getpwuid(getuid());  // as root, mosquitto would drop to "mosquitto"
  std::ofstream(dir + "/mosquitto.conf")
      << "listener " << port << " 127.0.0.1\nallow_anonymous true\npersistence true\n"
      << "persistence_location " << dir << "/\nuser "
      << (user != nullptr ? user->pw_name : "mosquitto") << "\n";
  const auto start_broker = [&] {
    const pid_t pid = spawn({kBroker, "-c", dir + "/mosquitto.conf"}, dir + "/broker.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // listening by then
    return pid;
  };
  pid_t broker = start_broker();

  mosquitto_lib_init();
  mosquitto* sub = mosquitto_new("events-bench", /*clean_session=*/false, nullptr);
  mosquitto_connect_callback_set(sub, [](mosquitto* m, void*, int rc) {
    if (rc == 0) mosquitto_subscribe(m, nullptr, "bench/+/event", 1);
  });
  mosquitto_message_callback_set(sub, [](mosquitto*, void*, const mosquitto_message* m) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_arrivals.push_back({now_us(), std::string(static_cast<const char*>(m->payload),
                                                static_cast<size_t>(m->payloadlen))});
  });
  mosquitto_reconnect_delay_set(sub, 1, 1, false);
  mosquitto_connect_async(sub, "127.0.0.1", port, 30);
  mosquitto_loop_start(sub);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscribed

  command.push_back("--mqtt");
  command.push_back("mqtt://127.0.0.1:" + std::to_string(port) + "/bench");
  command.push_back("--stop-timeout");
  command.push_back("60");
  const std::string log = dir + "/access-control.log";
  const pid_t run = spawn(command, log);
  int64_t first_event_us = -1;
  bool restarted = down_after < 0;
  bool down = false;
  int status = 0;
  for (;;) {
    if (waitpid(run, &status, WNOHANG) == run) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      if (first_event_us < 0 && !g_arrivals.empty()) first_event_us = g_arrivals.front().at_us;
    }
    if (restarted || first_event_us < 0) continue;
    const double since = static_cast<double>(now_us() - first_event_us) / 1e6;
    if (!down && since >= down_after) {
      kill(broker, SIGTERM);  // saves the subscriber's session
      waitpid(broker, nullptr, 0);
      down = true;
      std::cout << "broker stopped " << since << " s after the first event" << std::endl;
    } else if (down && since >= down_after + down_for) {
      broker = start_broker();
      restarted = true;
      std::cout << "broker restarted after " << down_for << " s" << std::endl;
    }
  }
  if (!restarted) broker = start_broker();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the last deliveries
  mosquitto_disconnect(sub);
  mosquitto_loop_stop(sub, false);
  mosquitto_destroy(sub);
  kill(broker, SIGTERM);
  waitpid(broker, nullptr, 0);

  std::ifstream in(log);
  std::string line, summary;
  while (std::getline(in, line)) {
    if (line.find("mqtt: ") != std::string::npos) summary = line;
  }
  std::set<int64_t> seen;
  int64_t last = 0, repeated = 0;
  std::vector<double> first_frame_ms, grant_ms, decision_ms;
  std::map<std::string, int> kinds;
  std::string example;  // the first grant, as delivered
  for (const auto& a : g_arrivals) {
    const auto j = nlohmann::json::parse(a.payload);
    const int64_t seq = j.at("sequence");
    last = std::max(last, seq);
    if (!seen.insert(seq).second) {
      ++repeated;
      continue;
    }
    ++kinds[j.at("decision").get<std::string>()];
    if (example.empty() && j.at("decision") == "grant") example = a.payload;
    const int64_t decided = parse_iso_us(j.at("decided-at"));
    decision_ms.push_back(static_cast<double>(a.at_us - decided) / 1000.0);
    const std::string decision = j.at("decision");
    const bool about_a_face = decision != "track-lost" && decision != "tailgate";  // not a door's
    if (about_a_face && j.at("latency-ms").is_number()) {
      const double first_frame_us =
          static_cast<double>(decided) - j.at("latency-ms").get<double>() * 1000.0;
      first_frame_ms.push_back((static_cast<double>(a.at_us) - first_frame_us) / 1000.0);
      if (decision == "grant") {
        grant_ms.push_back((static_cast<double>(a.at_us) - first_frame_us) / 1000.0);
      }
    }
  }
  std::cout << "access-control: " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
            << " exit status; " << summary << "\n";
  std::cout << "events: " << last << " made, " << seen.size() << " delivered, " << repeated
            << " repeated (QoS 1), " << (last - static_cast<int64_t>(seen.size())) << " lost;";
  for (const auto& [k, n] : kinds) std::cout << " " << k << " " << n;
  std::cout << "\n";
  std::cout << "first frame -> MQTT arrival (grant, deny, unknown, revoke: "
            << first_frame_ms.size() << " events): median "
            << siamese::bench::median(first_frame_ms) << " ms, p95 "
            << percentile(first_frame_ms, 0.95) << " ms; grants only (" << grant_ms.size()
            << "): median " << siamese::bench::median(grant_ms) << " ms, p95 "
            << percentile(grant_ms, 0.95) << " ms\n";
  std::cout << "decision -> MQTT arrival (all " << decision_ms.size() << " events): median "
            << siamese::bench::median(decision_ms) << " ms, p95 " << percentile(decision_ms, 0.95)
            << " ms (includes time held while the broker was down)\n";
  std::cout << "first grant: " << example << "\n";
  std::filesystem::remove_all(dir);
  return 0;
}
