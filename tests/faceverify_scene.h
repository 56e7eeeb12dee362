// The scene the faceverify tests play (tests/test_faceverify*.cpp): three AT&T faces pasted on a
// frame, two of them enrolled with a third person from elsewhere, the third a stranger; a saved
// untrained model whose threshold sits below the nearest impostor distance. Also small GStreamer
// buffer helpers. Test-only; not thread-safe.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "faceverify_harness.h"
#include "siamese/detector.h"

namespace siamese::testing {

/// Frees each structure and empties v.
void free_structures(std::vector<GstStructure*>& v);
/// Unrefs each buffer and empties v.
void unref_all(std::vector<GstBuffer*>& v);
/// Whether (x, y) lies inside outer.
bool contains(const Box& outer, int x, int y);
/// The rect holding b's centre (its index in *index), else an empty box and -1.
Box center_in(const std::vector<Box>& rects, const Box& b, int* index);
/// v with 9 significant digits, as a property value.
std::string fmt(float v);
/// A buffer's bytes.
std::vector<uint8_t> bytes_of(GstBuffer* b);

constexpr GstClockTime kFrame = GST_SECOND / 25;
constexpr int kMinFace = 40;
/// Every raw format the element accepts.
extern const std::vector<GstVideoFormat> kAllFormats;

/// Frames with known faces, a model and a gallery where the detector finds them.
struct Scene {
  std::string dir, model, gallery;
  int width = 0, height = 0;
  cv::Mat bgr;
  std::vector<Box> rects;             // where each face was pasted
  std::vector<std::string> expected;  // identity per rect, "" for the stranger
  float threshold = 0.0f;
  std::string detector = "haar";  // the detector kind both the core and the element use
};

/// s1 and s2 enrolled from the core's own detection (by `detector`) and embedding of this frame,
/// s4 enrolled from elsewhere, s3 a stranger; threshold below the nearest impostor distance.
Scene make_scene(const std::string& att, int width, int height,
                 const std::string& detector = "haar");
/// The element's properties for the scene: every frame measured, decided in two of three.
Props scene_props(const Scene& s);
/// Checks one output frame's faces against the scene: boxes inside the pasted faces, enrolled
/// people identified, the stranger unknown.
void check_faces(const Scene& s, const std::vector<MetaFace>& faces, bool expect_verified);

/// A small frame (BGRx) with one face announced upstream as a region of interest (no detector:
/// fast); timestamps of frame number index.
GstBuffer* upstream_frame(const cv::Mat& bgr, int index);

/// One AT&T face on a 121x135 frame and a saved untrained model.
struct BatchScene {
  std::string model;
  cv::Mat bgr;
};
BatchScene batch_scene(const std::string& att);
/// The element's properties for it: detector=upstream on the CPU, batch-frames as given.
Props batch_props(const BatchScene& s, int batch_frames);

}  // namespace siamese::testing
