// What faceverify tells its two audiences: per face a GstVideoRegionOfInterestMeta "face"
// carrying a "faceverify" param structure (identity, distance, verified, track-id, state); per
// frame the element message "faceverify"; per decision change "faceverify-decision".
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

/// The "faceverify" param structure of one face (caller owns it).
GstStructure* face_structure(const char* name, const FaceResult& face);
/// The per-frame message body: timestamp, stream-time, running-time, duration,
/// gallery-generation (the gallery state the faces were matched against: 1 for the one loaded
/// at start, +1 for each reload; 0 without a gallery), faces.
GstStructure* frame_message_structure(const FrameTimes& times, int64_t gallery_generation,
                                      const std::vector<FaceResult>& faces);
/// The decision-change message body: track-id, identity, state, verified, distance, margin,
/// votes, first-seen, running-time (when decided), timestamp, reason, gallery-generation.
GstStructure* decision_message_structure(const Decision& decision, const FrameTimes& times,
                                         int64_t gallery_generation);

/// A text summarising the faces' tracks and decisions; differs when any of them changed
/// (message=on-change).
std::string decision_signature(const std::vector<FaceResult>& faces);

}  // namespace siamese::gst
