#include "siamese/decision.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "siamese/errors.h"
#include "siamese/threshold_policy.h"

namespace siamese {

namespace {

constexpr int kMaxConfirmWindow = 64;

void check(const DecisionOptions& o) {
  if (o.confirm_count < 1 || o.confirm_window < o.confirm_count ||
      o.confirm_window > kMaxConfirmWindow) {
    throw InputError("confirm-frames must be N/M with 1 <= N <= M <= " +
                     std::to_string(kMaxConfirmWindow) + ", got " + format_confirm_frames(o));
  }
  if (!(o.margin >= 0.0f)) throw InputError("margin must be >= 0");
}

}  // namespace

void parse_confirm_frames(const std::string& text, DecisionOptions& options) {
  int n = 0, m = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", &n, &m, &tail) != 2) {
    throw InputError("confirm-frames: expected \"N/M\" (e.g. \"2/3\"), got \"" + text + "\"");
  }
  DecisionOptions parsed = options;
  parsed.set_confirm(n, m);
  check(parsed);
  options = parsed;
}

std::string format_confirm_frames(const DecisionOptions& options) {
  return std::to_string(options.confirm_count) + "/" + std::to_string(options.confirm_window);
}

const char* decision_state_name(DecisionState state) {
  switch (state) {
    case DecisionState::kPending:
      return "pending";
    case DecisionState::kUnknown:
      return "unknown";
    case DecisionState::kVerified:
      return "verified";
  }
  return "?";
}

DecisionEngine::DecisionEngine(DecisionOptions options) { set_options(std::move(options)); }

void DecisionEngine::set_options(DecisionOptions options) {
  check(options);
  options_ = std::move(options);
  for (auto& [id, track] : tracks_) {
    const auto excess = static_cast<long>(track.window.size()) - options_.confirm_window;
    if (excess > 0) track.window.erase(track.window.begin(), track.window.begin() + excess);
  }
}

std::string DecisionEngine::vote_of(const Evidence& e) const {
  if (!e.rejection.empty()) return {};
  // The one threshold rule (threshold_policy.h), per identity.
  const ThresholdChoice base{
      options_.threshold,
      options_.threshold_explicit ? ThresholdSource::kExplicit : ThresholdSource::kGallery, "",
      true};
  const float threshold = identity_threshold(base, e.identity_threshold);
  const float margin = options_.margin_at(threshold);
  if (e.identity.empty() || !(e.distance <= threshold)) return {};
  if (!(e.second_distance - e.distance >= margin)) return {};
  if (!options_.claimed_identity.empty() && e.identity != options_.claimed_identity) return {};
  return e.identity;
}

std::optional<Decision> DecisionEngine::observe(int64_t track_id, const Evidence& evidence,
                                                int64_t time) {
  auto [it, inserted] = tracks_.try_emplace(track_id);
  TrackState& track = it->second;
  Decision& d = track.decision;
  if (inserted) {
    d.track_id = track_id;
    d.first_seen = time;
    d.decided = time;
  }

  track.window.push_back(vote_of(evidence));
  const auto m = static_cast<size_t>(options_.confirm_window);
  if (track.window.size() > m) track.window.erase(track.window.begin());

  auto count = [&track](const std::string& name) {
    int n = 0;
    for (const std::string& v : track.window) n += (v == name) ? 1 : 0;
    return n;
  };
  // The leading identity; on a tie the most recent vote wins.
  std::string leader;
  int leader_votes = 0;
  for (auto v = track.window.rbegin(); v != track.window.rend(); ++v) {
    if (v->empty()) continue;
    const int n = count(*v);
    if (n > leader_votes) {
      leader = *v;
      leader_votes = n;
    }
  }

  const DecisionState old_state = d.state;
  const std::string old_identity = d.identity;
  d.reason.clear();
  const bool full = track.window.size() >= m;
  bool keep = false;
  if (d.state == DecisionState::kVerified) {
    // Hysteresis: a verified identity stands until most of the window disagrees.
    const int disagree = static_cast<int>(track.window.size()) - count(d.identity);
    keep = disagree * 2 <= options_.confirm_window &&
           (options_.claimed_identity.empty() || d.identity == options_.claimed_identity);
  }
  if (!keep) {
    if (leader_votes >= options_.confirm_count) {
      d.state = DecisionState::kVerified;
      d.identity = leader;
    } else if (full || d.state != DecisionState::kPending) {
      d.state = DecisionState::kUnknown;
      d.identity.clear();
    }
  }
  if (d.state != DecisionState::kVerified && !evidence.rejection.empty()) {
    d.reason = evidence.rejection;
  }
  d.votes = d.state == DecisionState::kVerified ? count(d.identity) : leader_votes;
  d.distance = evidence.distance;
  d.margin = std::isfinite(evidence.distance) ? evidence.second_distance - evidence.distance : 0.0f;
  if (d.state != old_state || d.identity != old_identity) {
    d.decided = time;
    return d;
  }
  return std::nullopt;
}

Decision DecisionEngine::decision(int64_t track_id) const {
  const auto it = tracks_.find(track_id);
  if (it != tracks_.end()) return it->second.decision;
  Decision d;
  d.track_id = track_id;
  return d;
}

bool DecisionEngine::needs_evidence(int64_t track_id) const {
  const auto it = tracks_.find(track_id);
  return it == tracks_.end() || it->second.decision.state != DecisionState::kVerified;
}

std::vector<Decision> DecisionEngine::revoke_absent(std::vector<std::string> present,
                                                    int64_t time) {
  std::sort(present.begin(), present.end());
  const auto absent = [&present](const std::string& name) {
    return !name.empty() && !std::binary_search(present.begin(), present.end(), name);
  };
  std::vector<Decision> changes;
  for (auto& [id, track] : tracks_) {
    for (std::string& vote : track.window) {
      if (absent(vote)) vote.clear();
    }
    Decision& d = track.decision;
    if (d.state != DecisionState::kVerified || !absent(d.identity)) continue;
    d.state = DecisionState::kUnknown;
    d.identity.clear();
    d.votes = 0;
    d.decided = time;
    d.reason = kReasonRevoked;
    changes.push_back(d);
  }
  return changes;
}

std::optional<Decision> DecisionEngine::withdraw(int64_t track_id, int64_t time) {
  const auto it = tracks_.find(track_id);
  if (it == tracks_.end()) return std::nullopt;
  TrackState& track = it->second;
  track.window.clear();
  Decision& d = track.decision;
  const bool was_decided = d.state != DecisionState::kPending;
  d.state = DecisionState::kPending;
  d.identity.clear();
  d.votes = 0;
  d.first_seen = time;
  d.decided = time;
  d.reason = kReasonResumed;
  if (!was_decided) return std::nullopt;
  return d;
}

void DecisionEngine::forget(int64_t track_id) { tracks_.erase(track_id); }

void DecisionEngine::reset() { tracks_.clear(); }

}  // namespace siamese
