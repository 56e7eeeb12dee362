// faceverifyoverlay: draws faceverify's results. Reads every "face" ROI meta of a frame and its
// "faceverify" param structure; metas without one (another detector's) are drawn unverified.

/**
 * SECTION:element-faceverifyoverlay
 * @title: faceverifyoverlay
 * @see_also: faceverify
 *
 * Draws the results faceverify attached to each frame: for every "face"
 * #GstVideoRegionOfInterestMeta a box and a label, the identity and distance when the face is
 * verified (green), "unknown" or "pending" when not (red); on GRAY8 white and black. Faces
 * found by another element (ROI metas without a "faceverify" structure) are drawn unverified.
 * With draw-landmarks, the five points of each face (eye centres, nose tip, mouth corners) are
 * drawn as dots too, where faceverify published them (a model whose crop policy aligns).
 * It draws in place on the formats faceverify accepts, so it sits right after it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! faceverify model=m.pt gallery=g.db ! \
 *     faceverifyoverlay ! videoconvert ! autovideosink
 * ]| A camera with the decisions drawn on it.
 * |[
 * gst-launch-1.0 filesrc location=walk.avi ! decodebin ! videoconvert ! \
 *     faceverify model=m.pt gallery=g.db ! faceverifyoverlay thickness=3 ! videoconvert ! \
 *     x264enc ! mp4mux ! filesink location=annotated.mp4
 * ]| A file annotated into another file.
 */
#include "gstfaceverifyoverlay.h"

#include <gst/video/video.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "face_drawing.h"
#include "faceverify_messages.h"
#include "frame_view.h"

GST_DEBUG_CATEGORY_STATIC(gst_face_verify_overlay_debug);
#define GST_CAT_DEFAULT gst_face_verify_overlay_debug

namespace sg = siamese::gst;

constexpr int kDefaultThickness = 2;  // pixels
constexpr int kMaxThickness = 32;
constexpr bool kDefaultDrawLandmarks = false;

struct _GstFaceVerifyOverlay {
  GstVideoFilter parent;
  gint thickness;           // under the object lock
  gboolean draw_landmarks;  // under the object lock
};

G_DEFINE_TYPE(GstFaceVerifyOverlay, gst_face_verify_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(faceverifyoverlay, "faceverifyoverlay", GST_RANK_NONE,
                            GST_TYPE_FACE_VERIFY_OVERLAY)

enum { PROP_0, PROP_THICKNESS, PROP_DRAW_LANDMARKS };

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));

/// "name 0.42", "unknown 0.87", "pending" (no embedding matched yet) or "face".
static std::string label_of(const GstStructure* param, bool* verified) {
  *verified = false;
  if (param == nullptr) return "face";
  gboolean v = FALSE;
  gst_structure_get_boolean(param, "verified", &v);
  *verified = v != FALSE;
  const gchar* identity = gst_structure_get_string(param, "identity");
  const gchar* state = gst_structure_get_string(param, "state");
  std::string label = identity != nullptr && *identity != '\0' ? identity : "unknown";
  if (state != nullptr && g_str_equal(state, "pending")) label = "...";
  gdouble distance = 0.0;
  if (gst_structure_get_double(param, "distance", &distance) && std::isfinite(distance)) {
    char text[32];
    std::snprintf(text, sizeof(text), " %.2f", distance);
    label += text;
  }
  return label;
}

static GstFlowReturn gst_face_verify_overlay_transform_frame_ip(GstVideoFilter* filter,
                                                                GstVideoFrame* frame) {
  GstFaceVerifyOverlay* self = GST_FACE_VERIFY_OVERLAY(filter);
  GST_OBJECT_LOCK(self);
  const int thickness = self->thickness;
  const bool draw_landmarks = self->draw_landmarks != FALSE;
  GST_OBJECT_UNLOCK(self);
  // The same "face" ROI metas, clipped to the frame, as faceverify reads from upstream: OpenCV
  // clips drawing, but the chroma planes need sane coordinates.
  const sg::UpstreamFaces faces = sg::upstream_faces(frame->buffer, GST_VIDEO_FRAME_WIDTH(frame),
                                                     GST_VIDEO_FRAME_HEIGHT(frame));
  for (size_t i = 0; i < faces.boxes.size(); ++i) {
    bool verified = false;
    const GstStructure* param =
        gst_video_region_of_interest_meta_get_param(faces.metas[i], sg::kParamName);
    const std::string label = label_of(param, &verified);
    const sg::Rgb color = verified ? sg::kVerifiedColor : sg::kUnverifiedColor;
    bool drawn = sg::draw_labelled_box(*frame, faces.boxes[i], label, color, thickness);
    if (drawn && draw_landmarks) {
      const std::vector<siamese::Point2f> points = sg::points_of(param, sg::kPointsField);
      drawn = sg::draw_points(*frame, points, color, thickness + 1);
    }
    if (!drawn) {
      GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("Cannot draw on this video format."),
                        ("%s", gst_video_format_to_string(GST_VIDEO_FRAME_FORMAT(frame))));
      return GST_FLOW_ERROR;
    }
  }
  return GST_FLOW_OK;
}

static void gst_face_verify_overlay_set_property(GObject* object, guint prop_id,
                                                 const GValue* value, GParamSpec* pspec) {
  GstFaceVerifyOverlay* self = GST_FACE_VERIFY_OVERLAY(object);
  switch (prop_id) {
    case PROP_THICKNESS:
      GST_OBJECT_LOCK(self);
      self->thickness = g_value_get_int(value);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_DRAW_LANDMARKS:
      GST_OBJECT_LOCK(self);
      self->draw_landmarks = g_value_get_boolean(value);
      GST_OBJECT_UNLOCK(self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_face_verify_overlay_get_property(GObject* object, guint prop_id, GValue* value,
                                                 GParamSpec* pspec) {
  GstFaceVerifyOverlay* self = GST_FACE_VERIFY_OVERLAY(object);
  switch (prop_id) {
    case PROP_THICKNESS:
      GST_OBJECT_LOCK(self);
      g_value_set_int(value, self->thickness);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_DRAW_LANDMARKS:
      GST_OBJECT_LOCK(self);
      g_value_set_boolean(value, self->draw_landmarks);
      GST_OBJECT_UNLOCK(self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_face_verify_overlay_init(GstFaceVerifyOverlay* self) {
  self->thickness = kDefaultThickness;
  self->draw_landmarks = kDefaultDrawLandmarks;
}

static void gst_face_verify_overlay_class_init(GstFaceVerifyOverlayClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_face_verify_overlay_set_property;
  gobject_class->get_property = gst_face_verify_overlay_get_property;
  g_object_class_install_property(
      gobject_class, PROP_THICKNESS,
      g_param_spec_int("thickness", "Thickness", "Line width of boxes and labels, in pixels", 1,
                       kMaxThickness, kDefaultThickness,
                       static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_LANDMARKS,
      g_param_spec_boolean("draw-landmarks", "Draw landmarks",
                           "Also draw each face's five points (eye centres, nose tip, mouth "
                           "corners) as dots of thickness + 1 pixels, where faceverify "
                           "published them (models that align)",
                           kDefaultDrawLandmarks,
                           static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                    GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_set_static_metadata(
      element_class, "Face verification overlay", "Filter/Effect/Video",
      "Draws faceverify's results on each frame: box, identity and distance of every face, "
      "green when verified, red when not",
      "gst-siamese project");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_face_verify_overlay_transform_frame_ip);
  GST_DEBUG_CATEGORY_INIT(gst_face_verify_overlay_debug, "faceverifyoverlay", 0,
                          "faceverifyoverlay: draws faceverify results");
}
