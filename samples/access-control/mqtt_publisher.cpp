#include "mqtt_publisher.h"

#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "siamese/cli.h"

namespace siamese::samples {

namespace {

constexpr const char* kOnline = "online";
constexpr const char* kOffline = "offline";
constexpr auto kPoll = std::chrono::milliseconds(100);

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

bool valid_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix.front() == '/' || prefix.back() == '/') return false;
  if (prefix.find("//") != std::string::npos) return false;
  for (unsigned char c : prefix) {
    if (c == '+' || c == '#' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string lower_slug(const std::string& s) {
  std::string out = topic_level(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (char& c : out) c = c == '-' ? '_' : c;
  return out;
}

}  // namespace

MqttOptions parse_mqtt_url(const std::string& url) {
  MqttOptions o;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    o.tls = true;
    o.port = 8883;
  } else {
    throw cli::UsageError("--mqtt: '" + url +
                          "' is not mqtt://HOST[:PORT][/PREFIX] or mqtts://...");
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) o.prefix = rest.substr(slash + 1);
  if (slash != std::string::npos && !valid_prefix(o.prefix)) {
    throw cli::UsageError("--mqtt: the topic prefix '" + o.prefix +
                          "' must be non-empty topic levels without '+' or '#'");
  }
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    o.port = static_cast<int>(cli::parse_integer("mqtt", authority.substr(colon + 1), 1, 65535));
    authority = authority.substr(0, colon);
  }
  if (authority.empty() || authority.find('@') != std::string::npos) {
    throw cli::UsageError("--mqtt: '" + url +
                          "' needs a host (credentials go in --mqtt-username and "
                          "--mqtt-password-file)");
  }
  o.host = authority;
  return o;
}

std::string topic_level(const std::string& name) {
  std::string out;
  bool changed = name.empty();
  for (unsigned char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    out += ok ? static_cast<char>(c) : '_';
    changed |= !ok;
  }
  if (changed) {
    uint32_t h = 2166136261u;  // FNV-1a: names that differ only in replaced bytes stay apart
    for (unsigned char c : name) h = (h ^ c) * 16777619u;
    char hex[10];
    std::snprintf(hex, sizeof hex, "_%08x", h);
    out += hex;
  }
  return out;
}

MqttPublisher::MqttPublisher(MqttOptions options, const std::vector<std::string>& cameras)
    : options_(std::move(options)), queue_(options_.queue) {
  init_library_once();
  const std::string client_id = options_.client_id.empty()
                                    ? "siamese-access-control-" + std::to_string(getpid())
                                    : options_.client_id;
  mosq_ = mosquitto_new(client_id.c_str(), /*clean_session=*/true, this);
  if (mosq_ == nullptr) throw std::runtime_error("--mqtt: cannot create an MQTT client");
  const std::string availability = options_.prefix + "/availability";
  mosquitto_will_set(mosq_, availability.c_str(), static_cast<int>(std::strlen(kOffline)), kOffline,
                     1, true);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (options_.tls) {
    const char* ca_file = options_.ca_file.empty() ? nullptr : options_.ca_file.c_str();
    const char* ca_path = ca_file == nullptr ? "/etc/ssl/certs" : nullptr;
    const int rc = mosquitto_tls_set(mosq_, ca_file, ca_path, nullptr, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(mosq_);
      throw std::runtime_error("--mqtt-ca-file: " + std::string(mosquitto_strerror(rc)) + " (" +
                               options_.ca_file + ")");
    }
  }
  mosquitto_connect_callback_set(mosq_, &MqttPublisher::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttPublisher::on_disconnect);
  mosquitto_publish_callback_set(mosq_, &MqttPublisher::on_publish);
  mosquitto_reconnect_delay_set(mosq_, kMqttReconnectMinS, kMqttReconnectMaxS, true);
  set_retained(availability, kOnline);
  for (const auto& camera : cameras) announce_camera(camera);
  // Connecting is the delivery thread's first job: a broker that is not there yet is no
  // error, and never holds up the caller.
  thread_ = std::thread([this] { deliver(); });
}

MqttPublisher::~MqttPublisher() {
  finish(0.0);
  mosquitto_destroy(mosq_);
}

void MqttPublisher::on_connect(mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  std::lock_guard<std::mutex> lock(p->mutex_);
  if (rc != 0) {
    // Refused (bad credentials, not authorised): said once per reason; the library retries.
    if (rc != p->refused_) {
      std::fprintf(stderr,
                   "siamese-access-control: mqtt: the broker refused the connection: %s; "
                   "retrying (check --mqtt-username and --mqtt-password-file)\n",
                   mosquitto_connack_string(rc));
    }
    p->refused_ = rc;
    return;
  }
  p->refused_ = 0;
  p->connected_ = true;
  for (const auto& [topic, payload] : p->retained_) p->dirty_.insert(topic);  // broker may
  p->changed_.notify_all();  // have restarted without them
}

void MqttPublisher::on_disconnect(mosquitto*, void* self, int) {
  auto* p = static_cast<MqttPublisher*>(self);
  std::lock_guard<std::mutex> lock(p->mutex_);
  p->connected_ = false;
  p->changed_.notify_all();
}

void MqttPublisher::on_publish(mosquitto*, void* self, int mid) {
  auto* p = static_cast<MqttPublisher*>(self);
  std::lock_guard<std::mutex> lock(p->mutex_);
  if (mid == p->offline_mid_) p->offline_sent_ = true;
  p->changed_.notify_all();
  if (mid != p->inflight_mid_) return;  // a retained message
  p->inflight_mid_ = -1;
  p->queue_.pop_pinned();
  ++p->published_;
  p->changed_.notify_all();
}

void MqttPublisher::publish_event(const QueuedEvent& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!connected_) ++held_offline_;
  queue_.push(event);
  changed_.notify_all();
}

void MqttPublisher::set_retained(const std::string& topic, const std::string& payload) {
  retained_[topic] = payload;
  dirty_.insert(topic);
  changed_.notify_all();
}

void MqttPublisher::publish_state(const std::string& camera, const std::string& json) {
  std::lock_guard<std::mutex> lock(mutex_);
  set_retained(options_.prefix + "/" + topic_level(camera) + "/state", json);
}

void MqttPublisher::publish_presence(const std::string& camera, const std::string& person,
                                     bool present) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string topic =
      options_.prefix + "/" + topic_level(camera) + "/presence/" + topic_level(person);
  set_retained(topic, present ? "ON" : "OFF");
  if (options_.ha_prefix.empty() || !people_.insert({camera, person}).second) return;
  const std::string node = lower_slug(options_.prefix);
  const std::string object = lower_slug(camera) + "_" + lower_slug(person) + "_presence";
  const nlohmann::json config = {{"name", person + " present"},
                                 {"unique_id", node + "_" + object},
                                 {"state_topic", topic},
                                 {"payload_on", "ON"},
                                 {"payload_off", "OFF"},
                                 {"device_class", "presence"},
                                 {"availability_topic", options_.prefix + "/availability"},
                                 {"device", {{"identifiers", {node + "_" + lower_slug(camera)}}}}};
  set_retained(options_.ha_prefix + "/binary_sensor/" + node + "/" + object + "/config",
               config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void MqttPublisher::announce_camera(const std::string& camera) {
  // Called from the constructor, before the threads start: no lock needed.
  if (options_.ha_prefix.empty()) return;
  const std::string node = lower_slug(options_.prefix);
  const std::string cam = lower_slug(camera);
  const std::string state = options_.prefix + "/" + topic_level(camera) + "/state";
  const nlohmann::json device = {{"identifiers", {node + "_" + cam}},
                                 {"name", "Door " + camera},
                                 {"manufacturer", "gst-siamese"},
                                 {"model", "siamese-access-control"}};
  const std::string availability = options_.prefix + "/availability";
  const auto dump = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  const nlohmann::json last_person = {{"name", "Last person"},
                                      {"unique_id", node + "_" + cam + "_last_person"},
                                      {"state_topic", state},
                                      {"value_template", "{{ value_json['last-person'] }}"},
                                      {"json_attributes_topic", state},
                                      {"icon", "mdi:account"},
                                      {"availability_topic", availability},
                                      {"device", device}};
  set_retained(options_.ha_prefix + "/sensor/" + node + "/" + cam + "_last_person/config",
               dump(last_person));
  const nlohmann::json granted = {
      {"name", "Access granted"},
      {"unique_id", node + "_" + cam + "_access_granted"},
      {"state_topic", state},
      {"value_template", "{{ 'ON' if value_json['access-granted'] else 'OFF' }}"},
      {"payload_on", "ON"},
      {"payload_off", "OFF"},
      {"availability_topic", availability},
      {"device", device}};
  set_retained(options_.ha_prefix + "/binary_sensor/" + node + "/" + cam + "_access_granted/config",
               dump(granted));
}

void MqttPublisher::deliver() {
  std::unique_lock<std::mutex> lock(mutex_);
  // libmosquitto's network thread reconnects by itself, but only after a first connection:
  // until then, try with the same doubling back-off.
  int backoff_s = kMqttReconnectMinS;
  while (!loop_started_) {
    if (stop_) return;
    lock.unlock();
    int rc = mosquitto_connect(mosq_, options_.host.c_str(), options_.port, kMqttKeepaliveS);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_start(mosq_);
    lock.lock();
    if (rc == MOSQ_ERR_SUCCESS) {
      loop_started_ = true;
    } else {
      changed_.wait_for(lock, std::chrono::seconds(backoff_s), [&] { return stop_; });
      backoff_s = std::min(2 * backoff_s, kMqttReconnectMaxS);
    }
  }
  for (;;) {
    changed_.wait_for(lock, kPoll, [&] {
      return stop_ || (connected_ && (!dirty_.empty() || (inflight_mid_ < 0 && queue_.size() > 0)));
    });
    if (stop_) return;
    if (!connected_) continue;
    for (const auto& topic : dirty_) {
      const std::string& payload = retained_[topic];
      mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                        payload.data(), 1, true);
    }
    dirty_.clear();
    if (inflight_mid_ >= 0) continue;  // the library resends it after a reconnection
    const auto event = queue_.pin_front();
    if (!event) continue;
    const std::string topic = options_.prefix + "/" + topic_level(event->camera) + "/event";
    int mid = -1;
    const int rc =
        mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(event->payload.size()),
                          event->payload.data(), 1, false);
    if (rc == MOSQ_ERR_SUCCESS) {
      inflight_mid_ = mid;
    } else if (rc == MOSQ_ERR_PAYLOAD_SIZE) {
      queue_.pop_pinned();  // can never be sent; counted as undelivered below
    }
  }
}

size_t MqttPublisher::finish(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  std::unique_lock<std::mutex> lock(mutex_);
  if (thread_.joinable() && !finishing_) {
    finishing_ = true;
    changed_.wait_until(lock, deadline, [&] { return queue_.size() == 0 && dirty_.empty(); });
    retained_[options_.prefix + "/availability"] = kOffline;
    bool was_connected = connected_;
    if (was_connected) {
      const std::string topic = options_.prefix + "/availability";
      mosquitto_publish(mosq_, &offline_mid_, topic.c_str(),
                        static_cast<int>(std::strlen(kOffline)), kOffline, 1, true);
      // Let "offline" reach the broker (the last will says the same if it does not).
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return offline_sent_; });
    }
    stop_ = true;
    changed_.notify_all();
    lock.unlock();
    thread_.join();
    if (was_connected) mosquitto_disconnect(mosq_);
    if (loop_started_) mosquitto_loop_stop(mosq_, /*force=*/!was_connected);
    lock.lock();
  }
  return queue_.size();
}

size_t MqttPublisher::published() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_;
}

size_t MqttPublisher::held_offline() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_offline_;
}

bool MqttPublisher::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connected_;
}

std::string MqttPublisher::summary() const {
  std::ostringstream out;
  out << "mqtt: " << published() << " published, " << held_offline() << " held while offline, "
      << dropped() << " dropped, " << unsent() << " unsent";
  return out.str();
}

}  // namespace siamese::samples
