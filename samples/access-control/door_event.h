// The JSON payload that siamese-access-control publishes for each door decision (MQTT topic
// PREFIX/CAMERA/event, the webhook's POST body): one documented schema, versioned by
// kDoorEventSchema, built in one place so every sink sends the same bytes.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "door_policy.h"

namespace siamese::samples {

/// The "schema" field of every payload; raised when a field changes meaning or is removed.
constexpr int kDoorEventSchema = 1;

/// One decision as published: grant, deny, unknown, track-lost or revoke.
struct DoorEvent {
  int64_t sequence = 0;  // 1, 2, ... per run, over all cameras: a consumer sees gaps
  std::string camera;    // the faceverify element's name
  int64_t track_id = 0;
  std::string identity;   // the verified (or revoked) identity; "" for unknown people
  std::string decision;   // "grant", "deny", "unknown", "track-lost", "revoke"
  double distance = 0.0;  // NaN/inf (no gallery match) are published as null
  double margin = 0.0;    // runner-up minus best distance; null when there is no runner-up
  int votes = 0;
  int64_t first_seen = 0;    // running time of the track's first frame, ns
  int64_t running_time = 0;  // running time of the decision, ns
  std::string decided_at;    // wall clock, ISO 8601 UTC with milliseconds
  double latency_ms = 0.0;   // decided_at minus the wall-clock time of the first frame
  std::string reason;        // why: "verified", "not-verified-in-time", "revoked", ...
};

/// The event a policy action is published as, or nullopt for actions that are not events
/// ("pending" and "verified" state changes: the grant says it).
std::optional<DoorEvent> door_event_of(const std::string& camera, const DoorAction& action);

/// The payload: one line of JSON (UTF-8; control characters escaped) with the fields of the
/// README's table; the schema version in "schema".
std::string door_event_json(const DoorEvent& event);

}  // namespace siamese::samples
