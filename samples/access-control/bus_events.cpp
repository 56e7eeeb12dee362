#include "bus_events.h"

#include <limits>

namespace siamese::samples {

namespace {

std::string string_field(const GstStructure* s, const char* name) {
  const gchar* v = gst_structure_get_string(s, name);
  return v != nullptr ? v : "";
}

double double_field(const GstStructure* s, const char* name) {
  gdouble v = 0.0;
  return gst_structure_get_double(s, name, &v) ? v : std::numeric_limits<double>::quiet_NaN();
}

int64_t int64_field(const GstStructure* s, const char* name) {
  gint64 v = 0;
  return gst_structure_get_int64(s, name, &v) ? v : -1;
}

int64_t time_field(const GstStructure* s, const char* name) {
  guint64 v = 0;
  if (!gst_structure_get_uint64(s, name, &v) || v == GST_CLOCK_TIME_NONE) return 0;
  return static_cast<int64_t>(v);
}

// An older element may only give "verified"; map it to the state names.
std::string state_field(const GstStructure* s) {
  std::string state = string_field(s, "state");
  if (state.empty()) {
    gboolean verified = FALSE;
    gst_structure_get_boolean(s, "verified", &verified);
    state = verified ? "verified" : "unknown";
  }
  return state;
}

}  // namespace

std::optional<DecisionEvent> decision_event(const GstStructure* s) {
  if (s == nullptr || !gst_structure_has_name(s, kDecisionMessage)) return std::nullopt;
  DecisionEvent e;
  e.track_id = int64_field(s, "track-id");
  e.state = state_field(s);
  e.identity = string_field(s, "identity");
  e.distance = double_field(s, "distance");
  e.running_time = time_field(s, "running-time");
  e.reason = string_field(s, "reason");
  e.margin = double_field(s, "margin");
  gint votes = 0;
  if (gst_structure_get_int(s, "votes", &votes)) e.votes = votes;
  e.first_seen = time_field(s, "first-seen");
  return e;
}

std::optional<FrameEvent> frame_event(const GstStructure* s) {
  if (s == nullptr || !gst_structure_has_name(s, kFrameMessage)) return std::nullopt;
  FrameEvent e;
  e.running_time = time_field(s, "running-time");
  const GValue* faces = gst_structure_get_value(s, "faces");
  if (faces == nullptr || !GST_VALUE_HOLDS_LIST(faces)) return e;
  const guint n = gst_value_list_get_size(faces);
  for (guint i = 0; i < n; ++i) {
    const GValue* item = gst_value_list_get_value(faces, i);
    if (!GST_VALUE_HOLDS_STRUCTURE(item)) continue;
    const GstStructure* f = gst_value_get_structure(item);
    e.faces.push_back({int64_field(f, "track-id"), state_field(f), string_field(f, "identity"),
                       double_field(f, "distance")});
    FaceSeen& seen = e.faces.back();
    gst_structure_get_int(f, "x", &seen.x);
    gst_structure_get_int(f, "y", &seen.y);
    gst_structure_get_int(f, "width", &seen.width);
    gst_structure_get_int(f, "height", &seen.height);
  }
  return e;
}

}  // namespace siamese::samples
