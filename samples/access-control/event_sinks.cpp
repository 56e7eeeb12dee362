#include "event_sinks.h"

#include <cmath>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

namespace siamese::samples {

std::string iso8601_of_us(int64_t unix_us) {
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>((unix_us / 1000) % 1000));
  return text;
}

EventSinks::EventSinks(const EventSinkOptions& options, const std::vector<std::string>& cameras) {
  if (options.mqtt) mqtt_ = std::make_unique<MqttPublisher>(*options.mqtt, cameras);
  if (options.webhook) webhook_ = std::make_unique<WebhookSender>(*options.webhook);
  for (const auto& camera : cameras) doors_[camera];
}

void EventSinks::on_action(const std::string& camera, const DoorAction& action,
                           int64_t first_frame_us, int64_t now_us) {
  if (!enabled()) return;
  Door& door = doors_[camera];
  if (action.decision == "tailgate") {
    // Reported when the door closes, about tracks that may have left already: no bookkeeping.
    const auto t = door.tracks.find(action.track_id);
    if (auto event = door_event_of(camera, action)) {
      emit(*event, t != door.tracks.end() ? t->second.first_frame_us : -1, now_us);
    }
    return;
  }
  Track& track = door.tracks[action.track_id];
  if (action.reason == "resumed") {
    // The element found the track again, maybe on someone else: a new incarnation.
    track.first_frame_us = -1;
    track.identity.clear();
  }
  if (action.first_seen > 0) track.first_seen = action.first_seen;
  track.last_seen = std::max(track.last_seen, action.running_time);
  track.distance = action.distance;
  if (first_frame_us > now_us) first_frame_us = -1;  // a file read faster than its frame rate
  if (first_frame_us >= 0 && (track.first_frame_us < 0 || first_frame_us < track.first_frame_us)) {
    track.first_frame_us = first_frame_us;
  }
  std::optional<DoorEvent> event = door_event_of(camera, action);
  if (!event) return;
  const std::string was = track.identity;
  if (event->decision == "grant") {
    track.identity = event->identity;
    ++door.grants;
    door.last_person = event->identity;
  } else if (event->decision == "deny" || event->decision == "revoke") {
    ++door.denials;
    track.identity.clear();
  }
  emit(*event, track.first_frame_us, now_us);
  if (!mqtt_) return;
  if (!track.identity.empty()) mqtt_->publish_presence(camera, track.identity, true);
  if (!was.empty() && was != track.identity && present(door).count(was) == 0) {
    mqtt_->publish_presence(camera, was, false);
  }
}

void EventSinks::announce_people(const std::string& camera,
                                 const std::vector<std::string>& people) {
  if (!mqtt_) return;
  const std::set<std::string> here = present(doors_[camera]);
  for (const auto& person : people) {
    if (here.count(person) == 0) mqtt_->publish_presence(camera, person, false);
  }
}

void EventSinks::emit(DoorEvent event, int64_t first_frame_us, int64_t now_us) {
  event.sequence = ++sequence_;
  event.decided_at = iso8601_of_us(now_us);
  event.latency_ms = first_frame_us >= 0 ? static_cast<double>(now_us - first_frame_us) / 1000.0
                                         : std::numeric_limits<double>::quiet_NaN();
  Door& door = doors_[event.camera];
  door.last_decision = event.decision;
  door.last_event_at = event.decided_at;
  ++door.events;
  const std::string json = door_event_json(event);
  const QueuedEvent queued{event.sequence, event.camera, json};
  if (mqtt_) mqtt_->publish_event(queued);
  if (webhook_) webhook_->publish_event(queued);
  publish_state(event.camera);
}

std::set<std::string> EventSinks::present(const Door& door) const {
  std::set<std::string> people;
  for (const auto& [id, t] : door.tracks) {
    if (!t.identity.empty()) people.insert(t.identity);
  }
  return people;
}

void EventSinks::publish_state(const std::string& camera) {
  if (!mqtt_) return;
  const Door& door = doors_[camera];
  const std::set<std::string> people = present(door);
  const nlohmann::json state = {
      {"schema", kDoorEventSchema},
      {"camera", camera},
      {"last-person",
       door.last_person.empty() ? nlohmann::json(nullptr) : nlohmann::json(door.last_person)},
      {"last-decision", door.last_decision},
      {"last-event-at", door.last_event_at},
      {"access-granted", !people.empty()},
      {"present", people},
      {"grants", door.grants},
      {"denials", door.denials},
      {"events", door.events},
      {"dropped", mqtt_->dropped()}};
  mqtt_->publish_state(camera,
                       state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void EventSinks::on_frame(const std::string& camera, const FrameEvent& frame, int64_t now_us) {
  if (!enabled()) return;
  Door& door = doors_[camera];
  for (const FaceSeen& f : frame.faces) {
    auto [it, inserted] = door.tracks.try_emplace(f.track_id);
    Track& t = it->second;
    if (inserted) {
      t.first_seen = frame.running_time;
      t.first_frame_us = now_us;
    }
    t.last_seen = frame.running_time;
    t.distance = f.distance;
  }
  std::vector<int64_t> gone;
  for (const auto& [id, t] : door.tracks) {
    if (frame.running_time - t.last_seen > kTrackLostAfterNs) gone.push_back(id);
  }
  for (int64_t id : gone) lose(camera, id, "left-view", now_us);
}

void EventSinks::lose(const std::string& camera, int64_t track_id, const std::string& reason,
                      int64_t now_us) {
  Door& door = doors_[camera];
  const auto it = door.tracks.find(track_id);
  if (it == door.tracks.end()) return;
  const Track t = it->second;
  door.tracks.erase(it);
  DoorEvent e;
  e.camera = camera;
  e.track_id = track_id;
  e.identity = t.identity;
  e.decision = "track-lost";
  e.distance = t.distance;
  e.margin = std::numeric_limits<double>::quiet_NaN();
  e.first_seen = t.first_seen;
  e.running_time = t.last_seen;
  e.reason = reason;
  const bool was_present = !t.identity.empty() && present(door).count(t.identity) == 0;
  emit(e, t.first_frame_us, now_us);
  if (mqtt_ && was_present) mqtt_->publish_presence(camera, t.identity, false);
}

void EventSinks::end_of_stream(int64_t now_us) {
  if (!enabled()) return;
  for (auto& [camera, door] : doors_) {
    std::vector<int64_t> ids;
    for (const auto& [id, t] : door.tracks) ids.push_back(id);
    for (int64_t id : ids) lose(camera, id, "end-of-stream", now_us);
  }
}

size_t EventSinks::unsent() const {
  return (mqtt_ ? mqtt_->unsent() : 0) + (webhook_ ? webhook_->unsent() : 0);
}

std::vector<std::string> EventSinks::finish(double timeout_s) {
  std::vector<std::string> lines;
  if (mqtt_) {
    mqtt_->finish(timeout_s);
    lines.push_back(mqtt_->summary());
  }
  if (webhook_) {
    webhook_->finish(timeout_s);
    lines.push_back(webhook_->summary());
  }
  return lines;
}

}  // namespace siamese::samples
