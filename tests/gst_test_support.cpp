#include "gst_test_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <tuple>

#include "gstsiamese_elements.h"
#include "siamese/model.h"
#include "test_model_fixtures.h"

namespace siamese::testing {

namespace fs = std::filesystem;

void gst_test_init() {
  static bool done = false;
  if (done) return;
  done = true;
  // A private registry and no system plugins: the elements under test are registered
  // statically, so the user's registry and installed plugins play no part.
  const fs::path dir = fs::path(SIAMESE_BINARY_DIR) / "test-tmp";
  fs::create_directories(dir / "no-system-plugins");
  setenv("GST_REGISTRY_1_0", (dir / "gst-registry-inprocess.bin").c_str(), 1);
  setenv("GST_PLUGIN_SYSTEM_PATH_1_0", (dir / "no-system-plugins").c_str(), 1);
  setenv("GST_PLUGIN_PATH_1_0", (dir / "no-system-plugins").c_str(), 1);
  gst_init(nullptr, nullptr);
  if (!gst_siamese_register_static()) throw std::runtime_error("cannot register the plugin");
}

std::string save_untrained_model(const std::string& dir, const std::string& name, int seed,
                                 float threshold) {
  ModelInfo info = untrained_model_info();  // the default architecture: small and fast
  info.threshold = threshold;
  return save_untrained_model((fs::path(dir) / name).string(), info, static_cast<uint64_t>(seed));
}

cv::Mat att_face(const std::string& att_dir, int person, int image) {
  const std::string path =
      att_dir + "/s" + std::to_string(person) + "/" + std::to_string(image) + ".pgm";
  cv::Mat m = cv::imread(path, cv::IMREAD_GRAYSCALE);
  if (m.empty()) throw std::runtime_error("cannot read " + path);
  return m;
}

cv::Mat compose(int width, int height, const std::vector<cv::Mat>& faces,
                const std::vector<cv::Point>& corners) {
  // A smooth gray gradient: no face-like texture for the cascade to find.
  cv::Mat gray(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      gray.at<uchar>(y, x) = static_cast<uchar>(70 + (60 * x) / width + (40 * y) / height);
    }
  }
  for (size_t i = 0; i < faces.size(); ++i) {
    faces[i].copyTo(gray(cv::Rect(corners[i].x, corners[i].y, faces[i].cols, faces[i].rows)));
  }
  cv::Mat bgr;
  cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}

GstCaps* video_caps(GstVideoFormat format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, static_cast<guint>(width), static_cast<guint>(height));
  info.fps_n = 25;
  info.fps_d = 1;
  return gst_video_info_to_caps(&info);
}

namespace {

/// The BGR image as the packed format's bytes (channels in memory order).
cv::Mat packed_pixels(const cv::Mat& bgr, GstVideoFormat format) {
  cv::Mat out;
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8:
      cv::cvtColor(bgr, out, cv::COLOR_BGR2GRAY);
      break;
    case GST_VIDEO_FORMAT_BGR:
      out = bgr.clone();
      break;
    case GST_VIDEO_FORMAT_RGB:
      cv::cvtColor(bgr, out, cv::COLOR_BGR2RGB);
      break;
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_BGRA:
      cv::cvtColor(bgr, out, cv::COLOR_BGR2BGRA);
      break;
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_RGBA:
      cv::cvtColor(bgr, out, cv::COLOR_BGR2RGBA);
      break;
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_xBGR: {
      out.create(bgr.rows, bgr.cols, CV_8UC4);
      const bool rgb = format == GST_VIDEO_FORMAT_xRGB;
      const int from_to[] = {0, rgb ? 3 : 1, 1, 2, 2, rgb ? 1 : 3};
      out.setTo(cv::Scalar::all(255));
      cv::mixChannels(&bgr, 1, &out, 1, from_to, 3);
      break;
    }
    default:
      break;
  }
  return out;
}

void copy_rows(const cv::Mat& src, GstVideoFrame* frame, int plane, int row_bytes) {
  auto* dst = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(frame, plane));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, plane);
  for (int y = 0; y < src.rows; ++y) {
    std::memcpy(dst + static_cast<ptrdiff_t>(y) * stride, src.ptr(y),
                static_cast<size_t>(row_bytes));
  }
}

}  // namespace

GstBuffer* make_frame(const cv::Mat& bgr, GstVideoFormat format, GstClockTime pts,
                      GstClockTime duration) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, static_cast<guint>(bgr.cols),
                            static_cast<guint>(bgr.rows));
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  // Fill the row padding with garbage: a stride bug then shows up as wrong results.
  gst_buffer_memset(buffer, 0, 0xA5, GST_VIDEO_INFO_SIZE(&info));
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_WRITE)) {
    throw std::runtime_error("cannot map a test frame");
  }
  if (format == GST_VIDEO_FORMAT_I420 || format == GST_VIDEO_FORMAT_NV12) {
    cv::Mat y;
    cv::cvtColor(bgr, y, cv::COLOR_BGR2GRAY);
    copy_rows(y, &frame, 0, bgr.cols);
    const int cw = GST_VIDEO_FRAME_COMP_WIDTH(&frame, 1);
    const int ch = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, 1);
    // The composites are gray: neutral chroma.
    const int planes = format == GST_VIDEO_FORMAT_I420 ? 2 : 1;
    const int bytes = format == GST_VIDEO_FORMAT_I420 ? cw : 2 * cw;
    for (int p = 1; p <= planes; ++p) {
      cv::Mat c(ch, bytes, CV_8UC1, cv::Scalar(128));
      copy_rows(c, &frame, p, bytes);
    }
  } else {
    const cv::Mat px = packed_pixels(bgr, format);
    copy_rows(px, &frame, 0, px.cols * static_cast<int>(px.elemSize()));
  }
  gst_video_frame_unmap(&frame);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = duration;
  return buffer;
}

namespace {

MetaFace face_of_structure(const GstStructure* s) {
  MetaFace f;
  f.has_param = true;
  if (const gchar* id = gst_structure_get_string(s, "identity")) f.identity = id;
  if (const gchar* st = gst_structure_get_string(s, "state")) f.state = st;
  gst_structure_get_double(s, "distance", &f.distance);
  gboolean verified = FALSE;
  gst_structure_get_boolean(s, "verified", &verified);
  f.verified = verified != FALSE;
  gst_structure_get_int64(s, "track-id", &f.track_id);
  gst_structure_get_int(s, "x", &f.box.x);
  gst_structure_get_int(s, "y", &f.box.y);
  gst_structure_get_int(s, "width", &f.box.width);
  gst_structure_get_int(s, "height", &f.box.height);
  return f;
}

}  // namespace

std::vector<MetaFace> meta_faces(GstBuffer* buffer) {
  std::vector<MetaFace> out;
  const GQuark face = g_quark_from_static_string("face");
  gpointer state = nullptr;
  while (GstMeta* meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    if (roi->roi_type != face) continue;
    MetaFace f;
    if (GstStructure* p = gst_video_region_of_interest_meta_get_param(roi, "faceverify")) {
      f = face_of_structure(p);
    }
    f.box = Box{static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                static_cast<int>(roi->h)};
    out.push_back(f);
  }
  // Metas come newest first; sort by position for stable comparisons.
  std::sort(out.begin(), out.end(), [](const MetaFace& a, const MetaFace& b) {
    return std::tie(a.box.x, a.box.y) < std::tie(b.box.x, b.box.y);
  });
  return out;
}

std::vector<MetaFace> message_faces(const GstStructure* s) {
  std::vector<MetaFace> out;
  const GValue* list = gst_structure_get_value(s, "faces");
  if (list == nullptr) return out;
  for (guint i = 0; i < gst_value_list_get_size(list); ++i) {
    const GValue* v = gst_value_list_get_value(list, i);
    out.push_back(face_of_structure(gst_value_get_structure(v)));
  }
  return out;
}

torch::Tensor core_embeddings(const std::string& model_path, const ImageView& view,
                              const std::vector<Box>& boxes, Framing framing) {
  Embedder embedder(load_model(model_path), torch::kCPU);
  return embedder.embed_faces(view, boxes, framing);
}

void enroll(const std::string& gallery_path, const std::string& model_path,
            const std::vector<std::string>& names, const torch::Tensor& embeddings) {
  const ModelInfo info = load_model(model_path).info;
  Gallery gallery = Gallery::open(gallery_path, info, /*create=*/true);
  const torch::Tensor e = embeddings.to(torch::kCPU).contiguous();
  for (size_t i = 0; i < names.size(); ++i) {
    const float* row = e[static_cast<int64_t>(i)].data_ptr<float>();
    EnrollmentSample sample;
    sample.source_file = "test-row-" + std::to_string(i);
    sample.embedding.assign(row, row + e.size(1));
    gallery.enroll(names[i], {sample}, /*replace=*/false);
  }
}

float min_impostor_distance(const torch::Tensor& embeddings,
                            const std::vector<std::string>& names) {
  const torch::Tensor d = torch::cdist(embeddings, embeddings);
  float best = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < names.size(); ++j) {
      if (names[i] != names[j]) {
        best = std::min(best, d[static_cast<int64_t>(i)][static_cast<int64_t>(j)].item<float>());
      }
    }
  }
  return best;
}

GstStateChangeReturn start_standalone(GstElement* element, std::vector<GError*>* errors,
                                      std::vector<std::string>* debug) {
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(element, bus);
  const GstStateChangeReturn ret = gst_element_set_state(element, GST_STATE_PAUSED);
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
    GError* error = nullptr;
    gchar* text = nullptr;
    gst_message_parse_error(m, &error, &text);
    errors->push_back(error);
    debug->push_back(text ? text : "");
    g_free(text);
    gst_message_unref(m);
  }
  gst_element_set_state(element, GST_STATE_NULL);
  gst_element_set_bus(element, nullptr);
  gst_object_unref(bus);
  return ret;
}

GstStateChangeReturn start_standalone(GstElement* element, std::vector<PostedError>* errors) {
  std::vector<GError*> posted;
  std::vector<std::string> debug;
  const GstStateChangeReturn ret = start_standalone(element, &posted, &debug);
  for (size_t i = 0; i < posted.size(); ++i) {
    errors->push_back(PostedError{posted[i]->domain, posted[i]->message, debug[i]});
    g_error_free(posted[i]);
  }
  return ret;
}

}  // namespace siamese::testing
