// faceverify as users run it: the built module through gst-inspect-1.0, a real gst-launch-1.0
// pipeline over a generated video against its ground truth, and four streams sharing one
// model-instance-id.

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faceverify_harness.h"
#include "faceverify_scene.h"
#include "gst_test_support.h"
#include "siamese/detector.h"
#include "siamese/image_io.h"
#include "siamese/stream_verifier.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::Box;
using siamese::testing::center_in;
using siamese::testing::check_faces;
using siamese::testing::contains;
using siamese::testing::fmt;
using siamese::testing::Harness;
using siamese::testing::kFrame;
using siamese::testing::kMinFace;
using siamese::testing::make_scene;
using siamese::testing::MetaFace;
using siamese::testing::Props;
using siamese::testing::Scene;
using siamese::testing::scene_props;

TEST_CASE("gst-inspect-1.0 documents the built plugin module", "[gst]") {
  const std::string plugins = std::string(SIAMESE_BINARY_DIR) + "/gst-plugins";
  REQUIRE(fs::exists(plugins + "/libgstsiamese.so"));
  const std::string env =
      "env -u GST_PLUGIN_PATH_1_0 -u GST_REGISTRY_1_0 -u "
      "GST_PLUGIN_SYSTEM_PATH_1_0 GST_PLUGIN_PATH=" +
      plugins + " GST_REGISTRY=" + std::string(SIAMESE_BINARY_DIR) +
      "/test-tmp/gst-registry-tools.bin ";
  std::string out;
  REQUIRE(siamese::testing::run_shell(env + "gst-inspect-1.0 faceverify", &out) == 0);
  for (const char* text : {"libgstsiamese.so",
                           "Filter/Analyzer/Video",
                           "faceverify-decision",
                           "reload-gallery",
                           "model",
                           "gallery",
                           "threshold",
                           "device",
                           "batch-size",
                           "batch-frames",
                           "detector-file",
                           "min-face-size",
                           "scale-factor",
                           "detect-interval",
                           "reverify-interval",
                           "claimed-identity",
                           "message",
                           "threads",
                           "confirm-frames",
                           "margin",
                           "template-size"}) {
    CAPTURE(text);
    CHECK(out.find(text) != std::string::npos);
  }
  out.clear();
  REQUIRE(siamese::testing::run_shell(env + "gst-inspect-1.0 faceverifyoverlay", &out) == 0);
  CHECK(out.find("libgstsiamese.so") != std::string::npos);
}

namespace {

/// One appearance in the generated video: a face at a place during a range of frames.
struct Appearance {
  int person, image;
  cv::Point corner;
  int first, last;  // frame numbers, inclusive
  bool enrolled;
};

/// The video chunks ("00dc") of an AVI file: here the JPEG images of an MJPEG stream.
std::vector<std::vector<uchar>> avi_frames(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uchar>> frames;
  size_t pos = data.find("movi");
  REQUIRE(pos != std::string::npos);
  for (pos += 4; pos + 8 <= data.size();) {
    const std::string fourcc = data.substr(pos, 4);
    uint32_t size = 0;
    std::memcpy(&size, data.data() + pos + 4, 4);  // little-endian, as is the host
    if (fourcc == "LIST") {
      pos += 12;  // descend into "rec " lists
      continue;
    }
    if (fourcc == "idx1" || pos + 8 + size > data.size()) break;
    if (fourcc == "00dc" || fourcc == "00db") {
      frames.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(pos + 8),
                          data.begin() + static_cast<std::ptrdiff_t>(pos + 8 + size));
    }
    pos += 8 + size + (size & 1u);
  }
  return frames;
}

std::string after(const std::string& line, const std::string& marker) {
  const auto at = line.find(marker);
  return at == std::string::npos ? std::string() : line.substr(at + marker.size());
}

}  // namespace

TEST_CASE("gst-launch-1.0 pipeline over a generated video matches the ground truth", "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  std::string probe;
  if (siamese::testing::run_shell("gst-launch-1.0 --version", &probe) != 0) {
    WARN("skipped: gst-launch-1.0 not installed");
    return;
  }
  siamese::testing::gst_test_init();  // to parse the printed structures
  const std::string dir = siamese::testing::temp_dir("faceverify-launch");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 21);
  const std::string gallery = dir + "/gallery.db";
  const std::string video = dir + "/in.avi";
  constexpr int kWidth = 320, kHeight = 240, kFrames = 30, kFps = 10;
  // Held-out identities (s1..s10 are never used for training); s6 is a stranger.
  // Nobody steps into the place another person left in the same frame (a tracker would
  // continue that track): s3 appears where s1 was only after s1's track expired.
  const std::vector<Appearance> cast = {{1, 3, {20, 40}, 0, 9, true},
                                        {2, 5, {120, 100}, 10, 19, true},
                                        {6, 2, {215, 60}, 10, 19, false},
                                        {3, 7, {20, 40}, 20, 29, true}};

  // MJPEG through OpenCV's built-in AVI writer (no FFmpeg needed); gray content in colour
  // frames (the built-in encoder asserts on single-channel frames).
  {
    cv::VideoWriter writer(video, cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'),
                           kFps, cv::Size(kWidth, kHeight), true);
    REQUIRE(writer.isOpened());
    writer.set(cv::VIDEOWRITER_PROP_QUALITY, 95);
    for (int t = 0; t < kFrames; ++t) {
      std::vector<cv::Mat> faces;
      std::vector<cv::Point> corners;
      for (const Appearance& a : cast) {
        if (t >= a.first && t <= a.last) {
          faces.push_back(siamese::testing::att_face(att, a.person, a.image));
          corners.push_back(a.corner);
        }
      }
      writer.write(siamese::testing::compose(kWidth, kHeight, faces, corners));
    }
  }

  // Enroll the enrolled people from the decoded video itself, through the core detector and
  // embedder: the exact pixels the pipeline will see, because libjpeg decoding a frame to gray
  // gives the same luma that jpegdec (idct-method=islow, OpenCV's IDCT) puts in its I420 Y
  // plane. The stranger only bounds the threshold.
  std::vector<cv::Mat> decoded;
  for (const std::vector<uchar>& jpeg : avi_frames(video)) {
    decoded.push_back(cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE));
    REQUIRE_FALSE(decoded.back().empty());
  }
  REQUIRE(decoded.size() == static_cast<size_t>(kFrames));
  siamese::FaceDetector detector(siamese::DetectorOptions{}.set_min_face_size(kMinFace));
  std::vector<std::string> names, all_names;
  std::vector<torch::Tensor> rows, all_rows;
  for (const Appearance& a : cast) {
    const siamese::ImageView view = siamese::view_of(decoded[static_cast<size_t>(a.first)]);
    const Box rect{a.corner.x, a.corner.y, 92, 112};
    for (const Box& b : detector.detect(view)) {
      if (!contains(rect, b.x + b.width / 2, b.y + b.height / 2)) continue;
      const torch::Tensor e =
          siamese::testing::core_embeddings(model, view, {b}, siamese::Framing::kDetectorBox)[0];
      const std::string name = "s" + std::to_string(a.person);
      if (a.enrolled) {
        names.push_back(name);
        rows.push_back(e);
      }
      all_names.push_back(name);
      all_rows.push_back(e);
    }
  }
  REQUIRE(all_names.size() == cast.size());
  siamese::testing::enroll(gallery, model, names, torch::stack(rows));
  const float threshold =
      0.5f * siamese::testing::min_impostor_distance(torch::stack(all_rows), all_names);

  const std::string plugins = std::string(SIAMESE_BINARY_DIR) + "/gst-plugins";
  const std::string command =
      "env -u GST_PLUGIN_PATH_1_0 -u GST_REGISTRY_1_0 -u GST_PLUGIN_SYSTEM_PATH_1_0 "
      "GST_PLUGIN_PATH=" +
      plugins + " GST_REGISTRY=" + std::string(SIAMESE_BINARY_DIR) +
      "/test-tmp/gst-registry-tools.bin gst-launch-1.0 -m filesrc location=" + video +
      " ! avidemux ! jpegdec idct-method=islow ! videoconvert ! faceverify model=" + model +
      " gallery=" + gallery + " threshold=" + fmt(threshold) +
      " detect-interval=1 confirm-frames=2/3 min-face-size=" + std::to_string(kMinFace) +
      " device=cpu ! faceverifyoverlay ! videoconvert ! jpegenc ! avimux ! filesink location=" +
      dir + "/out.avi";
  std::string out;
  const int status = siamese::testing::run_shell(command, &out);
  INFO(out.substr(0, 4000));
  REQUIRE(status == 0);
  CHECK(fs::file_size(dir + "/out.avi") > 10000);

  // Read the printed bus messages back into structures.
  std::istringstream lines(out);
  std::map<int, std::vector<MetaFace>> by_frame;
  std::map<std::string, int> verified_decisions;
  int stranger_verified = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("from element \"faceverify0\" (element): ") == std::string::npos) continue;
    const std::string text = after(line, "(element): ");
    GstStructure* s = gst_structure_from_string(text.c_str(), nullptr);
    REQUIRE(s != nullptr);
    if (gst_structure_has_name(s, "faceverify")) {
      guint64 ts = 0;
      REQUIRE(gst_structure_get_uint64(s, "timestamp", &ts));
      const int t = static_cast<int>((ts + GST_SECOND / kFps / 2) / (GST_SECOND / kFps));
      by_frame[t] = siamese::testing::message_faces(s);
    } else if (gst_structure_has_name(s, "faceverify-decision")) {
      gboolean v = FALSE;
      gst_structure_get_boolean(s, "verified", &v);
      const gchar* id = gst_structure_get_string(s, "identity");
      if (v) ++verified_decisions[id];
      if (v && std::string(id) == "s6") ++stranger_verified;
    }
    gst_structure_free(s);
  }
  REQUIRE(by_frame.size() == static_cast<size_t>(kFrames));
  int found = 0, expected_faces = 0;
  for (int t = 0; t < kFrames; ++t) {
    CAPTURE(t);
    std::vector<Box> rects;
    std::vector<const Appearance*> who;
    for (const Appearance& a : cast) {
      if (t >= a.first && t <= a.last) {
        rects.push_back(Box{a.corner.x, a.corner.y, 92, 112});
        who.push_back(&a);
      }
    }
    expected_faces += static_cast<int>(rects.size());
    for (const MetaFace& f : by_frame[t]) {
      int index = -1;
      center_in(rects, f.box, &index);
      REQUIRE(index >= 0);  // no face where there is none
      ++found;
      const Appearance& a = *who[static_cast<size_t>(index)];
      if (a.enrolled) {
        // Never someone else; verified once confirm-frames (2/3) agree.
        CHECK((f.identity.empty() || f.identity == "s" + std::to_string(a.person)));
        if (t >= a.first + 1) CHECK(f.identity == "s" + std::to_string(a.person));
      } else {
        CHECK(f.identity.empty());
        CHECK_FALSE(f.verified);
      }
    }
  }
  CHECK(found == expected_faces);
  CHECK(verified_decisions == std::map<std::string, int>{{"s1", 1}, {"s2", 1}, {"s3", 1}});
  CHECK(stranger_verified == 0);
}

namespace {

/// The faces of every output frame of one stream of the scene (flipped for odd streams so
/// that the streams differ), pushed and pulled without Catch macros (any thread).
struct StreamRun {
  std::vector<std::vector<MetaFace>> frames;
  GstFlowReturn flow = GST_FLOW_OK;
};

void run_stream(Harness& harness, const cv::Mat& bgr, int frames, StreamRun* run) {
  for (int i = 0; i < frames && run->flow == GST_FLOW_OK; ++i) {
    run->flow =
        harness.push(siamese::testing::make_frame(bgr, GST_VIDEO_FORMAT_BGRx, i * kFrame, kFrame));
    while (GstBuffer* b = gst_harness_try_pull(harness.get())) {
      run->frames.push_back(siamese::testing::meta_faces(b));
      gst_buffer_unref(b);
    }
  }
}

}  // namespace

TEST_CASE("four streams sharing one model-instance-id give the results of four separate runs",
          "[gst]") {
  SIAMESE_REQUIRE_ATT(att);
  const Scene s = make_scene(att, 385, 289);
  constexpr int kStreams = 4;
  std::vector<cv::Mat> images(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    if (k % 2 == 0) {
      images[k] = s.bgr;
    } else {
      cv::flip(s.bgr, images[k], 1);
    }
  }
  auto frames_of = [](int k) { return 4 + 2 * k; };  // streams of different lengths

  std::vector<StreamRun> separate(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    Harness harness(scene_props(s));
    harness.set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
    run_stream(harness, images[k], frames_of(k), &separate[k]);
  }

  std::vector<StreamRun> shared(kStreams);
  {
    std::vector<std::unique_ptr<Harness>> harnesses;
    for (int k = 0; k < kStreams; ++k) {
      Props props = scene_props(s);
      props.push_back({"model-instance-id", "four-cameras"});
      harnesses.push_back(std::make_unique<Harness>(props));
      harnesses.back()->set_caps(GST_VIDEO_FORMAT_BGRx, s.width, s.height);
    }
    std::vector<std::thread> threads;
    for (int k = 0; k < kStreams; ++k) {
      threads.emplace_back(run_stream, std::ref(*harnesses[k]), std::cref(images[k]), frames_of(k),
                           &shared[k]);
    }
    for (std::thread& t : threads) t.join();
  }

  for (int k = 0; k < kStreams; ++k) {
    CAPTURE(k);
    CHECK(shared[k].flow == GST_FLOW_OK);
    REQUIRE(separate[k].frames.size() == static_cast<size_t>(frames_of(k)));
    REQUIRE(shared[k].frames.size() == separate[k].frames.size());
    for (size_t i = 0; i < separate[k].frames.size(); ++i) {
      CAPTURE(i);
      const auto& a = separate[k].frames[i];
      const auto& b = shared[k].frames[i];
      REQUIRE(a.size() == b.size());
      CHECK_FALSE(a.empty());
      for (size_t j = 0; j < a.size(); ++j) {
        CHECK(a[j].box == b[j].box);
        CHECK(a[j].identity == b[j].identity);
        CHECK(a[j].verified == b[j].verified);
        CHECK(a[j].state == b[j].state);
        CHECK(a[j].track_id == b[j].track_id);
        CHECK(a[j].distance == Approx(b[j].distance).margin(1e-4));
      }
    }
  }
  // The unflipped streams see the scene's people.
  check_faces(s, shared[0].frames.back(), true);
}
