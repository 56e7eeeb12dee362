// What faceverify tells its two audiences: per face a GstVideoRegionOfInterestMeta "face"
// carrying a "faceverify" param structure (identity, distance, verified, track-id, state, and
// the landmarks of a model that aligns); per frame the element message "faceverify"; per
// decision change "faceverify-decision".
// Thread-safety: pure functions of their arguments (the buffer must be writable).
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <string>
#include <vector>

#include "siamese/stream_verifier.h"

namespace siamese::gst {

constexpr const char* kRoiType = "face";
constexpr const char* kParamName = "faceverify";
constexpr const char* kFrameMessageName = "faceverify";
constexpr const char* kDecisionMessageName = "faceverify-decision";
/// Per face, only for a model that aligns: the five points (eye centres, nose tip, mouth
/// corners, image left first) as < x0, y0, ..., x4, y4 > doubles in frame pixels; and the 68
/// points (iBUG 300-W order) likewise, only on a frame where the landmark network ran on it.
constexpr const char* kPointsField = "points";
constexpr const char* kLandmarksField = "landmarks";

/// Timestamps of one frame (GST_CLOCK_TIME_NONE where unknown).
struct FrameTimes {
  GstClockTime timestamp = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  GstClockTime duration = GST_CLOCK_TIME_NONE;
};

/// The "face" ROI metas an upstream element attached, with their boxes clipped to the frame.
struct UpstreamFaces {
  std::vector<Box> boxes;
  std::vector<GstVideoRegionOfInterestMeta*> metas;  // same order; owned by the buffer
};
UpstreamFaces upstream_faces(GstBuffer* buffer, int width, int height);

/// Attaches one frame's results to a writable buffer: the param structure goes onto the
/// upstream meta a face came from (upstream != nullptr), else onto a new "face" ROI meta.
void attach_face_metas(GstBuffer* buffer, const std::vector<FaceResult>& faces,
                       const UpstreamFaces* upstream);

/// The "face" structure of one face for the frame message (caller owns it): box, identity,
/// distance, verified, state, track-id, and points / landmarks where the face has them.
GstStructure* face_structure(const char* name, const FaceResult& face);
/// The points of a face structure's field (kPointsField or kLandmarksField), in frame pixels;
/// empty when the field is absent or not an array of an even number of numbers.
std::vector<Point2f> points_of(const GstStructure* face, const char* field);

/// The per-frame message body: timestamp, stream-time, running-time, duration,
/// gallery-generation (the gallery state the faces were matched against: 1 for the one loaded
/// at start, +1 for each reload; 0 without a gallery), threshold (the distance threshold the
/// faces were decided with), faces.
GstStructure* frame_message_structure(const FrameTimes& times, int64_t gallery_generation,
                                      const std::vector<FaceResult>& faces, double threshold);
/// The decision-change message body: track-id, identity, state, verified, distance, margin,
/// votes, first-seen, running-time (when decided), timestamp, reason, gallery-generation,
/// threshold (the distance threshold the decision was made with, the identity's own where
/// that applies).
GstStructure* decision_message_structure(const Decision& decision, const FrameTimes& times,
                                         int64_t gallery_generation, double threshold);

/// A text summarising the faces' tracks and decisions; differs when any of them changed
/// (message=on-change).
std::string decision_signature(const std::vector<FaceResult>& faces);

}  // namespace siamese::gst
