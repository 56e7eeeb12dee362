// What a door controller does with faceverify's output, free of GStreamer: grant once per
// track when the element verifies it, deny (and alert) once when a track stays unverified for
// deny_after seconds, deny at once ("revoke") a track whose person was removed from the
// gallery, and record every decision change. Times are the stream's running time in
// nanoseconds, so a run over a file is reproducible. Thread-safety: one DoorPolicy per stream.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace siamese::samples {

/// A "faceverify-decision" message: a track's decision changed.
struct DecisionEvent {
  int64_t track_id = 0;
  std::string state;     // "pending", "unknown" or "verified"
  std::string identity;  // "" unless verified
  double distance = 0.0;
  int64_t running_time = 0;  // when it was decided, ns
  std::string reason;      // "revoked": the identity left the gallery; "resumed": the track's face
                           // was lost and found again, maybe another person's (a new track here)
  double margin = 0.0;     // runner-up minus best distance (NaN when the element gave none)
  int votes = 0;           // votes for the identity in the confirm window
  int64_t first_seen = 0;  // running time of the track's first embedding, ns
};

/// One face of a "faceverify" frame message.
struct FaceSeen {
  int64_t track_id = 0;
  std::string state;
  std::string identity;
  double distance = 0.0;
  int x = 0, y = 0, width = 0, height = 0;  // the face's box, frame pixels
};

/// A "faceverify" frame message.
struct FrameEvent {
  int64_t running_time = 0;  // ns
  std::vector<FaceSeen> faces;
};

/// What to record (and, for grant and deny, act on).
struct DoorAction {
  // kTailgate: more people passed while the door was open than were granted (tailgate.h);
  // kClosed: verified outside the door's schedule, recorded but not let in (door_config.h).
  enum class Kind { kGrant, kDeny, kDecision, kTailgate, kClosed };
  Kind kind = Kind::kDecision;
  int64_t track_id = 0;
  std::string identity;  // the verified identity; "unknown" for deny and non-verified decisions
  double distance = 0.0;
  int64_t running_time = 0;  // ns
  std::string decision;      // "grant", "deny", "revoke", or the element's state for kDecision
  double margin = std::numeric_limits<double>::quiet_NaN();  // of the decision acted on
  int votes = 0;
  int64_t first_seen = 0;  // running time the track was first seen, ns
  std::string reason{};    // the element's reason ("revoked", "resumed"), "" otherwise
};

class DoorPolicy {
 public:
  /// deny_after_s: seconds a track may stay unverified before it is denied (>= 0).
  explicit DoorPolicy(double deny_after_s);

  /// A decision change: records it, grants when a track is verified for the first time, and
  /// denies ("revoke") a granted track whose identity left the gallery.
  std::vector<DoorAction> on_decision(const DecisionEvent& event);
  /// A frame: notes which tracks are present; denies those unverified for too long.
  std::vector<DoorAction> on_frame(const FrameEvent& event);

  int grants() const { return grants_; }
  int denials() const { return denials_; }
  size_t tracks() const { return tracks_.size(); }

 private:
  struct Track {
    int64_t first_seen = 0;
    bool granted = false;
    bool denied = false;
    bool verified = false;
    double distance = 0.0;
    std::string identity;  // the last identity it was verified as
  };
  Track& track(int64_t id, int64_t now);

  int64_t deny_after_ns_;
  std::map<int64_t, Track> tracks_;
  int grants_ = 0;
  int denials_ = 0;
};

}  // namespace siamese::samples
