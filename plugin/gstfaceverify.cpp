// faceverify: the element shell (properties, caps, mapping, batching over buffers, metadata,
// messages, error translation). The face logic is siamese::StreamVerifier's.

/**
 * SECTION:element-faceverify
 * @title: faceverify
 * @see_also: faceverifyoverlay, facedetect
 *
 * Detects faces in raw video (a Haar or LBP cascade, a CNN, or the "face" region-of-interest
 * metas of an upstream detector), follows them across frames, embeds them with a Siamese model
 * made by siamese-train or siamese-import, and matches them against an enrollment gallery made
 * by siamese-enroll. Pixels pass through unchanged. The model and the gallery are loaded in
 * start(); a gallery replaced or changed on disk is reloaded while playing, and a gallery that
 * cannot be read or no longer fits the model verifies nobody.
 *
 * A track is verified when N of its last M embeddings (confirm-frames) match the same identity
 * within threshold and ahead of the runner-up by margin. Without the threshold property the
 * gallery's stored threshold decides, else one sized from the model's calibration for the
 * gallery's size.
 *
 * ## Metadata
 * Per face a #GstVideoRegionOfInterestMeta of type "face" with a "faceverify" param structure:
 * identity (empty when unknown), distance, verified, state, track-id; for a model whose crop
 * policy aligns also points (eye centres, nose tip, mouth corners: x0, y0 ... x4, y4 in frame
 * pixels) and, on frames where the landmark network ran, landmarks (all 68).
 *
 * ## Messages
 * - "faceverify" (per frame, see the message property): timestamp, stream-time, running-time,
 *   duration, gallery-generation, threshold (the distance threshold the faces were decided
 *   with) and faces, a list of "face" structures (x, y, width, height and the fields of the
 *   param structure above).
 * - "faceverify-decision" (each change of a track's decision): track-id, identity, state,
 *   verified, distance, margin, votes, first-seen, running-time, timestamp, reason (why, in
 *   words), gallery-generation and threshold (the one the decision was made with: the
 *   identity's own when it has one and the threshold property is unset).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! queue ! faceverify model=m.pt gallery=g.db ! \
 *     faceverifyoverlay ! videoconvert ! autovideosink
 * ]| A camera, its faces verified and drawn.
 * |[
 * gst-launch-1.0 -m filesrc location=in.avi ! avidemux ! jpegdec ! videoconvert ! \
 *     faceverify model=m.pt gallery=g.db message=on-change ! fakesink
 * ]| The decisions of a recorded video as bus messages.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! faceverify model=dlib.pt gallery=g.db \
 *     detector=cnn device=cuda batch-frames=4 ! fakesink
 * ]| The CNN detector and the network on a GPU, four frames per forward pass.
 */
#include "gstfaceverify.h"

#include <gst/video/video.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "faceverify_messages.h"
#include "faceverify_properties.h"
#include "faceverify_settings.h"
#include "frame_queue.h"
#include "frame_view.h"
#include "gallery_watch.h"
#include "shared_embedder.h"
#include "siamese/device.h"
#include "siamese/errors.h"
#include "siamese/gpu_preprocess.h"
#include "siamese/model_file.h"
#include "siamese/threshold_policy.h"

GST_DEBUG_CATEGORY_STATIC(gst_face_verify_debug);
#define GST_CAT_DEFAULT gst_face_verify_debug

namespace sg = siamese::gst;

namespace {

/// What exists only between start() and stop(): the loaded model, detector, gallery and the
/// held frames. Touched by the streaming thread; `watch` also by the reload-gallery signal.
struct State {
  std::unique_ptr<siamese::StreamVerifier> verifier;
  std::unique_ptr<sg::GalleryWatch> watch;
  std::shared_ptr<sg::SharedModels> shared;  // model-instance-id set: the shared networks
  bool shares_detector = false;              // ... and this element uses its CNN detector
  float model_threshold = 1.0f;              // threshold property unset and no gallery: the model's
  bool use_upstream = false;
  int batch_frames = 1;
  GstVideoInfo info{};
  bool have_info = false;
  sg::FrameQueue held;           // waiting for their batch
  std::deque<GstBuffer*> ready;  // analysed, waiting for generate_output()
  std::string last_signature;    // message=on-change

  ~State() {
    for (GstBuffer* b : ready) gst_buffer_unref(b);
    if (shared) {
      shared->embedder().remove_user();
      if (sg::SharedForward* landmarks = shared->landmarks()) landmarks->remove_user();
      if (shares_detector) shared->detector_if_any()->remove_user();
    }
  }
  void drop_frames() {
    held.clear();
    for (GstBuffer* b : ready) gst_buffer_unref(b);
    ready.clear();
  }
};

}  // namespace

struct _GstFaceVerify {
  GstBaseTransform parent;
  sg::Settings* settings;   // guarded by the object lock
  State* state;             // created in start(), deleted in stop()
  std::mutex* state_mutex;  // guards `state` against the reload-gallery signal
  gint fps_n, fps_d;        // of the negotiated caps, under the object lock (LATENCY query)
};

G_DEFINE_TYPE(GstFaceVerify, gst_face_verify, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(faceverify, "faceverify", GST_RANK_NONE, GST_TYPE_FACE_VERIFY)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(SIAMESE_VIDEO_FORMATS)));

static sg::Settings copy_settings(GstFaceVerify* self) {
  GST_OBJECT_LOCK(self);
  sg::Settings s = *self->settings;
  GST_OBJECT_UNLOCK(self);
  return s;
}

// ---- properties -------------------------------------------------------------------------

static void gst_face_verify_set_property(GObject* object, guint prop_id, const GValue* value,
                                         GParamSpec* pspec) {
  GstFaceVerify* self = GST_FACE_VERIFY(object);
  std::string refused;
  GST_OBJECT_LOCK(self);
  const bool known = sg::set_setting(*self->settings, prop_id, value, &refused);
  GST_OBJECT_UNLOCK(self);
  if (!known) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  if (!refused.empty()) GST_WARNING_OBJECT(self, "%s", refused.c_str());
}

static void gst_face_verify_get_property(GObject* object, guint prop_id, GValue* value,
                                         GParamSpec* pspec) {
  GstFaceVerify* self = GST_FACE_VERIFY(object);
  GST_OBJECT_LOCK(self);
  const bool known = sg::get_setting(*self->settings, prop_id, value);
  GST_OBJECT_UNLOCK(self);
  if (!known) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

// ---- start / stop: heavy loading and error translation ---------------------------------

// From the gallery's polling thread (posting messages is thread-safe).
static void report_gallery(GstFaceVerify* self, const std::string& path,
                           sg::GalleryWatch::Event event, const std::string& message) {
  switch (event) {
    case sg::GalleryWatch::Event::kLoaded:
      GST_INFO_OBJECT(self, "%s", message.c_str());
      break;
    case sg::GalleryWatch::Event::kUntrusted:
      GST_ELEMENT_WARNING(self, RESOURCE, READ,
                          ("Gallery \"%s\" (property \"gallery\") cannot be read or trusted; "
                           "nobody is verified until it can.",
                           path.c_str()),
                          ("%s", message.c_str()));
      break;
    case sg::GalleryWatch::Event::kStale:
      GST_ELEMENT_WARNING(self, RESOURCE, READ,
                          ("Gallery \"%s\" (property \"gallery\"): lost its PostgreSQL server; "
                           "the last good gallery is served for a bounded time while "
                           "reconnecting.",
                           path.c_str()),
                          ("%s", message.c_str()));
      break;
    case sg::GalleryWatch::Event::kFatal:
      GST_ELEMENT_ERROR(self, RESOURCE, READ,
                        ("Gallery \"%s\" (property \"gallery\") stayed unreadable or untrusted "
                         "for longer than gallery-error-timeout.",
                         path.c_str()),
                        ("%s", message.c_str()));
      break;
  }
}

// What start() builds, step by step; published into self->state only when every step worked.
struct StartContext {
  GstFaceVerify* self;
  const sg::Settings& s;
  State& state;
  torch::Device device{torch::kCPU};
  std::unique_ptr<siamese::LoadedModel> model;
  siamese::ModelInfo info;
  siamese::StreamOptions options;
  siamese::DetectorOptions detector_options;
  std::unique_ptr<siamese::FaceDetector> detector;
  std::unique_ptr<siamese::Embedder> embedder;         // this element's own, or
  std::shared_ptr<siamese::Embedder> shared_embedder;  // the one under model-instance-id
  std::string preprocessing = "cpu";
};

// Each step below posts an error naming the property it failed on and returns false; no
// exception leaves them.

static bool start_device(StartContext& c) {
  if (c.s.model.empty()) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, NOT_FOUND,
                      ("No model file given: set the \"model\" property."), (nullptr));
    return false;
  }
  try {
    c.device = siamese::resolve_device(c.s.device);
    siamese::set_cpu_threads(c.s.threads);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, SETTINGS,
                      ("Cannot use device \"%s\" (property \"device\").", c.s.device.c_str()),
                      ("%s", e.what()));
    return false;
  }
  if (c.s.precision == siamese::Precision::kFloat16 && !c.device.is_cuda()) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, SETTINGS,
                      ("Precision fp16 needs a CUDA device (property \"precision\"; device "
                       "\"%s\" resolved to %s).",
                       c.s.device.c_str(), c.device.str().c_str()),
                      (nullptr));
    return false;
  }
  return true;
}

static bool start_model(StartContext& c) {
  try {
    c.model = std::make_unique<siamese::LoadedModel>(siamese::load_model(c.s.model));
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, OPEN_READ,
                      ("Could not load model file \"%s\" (property \"model\").", c.s.model.c_str()),
                      ("%s", e.what()));
    return false;
  }
  c.info = c.model->info;
  c.state.model_threshold = c.info.threshold;
  try {
    c.options = sg::stream_options_of(c.s, c.info.threshold);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, SETTINGS,
                      ("Invalid confirm-frames or margin (properties \"confirm-frames\", "
                       "\"margin\")."),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

static void post_detector_error(StartContext& c, const std::exception& e) {
  const std::string& kind = c.detector_options.kind;
  const bool cnn = kind == "cnn", hog = kind == "hog";
  GST_ELEMENT_ERROR(
      c.self, RESOURCE, OPEN_READ,
      ("Could not load the %s face detector \"%s\" (properties \"detector\", %s).", kind.c_str(),
       cnn   ? "face-api's tiny_face_detector_model"
       : hog ? "dlib's frontal_face_detector"
             : c.detector_options.cascade_file.c_str(),
       cnn   ? "\"detector-threshold\", \"detector-input-size\", \"device\", "
               "\"model-instance-id\""
       : hog ? "\"min-face-size\""
             : "\"detector-file\""),
      ("%s", e.what()));
}

static std::string detector_kind_name(sg::DetectorKind kind) {
  switch (kind) {
    case sg::DetectorKind::kLbp:
      return "lbp";
    case sg::DetectorKind::kUpstream:
      return "upstream";
    case sg::DetectorKind::kCnn:
      return "cnn";
    case sg::DetectorKind::kHog:
      return "hog";
    case sg::DetectorKind::kHaar:
      break;
  }
  return "haar";
}

static bool start_detector(StartContext& c) {
  if (c.state.use_upstream) return true;
  const sg::Settings& s = c.s;
  const bool cnn = s.detector == sg::DetectorKind::kCnn;
  const std::string kind = detector_kind_name(s.detector);
  siamese::DetectorOptions& options = c.detector_options;
  options.set_kind(kind).set_cascade_file(s.detector_file).set_min_face_size(s.min_face_size);
  options.scale_factor = s.scale_factor;
  options.set_threshold(s.detector_threshold)
      .set_input_size(s.detector_input_size)
      .set_device(c.device);
  // Elements sharing a model-instance-id share the CNN's network too (start_shared_detector).
  if (cnn && !s.model_instance_id.empty()) return true;
  try {
    if (options.cascade_file.empty() && (kind == "haar" || kind == "lbp")) {
      options.cascade_file = siamese::default_cascade_file(kind);
    }
    c.detector = std::make_unique<siamese::FaceDetector>(options);
  } catch (const std::exception& e) {
    post_detector_error(c, e);
    return false;
  }
  return true;
}

// The embedder: this element's own, or the one shared under model-instance-id. Either is
// warmed up here so that the first frame does not pay for CUDA/allocator set-up.
static bool start_embedder(StartContext& c) {
  const sg::Settings& s = c.s;
  auto make_embedder = [&c]() {
    auto e = std::make_unique<siamese::Embedder>(std::move(*c.model), c.device, c.s.batch_size,
                                                 c.s.precision);
    e->warm_up();
    return e;
  };
  try {
    if (s.model_instance_id.empty()) {
      c.embedder = make_embedder();
    } else {
      const sg::SharedModelKey key{s.model_instance_id, s.model, c.device.str(),
                                   siamese::precision_name(s.precision), s.batch_size};
      c.state.shared = sg::acquire_shared_models(key, make_embedder);
      c.state.shared->embedder().add_user();
      if (sg::SharedForward* landmarks = c.state.shared->landmarks()) landmarks->add_user();
      c.shared_embedder = c.state.shared->embedder().embedder();
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, SETTINGS,
                      ("Could not prepare model \"%s\" on device \"%s\" (properties \"model\", "
                       "\"device\", \"precision\", \"model-instance-id\").",
                       s.model.c_str(), s.device.c_str()),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

// detector=cnn under a model-instance-id: one network for every element of the id (made by the
// first), each element with its own threshold and min-face-size; frames of several streams that
// arrive together go through one pass.
static bool start_shared_detector(StartContext& c) {
  if (!c.state.shared || c.detector_options.kind != "cnn" || c.state.use_upstream) return true;
  const siamese::DetectorOptions& options = c.detector_options;
  try {
    sg::SharedForward& network = c.state.shared->detector(options.input_size, [&options]() {
      return std::make_unique<siamese::TinyFaceDetector>(siamese::TinyFaceDetectorOptions()
                                                             .set_input_size(options.input_size)
                                                             .set_score_threshold(options.threshold)
                                                             .set_device(options.device));
    });
    sg::SharedForward* shared = &network;
    c.detector = std::make_unique<siamese::FaceDetector>(
        options, [shared](const torch::Tensor& inputs) { return shared->run(inputs); });
    network.add_user();
    c.state.shares_detector = true;
  } catch (const std::exception& e) {
    post_detector_error(c, e);
    return false;
  }
  return true;
}

static bool start_gallery(StartContext& c) {
  const sg::Settings& s = c.s;
  if (s.gallery.empty()) return true;
  GstFaceVerify* self = c.self;
  try {
    const std::string path = siamese::gallery_display_name(s.gallery);  // no password
    c.state.watch = std::make_unique<sg::GalleryWatch>(
        s.gallery, c.info, c.device, std::chrono::milliseconds(sg::kGalleryPollMs),
        std::chrono::seconds(s.gallery_error_timeout_s),
        [self, path](sg::GalleryWatch::Event event, const std::string& message) {
          report_gallery(self, path, event, message);
        },
        sg::search_settings_of(s));
    const auto view = c.state.watch->view();
    // Without the threshold property: the gallery's stored threshold, else the default for its
    // size (threshold_policy.h), recomputed whenever the gallery is reloaded.
    c.options = sg::stream_options_of(s, view->default_threshold.value);
    if (!view->default_threshold.calibrated && s.threshold < 0.0f) {
      GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS,
                          ("Model \"%s\" has no false-accept calibration: strangers may be "
                           "verified; set the \"threshold\" property or retrain.",
                           s.model.c_str()),
                          ("%s", view->default_threshold.description.c_str()));
    }
  } catch (const siamese::MismatchError& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("Gallery \"%s\" (property \"gallery\") was not built with model \"%s\"; "
                       "re-enroll with this model or use siamese-enroll --rebuild.",
                       siamese::gallery_display_name(s.gallery).c_str(), s.model.c_str()),
                      ("%s", e.what()));
    return false;
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                      ("Could not open gallery \"%s\" (property \"gallery\").",
                       siamese::gallery_display_name(s.gallery).c_str()),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

static bool start_verifier(StartContext& c) {
  try {
    if (c.state.shared) {
      std::shared_ptr<sg::SharedModels> shared = c.state.shared;
      c.state.verifier = std::make_unique<siamese::StreamVerifier>(
          c.shared_embedder,
          [shared](const torch::Tensor& inputs) { return shared->embedder().embed(inputs); },
          std::move(c.detector), c.options);
      // A model that aligns: this stream's landmark passes go through the shared network.
      if (sg::SharedForward* landmarks = shared->landmarks()) {
        c.state.verifier->set_landmarker(std::make_unique<siamese::FaceLandmarker>(
            [shared, landmarks](const torch::Tensor& inputs) { return landmarks->run(inputs); },
            c.device, c.shared_embedder->landmarker()->options()));
      }
    } else {
      c.state.verifier = std::make_unique<siamese::StreamVerifier>(
          std::move(c.embedder), std::move(c.detector), c.options);
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(c.self, RESOURCE, SETTINGS, ("Invalid faceverify settings."),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

// Faces are cropped on the GPU where the kernels are built; else on the CPU into pinned
// memory, copied asynchronously by the embedder. Never fails: the CPU path always works.
static void start_gpu_preprocessing(StartContext& c) {
  if (!c.device.is_cuda()) return;
  if (!siamese::GpuFacePreprocessor::available()) {
    GST_INFO_OBJECT(c.self, "GPU preprocessing unavailable, using the CPU: %s",
                    siamese::GpuFacePreprocessor::unavailable_reason().c_str());
    return;
  }
  try {
    c.state.verifier->set_gpu_preprocessor(std::make_shared<siamese::GpuFacePreprocessor>(
        c.state.verifier->embedder().input_spec(), c.device));
    c.preprocessing = "gpu";
  } catch (const std::exception& e) {
    GST_WARNING_OBJECT(c.self, "GPU preprocessing unavailable, using the CPU: %s", e.what());
  }
}

static void log_start(const StartContext& c) {
  const sg::Settings& s = c.s;
  const State& state = c.state;
  GST_INFO_OBJECT(
      c.self,
      "model %s on %s (threshold %.4f %s, margin %.4f, confirm %s), gallery %s "
      "(%lld embeddings), detector %s min-face-size %d scale-factor %.2f detect-interval %d "
      "reverify-interval %d, batch-size %d batch-frames %d, precision %s, preprocessing on %s, "
      "model-instance-id \"%s\"; model facts %s",
      s.model.c_str(), c.device.str().c_str(), c.options.decision.threshold,
      s.threshold >= 0.0f ? "set by the threshold property"
      : state.watch       ? state.watch->view()->default_threshold.description.c_str()
                          : "of the model",
      c.options.decision.margin_at(c.options.decision.threshold), s.confirm_frames.c_str(),
      s.gallery.empty() ? "(none)" : siamese::gallery_display_name(s.gallery).c_str(),
      state.watch ? static_cast<long long>(state.watch->view()->matcher->embedding_count()) : 0LL,
      detector_kind_name(s.detector).c_str(), s.min_face_size, s.scale_factor, s.detect_interval,
      s.reverify_interval, s.batch_size, s.batch_frames, siamese::precision_name(s.precision),
      c.preprocessing.c_str(), s.model_instance_id.c_str(),
      siamese::describe_model(c.info).c_str());
}

static gboolean gst_face_verify_start(GstBaseTransform* trans) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  const sg::Settings s = copy_settings(self);
  auto state = std::make_unique<State>();
  state->batch_frames = s.batch_frames;
  state->use_upstream = s.detector == sg::DetectorKind::kUpstream;
  StartContext c{self, s, *state};
  if (!(start_device(c) && start_model(c) && start_detector(c) && start_embedder(c) &&
        start_shared_detector(c) && start_gallery(c) && start_verifier(c))) {
    return FALSE;
  }
  start_gpu_preprocessing(c);
  log_start(c);

  std::lock_guard<std::mutex> lock(*self->state_mutex);
  delete self->state;
  self->state = state.release();
  return TRUE;
}

static gboolean gst_face_verify_stop(GstBaseTransform* trans) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  State* state = nullptr;
  {
    std::lock_guard<std::mutex> lock(*self->state_mutex);
    state = std::exchange(self->state, nullptr);
  }
  delete state;  // stops the gallery poller, drops held frames
  return TRUE;
}

static gboolean gst_face_verify_reload_gallery(GstFaceVerify* self) {
  std::lock_guard<std::mutex> lock(*self->state_mutex);
  if (self->state == nullptr || !self->state->watch) {
    GST_WARNING_OBJECT(self,
                       "reload-gallery: no gallery loaded (element not started or no "
                       "\"gallery\" set)");
    return FALSE;
  }
  return self->state->watch->reload() ? TRUE : FALSE;
}

// ---- caps, latency ------------------------------------------------------------------------

static gboolean gst_face_verify_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                         GstCaps* outcaps) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, incaps)) {
    GST_ERROR_OBJECT(self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  if (self->state == nullptr) return FALSE;
  self->state->info = info;
  self->state->have_info = true;
  GST_OBJECT_LOCK(self);
  const bool fps_changed = self->fps_n != info.fps_n || self->fps_d != info.fps_d;
  self->fps_n = info.fps_n;
  self->fps_d = info.fps_d;
  const int batch_frames = self->settings->batch_frames;
  GST_OBJECT_UNLOCK(self);
  if (fps_changed && batch_frames > 1) {
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
  }
  return TRUE;
}

static gboolean gst_face_verify_query(GstBaseTransform* trans, GstPadDirection direction,
                                      GstQuery* query) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  gboolean ok =
      GST_BASE_TRANSFORM_CLASS(gst_face_verify_parent_class)->query(trans, direction, query);
  if (ok && direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    GST_OBJECT_LOCK(self);
    const int held = self->settings->batch_frames - 1;
    const gint fps_n = self->fps_n, fps_d = self->fps_d;
    GST_OBJECT_UNLOCK(self);
    if (held > 0 && fps_n > 0 && fps_d > 0) {
      // Holding batch-frames - 1 frames delays each frame by up to that many durations.
      const GstClockTime extra =
          gst_util_uint64_scale_int(static_cast<guint64>(held) * GST_SECOND, fps_d, fps_n);
      gboolean live = FALSE;
      GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
      gst_query_parse_latency(query, &live, &min, &max);
      min += extra;
      if (GST_CLOCK_TIME_IS_VALID(max)) max += extra;
      gst_query_set_latency(query, live, min, max);
      GST_DEBUG_OBJECT(self, "latency query: added %" GST_TIME_FORMAT " for %d held frames",
                       GST_TIME_ARGS(extra), held);
    }
  }
  return ok;
}

// ---- analysis of a batch of frames -------------------------------------------------------

namespace {

/// Maps frames for reading and unmaps them when it goes out of scope.
class MappedFrames {
 public:
  explicit MappedFrames(size_t n) : frames_(n) {}
  ~MappedFrames() {
    for (size_t i = 0; i < mapped_; ++i) gst_video_frame_unmap(&frames_[i]);
  }
  bool map(GstVideoInfo* info, GstBuffer* buffer) {
    if (!gst_video_frame_map(&frames_[mapped_], info, buffer, GST_MAP_READ)) return false;
    ++mapped_;
    return true;
  }
  const GstVideoFrame& operator[](size_t i) const { return frames_[i]; }

 private:
  std::vector<GstVideoFrame> frames_;
  size_t mapped_ = 0;
};

}  // namespace

static void post(GstFaceVerify* self, GstStructure* s) {
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

// The threshold a decision about `identity` was made with: the identity's own stored one unless
// the threshold is explicit (the rule DecisionEngine votes by, threshold_policy.h).
static double decision_threshold(const siamese::DecisionOptions& o, const siamese::Matcher* m,
                                 const std::string& identity) {
  if (m == nullptr || identity.empty()) return o.threshold;
  const std::vector<std::string>& names = m->names();
  const auto it = std::find(names.begin(), names.end(), identity);
  if (it == names.end()) return o.threshold;
  const siamese::ThresholdChoice base{o.threshold,
                                      o.threshold_explicit ? siamese::ThresholdSource::kExplicit
                                                           : siamese::ThresholdSource::kGallery,
                                      "", true};
  return siamese::identity_threshold(base, m->own_threshold(static_cast<int>(it - names.begin())));
}

/// Analyses every held frame as one batch and moves them, with their metas, to `ready`.
static GstFlowReturn analyse_held(GstFaceVerify* self) {
  State& st = *self->state;
  if (st.held.empty()) return GST_FLOW_OK;
  const sg::Settings s = copy_settings(self);
  const size_t n = st.held.size();
  std::vector<std::vector<siamese::FaceResult>> faces(n);
  std::vector<std::vector<siamese::Decision>> changes(n);
  int64_t generation = 0;  // of the gallery state this batch is matched against
  double threshold = 0.0;  // the distance threshold this batch is decided with
  std::vector<std::vector<double>> decision_thresholds(n);  // per decision: the identity's own
  try {
    // One gallery state for the whole batch: its matcher and the threshold that goes with it.
    const std::shared_ptr<const sg::GalleryView> gallery = st.watch ? st.watch->view() : nullptr;
    if (gallery) generation = gallery->generation;
    st.verifier->set_options(
        sg::stream_options_of(s, gallery ? gallery->default_threshold.value : st.model_threshold));
    threshold = st.verifier->options().decision.threshold;
    MappedFrames mapped(n);
    std::vector<siamese::StreamFrame> inputs(n);
    for (size_t i = 0; i < n; ++i) {
      sg::HeldFrame& h = st.held[i];
      if (!mapped.map(&h.info, h.buffer)) throw siamese::InputError("could not map a frame");
      inputs[i].view = sg::view_of_frame(mapped[i]);
      inputs[i].time = static_cast<int64_t>(h.times.running_time);  // NONE -> -1
      if (h.use_upstream) inputs[i].boxes = h.upstream.boxes;
    }
    std::vector<siamese::FrameResult> results =
        st.verifier->process(inputs, gallery ? gallery->matcher.get() : nullptr);
    for (size_t i = 0; i < n; ++i) {
      faces[i] = std::move(results[i].faces);
      changes[i] = std::move(results[i].changes);
      for (const siamese::Decision& d : changes[i]) {
        decision_thresholds[i].push_back(
            decision_threshold(st.verifier->options().decision,
                               gallery ? gallery->matcher.get() : nullptr, d.identity));
      }
    }
  } catch (const std::exception& e) {
    st.held.clear();
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Face verification failed on a frame."),
                      ("%s", e.what()));
    return GST_FLOW_ERROR;
  }

  for (size_t i = 0; i < n; ++i) {
    sg::HeldFrame& h = st.held[i];
    sg::attach_face_metas(h.buffer, faces[i], h.use_upstream ? &h.upstream : nullptr);
    if (s.message != sg::MessageMode::kNone) {
      for (size_t k = 0; k < changes[i].size(); ++k) {
        post(self, sg::decision_message_structure(changes[i][k], h.times, generation,
                                                  decision_thresholds[i][k]));
      }
      std::string signature = sg::decision_signature(faces[i]);
      if (s.message == sg::MessageMode::kEveryFrame || signature != st.last_signature) {
        post(self, sg::frame_message_structure(h.times, generation, faces[i], threshold));
      }
      st.last_signature = std::move(signature);
    }
    GST_LOG_OBJECT(self, "frame %" GST_TIME_FORMAT ": %zu faces", GST_TIME_ARGS(h.times.timestamp),
                   faces[i].size());
    st.ready.push_back(h.release());
  }
  st.held.clear();
  return GST_FLOW_OK;
}

static GstFlowReturn gst_face_verify_submit_input_buffer(GstBaseTransform* trans,
                                                         gboolean is_discont, GstBuffer* input) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  // The parent checks negotiation and stores the buffer in queued_buf; we take it from there.
  GstFlowReturn ret = GST_BASE_TRANSFORM_CLASS(gst_face_verify_parent_class)
                          ->submit_input_buffer(trans, is_discont, input);
  if (ret != GST_FLOW_OK || trans->queued_buf == nullptr) return ret;
  State* st = self->state;
  if (st == nullptr || !st->have_info) {
    gst_clear_buffer(&trans->queued_buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }

  sg::HeldFrame h;
  h.buffer = gst_buffer_make_writable(std::exchange(trans->queued_buf, nullptr));
  h.info = st->info;
  const GstClockTime pts = GST_BUFFER_PTS(h.buffer);
  h.times.timestamp = pts;
  h.times.duration = GST_BUFFER_DURATION(h.buffer);
  if (trans->segment.format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID(pts)) {
    h.times.stream_time = gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, pts);
    h.times.running_time = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, pts);
  }
  h.use_upstream = st->use_upstream;
  if (h.use_upstream) {
    h.upstream =
        sg::upstream_faces(h.buffer, GST_VIDEO_INFO_WIDTH(&h.info), GST_VIDEO_INFO_HEIGHT(&h.info));
  }
  st->held.push_back(std::move(h));
  if (static_cast<int>(st->held.size()) < st->batch_frames) return GST_FLOW_OK;
  return analyse_held(self);
}

static GstFlowReturn gst_face_verify_generate_output(GstBaseTransform* trans, GstBuffer** outbuf) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  *outbuf = nullptr;
  State* st = self->state;
  if (st != nullptr && !st->ready.empty()) {
    *outbuf = st->ready.front();
    st->ready.pop_front();
  }
  return GST_FLOW_OK;
}

/// Analyses and pushes every held frame (before a serialized event, at EOS).
static GstFlowReturn drain(GstFaceVerify* self) {
  State* st = self->state;
  if (st == nullptr) return GST_FLOW_OK;
  GstFlowReturn ret = analyse_held(self);
  GST_DEBUG_OBJECT(self, "draining %zu frames", st->ready.size());
  while (!st->ready.empty()) {
    GstBuffer* buffer = st->ready.front();
    st->ready.pop_front();
    if (ret == GST_FLOW_OK) {
      ret = gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(self), buffer);
    } else {
      gst_buffer_unref(buffer);
    }
  }
  return ret;
}

static gboolean gst_face_verify_sink_event(GstBaseTransform* trans, GstEvent* event) {
  GstFaceVerify* self = GST_FACE_VERIFY(trans);
  State* st = self->state;
  if (st != nullptr) {
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
      GST_DEBUG_OBJECT(self, "flush: dropping %zu held frames", st->held.size());
      st->drop_frames();
      st->verifier->reset();
      st->last_signature.clear();
    } else if (GST_EVENT_IS_SERIALIZED(event) && !st->held.empty()) {
      // Serialized events (CAPS, SEGMENT, GAP, EOS, ...) never overtake held frames.
      const GstFlowReturn ret = drain(self);
      if (ret != GST_FLOW_OK) GST_DEBUG_OBJECT(self, "drain: %s", gst_flow_get_name(ret));
    }
  }
  return GST_BASE_TRANSFORM_CLASS(gst_face_verify_parent_class)->sink_event(trans, event);
}

// ---- GObject boilerplate and documentation ----------------------------------------------

static void gst_face_verify_finalize(GObject* object) {
  GstFaceVerify* self = GST_FACE_VERIFY(object);
  delete self->state;
  delete self->settings;
  delete self->state_mutex;
  G_OBJECT_CLASS(gst_face_verify_parent_class)->finalize(object);
}

static void gst_face_verify_init(GstFaceVerify* self) {
  self->settings = new sg::Settings();
  self->state = nullptr;
  self->state_mutex = new std::mutex();
  self->fps_n = 0;
  self->fps_d = 1;
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}

// The one line gst-inspect-1.0 shows under Factory Details, as GStreamer's own elements have;
// the manual is the SECTION block at the top of this file.
static const char* const kDescription =
    "Finds faces in raw video, follows them and verifies them against an enrollment gallery with "
    "a Siamese model; attaches \"face\" region-of-interest metas and posts \"faceverify\" and "
    "\"faceverify-decision\" element messages";

static void gst_face_verify_class_init(GstFaceVerifyClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_face_verify_set_property;
  gobject_class->get_property = gst_face_verify_get_property;
  gobject_class->finalize = gst_face_verify_finalize;

  sg::install_properties(gobject_class);

  g_signal_new_class_handler("reload-gallery", G_TYPE_FROM_CLASS(klass),
                             static_cast<GSignalFlags>(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                             G_CALLBACK(gst_face_verify_reload_gallery), nullptr, nullptr, nullptr,
                             G_TYPE_BOOLEAN, 0);

  gst_element_class_set_static_metadata(element_class, "Face verification", "Filter/Analyzer/Video",
                                        kDescription, "gst-siamese project");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_face_verify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_face_verify_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_face_verify_set_caps);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_face_verify_query);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_face_verify_sink_event);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR(gst_face_verify_submit_input_buffer);
  trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_face_verify_generate_output);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api(GST_TYPE_FACE_VERIFY_DETECTOR, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_FACE_VERIFY_MESSAGE_MODE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_FACE_VERIFY_PRECISION, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_FACE_VERIFY_SEARCH, static_cast<GstPluginAPIFlags>(0));
  GST_DEBUG_CATEGORY_INIT(gst_face_verify_debug, "faceverify", 0,
                          "faceverify: face detection, embedding and matching");
}
