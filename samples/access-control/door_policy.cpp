#include "door_policy.h"

#include <cmath>
#include <stdexcept>

namespace siamese::samples {

namespace {
constexpr const char* kUnknown = "unknown";
}  // namespace

DoorPolicy::DoorPolicy(double deny_after_s)
    : deny_after_ns_(static_cast<int64_t>(std::llround(deny_after_s * 1e9))) {
  if (!(deny_after_s >= 0.0)) throw std::invalid_argument("deny-after must be >= 0 seconds");
}

DoorPolicy::Track& DoorPolicy::track(int64_t id, int64_t now) {
  auto [it, inserted] = tracks_.try_emplace(id);
  if (inserted) it->second.first_seen = now;
  return it->second;
}

std::vector<DoorAction> DoorPolicy::on_decision(const DecisionEvent& e) {
  std::vector<DoorAction> actions;
  if (e.reason == "resumed") {
    // Whoever stands there now is judged afresh: their own grant, denial and deny-after clock.
    tracks_.erase(e.track_id);
  }
  Track& t = track(e.track_id, e.running_time);
  const bool verified = e.state == "verified" && !e.identity.empty();
  t.verified = verified;
  if (verified) t.identity = e.identity;
  t.distance = e.distance;
  DoorAction record{DoorAction::Kind::kDecision,
                    e.track_id,
                    verified ? e.identity : kUnknown,
                    e.distance,
                    e.running_time,
                    e.state};
  actions.push_back(record);
  if (!verified && e.reason == "revoked") {
    // The person was removed from the gallery while in view: the grant no longer stands.
    t.granted = false;
    t.denied = true;
    ++denials_;
    actions.push_back({DoorAction::Kind::kDeny, e.track_id,
                       t.identity.empty() ? kUnknown : t.identity, e.distance, e.running_time,
                       "revoke"});
  }
  if (verified && !t.granted) {  // once per track, even if it was denied while still unsure
    t.granted = true;
    ++grants_;
    actions.push_back(
        {DoorAction::Kind::kGrant, e.track_id, e.identity, e.distance, e.running_time, "grant"});
  }
  for (DoorAction& a : actions) {  // what the event sinks publish with each action
    a.margin = e.margin;
    a.votes = e.votes;
    a.first_seen = e.first_seen > 0 ? e.first_seen : t.first_seen;
    a.reason = e.reason;
  }
  return actions;
}

std::vector<DoorAction> DoorPolicy::on_frame(const FrameEvent& e) {
  std::vector<DoorAction> actions;
  for (const FaceSeen& f : e.faces) {
    Track& t = track(f.track_id, e.running_time);
    t.distance = f.distance;
    if (f.state == "verified") t.verified = true;
    if (t.verified || t.granted || t.denied) continue;
    if (e.running_time - t.first_seen >= deny_after_ns_) {
      t.denied = true;
      ++denials_;
      actions.push_back(
          {DoorAction::Kind::kDeny, f.track_id, kUnknown, f.distance, e.running_time, "deny"});
      actions.back().first_seen = t.first_seen;
    }
  }
  return actions;
}

}  // namespace siamese::samples
