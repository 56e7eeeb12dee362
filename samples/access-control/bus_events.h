// Reads faceverify's bus messages into the door policy's plain events: "faceverify" (one per
// frame, with its faces) and "faceverify-decision" (a track's decision changed).
// Thread-safety: pure functions of the structure.
#pragma once

#include <gst/gst.h>

#include <optional>

#include "door_policy.h"

namespace siamese::samples {

constexpr const char* kFrameMessage = "faceverify";
constexpr const char* kDecisionMessage = "faceverify-decision";

/// The event of a "faceverify-decision" structure; nullopt for any other structure.
std::optional<DecisionEvent> decision_event(const GstStructure* s);
/// The event of a "faceverify" frame structure; nullopt for any other structure.
std::optional<FrameEvent> frame_event(const GstStructure* s);

}  // namespace siamese::samples
