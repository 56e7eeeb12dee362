#include "siamese/tracker.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "siamese/errors.h"

namespace siamese {

FaceTracker::FaceTracker(TrackerOptions options) { set_options(options); }

void FaceTracker::set_options(TrackerOptions options) {
  if (!(options.min_iou > 0.0f && options.min_iou <= 1.0f)) {
    throw InputError("tracker: min IoU must be in (0, 1], got " + std::to_string(options.min_iou));
  }
  if (options.max_missed < 0 || options.reverify_interval < 0) {
    throw InputError("tracker: max-missed and reverify-interval must be >= 0");
  }
  if (!(options.regrow_area_ratio >= 1.0f)) {
    throw InputError("tracker: regrow area ratio must be >= 1");
  }
  options_ = options;
}

void FaceTracker::reset() {
  tracks_.clear();
  expired_.clear();
  frame_ = -1;
}

namespace {

// Points measured at box `from` carried to box `to`: the map between the boxes (scale about
// their corners, then the shift).
void move_points(FivePoints& points, const Box& from, const Box& to) {
  const float sx = from.width > 0 ? static_cast<float>(to.width) / from.width : 1.0f;
  const float sy = from.height > 0 ? static_cast<float>(to.height) / from.height : 1.0f;
  for (Point2f& p : points.points) {
    p.x = to.x + (p.x - from.x) * sx;
    p.y = to.y + (p.y - from.y) * sy;
  }
}

}  // namespace

Track* FaceTracker::find(int64_t id) {
  for (Track& t : tracks_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

TrackedFace FaceTracker::face_of(const Track& track, bool is_new) const {
  TrackedFace face;
  face.track_id = track.id;
  face.box = track.box;
  face.is_new = is_new;
  face.points = track.points;
  face.has_points = track.has_points;
  if (track.last_embedded_frame < 0) {
    face.needs_embedding = true;
  } else {
    const bool due = options_.reverify_interval > 0 &&
                     frame_ - track.last_embedded_frame >= options_.reverify_interval;
    const bool grown = track.embedded_area > 0 &&
                       static_cast<float>(track.box.area()) >=
                           options_.regrow_area_ratio * static_cast<float>(track.embedded_area);
    face.needs_embedding = due || grown;
  }
  return face;
}

std::vector<TrackedFace> FaceTracker::update(const std::vector<Box>& detections) {
  ++frame_;
  expired_.clear();

  // Greedy assignment, highest overlap first: good enough for the few faces of a frame.
  std::vector<std::tuple<float, size_t, size_t>> pairs;  // iou, detection, track
  for (size_t d = 0; d < detections.size(); ++d) {
    for (size_t t = 0; t < tracks_.size(); ++t) {
      const float iou = box_iou(detections[d], tracks_[t].box);
      if (iou >= options_.min_iou) pairs.emplace_back(iou, d, t);
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<int> track_of(detections.size(), -1);
  std::vector<bool> track_taken(tracks_.size(), false);
  for (const auto& [iou, d, t] : pairs) {
    if (track_of[d] >= 0 || track_taken[t]) continue;
    track_of[d] = static_cast<int>(t);
    track_taken[t] = true;
  }

  // Age the unmatched tracks before new ones are appended (indices stay valid).
  for (size_t t = 0; t < tracks_.size(); ++t) {
    if (!track_taken[t]) ++tracks_[t].missed;
  }

  std::vector<TrackedFace> faces;
  faces.reserve(detections.size());
  for (size_t d = 0; d < detections.size(); ++d) {
    bool is_new = false;
    Track* track = nullptr;
    if (track_of[d] >= 0) {
      track = &tracks_[static_cast<size_t>(track_of[d])];
    } else {
      Track fresh;
      fresh.id = next_id_++;
      fresh.first_frame = frame_;
      tracks_.push_back(fresh);
      track = &tracks_.back();
      is_new = true;
    }
    const Box& det = detections[d];
    const bool resumed = !is_new && track->missed > 0;
    if (!is_new) {
      // Velocity of the corner over the frames since the track was last detected, smoothed.
      const auto dt = static_cast<float>(frame_ - track->last_seen_frame);
      const float vx = static_cast<float>(det.x - track->seen.x) / dt;
      const float vy = static_cast<float>(det.y - track->seen.y) / dt;
      const bool first = track->first_frame == track->last_seen_frame;
      track->vx = first ? vx : 0.5f * (track->vx + vx);
      track->vy = first ? vy : 0.5f * (track->vy + vy);
    }
    if (track->has_points) move_points(track->points, track->box, det);
    track->box = det;
    track->seen = det;
    track->x = static_cast<float>(det.x);
    track->y = static_cast<float>(det.y);
    track->last_seen_frame = frame_;
    track->missed = 0;
    faces.push_back(face_of(*track, is_new));
    if (resumed) {
      faces.back().resumed = true;
      faces.back().needs_embedding = true;
    }
  }

  const int max_missed = options_.max_missed;
  auto gone = [max_missed](const Track& t) { return t.missed > max_missed; };
  for (const Track& t : tracks_) {
    if (gone(t)) expired_.push_back(t.id);
  }
  tracks_.erase(std::remove_if(tracks_.begin(), tracks_.end(), gone), tracks_.end());
  return faces;
}

std::vector<TrackedFace> FaceTracker::predict() {
  ++frame_;
  expired_.clear();
  std::vector<TrackedFace> faces;
  for (Track& t : tracks_) {
    if (t.missed != 0) continue;
    t.x += t.vx;
    t.y += t.vy;
    const Box before = t.box;
    t.box.x = static_cast<int>(std::lround(t.x));
    t.box.y = static_cast<int>(std::lround(t.y));
    if (t.has_points) move_points(t.points, before, t.box);
    faces.push_back(face_of(t, false));
  }
  return faces;
}

void FaceTracker::set_points(int64_t id, const FivePoints& points, const Box& at) {
  if (Track* t = find(id)) {
    t->points = points;
    move_points(t->points, at, t->box);
    t->has_points = true;
  }
}

void FaceTracker::mark_embedded(int64_t id) {
  if (Track* t = find(id)) {
    t->last_embedded_frame = frame_;
    t->embedded_area = t->box.area();
  }
}

}  // namespace siamese
