#include "faceverify_messages.h"

#include <algorithm>

namespace siamese::gst {

namespace {

GstClockTime clock_time_of(int64_t t) {
  return t < 0 ? GST_CLOCK_TIME_NONE : static_cast<GstClockTime>(t);
}

/// field = < x0, y0, x1, y1, ... > (doubles, frame pixels).
void set_point_array(GstStructure* s, const char* field, const Point2f* points, size_t count) {
  GValue array = G_VALUE_INIT;
  gst_value_array_init(&array, static_cast<guint>(2 * count));
  for (size_t i = 0; i < count; ++i) {
    for (const float v : {points[i].x, points[i].y}) {
      GValue item = G_VALUE_INIT;
      g_value_init(&item, G_TYPE_DOUBLE);
      g_value_set_double(&item, static_cast<double>(v));
      gst_value_array_append_and_take_value(&array, &item);
    }
  }
  gst_structure_take_value(s, field, &array);
}

/// The face's landmark fields (kPointsField, kLandmarksField), where it has them.
void set_landmark_fields(GstStructure* s, const FaceResult& f) {
  if (f.has_points) {
    set_point_array(s, kPointsField, f.points.points.data(), f.points.points.size());
  }
  if (!f.landmarks.empty()) {
    set_point_array(s, kLandmarksField, f.landmarks.data(), f.landmarks.size());
  }
}

}  // namespace

UpstreamFaces upstream_faces(GstBuffer* buffer, int width, int height) {
  UpstreamFaces out;
  const GQuark face = g_quark_from_static_string(kRoiType);
  gpointer state = nullptr;
  while (GstMeta* meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    if (roi->roi_type != face) continue;
    const int x0 = std::clamp(static_cast<int>(roi->x), 0, width);
    const int y0 = std::clamp(static_cast<int>(roi->y), 0, height);
    const int x1 = std::clamp(static_cast<int>(roi->x + roi->w), 0, width);
    const int y1 = std::clamp(static_cast<int>(roi->y + roi->h), 0, height);
    if (x1 <= x0 || y1 <= y0) continue;
    out.boxes.push_back(Box{x0, y0, x1 - x0, y1 - y0});
    out.metas.push_back(roi);
  }
  return out;
}

std::vector<Point2f> points_of(const GstStructure* face, const char* field) {
  std::vector<Point2f> out;
  const GValue* array = face != nullptr ? gst_structure_get_value(face, field) : nullptr;
  if (array == nullptr || !GST_VALUE_HOLDS_ARRAY(array)) return out;
  const guint n = gst_value_array_get_size(array);
  if (n % 2 != 0) return out;
  std::vector<double> values;
  values.reserve(n);
  for (guint i = 0; i < n; ++i) {
    const GValue* v = gst_value_array_get_value(array, i);
    if (!G_VALUE_HOLDS_DOUBLE(v)) return out;
    values.push_back(g_value_get_double(v));
  }
  for (guint i = 0; i < n; i += 2) {
    out.push_back(Point2f{static_cast<float>(values[i]), static_cast<float>(values[i + 1])});
  }
  return out;
}

GstStructure* face_structure(const char* name, const FaceResult& f) {
  GstStructure* s = gst_structure_new(
      name, "x", G_TYPE_INT, f.box.x, "y", G_TYPE_INT, f.box.y, "width", G_TYPE_INT, f.box.width,
      "height", G_TYPE_INT, f.box.height, "identity", G_TYPE_STRING, f.identity.c_str(), "distance",
      G_TYPE_DOUBLE, static_cast<double>(f.distance), "verified", G_TYPE_BOOLEAN,
      f.verified() ? TRUE : FALSE, "state", G_TYPE_STRING, decision_state_name(f.state), "track-id",
      G_TYPE_INT64, static_cast<gint64>(f.track_id), nullptr);
  set_landmark_fields(s, f);
  return s;
}

void attach_face_metas(GstBuffer* buffer, const std::vector<FaceResult>& faces,
                       const UpstreamFaces* upstream) {
  for (const FaceResult& f : faces) {
    GstVideoRegionOfInterestMeta* roi = nullptr;
    if (upstream != nullptr && f.source_index >= 0 &&
        static_cast<size_t>(f.source_index) < upstream->metas.size()) {
      roi = upstream->metas[static_cast<size_t>(f.source_index)];  // keeps upstream's id
    } else {
      roi = gst_buffer_add_video_region_of_interest_meta(
          buffer, kRoiType, static_cast<guint>(f.box.x), static_cast<guint>(f.box.y),
          static_cast<guint>(f.box.width), static_cast<guint>(f.box.height));
      roi->id = static_cast<gint>(f.track_id);
    }
    // Without the x/y/width/height fields: the meta itself holds the box.
    GstStructure* s = gst_structure_new(
        kParamName, "identity", G_TYPE_STRING, f.identity.c_str(), "distance", G_TYPE_DOUBLE,
        static_cast<double>(f.distance), "verified", G_TYPE_BOOLEAN, f.verified() ? TRUE : FALSE,
        "state", G_TYPE_STRING, decision_state_name(f.state), "track-id", G_TYPE_INT64,
        static_cast<gint64>(f.track_id), nullptr);
    set_landmark_fields(s, f);
    gst_video_region_of_interest_meta_add_param(roi, s);  // takes ownership
  }
}

GstStructure* frame_message_structure(const FrameTimes& t, int64_t gallery_generation,
                                      const std::vector<FaceResult>& faces, double threshold) {
  GValue list = G_VALUE_INIT;
  gst_value_list_init(&list, static_cast<guint>(faces.size()));
  for (const FaceResult& f : faces) {
    GValue item = G_VALUE_INIT;
    g_value_init(&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&item, face_structure("face", f));
    gst_value_list_append_and_take_value(&list, &item);
  }
  GstStructure* s = gst_structure_new(
      kFrameMessageName, "timestamp", G_TYPE_UINT64, t.timestamp, "stream-time", G_TYPE_UINT64,
      t.stream_time, "running-time", G_TYPE_UINT64, t.running_time, "duration", G_TYPE_UINT64,
      t.duration, "gallery-generation", G_TYPE_INT64, static_cast<gint64>(gallery_generation),
      "threshold", G_TYPE_DOUBLE, threshold, nullptr);
  gst_structure_take_value(s, "faces", &list);
  return s;
}

GstStructure* decision_message_structure(const Decision& d, const FrameTimes& t,
                                         int64_t gallery_generation, double threshold) {
  return gst_structure_new(
      kDecisionMessageName, "track-id", G_TYPE_INT64, static_cast<gint64>(d.track_id), "identity",
      G_TYPE_STRING, d.identity.c_str(), "state", G_TYPE_STRING, decision_state_name(d.state),
      "verified", G_TYPE_BOOLEAN, d.verified() ? TRUE : FALSE, "distance", G_TYPE_DOUBLE,
      static_cast<double>(d.distance), "margin", G_TYPE_DOUBLE, static_cast<double>(d.margin),
      "votes", G_TYPE_INT, d.votes, "first-seen", G_TYPE_UINT64, clock_time_of(d.first_seen),
      "running-time", G_TYPE_UINT64, clock_time_of(d.decided), "timestamp", G_TYPE_UINT64,
      t.timestamp, "reason", G_TYPE_STRING, d.reason.c_str(), "gallery-generation", G_TYPE_INT64,
      static_cast<gint64>(gallery_generation), "threshold", G_TYPE_DOUBLE, threshold, nullptr);
}

std::string decision_signature(const std::vector<FaceResult>& faces) {
  std::string s;
  for (const FaceResult& f : faces) {
    s += std::to_string(f.track_id) + ':' + decision_state_name(f.state) + ':' + f.identity + ';';
  }
  return s;
}

}  // namespace siamese::gst
