// Helpers of the element tests: GStreamer set-up with the plugin registered in-process (no
// user registry), saved untrained models and galleries, video frames in any supported format
// built from OpenCV images (GStreamer's own strides), and readers of the element's output.
// Thread-safety: test thread only.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "siamese/embedder.h"
#include "siamese/gallery.h"
#include "siamese/image_view.h"
#include "siamese/model_file.h"

namespace siamese::testing {

/// gst_init with a registry inside the build tree and the siamese plugin registered statically.
void gst_test_init();

/// Saves a freshly initialised network (torch seed `seed`) as a model file; returns its path.
std::string save_untrained_model(const std::string& dir, const std::string& name, int seed,
                                 float threshold = 1.0f);

/// AT&T face `image` (1..10) of person `person` (1..40), gray 92x112.
cv::Mat att_face(const std::string& att_dir, int person, int image);

/// A gray textured background with faces pasted at the given top-left corners (BGR result).
cv::Mat compose(int width, int height, const std::vector<cv::Mat>& faces,
                const std::vector<cv::Point>& corners);

/// A buffer of `format` holding the BGR image, laid out with GStreamer's default strides.
/// YUV formats get luma = OpenCV's BGR->gray (what the core computes for packed formats).
GstBuffer* make_frame(const cv::Mat& bgr, GstVideoFormat format, GstClockTime pts = 0,
                      GstClockTime duration = GST_CLOCK_TIME_NONE);
/// Caps for format/size at 25/1 fps.
GstCaps* video_caps(GstVideoFormat format, int width, int height);

/// One "face" ROI meta of a buffer with its faceverify param (if any).
struct MetaFace {
  Box box;
  bool has_param = false;
  std::string identity;
  double distance = 0.0;
  bool verified = false;
  std::string state;
  gint64 track_id = -1;
};
std::vector<MetaFace> meta_faces(GstBuffer* buffer);

/// The faces of a "faceverify" bus message structure.
std::vector<MetaFace> message_faces(const GstStructure* s);

/// Embeds the boxes of a view with the core (reference for what the element must compute).
torch::Tensor core_embeddings(const std::string& model_path, const ImageView& view,
                              const std::vector<Box>& boxes, Framing framing);

/// Creates a gallery at path bound to the model file and enrolls name -> embedding rows.
void enroll(const std::string& gallery_path, const std::string& model_path,
            const std::vector<std::string>& names, const torch::Tensor& embeddings);

/// Smallest distance between rows of different names (to choose a threshold below it).
float min_impostor_distance(const torch::Tensor& embeddings, const std::vector<std::string>& names);

/// Error messages a standalone element posted while going to PAUSED; returns the state change.
GstStateChangeReturn start_standalone(GstElement* element, std::vector<GError*>* errors,
                                      std::vector<std::string>* debug);

/// An error message an element posted, copied (nothing to free).
struct PostedError {
  GQuark domain = 0;
  std::string message;
  std::string debug;
};
/// start_standalone() with the errors copied out; the element is back in NULL.
GstStateChangeReturn start_standalone(GstElement* element, std::vector<PostedError>* errors);

}  // namespace siamese::testing
