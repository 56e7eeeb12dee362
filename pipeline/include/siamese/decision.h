// Identity decisions per track, not per frame: a track is verified only after N of its last M
// embeddings name the same identity, each within the threshold and ahead of the runner-up by a
// margin; it loses the decision only when most of the window disagrees (hysteresis), so
// decisions do not flicker. Strangers stay unknown, never the nearest person.
// Thread-safety: one DecisionEngine per stream; not safe for concurrent calls.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace siamese {

// An unverified track is embedded at every detection, and its successive templates share most
// of their embeddings: 4 of 6 asks for agreement over ~6 detections (0.7 s at 25 frames/s and
// detect-interval 3). On six demo walks and four models it cut people verified as someone else
// from 10 to 6 and strangers accepted from 36 to 31, and cost 5 of 240 verifications, vs 2/3.
constexpr int kDefaultConfirmCount = 4;         // N of confirm-frames N/M
constexpr int kDefaultConfirmWindow = 6;        // M of confirm-frames N/M
constexpr float kDefaultMarginFraction = 0.1f;  // default margin = this x threshold

/// What one embedding of a track matched (from Matcher::match).
struct Evidence {
  std::string identity;  // nearest identity ("" when the gallery is empty)
  float distance = std::numeric_limits<float>::infinity();         // to it
  float second_distance = std::numeric_limits<float>::infinity();  // to the runner-up
  // The identity's own stored threshold (Matcher::own_threshold), used instead of the options'
  // threshold unless that one is explicit (identity_threshold() in threshold_policy.h).
  std::optional<float> identity_threshold;
  std::string rejection;  // Match::rejection: kReasonNegativeAnchor when a negative anchor vetoed
};

struct DecisionOptions {
  int confirm_count = kDefaultConfirmCount;    // N: votes needed for one identity...
  int confirm_window = kDefaultConfirmWindow;  // M: ...among the last M embeddings
  float threshold = 1.0f;           // Euclidean distance at or below which an embedding may vote
  float margin = 0.0f;              // runner-up distance minus best distance needed to vote
  std::string claimed_identity;     // 1:1 mode: only this identity can be verified ("" = 1:N)
  bool threshold_explicit = false;  // threshold overrides identities' own (threshold property)
  bool margin_auto = false;         // margin = kDefaultMarginFraction x the identity's threshold

  DecisionOptions& set_confirm(int n, int m) {
    confirm_count = n;
    confirm_window = m;
    return *this;
  }
  DecisionOptions& set_threshold(float t) {
    threshold = t;
    return *this;
  }
  DecisionOptions& set_margin(float m) {
    margin = m;
    return *this;
  }
  DecisionOptions& set_threshold_explicit(bool e) {
    threshold_explicit = e;
    return *this;
  }
  DecisionOptions& set_margin_auto(bool a) {
    margin_auto = a;
    return *this;
  }
  /// The margin a vote needs where the threshold is `threshold`: the set margin, or with
  /// margin_auto kDefaultMarginFraction x that threshold (the one default-margin rule).
  float margin_at(float threshold) const {
    return margin_auto ? kDefaultMarginFraction * threshold : margin;
  }
  DecisionOptions& set_claimed_identity(std::string c) {
    claimed_identity = std::move(c);
    return *this;
  }
};

/// Parses "N/M" (1 <= N <= M <= 64) into options; throws InputError naming the text otherwise.
void parse_confirm_frames(const std::string& text, DecisionOptions& options);
/// "N/M" of the options.
std::string format_confirm_frames(const DecisionOptions& options);

enum class DecisionState {
  kPending,   // fewer than M embeddings and no identity confirmed yet
  kUnknown,   // a full window without N votes for one identity: a stranger (so far)
  kVerified,  // N of the last M embeddings voted for `identity`
};
/// "pending", "unknown" or "verified".
const char* decision_state_name(DecisionState state);

struct Decision {
  int64_t track_id = 0;
  DecisionState state = DecisionState::kPending;
  std::string identity;  // the verified identity; "" unless state == kVerified
  float distance = std::numeric_limits<float>::infinity();  // last embedding's best distance
  float margin = std::numeric_limits<float>::infinity();    // last runner-up minus best distance
  int64_t first_seen = 0;  // caller's time of the track's first embedding
  int64_t decided = 0;     // caller's time of the last change of state or identity
  int votes = 0;           // votes for `identity` (or the leading identity) in the window
  // Why the last change was not the votes' doing: "revoked" when the verified identity left
  // the gallery (removed, renamed, or the gallery could not be trusted); "negative-anchor"
  // when the last embedding's match was vetoed by a negative anchor; "" otherwise.
  std::string reason;
  bool verified() const { return state == DecisionState::kVerified; }
};

/// Decision::reason of a verification withdrawn because the identity left the gallery.
constexpr const char* kReasonRevoked = "revoked";
/// Decision::reason of a decision withdrawn because its track was lost for a detection round
/// and found again: the face found may be someone else who stepped into the same place.
constexpr const char* kReasonResumed = "resumed";

class DecisionEngine {
 public:
  /// Throws InputError for counts outside 1 <= N <= M or a negative margin.
  explicit DecisionEngine(DecisionOptions options = {});

  /// Adds one embedding's match for a track at the caller's time (any monotonic unit, e.g.
  /// running time in ns). Returns the new decision when its state or identity changed.
  std::optional<Decision> observe(int64_t track_id, const Evidence& evidence, int64_t time);
  /// The decision of a track (a pending one for a track never observed).
  Decision decision(int64_t track_id) const;
  /// True while a track has no verified identity (pending, or unknown so far): it still needs
  /// evidence, so the stream embeds it at every measured box, not only when a re-check is due.
  bool needs_evidence(int64_t track_id) const;
  /// Withdraws every verified decision whose identity is not in `present` (any order):
  /// that person is no longer enrolled. Their votes go too, so they cannot come back without
  /// new evidence. Returns the changed decisions (state unknown, reason kReasonRevoked).
  std::vector<Decision> revoke_absent(std::vector<std::string> present, int64_t time);
  /// Withdraws a track's decision and votes (its face was lost and found again, maybe another
  /// person's): pending from `time` on, decided by new evidence only. Returns the change (reason
  /// kReasonResumed) when the track had a verified or unknown decision.
  std::optional<Decision> withdraw(int64_t track_id, int64_t time);
  /// Drops a track (it left the picture).
  void forget(int64_t track_id);
  /// Drops every track.
  void reset();
  /// Changes threshold, margin, claim or window between observations; windows are kept.
  void set_options(DecisionOptions options);
  const DecisionOptions& options() const { return options_; }
  size_t track_count() const { return tracks_.size(); }

 private:
  struct TrackState {
    Decision decision;
    std::vector<std::string> window;  // last M votes, oldest first; "" = no identity
  };
  std::string vote_of(const Evidence& evidence) const;

  DecisionOptions options_;
  std::map<int64_t, TrackState> tracks_;
};

}  // namespace siamese
