// faceverifyoverlay (DESIGN.md's "faceoverlay": gst-plugins-bad already registers an element
// of that name, which would shadow ours): draws the "face" ROI metas that faceverify attached
// (box, identity or "unknown", distance): green when verified, red when not. A separate element
// so analysis never paints unless asked. Thread-safety: GStreamer's (object lock).
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_FACE_VERIFY_OVERLAY (gst_face_verify_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstFaceVerifyOverlay, gst_face_verify_overlay, GST, FACE_VERIFY_OVERLAY,
                     GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(faceverifyoverlay);

G_END_DECLS
