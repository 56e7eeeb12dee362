// faceverify: detects faces in raw video, follows them, embeds them in batches with the
// Siamese model and matches them against an enrollment gallery; adds "face" ROI metas and
// posts bus messages, passing the pixels through unchanged. A shell around
// siamese::StreamVerifier. Thread-safety: GStreamer's (properties under the object lock).
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_FACE_VERIFY (gst_face_verify_get_type())
G_DECLARE_FINAL_TYPE(GstFaceVerify, gst_face_verify, GST, FACE_VERIFY, GstBaseTransform)

#define GST_TYPE_FACE_VERIFY_DETECTOR (gst_face_verify_detector_get_type())
GType gst_face_verify_detector_get_type(void);
#define GST_TYPE_FACE_VERIFY_MESSAGE_MODE (gst_face_verify_message_mode_get_type())
GType gst_face_verify_message_mode_get_type(void);
#define GST_TYPE_FACE_VERIFY_PRECISION (gst_face_verify_precision_get_type())
GType gst_face_verify_precision_get_type(void);
#define GST_TYPE_FACE_VERIFY_SEARCH (gst_face_verify_search_get_type())
GType gst_face_verify_search_get_type(void);

GST_ELEMENT_REGISTER_DECLARE(faceverify);

G_END_DECLS
