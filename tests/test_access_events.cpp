// siamese-access-control's events out of the process (issue 15): the JSON schema, the MQTT
// publisher against a real broker (mosquitto started here on 127.0.0.1 at a free port, with a
// generated config in a temp folder), Home Assistant discovery, a broker restart mid-run, the
// bounded queue's drop counter, and the signed webhook against a local HTTP receiver.
#include <arpa/inet.h>
#include <glib.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "access_walk_fixture.h"
#include "door_event.h"
#include "event_queue.h"
#include "mqtt_publisher.h"
#include "samples_process.h"
#include "siamese/cli.h"
#include "test_support.h"
#include "webhook_sender.h"

using siamese::testing::program_path;
using siamese::testing::run_program;
namespace ss = siamese::samples;

namespace {

constexpr const char* kBroker = "/usr/sbin/mosquitto";

#define REQUIRE_BROKER()                                                                 \
  do {                                                                                   \
    if (!std::filesystem::exists(kBroker)) {                                             \
      WARN("skipped: " << kBroker << " is missing (tests/setup.sh installs mosquitto)"); \
      return;                                                                            \
    }                                                                                    \
  } while (0)

using Clock = std::chrono::steady_clock;

// Waits (polling) until done() or timeout_s; returns done().
bool wait_until(const std::function<bool()>& done, double timeout_s) {
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<int>(timeout_s * 1000));
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A mosquitto broker on 127.0.0.1 with persistence in its folder, so a subscriber's session
// and queued messages survive a restart (SIGTERM saves them).
class Broker {
 public:
  explicit Broker(const std::string& dir) : dir_(dir), port_(free_port()) {
    std::ofstream conf(dir_ + "/mosquitto.conf");
    // As root, mosquitto would switch to the user "mosquitto", who cannot write dir_.
    const passwd* user = getpwuid(getuid());
    conf << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence true\n"
         << "persistence_location " << dir_ << "/\n"
         << "user " << (user != nullptr ? user->pw_name : "mosquitto") << "\n";
  }
  ~Broker() { stop(); }
  void start() {
    process_ = std::make_unique<siamese::testing::Process>(
        std::vector<std::string>{kBroker, "-c", dir_ + "/mosquitto.conf"},
        dir_ + "/broker-" + std::to_string(++starts_) + ".log");
    REQUIRE(wait_until([&] { return port_open(port_); }, 10));
  }
  void stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait(10);
    process_.reset();
  }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_;
  int starts_ = 0;
  std::unique_ptr<siamese::testing::Process> process_;
};

struct Message {
  std::string topic, payload;
  bool retained = false;
};

// An MQTT client subscribed to a topic filter at QoS 1; with persistent, its session (and what
// the broker queued for it) outlives disconnections and broker restarts.
class Subscriber {
 public:
  Subscriber(int port, const std::string& id, const std::string& filter, bool persistent)
      : filter_(filter) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new(id.c_str(), !persistent, this);
    mosquitto_connect_callback_set(mosq_, [](mosquitto* m, void* self, int rc) {
      auto* s = static_cast<Subscriber*>(self);
      if (rc == 0) mosquitto_subscribe(m, nullptr, s->filter_.c_str(), 1);
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
      static_cast<Subscriber*>(self)->subscribed_ = true;
    });
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      auto* s = static_cast<Subscriber*>(self);
      std::lock_guard<std::mutex> lock(s->mutex_);
      s->messages_.push_back(
          {m->topic,
           std::string(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen)),
           m->retain});
    });
    mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
    mosquitto_connect_async(mosq_, "127.0.0.1", port, 30);
    mosquitto_loop_start(mosq_);
    REQUIRE(wait_until([&] { return subscribed_.load(); }, 15));
  }
  ~Subscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }
  std::vector<Message> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  std::vector<Message> on(const std::string& topic) const {
    std::vector<Message> out;
    for (const auto& m : messages()) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }

 private:
  std::string filter_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> subscribed_{false};
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
};

struct HttpRequest {
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// A tiny HTTP server on 127.0.0.1: records each request and answers `status`.
class HttpReceiver {
 public:
  explicit HttpReceiver(int status) : status_(status) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpReceiver() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string data;
      char buf[4096];
      size_t header_end = std::string::npos, length = 0;
      while (true) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos) {
          header_end = data.find("\r\n\r\n");
          if (header_end == std::string::npos) continue;
          std::string lower = data.substr(0, header_end);
          for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
          const auto at = lower.find("content-length:");
          if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
        }
        if (data.size() >= header_end + 4 + length) break;
      }
      if (header_end != std::string::npos) {
        HttpRequest r;
        std::istringstream lines(data.substr(0, header_end));
        std::string line;
        std::getline(lines, line);  // the request line
        while (std::getline(lines, line)) {
          const auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string name = line.substr(0, colon);
          for (char& ch : name) ch = static_cast<char>(std::tolower(ch));
          std::string value = line.substr(colon + 1);
          while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
          while (!value.empty() && (value.back() == '\r')) value.pop_back();
          r.headers[name] = value;
        }
        r.body = data.substr(header_end + 4, length);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          requests_.push_back(r);
        }
        const std::string reply = "HTTP/1.1 " + std::to_string(status_) +
                                  " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t ignored = write(c, reply.data(), reply.size());
        (void)ignored;
      }
      close(c);
    }
  }

  int status_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
  std::thread thread_;
};

const siamese::testing::AccessWalk& walk(const std::string& data) {
  return siamese::testing::cached_access_walk(data, "access_events");
}

// Checks one event payload against the README's schema; returns it parsed.
nlohmann::json check_schema(const std::string& payload) {
  INFO(payload);
  const nlohmann::json j = nlohmann::json::parse(payload);
  CHECK(j.at("schema") == ss::kDoorEventSchema);
  CHECK(j.at("sequence").is_number_integer());
  CHECK(j.at("camera") == "faceverify0");
  CHECK(j.at("track").is_number_integer());
  CHECK((j.at("identity").is_null() || j.at("identity").is_string()));
  const std::set<std::string> decisions = {"grant",  "deny",     "unknown",
                                           "revoke", "tailgate", "track-lost"};
  CHECK(decisions.count(j.at("decision").get<std::string>()) == 1);
  CHECK((j.at("distance").is_null() || j.at("distance").is_number()));
  CHECK((j.at("margin").is_null() || j.at("margin").is_number()));
  CHECK(j.at("votes").is_number_integer());
  CHECK(j.at("first-seen").is_number());
  CHECK(j.at("running-time").get<double>() >= j.at("first-seen").get<double>());
  CHECK(j.at("decided-at").get<std::string>().size() == 24);  // 2026-05-01T12:00:00.123Z
  CHECK((j.at("latency-ms").is_null() || j.at("latency-ms").get<double>() >= 0));
  CHECK(j.at("reason").is_string());
  if (j.at("decision") == "grant") CHECK(j.at("identity").is_string());
  return j;
}

std::vector<nlohmann::json> events_of(const std::vector<Message>& messages) {
  std::vector<nlohmann::json> out;
  for (const auto& m : messages) out.push_back(check_schema(m.payload));
  return out;
}

// The figure a summary line gives before `what`, e.g. count_before(out, " published") for
// "mqtt: 12 published".
long count_before(const std::string& out, const std::string& sink, const std::string& what) {
  const auto line = out.find(sink + ": ");
  if (line == std::string::npos) return -1;
  const auto end = out.find('\n', line);
  const std::string text = out.substr(line, end - line);
  const auto at = text.find(what);
  if (at == std::string::npos) return -1;
  auto start = text.rfind(' ', at - 1);
  return std::stol(text.substr(start + 1, at - start - 1));
}

// The audit log's grants and denials, "decision|track|identity" a line, in the order written.
std::string audit_actions(const std::string& path) {
  std::string out;
  for (const auto& c : siamese::testing::query_rows(
           path,
           "SELECT decision, track, identity FROM decisions WHERE decision IN "
           "('grant', 'deny', 'revoke') ORDER BY id")) {
    out += c[0] + "|" + c[1] + "|" + c[2] + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("door event JSON carries the documented schema", "[samples]") {
  ss::DoorAction a;
  a.kind = ss::DoorAction::Kind::kGrant;
  a.track_id = 7;
  a.identity = "s1";
  a.distance = 0.25;
  a.margin = std::numeric_limits<double>::infinity();  // no runner-up
  a.votes = 3;
  a.first_seen = 1500000000;
  a.running_time = 2000000000;
  auto e = ss::door_event_of("door\"1\n", a);
  REQUIRE(e);
  e->sequence = 4;
  e->decided_at = "2026-05-01T12:00:00.123Z";
  e->latency_ms = 512.5;
  const nlohmann::json j = nlohmann::json::parse(ss::door_event_json(*e));
  CHECK(j.at("schema") == 1);
  CHECK(j.at("sequence") == 4);
  CHECK(j.at("camera") == "door\"1\n");  // escaped in the JSON, intact once parsed
  CHECK(j.at("track") == 7);
  CHECK(j.at("identity") == "s1");
  CHECK(j.at("decision") == "grant");
  CHECK(j.at("distance") == 0.25);
  CHECK(j.at("margin").is_null());
  CHECK(j.at("votes") == 3);
  CHECK(j.at("first-seen") == 1.5);
  CHECK(j.at("running-time") == 2.0);
  CHECK(j.at("latency-ms") == 512.5);
  CHECK(j.at("reason") == "verified");
  CHECK(ss::door_event_json(*e).find('\n') == std::string::npos);  // one line

  a.kind = ss::DoorAction::Kind::kDeny;
  a.identity = "unknown";
  e = ss::door_event_of("c", a);
  REQUIRE(e);
  CHECK(e->decision == "deny");
  CHECK(nlohmann::json::parse(ss::door_event_json(*e)).at("identity").is_null());
  a.decision = "revoke";
  a.identity = "s2";
  CHECK(ss::door_event_of("c", a)->decision == "revoke");
  a.kind = ss::DoorAction::Kind::kDecision;
  a.decision = "unknown";
  a.reason = "";
  CHECK(ss::door_event_of("c", a)->decision == "unknown");
  a.reason = "revoked";  // the revoke event says it
  CHECK_FALSE(ss::door_event_of("c", a));
  a.decision = "verified";  // the grant says it
  a.reason = "";
  CHECK_FALSE(ss::door_event_of("c", a));
}

TEST_CASE("event queue drops the oldest waiting event, never the one in flight", "[samples]") {
  ss::EventQueue q(2);
  for (int i = 1; i <= 3; ++i) q.push({i, "c", std::to_string(i)});
  CHECK(q.dropped() == 1);
  REQUIRE(q.pin_front()->sequence == 2);
  q.push({4, "c", "4"});  // 2 in flight; 3 and 4 wait
  q.push({5, "c", "5"});  // 3 dropped, not 2
  CHECK(q.dropped() == 2);
  q.pop_pinned();
  CHECK(q.pin_front()->sequence == 4);
  q.pop_pinned();
  CHECK(q.pin_front()->sequence == 5);
  q.pop_pinned();
  CHECK(q.size() == 0);
}

TEST_CASE("MQTT URLs, topic levels and webhook signatures", "[samples]") {
  auto m = ss::parse_mqtt_url("mqtt://broker.local:1884/site/door");
  CHECK(m.host == "broker.local");
  CHECK(m.port == 1884);
  CHECK(m.prefix == "site/door");
  CHECK_FALSE(m.tls);
  m = ss::parse_mqtt_url("mqtts://broker");
  CHECK(m.port == 8883);
  CHECK(m.tls);
  CHECK(m.prefix == ss::kDefaultMqttPrefix);
  for (const char* bad : {"http://x", "mqtt://", "mqtt://h:0", "mqtt://h:99999", "mqtt://h/a/+",
                          "mqtt://h/a//b", "mqtt://user:pw@h"}) {
    INFO(bad);
    CHECK_THROWS_AS(ss::parse_mqtt_url(bad), siamese::cli::UsageError);
  }
  CHECK(ss::topic_level("faceverify0") == "faceverify0");
  const std::string a = ss::topic_level("a/b"), b = ss::topic_level("a+b");
  CHECK(a.find_first_of("/+#") == std::string::npos);
  CHECK(a != b);  // both became a_b, the hash keeps them apart
  // RFC 4231 test case 2.
  CHECK(ss::webhook_signature("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK_NOTHROW(ss::check_webhook_url("https://example.org:8443/hook?x=1"));
  for (const char* bad : {"ftp://h/x", "not a url", "http://", "/relative"}) {
    INFO(bad);
    CHECK_THROWS_AS(ss::check_webhook_url(bad), siamese::cli::UsageError);
  }
}

TEST_CASE("siamese-access-control refuses bad event flags with exit status 2", "[samples][gst]") {
  siamese::testing::use_build_plugins();
  const std::string dir = siamese::testing::temp_dir("access_events_bad");
  const std::vector<std::string> base = {
      program_path("siamese-access-control"), "--model",     dir + "/m.pt", "--source",
      "videotestsrc num-buffers=1",           "--audit-log", dir + "/a.db"};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--mqtt", "http://127.0.0.1"}, "--mqtt"},
      {{"--mqtt", "mqtt://127.0.0.1/a/#"}, "--mqtt"},
      {{"--mqtt", "mqtt://127.0.0.1", "--mqtt-username", "u", "--mqtt-password-file",
        dir + "/missing-password"},
       "--mqtt-password-file"},
      {{"--mqtt", "mqtt://127.0.0.1", "--mqtt-ca-file", dir + "/ca.pem"}, "--mqtt-ca-file"},
      {{"--mqtt", "mqtt://127.0.0.1", "--mqtt-queue", "0"}, "--mqtt-queue"},
      {{"--ha-discovery"}, "--ha-discovery"},
      {{"--webhook", "not a url"}, "--webhook"},
      {{"--webhook", "http://127.0.0.1:1/x", "--webhook-secret-file", dir + "/missing-secret"},
       "--webhook-secret-file"},
      {{"--webhook-timeout", "3"}, "--webhook-timeout"}};
  for (const auto& [extra, flag] : cases) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_program(argv, 60);
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find(flag) != std::string::npos);
  }
  // The password is read from its file and never printed, even when the broker refuses it.
  std::ofstream(dir + "/password") << "hunter2-secret\n";
  auto argv = base;
  for (const std::string& s :
       {std::string("--mqtt"), std::string("mqtt://127.0.0.1:1/x"), std::string("--mqtt-username"),
        std::string("u"), std::string("--mqtt-password-file"), dir + "/password",
        std::string("--stop-timeout"), std::string("0")}) {
    argv.push_back(s);
  }
  const auto r = run_program(argv, 60);
  CHECK(r.output.find("hunter2") == std::string::npos);
}

TEST_CASE(
    "siamese-access-control publishes every decision once and in order over MQTT and a "
    "signed webhook",
    "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_mqtt");
  Broker broker(dir);
  broker.start();
  Subscriber sub(broker.port(), "test-sub", "site/#", false);
  HttpReceiver receiver(200);
  const std::string secret_file = dir + "/secret";
  std::ofstream(secret_file) << "s3cret\n";
  auto argv = siamese::testing::access_control_args(w, dir + "/audit.db");
  for (const std::string& s :
       {std::string("--mqtt"), "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/site",
        std::string("--ha-discovery"), std::string("--webhook"),
        "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook",
        std::string("--webhook-secret-file"), secret_file}) {
    argv.push_back(s);
  }
  const auto r = run_program(argv, 300);
  INFO(r.output);
  REQUIRE(r.status == 0);
  const long published = count_before(r.output, "mqtt", " published");
  REQUIRE(published > 0);
  CHECK(count_before(r.output, "mqtt", " dropped") == 0);
  CHECK(count_before(r.output, "mqtt", " unsent") == 0);
  CHECK(count_before(r.output, "webhook", " delivered") == published);
  CHECK(count_before(r.output, "webhook", " failed") == 0);

  const std::string topic = "site/faceverify0/event";
  REQUIRE(wait_until([&] { return sub.on(topic).size() >= static_cast<size_t>(published); }, 20));
  const std::vector<nlohmann::json> events = events_of(sub.on(topic));
  REQUIRE(events.size() == static_cast<size_t>(published));  // once each
  std::map<std::string, int> kinds;
  std::set<int64_t> granted_tracks, lost_tracks;
  std::string grants_and_denials;
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    INFO(e.dump());
    CHECK(e.at("sequence") == static_cast<int64_t>(i + 1));  // in order, nothing missing
    const std::string d = e.at("decision");
    ++kinds[d];
    if (d == "grant") {
      CHECK(siamese::testing::kAccessWalkPeople.count(e.at("identity")) == 1);
      CHECK(granted_tracks.insert(e.at("track").get<int64_t>()).second);
      CHECK(e.at("latency-ms").is_number());
    }
    if (d == "track-lost") CHECK(lost_tracks.insert(e.at("track").get<int64_t>()).second);
    if (d == "grant" || d == "deny" || d == "revoke") {
      grants_and_denials +=
          d + "|" + std::to_string(e.at("track").get<int64_t>()) + "|" +
          (e.at("identity").is_null() ? "unknown" : e.at("identity").get<std::string>()) + "\n";
    }
  }
  CHECK(kinds["grant"] == static_cast<int>(siamese::testing::kAccessWalkPeople.size()));
  CHECK(kinds["deny"] >= siamese::testing::kAccessWalkStrangers);
  for (int64_t t : granted_tracks) CHECK(lost_tracks.count(t) == 1);  // each grant's track ends
  // The same grants and denials as the audit log, in its order.
  const std::string audit = audit_actions(dir + "/audit.db");
  CHECK(grants_and_denials == audit);

  // The webhook got the same bodies, in the same order, each signed with the secret.
  const auto requests = receiver.requests();
  const auto mqtt = sub.on(topic);
  REQUIRE(requests.size() == mqtt.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    CHECK(requests[i].body == mqtt[i].payload);
    CHECK(requests[i].headers.at("content-type") == "application/json");
    gchar* hex = g_compute_hmac_for_string(
        G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>("s3cret"), 6, requests[i].body.c_str(),
        static_cast<gssize>(requests[i].body.size()));
    CHECK(requests[i].headers.at("x-siamese-signature") == std::string("sha256=") + hex);
    g_free(hex);
  }

  // Retained: a client that comes later sees the doors, the people, the state, "offline".
  Subscriber late(broker.port(), "test-late", "#", false);
  REQUIRE(wait_until(
      [&] {
        return !late.on("site/faceverify0/state").empty() && !late.on("site/availability").empty();
      },
      10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the rest of the retained set
  std::map<std::string, std::string> retained;
  for (const auto& m : late.messages()) {
    if (m.retained) retained[m.topic] = m.payload;
  }
  CHECK(retained["site/availability"] == "offline");
  const auto config = [&](const std::string& t) {
    INFO(t);
    REQUIRE(retained.count(t) == 1);
    return nlohmann::json::parse(retained[t]);
  };
  const auto last_person = config("homeassistant/sensor/site/faceverify0_last_person/config");
  CHECK(last_person.at("state_topic") == "site/faceverify0/state");
  CHECK(last_person.at("availability_topic") == "site/availability");
  CHECK(last_person.at("unique_id") == "site_faceverify0_last_person");
  const auto granted = config("homeassistant/binary_sensor/site/faceverify0_access_granted/config");
  CHECK(granted.at("state_topic") == "site/faceverify0/state");
  for (const auto& person : siamese::testing::kAccessWalkPeople) {
    const auto presence =
        config("homeassistant/binary_sensor/site/faceverify0_" + person + "_presence/config");
    CHECK(presence.at("device_class") == "presence");
    const std::string state_topic = presence.at("state_topic");
    CHECK(state_topic == "site/faceverify0/presence/" + person);
    CHECK(retained[state_topic] == "OFF");  // everyone left by the end of the video
  }
  CHECK(retained.count("homeassistant/binary_sensor/site/faceverify0_s21_presence/config") == 0);
  const auto state = nlohmann::json::parse(retained["site/faceverify0/state"]);
  CHECK(state.at("events") == published);
  CHECK(state.at("grants") == kinds["grant"]);
  CHECK(state.at("dropped") == 0);
  CHECK(state.at("present").empty());
  CHECK(state.at("access-granted") == false);
  CHECK(siamese::testing::kAccessWalkPeople.count(state.at("last-person")) == 1);
}

TEST_CASE("siamese-access-control loses no MQTT event across a broker restart", "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_restart");
  Broker broker(dir);
  broker.start();
  Subscriber sub(broker.port(), "test-restart", "site/+/event", /*persistent=*/true);
  auto argv = siamese::testing::access_control_args(w, dir + "/audit.db");
  for (const std::string& s : {std::string("--realtime"), std::string("--mqtt"),
                               "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/site",
                               std::string("--stop-timeout"), std::string("60")}) {
    argv.push_back(s);
  }
  siamese::testing::Process p(argv, dir + "/run.txt");
  // The broker goes away after the first event and comes back after the next grant or denial
  // (the video plays at its own pace, so events keep coming while it is down).
  REQUIRE(wait_until([&] { return !sub.messages().empty(); }, 120));
  broker.stop();
  const auto lines_before = [&] {
    const std::string out = p.output();
    size_t n = 0;
    for (const char* k : {"GRANT", "DENY"}) {
      for (auto at = out.find(k); at != std::string::npos; at = out.find(k, at + 1)) ++n;
    }
    return n;
  };
  const size_t before = lines_before();
  REQUIRE(wait_until([&] { return lines_before() > before; }, 120));
  broker.start();
  const int status = p.wait(180);
  INFO(p.output());
  REQUIRE(status == 0);
  const std::string out = p.output();
  const long published = count_before(out, "mqtt", " published");
  CHECK(count_before(out, "mqtt", " held while offline") >= 1);
  CHECK(count_before(out, "mqtt", " dropped") == 0);
  CHECK(count_before(out, "mqtt", " unsent") == 0);
  REQUIRE(wait_until(
      [&] {
        std::set<int64_t> seen;
        for (const auto& m : sub.messages())
          seen.insert(nlohmann::json::parse(m.payload)["sequence"].get<int64_t>());
        return seen.size() >= static_cast<size_t>(published);
      },
      30));
  // Every event arrived; QoS 1 may repeat one that was in flight when the broker went down.
  std::vector<int64_t> sequences;
  for (const auto& e : events_of(sub.messages())) sequences.push_back(e.at("sequence"));
  std::set<int64_t> unique(sequences.begin(), sequences.end());
  CHECK(unique.size() == static_cast<size_t>(published));
  CHECK(*unique.begin() == 1);
  CHECK(*unique.rbegin() == published);
  CHECK(sequences.size() - unique.size() <= 1);
  for (size_t i = 1; i < sequences.size(); ++i) CHECK(sequences[i] >= sequences[i - 1]);  // order
}

TEST_CASE(
    "siamese-access-control drops the oldest MQTT events beyond --mqtt-queue and counts "
    "them exactly",
    "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_drop");
  Broker broker(dir);
  broker.start();
  auto sub = std::make_unique<Subscriber>(broker.port(), "test-drop", "site/#", true);
  sub.reset();    // its session and subscription stay on the broker ...
  broker.stop();  // ... and in its persistence file: the run starts with no broker
  const size_t bound = 3;
  auto argv = siamese::testing::access_control_args(w, dir + "/audit.db");
  for (const std::string& s :
       {std::string("--mqtt"), "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/site",
        std::string("--mqtt-queue"), std::to_string(bound), std::string("--stop-timeout"),
        std::string("60")}) {
    argv.push_back(s);
  }
  siamese::testing::Process p(argv, dir + "/run.txt");
  REQUIRE(wait_until([&] { return p.output().find("queued events") != std::string::npos; }, 240));
  broker.start();
  const int status = p.wait(120);
  INFO(p.output());
  REQUIRE(status == 0);
  const std::string out = p.output();
  CHECK(out.find("delivering " + std::to_string(bound) + " queued events") != std::string::npos);
  CHECK(count_before(out, "mqtt", " published") == static_cast<long>(bound));
  const long dropped = count_before(out, "mqtt", " dropped");
  CHECK(count_before(out, "mqtt", " held while offline") == dropped + static_cast<long>(bound));
  sub = std::make_unique<Subscriber>(broker.port(), "test-drop", "site/#", true);
  const std::string topic = "site/faceverify0/event";
  REQUIRE(wait_until([&] { return sub->on(topic).size() >= bound; }, 30));
  const auto events = events_of(sub->on(topic));
  REQUIRE(events.size() == bound);
  // The newest `bound` events arrived, in order; all the older ones were dropped and counted.
  const int64_t last = events.back().at("sequence");
  for (size_t i = 0; i < bound; ++i) {
    CHECK(events[i].at("sequence") == last - static_cast<int64_t>(bound - 1 - i));
  }
  CHECK(dropped == last - static_cast<int64_t>(bound));
  CHECK(events.back().at("decision") == "track-lost");  // the end of the stream
  REQUIRE(wait_until([&] { return !sub->on("site/faceverify0/state").empty(); }, 10));
  CHECK(nlohmann::json::parse(sub->on("site/faceverify0/state").back().payload).at("dropped") ==
        dropped);
}

TEST_CASE("siamese-access-control retries a failing webhook, then counts the failure",
          "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_webhook");
  HttpReceiver receiver(503);
  auto argv = siamese::testing::access_control_args(w, dir + "/audit.db");
  for (const std::string& s :
       {std::string("--webhook"), "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook",
        std::string("--webhook-retries"), std::string("2"), std::string("--webhook-queue"),
        std::string("1"), std::string("--stop-timeout"), std::string("30")}) {
    argv.push_back(s);
  }
  const auto r = run_program(argv, 300);
  INFO(r.output);
  REQUIRE(r.status == 0);
  const long failed = count_before(r.output, "webhook", " failed");
  const long dropped = count_before(r.output, "webhook", " dropped");
  CHECK(count_before(r.output, "webhook", " delivered") == 0);
  CHECK(count_before(r.output, "webhook", " unsent") == 0);
  CHECK(r.output.find("(3 attempts each)") != std::string::npos);
  REQUIRE(failed >= 1);
  // Each event that was tried was posted three times (the first try and two retries).
  std::map<int64_t, int> attempts;
  int64_t last = 0;
  for (const auto& req : receiver.requests()) {
    const int64_t seq = check_schema(req.body).at("sequence");
    ++attempts[seq];
    last = std::max(last, seq);
  }
  CHECK(attempts.size() == static_cast<size_t>(failed));
  for (const auto& [seq, n] : attempts) CHECK(n == 3);
  CHECK(failed + dropped == last);  // every event either failed after retries or was dropped
}

TEST_CASE("siamese-access-control announces each enrolled person's presence before any grant",
          "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_people");
  Broker broker(dir);
  broker.start();
  // No face passes this camera: nobody is granted, yet every person of the gallery has a sensor.
  const auto r = run_program(
      {program_path("siamese-access-control"), "--model", w.model, "--gallery", w.gallery,
       "--pipeline-desc",
       "videotestsrc num-buffers=5 ! videoconvert ! faceverify name=faceverify0 ! fakesink",
       "--audit-log", dir + "/audit.db", "--device", "cpu", "--mqtt",
       "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/site", "--ha-discovery"},
      120);
  INFO(r.output);
  REQUIRE(r.status == 0);
  Subscriber late(broker.port(), "test-people", "#", false);
  const auto config = [](const std::string& person) {
    return "homeassistant/binary_sensor/site/faceverify0_" + person + "_presence/config";
  };
  REQUIRE(wait_until(
      [&] {
        for (const auto& person : siamese::testing::kAccessWalkPeople) {
          if (late.on(config(person)).empty() ||
              late.on("site/faceverify0/presence/" + person).empty()) {
            return false;
          }
        }
        return true;
      },
      10));
  for (const auto& person : siamese::testing::kAccessWalkPeople) {
    const auto m = late.on(config(person)).back();
    CHECK(m.retained);
    const auto j = nlohmann::json::parse(m.payload);
    CHECK(j.at("device_class") == "presence");
    CHECK(j.at("state_topic") == "site/faceverify0/presence/" + person);
    CHECK(late.on("site/faceverify0/presence/" + person).back().payload == "OFF");
  }
  CHECK(late.on(config("s21")).empty());  // strangers are not in the gallery
}

TEST_CASE("siamese-access-control reaches a TLS broker with a password and reports a refusal",
          "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  for (const char* tool : {"/usr/bin/openssl", "/usr/bin/mosquitto_passwd"}) {
    if (!std::filesystem::exists(tool)) {
      WARN("skipped: " << tool << " is missing (tests/setup.sh installs openssl, mosquitto)");
      return;
    }
  }
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_tls");
  // A throwaway CA and a server certificate for 127.0.0.1, and a password file.
  std::string out;
  const std::string certs =
      "cd '" + dir +
      "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 "
      "-subj /CN=siamese-test-ca && openssl req -newkey rsa:2048 -nodes -keyout server.key "
      "-out server.csr -subj /CN=127.0.0.1 && printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf "
      "&& openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out "
      "server.crt -days 1 -extfile ext.cnf && mosquitto_passwd -b -c passwd door right-horse "
      "&& printf 'right-horse\\n' > right && printf 'wrong-horse\\n' > wrong";
  INFO(out);
  REQUIRE(siamese::testing::run_shell("(" + certs + ") 2>&1", &out) == 0);
  // A plain listener for the test's subscriber, a TLS one with passwords for the program.
  const int plain = free_port(), tls = free_port();
  const passwd* user = getpwuid(getuid());
  std::ofstream(dir + "/mosquitto.conf")
      << "per_listener_settings true\nlistener " << plain << " 127.0.0.1\nallow_anonymous true\n"
      << "listener " << tls << " 127.0.0.1\nallow_anonymous false\npassword_file " << dir
      << "/passwd\ncafile " << dir << "/ca.crt\ncertfile " << dir << "/server.crt\nkeyfile " << dir
      << "/server.key\nuser " << (user != nullptr ? user->pw_name : "mosquitto") << "\n";
  siamese::testing::Process broker({kBroker, "-c", dir + "/mosquitto.conf"}, dir + "/broker.log");
  REQUIRE(wait_until([&] { return port_open(plain) && port_open(tls); }, 10));
  Subscriber sub(plain, "test-tls", "door/#", false);
  const auto run = [&](const std::string& password_file, const std::string& source,
                       const std::string& audit) {
    auto argv = siamese::testing::access_control_args(w, audit);
    if (!source.empty()) {
      argv.erase(argv.begin() + 5, argv.begin() + 7);  // --source-file VIDEO
      argv.insert(argv.end(), {"--pipeline-desc", source, "--stop-timeout", "1"});
    }
    argv.insert(argv.end(), {"--mqtt", "mqtts://127.0.0.1:" + std::to_string(tls) + "/door",
                             "--mqtt-ca-file", dir + "/ca.crt", "--mqtt-username", "door",
                             "--mqtt-password-file", password_file});
    return run_program(argv, 300);
  };
  // The wrong password: refused, said once with what to check; the run still ends.
  const auto refused = run(dir + "/wrong",
                           "videotestsrc num-buffers=5 ! videoconvert ! faceverify "
                           "name=faceverify0 ! fakesink",
                           dir + "/refused.db");
  INFO(refused.output);
  CHECK(refused.status == 0);
  CHECK(refused.output.find("mqtt: the broker refused the connection") != std::string::npos);
  CHECK(refused.output.find("check --mqtt-username and --mqtt-password-file") != std::string::npos);
  CHECK(sub.on("door/availability").empty());
  // The right one: every event of the walk arrives over TLS.
  const auto r = run(dir + "/right", "", dir + "/audit.db");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("refused") == std::string::npos);
  const long published = count_before(r.output, "mqtt", " published");
  REQUIRE(published > 0);
  CHECK(count_before(r.output, "mqtt", " unsent") == 0);
  REQUIRE(wait_until(
      [&] { return sub.on("door/faceverify0/event").size() >= static_cast<size_t>(published); },
      20));
  CHECK(sub.on("door/faceverify0/event").size() == static_cast<size_t>(published));
  broker.signal(SIGTERM);
  broker.wait(10);
}

TEST_CASE("siamese-access-control announces a person enrolled while it plays", "[samples][gst]") {
  SIAMESE_REQUIRE_ATT(data);
  REQUIRE_BROKER();
  siamese::testing::use_build_plugins();
  const auto& w = walk(data);
  const std::string dir = siamese::testing::temp_dir("access_events_new_person");
  const std::string gallery = dir + "/gallery.db";
  std::filesystem::copy_file(w.gallery, gallery);
  Broker broker(dir);
  broker.start();
  Subscriber sub(broker.port(), "test-new-person", "#", false);
  siamese::testing::Process p(
      {program_path("siamese-access-control"), "--model", w.model, "--gallery", gallery,
       "--pipeline-desc",
       "videotestsrc is-live=true ! video/x-raw,framerate=10/1 ! videoconvert ! faceverify "
       "name=faceverify0 ! fakesink",
       "--audit-log", dir + "/audit.db", "--device", "cpu", "--mqtt",
       "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/site", "--ha-discovery"},
      dir + "/run.txt");
  const std::string topic = "homeassistant/binary_sensor/site/faceverify0_newcomer_presence/config";
  REQUIRE(wait_until([&] { return !sub.on("site/faceverify0/presence/s1").empty(); }, 60));
  CHECK(sub.on(topic).empty());
  // Enrolled while the camera runs: the element reloads the gallery (a new generation) and the
  // new person's sensor is published, with no restart and no grant.
  const auto added =
      run_program({program_path("siamese-enroll"), "add", "--model", w.model, "--gallery", gallery,
                   "--name", "newcomer", "--no-detect", data + "/s30"});
  INFO(added.output);
  REQUIRE(added.status == 0);
  const bool announced = wait_until([&] { return !sub.on(topic).empty(); }, 60);
  p.signal(SIGINT);
  const int status = p.wait(60);
  INFO(p.output());
  CHECK(status == 0);
  REQUIRE(announced);
  CHECK(sub.on("site/faceverify0/presence/newcomer").back().payload == "OFF");
}
