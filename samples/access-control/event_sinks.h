// Where siamese-access-control's door events go besides the audit log: MQTT (with Home
// Assistant discovery and retained door state) and a webhook. Turns the policy's actions into
// numbered DoorEvents, adds "track-lost" when a track leaves the frame, keeps each door's state
// (last person, who is present) and hands the same JSON to every sink; the sinks deliver on
// their own threads. Thread-safety: one thread (the bus thread) calls the on_*() members.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "door_event.h"
#include "door_policy.h"
#include "mqtt_publisher.h"
#include "webhook_sender.h"

namespace siamese::samples {

/// A track not seen for this long (running time) is published as "track-lost".
constexpr int64_t kTrackLostAfterNs = 1000000000;

struct EventSinkOptions {
  std::optional<MqttOptions> mqtt;
  std::optional<WebhookOptions> webhook;
};

class EventSinks {
 public:
  /// Starts the configured sinks (none: every call is cheap and does nothing). cameras: the
  /// faceverify element names.
  EventSinks(const EventSinkOptions& options, const std::vector<std::string>& cameras);

  bool enabled() const { return mqtt_ || webhook_; }
  /// A policy action at camera; first_frame_us and now_us: wall clock (g_get_real_time), the
  /// first frame's as well as the pipeline clock tells it (-1: unknown).
  void on_action(const std::string& camera, const DoorAction& action, int64_t first_frame_us,
                 int64_t now_us);
  /// A frame of camera: notes the tracks in it, publishes "track-lost" for those gone.
  void on_frame(const std::string& camera, const FrameEvent& frame, int64_t now_us);
  /// The enrolled people of camera's gallery: each gets its presence sensor (Home Assistant
  /// discovery) and a retained "OFF" now, not only after a first grant (those present excepted).
  void announce_people(const std::string& camera, const std::vector<std::string>& people);
  /// The stream ended: every track still in view is lost ("end-of-stream").
  void end_of_stream(int64_t now_us);
  /// Events still queued in any sink.
  size_t unsent() const;
  /// Delivers for at most timeout_s seconds and stops the sinks; returns one summary line per
  /// sink ("mqtt: ...", "webhook: ...").
  std::vector<std::string> finish(double timeout_s);

  int64_t events() const { return sequence_; }

 private:
  struct Track {
    int64_t first_seen = 0;       // running time, ns
    int64_t last_seen = 0;        // running time, ns
    int64_t first_frame_us = -1;  // wall clock of its first frame message
    double distance = 0.0;
    std::string identity;  // granted as; "" when not granted
  };
  struct Door {
    std::map<int64_t, Track> tracks;
    std::string last_person;
    std::string last_decision;
    std::string last_event_at;
    int grants = 0, denials = 0;
    int64_t events = 0;
  };
  void emit(DoorEvent event, int64_t first_frame_us, int64_t now_us);
  void lose(const std::string& camera, int64_t track_id, const std::string& reason, int64_t now_us);
  std::set<std::string> present(const Door& door) const;
  void publish_state(const std::string& camera);

  std::unique_ptr<MqttPublisher> mqtt_;
  std::unique_ptr<WebhookSender> webhook_;
  std::map<std::string, Door> doors_;
  int64_t sequence_ = 0;
};

/// An ISO 8601 UTC time with milliseconds ("2026-05-01T12:00:00.123Z") of a g_get_real_time().
std::string iso8601_of_us(int64_t unix_us);

}  // namespace siamese::samples
