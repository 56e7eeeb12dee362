// Publishes siamese-access-control's door events to an MQTT broker (libmosquitto, its own
// network thread plus one delivery thread): events at QoS 1 in order, one in flight at a time,
// from a bounded queue that holds them while the broker is away; retained door state,
// availability (with a last will) and Home Assistant discovery configs, re-sent on each
// connection. Thread-safety: publish_*() may be called from any thread; finish() once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "event_queue.h"

struct mosquitto;

namespace siamese::samples {

constexpr size_t kDefaultMqttQueue = 1000;
constexpr const char* kDefaultMqttPrefix = "siamese";
constexpr const char* kDefaultHaPrefix = "homeassistant";
constexpr int kMqttKeepaliveS = 30;
constexpr int kMqttReconnectMinS = 1;  // back-off doubles from here ...
constexpr int kMqttReconnectMaxS = 5;  // ... up to here

struct MqttOptions {
  std::string host;
  int port = 1883;
  bool tls = false;
  std::string prefix = kDefaultMqttPrefix;  // topics PREFIX/availability, PREFIX/CAMERA/...
  std::string ca_file;                      // mqtts: the CA bundle (default: system store)
  std::string username;
  std::string password;  // from --mqtt-password-file; never printed
  std::string client_id;
  size_t queue = kDefaultMqttQueue;
  std::string ha_prefix;  // Home Assistant discovery prefix; "" = no discovery
};

/// Splits mqtt://host[:port][/prefix] or mqtts://...; throws cli::UsageError naming --mqtt.
MqttOptions parse_mqtt_url(const std::string& url);

/// A topic level made of [A-Za-z0-9_-] from any name (a camera's, a person's): other bytes
/// become '_', and a name so changed gets a short hash of the original so two stay distinct.
std::string topic_level(const std::string& name);

class MqttPublisher {
 public:
  /// Connects in the background (it does not wait for the broker). cameras: the faceverify
  /// elements, announced to Home Assistant at once. Throws std::runtime_error when libmosquitto
  /// refuses the settings (a TLS CA file it cannot read).
  MqttPublisher(MqttOptions options, const std::vector<std::string>& cameras);
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  /// Queues an event payload for PREFIX/CAMERA/event (QoS 1, not retained). Never blocks.
  void publish_event(const QueuedEvent& event);
  /// Sets the retained door state PREFIX/CAMERA/state (the latest replaces one not yet sent).
  void publish_state(const std::string& camera, const std::string& json);
  /// A person's presence at a camera, retained "ON"/"OFF" on PREFIX/CAMERA/presence/PERSON;
  /// the first time also announces the Home Assistant binary sensor for it.
  void publish_presence(const std::string& camera, const std::string& person, bool present);
  /// Delivers what is queued for at most timeout_s seconds, then publishes "offline" and
  /// disconnects. Returns the events left undelivered.
  size_t finish(double timeout_s);

  size_t published() const;
  size_t held_offline() const;
  size_t dropped() const { return queue_.dropped(); }
  size_t unsent() const { return queue_.size(); }
  bool connected() const;
  /// "mqtt: P published, H held while offline, D dropped, U unsent".
  std::string summary() const;

 private:
  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_publish(mosquitto*, void* self, int mid);
  void deliver();  // the delivery thread
  void set_retained(const std::string& topic, const std::string& payload);
  void announce_camera(const std::string& camera);

  const MqttOptions options_;
  mosquitto* mosq_ = nullptr;
  EventQueue queue_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool connected_ = false;
  int refused_ = 0;            // the broker's last CONNACK refusal code (reported once a code)
  bool loop_started_ = false;  // connected once: libmosquitto's thread reconnects from then on
  bool finishing_ = false;
  bool stop_ = false;
  int inflight_mid_ = -1;  // the event in flight (queue_'s pinned front)
  int offline_mid_ = -1;   // the closing "offline" availability message
  bool offline_sent_ = false;
  size_t published_ = 0;
  size_t held_offline_ = 0;
  std::map<std::string, std::string> retained_;  // topic -> payload, re-sent on each connect
  std::set<std::string> dirty_;                  // retained topics not yet sent
  std::set<std::pair<std::string, std::string>> people_;  // (camera, person) announced
  std::thread thread_;
};

}  // namespace siamese::samples
