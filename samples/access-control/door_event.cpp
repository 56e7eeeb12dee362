#include "door_event.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace siamese::samples {

namespace {

nlohmann::json finite_or_null(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

std::optional<DoorEvent> door_event_of(const std::string& camera, const DoorAction& a) {
  DoorEvent e;
  e.camera = camera;
  e.track_id = a.track_id;
  e.distance = a.distance;
  e.margin = a.margin;
  e.votes = a.votes;
  e.first_seen = a.first_seen;
  e.running_time = a.running_time;
  switch (a.kind) {
    case DoorAction::Kind::kGrant:
      e.decision = "grant";
      e.identity = a.identity;
      e.reason = "verified";
      break;
    case DoorAction::Kind::kDeny:
      if (a.decision == "revoke") {
        e.decision = "revoke";
        e.identity = a.identity;  // who lost access
        e.reason = "removed-from-gallery";
      } else {
        e.decision = "deny";
        e.reason = "not-verified-in-time";
      }
      break;
    case DoorAction::Kind::kDecision:
      // The element judged a track a stranger: an event of its own, before (or without) the
      // deny that follows deny-after seconds later. Withdrawn verifications are "revoke" above.
      if (a.decision != "unknown" || a.reason == "revoked") return std::nullopt;
      e.decision = "unknown";
      e.reason = a.reason == "resumed" ? "track-resumed" : "no-identity-confirmed";
      break;
    default:  // the door's own actions (tailgate.h, door_config.h), told by their decision
      if (a.decision == "tailgate") {
        e.decision = "tailgate";
        e.identity = a.identity == "unknown" ? "" : a.identity;
        e.reason = "more-people-than-grants";
      } else if (a.decision == "closed") {
        e.decision = "deny";  // verified, but the door is closed at this hour
        e.identity = a.identity;
        e.reason = "outside-schedule";
      } else {
        return std::nullopt;
      }
      break;
  }
  return e;
}

std::string door_event_json(const DoorEvent& e) {
  nlohmann::json j = {
      {"schema", kDoorEventSchema},
      {"sequence", e.sequence},
      {"camera", e.camera},
      {"track", e.track_id},
      {"identity", e.identity.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.identity)},
      {"decision", e.decision},
      {"distance", finite_or_null(e.distance)},
      {"margin", finite_or_null(e.margin)},
      {"votes", e.votes},
      {"first-seen", seconds(e.first_seen)},
      {"running-time", seconds(e.running_time)},
      {"decided-at", e.decided_at},
      {"latency-ms", finite_or_null(e.latency_ms)},
      {"reason", e.reason}};
  // Names come from the gallery file: invalid UTF-8 is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace siamese::samples
