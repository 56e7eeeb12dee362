#include "faceverify_properties.h"

#include <gst/gst.h>

#include "gstfaceverify.h"

namespace sg = siamese::gst;

namespace {

enum {
  PROP_0,
  PROP_MODEL,
  PROP_GALLERY,
  PROP_THRESHOLD,
  PROP_DEVICE,
  PROP_BATCH_SIZE,
  PROP_BATCH_FRAMES,
  PROP_DETECTOR,
  PROP_DETECTOR_FILE,
  PROP_MIN_FACE_SIZE,
  PROP_SCALE_FACTOR,
  PROP_DETECT_INTERVAL,
  PROP_REVERIFY_INTERVAL,
  PROP_TEMPLATE_SIZE,
  PROP_CLAIMED_IDENTITY,
  PROP_MESSAGE,
  PROP_THREADS,
  PROP_CONFIRM_FRAMES,
  PROP_MARGIN,
  PROP_PRECISION,
  PROP_MODEL_INSTANCE_ID,
  PROP_GALLERY_ERROR_TIMEOUT,
  PROP_DETECTOR_THRESHOLD,
  PROP_DETECTOR_INPUT_SIZE,
  PROP_SEARCH,
  PROP_SEARCH_PROBES,
};

void set_string(std::string& field, const GValue* value) {
  const gchar* s = g_value_get_string(value);
  field = s ? s : "";
}

}  // namespace

GType gst_face_verify_detector_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(sg::DetectorKind::kHaar), "OpenCV Haar cascade", "haar"},
      {static_cast<gint>(sg::DetectorKind::kLbp), "OpenCV LBP cascade (faster, less accurate)",
       "lbp"},
      {static_cast<gint>(sg::DetectorKind::kUpstream),
       "\"face\" ROI metas attached by an upstream element", "upstream"},
      {static_cast<gint>(sg::DetectorKind::kCnn),
       "CNN (face-api's TinyFaceDetector, on the element's device; run tests/fetch_weights.sh)",
       "cnn"},
      {static_cast<gint>(sg::DetectorKind::kHog),
       "dlib's HOG detector (on the CPU; builds with libdlib-dev)", "hog"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstFaceVerifyDetector", values));
  }
  return type;
}

GType gst_face_verify_message_mode_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(sg::MessageMode::kNone), "No bus messages", "none"},
      {static_cast<gint>(sg::MessageMode::kEveryFrame), "A faceverify message for every frame",
       "every-frame"},
      {static_cast<gint>(sg::MessageMode::kOnChange),
       "A faceverify message only when the faces or their decisions change", "on-change"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstFaceVerifyMessageMode", values));
  }
  return type;
}

GType gst_face_verify_precision_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::Precision::kFloat32), "32-bit floating point", "fp32"},
      {static_cast<gint>(siamese::Precision::kFloat16), "16-bit floating point (CUDA only)",
       "fp16"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstFaceVerifyPrecision", values));
  }
  return type;
}

GType gst_face_verify_search_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(sg::SearchKind::kExact), "Compare each face with every gallery row",
       "exact"},
      {static_cast<gint>(sg::SearchKind::kIvf),
       "FAISS IVF index: compare with the rows of the nearest search-probes lists only "
       "(approximate; for galleries of about a million embeddings)",
       "ivf"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstFaceVerifySearch", values));
  }
  return type;
}

namespace siamese::gst {

void install_properties(GObjectClass* gobject_class) {
  const auto ready = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  const auto playing = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "Model file written by siamese-train (or a "
                          "TorchScript module with its facts); required",
                          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_GALLERY,
      g_param_spec_string("gallery", "Gallery",
                          "Enrollment gallery written by siamese-enroll; checked every 0.5 s "
                          "while playing and reloaded when it changes or is replaced; while it "
                          "cannot be read or trusted nobody is verified. Unset: every face "
                          "unknown",
                          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_THRESHOLD,
      g_param_spec_float("threshold", "Threshold",
                         "Euclidean embedding distance at or below "
                         "which a face matches an identity; -1 = the threshold stored in the "
                         "gallery (siamese-enroll add --threshold), else the default for the "
                         "gallery's size from the model's calibration (a stranger's face "
                         "matches anyone at most 1% of the time)",
                         -1.0f, kMaxDistance, kDefaultThresholdProperty, playing));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device",
                          "Inference device: auto (CUDA when usable, else "
                          "CPU with one warning), cpu, cuda or cuda:N",
                          kDefaultDevice, ready));
  g_object_class_install_property(
      gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int("batch-size", "Batch size", "Maximum number of faces per forward pass", 1,
                       kMaxBatchSize, siamese::kDefaultBatchSize, ready));
  g_object_class_install_property(
      gobject_class, PROP_BATCH_FRAMES,
      g_param_spec_int("batch-frames", "Batch frames",
                       "Frames whose faces are embedded "
                       "together; 1 = no holding, N > 1 holds N-1 frames (adds N-1 frame "
                       "durations of latency)",
                       1, kMaxBatchFrames, kDefaultBatchFrames, ready));
  g_object_class_install_property(
      gobject_class, PROP_DETECTOR,
      g_param_spec_enum("detector", "Detector",
                        "Face detector: OpenCV cascade (run on a "
                        "downscaled gray image), a CNN (on the element's device; frames of a "
                        "batch-frames batch in one pass) or \"face\" ROI metas from upstream",
                        GST_TYPE_FACE_VERIFY_DETECTOR, static_cast<gint>(kDefaultDetector), ready));
  g_object_class_install_property(gobject_class, PROP_DETECTOR_FILE,
                                  g_param_spec_string("detector-file", "Detector file",
                                                      "Cascade XML file; unset = the "
                                                      "opencv-data cascade of the chosen detector",
                                                      nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_DETECTOR_THRESHOLD,
      g_param_spec_double("detector-threshold", "Detector threshold",
                          "detector=cnn: the score (0..1) a box needs to count as a face; "
                          "lower finds more faces and more false ones (face-api's default 0.5)",
                          kMinDetectorThresholdProperty, kMaxDetectorThresholdProperty,
                          kDefaultDetectorThreshold, ready));
  g_object_class_install_property(
      gobject_class, PROP_DETECTOR_INPUT_SIZE,
      g_param_spec_int("detector-input-size", "Detector input size",
                       "detector=cnn: the side in pixels of the square the frame is shrunk "
                       "to, a multiple of 32 (416: faces down to ~25 px of it; 320 or 224: "
                       "faster, larger faces only)",
                       siamese::kMinDetectorInputSize, siamese::kMaxDetectorInputSize,
                       kDefaultDetectorInputSize, ready));
  g_object_class_install_property(
      gobject_class, PROP_MIN_FACE_SIZE,
      g_param_spec_int("min-face-size", "Minimum face size",
                       "Smallest face to detect, in "
                       "pixels of the frame (width of the detector's box)",
                       kMinMinFaceSize, kMaxMinFaceSize, siamese::kDefaultMinFaceSize, ready));
  g_object_class_install_property(
      gobject_class, PROP_SCALE_FACTOR,
      g_param_spec_double("scale-factor", "Scale factor",
                          "Detector pyramid step: each scale "
                          "searched is this factor larger than the previous one; larger is "
                          "faster with coarser boxes (facedetect uses 1.25); the default is "
                          "siamese-enroll's",
                          kMinScaleFactor, kMaxScaleFactor, kDefaultScaleFactor, ready));
  g_object_class_install_property(
      gobject_class, PROP_DETECT_INTERVAL,
      g_param_spec_int("detect-interval", "Detect interval",
                       "Run the detector every N frames "
                       "and follow faces in between (1 = every frame); faces are embedded only "
                       "on frames where they were detected",
                       1, kMaxInterval, siamese::kDefaultDetectInterval, playing));
  g_object_class_install_property(
      gobject_class, PROP_REVERIFY_INTERVAL,
      g_param_spec_int("reverify-interval", "Reverify interval",
                       "Embed a verified face again "
                       "every N frames, at the next detection (0 = only when grown markedly); "
                       "a face not verified yet is embedded at every detection",
                       0, kMaxInterval, siamese::kDefaultReverifyInterval, playing));
  g_object_class_install_property(
      gobject_class, PROP_TEMPLATE_SIZE,
      g_param_spec_int("template-size", "Template size",
                       "A track is matched by the mean of its "
                       "latest N embeddings, which evens out the detector's jitter (1 = each "
                       "embedding alone)",
                       1, siamese::kMaxTemplateSize, siamese::kDefaultTemplateSize, playing));
  g_object_class_install_property(
      gobject_class, PROP_CLAIMED_IDENTITY,
      g_param_spec_string("claimed-identity", "Claimed identity",
                          "1:1 mode: a face is "
                          "verified only if it matches this enrolled identity; unset = 1:N "
                          "identification",
                          nullptr, playing));
  g_object_class_install_property(
      gobject_class, PROP_MESSAGE,
      g_param_spec_enum("message", "Message",
                        "Which bus messages to post (decision-change "
                        "messages are posted unless none)",
                        GST_TYPE_FACE_VERIFY_MESSAGE_MODE, static_cast<gint>(kDefaultMessageMode),
                        playing));
  g_object_class_install_property(gobject_class, PROP_THREADS,
                                  g_param_spec_int("threads", "Threads",
                                                   "CPU inference threads (process-wide); 0 = "
                                                   "LibTorch's default",
                                                   0, kMaxThreads, kDefaultThreads, ready));
  g_object_class_install_property(
      gobject_class, PROP_CONFIRM_FRAMES,
      g_param_spec_string("confirm-frames", "Confirm frames",
                          "\"N/M\": a track is verified "
                          "when N of its last M embeddings match the same identity; it loses "
                          "the decision when most of the M disagree (1 <= N <= M <= 64)",
                          kDefaultConfirmFrames, playing));
  g_object_class_install_property(
      gobject_class, PROP_MARGIN,
      g_param_spec_float("margin", "Margin",
                         "Distance by which the best identity must beat "
                         "the runner-up to count; -1 = 0.1 x threshold",
                         -1.0f, kMaxDistance, kDefaultMarginProperty, playing));
  g_object_class_install_property(
      gobject_class, PROP_PRECISION,
      g_param_spec_enum("precision", "Precision",
                        "Arithmetic of the forward pass; fp16 (half precision) only with a "
                        "CUDA device",
                        GST_TYPE_FACE_VERIFY_PRECISION, static_cast<gint>(kDefaultPrecision),
                        ready));
  g_object_class_install_property(
      gobject_class, PROP_MODEL_INSTANCE_ID,
      g_param_spec_string("model-instance-id", "Model instance id",
                          "Elements of one process with the same id (and the same model, "
                          "device, precision and batch-size) share one loaded model, its "
                          "landmark network and, with detector=cnn, one CNN detector (at one "
                          "detector-input-size), and batch their faces and frames into one "
                          "forward pass per network; unset = this element's own networks",
                          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_GALLERY_ERROR_TIMEOUT,
      g_param_spec_uint("gallery-error-timeout", "Gallery error timeout",
                        "Seconds the gallery may stay unreadable or untrusted (nobody is "
                        "verified meanwhile, with a warning) before the element posts an "
                        "error; 0 = never post an error, keep verifying nobody",
                        0, kMaxGalleryErrorTimeoutS, kDefaultGalleryErrorTimeoutS, ready));
  g_object_class_install_property(
      gobject_class, PROP_SEARCH,
      g_param_spec_enum("search", "Search",
                        "How each face is compared with the gallery: every row (exact), or an "
                        "IVF index (ivf: approximate, needs a build with FAISS; for galleries "
                        "of about a million embeddings)",
                        GST_TYPE_FACE_VERIFY_SEARCH, static_cast<gint>(kDefaultSearch), ready));
  g_object_class_install_property(
      gobject_class, PROP_SEARCH_PROBES,
      g_param_spec_int("search-probes", "Search probes",
                       "search=ivf: inverted lists searched per face (more: closer to exact, "
                       "slower)",
                       1, kMaxSearchProbes, kDefaultSearchProbes, ready));
}

bool set_setting(Settings& s, guint prop_id, const GValue* value, std::string* refused) {
  switch (prop_id) {
    case PROP_MODEL:
      set_string(s.model, value);
      break;
    case PROP_GALLERY:
      set_string(s.gallery, value);
      break;
    case PROP_THRESHOLD:
      s.threshold = g_value_get_float(value);
      break;
    case PROP_DEVICE:
      set_string(s.device, value);
      break;
    case PROP_BATCH_SIZE:
      s.batch_size = g_value_get_int(value);
      break;
    case PROP_BATCH_FRAMES:
      s.batch_frames = g_value_get_int(value);
      break;
    case PROP_DETECTOR:
      s.detector = static_cast<sg::DetectorKind>(g_value_get_enum(value));
      break;
    case PROP_DETECTOR_FILE:
      set_string(s.detector_file, value);
      break;
    case PROP_MIN_FACE_SIZE:
      s.min_face_size = g_value_get_int(value);
      break;
    case PROP_DETECTOR_THRESHOLD:
      s.detector_threshold = g_value_get_double(value);
      break;
    case PROP_DETECTOR_INPUT_SIZE: {
      const int size = g_value_get_int(value);
      if (size % 32 != 0) {
        *refused = "ignoring detector-input-size " + std::to_string(size) +
                   ": not a multiple of 32 (416, 320, 224, ...)";
      } else {
        s.detector_input_size = size;
      }
      break;
    }
    case PROP_SCALE_FACTOR:
      s.scale_factor = g_value_get_double(value);
      break;
    case PROP_DETECT_INTERVAL:
      s.detect_interval = g_value_get_int(value);
      break;
    case PROP_REVERIFY_INTERVAL:
      s.reverify_interval = g_value_get_int(value);
      break;
    case PROP_TEMPLATE_SIZE:
      s.template_size = g_value_get_int(value);
      break;
    case PROP_CLAIMED_IDENTITY:
      set_string(s.claimed_identity, value);
      break;
    case PROP_MESSAGE:
      s.message = static_cast<sg::MessageMode>(g_value_get_enum(value));
      break;
    case PROP_THREADS:
      s.threads = g_value_get_int(value);
      break;
    case PROP_CONFIRM_FRAMES: {
      const gchar* text = g_value_get_string(value);
      siamese::DecisionOptions check;
      try {
        siamese::parse_confirm_frames(text ? text : "", check);
        s.confirm_frames = text;
      } catch (const std::exception& e) {
        *refused = std::string("ignoring confirm-frames: ") + e.what();
      }
      break;
    }
    case PROP_MARGIN:
      s.margin = g_value_get_float(value);
      break;
    case PROP_PRECISION:
      s.precision = static_cast<siamese::Precision>(g_value_get_enum(value));
      break;
    case PROP_MODEL_INSTANCE_ID:
      set_string(s.model_instance_id, value);
      break;
    case PROP_GALLERY_ERROR_TIMEOUT:
      s.gallery_error_timeout_s = static_cast<int>(g_value_get_uint(value));
      break;
    case PROP_SEARCH:
      s.search = static_cast<sg::SearchKind>(g_value_get_enum(value));
      break;
    case PROP_SEARCH_PROBES:
      s.search_probes = g_value_get_int(value);
      break;
    default:
      return false;
  }
  return true;
}

bool get_setting(const Settings& s, guint prop_id, GValue* value) {
  auto str = [](const std::string& text) { return text.empty() ? nullptr : text.c_str(); };
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string(value, str(s.model));
      break;
    case PROP_GALLERY:
      g_value_set_string(value, str(s.gallery));
      break;
    case PROP_THRESHOLD:
      g_value_set_float(value, s.threshold);
      break;
    case PROP_DEVICE:
      g_value_set_string(value, s.device.c_str());
      break;
    case PROP_BATCH_SIZE:
      g_value_set_int(value, s.batch_size);
      break;
    case PROP_BATCH_FRAMES:
      g_value_set_int(value, s.batch_frames);
      break;
    case PROP_DETECTOR:
      g_value_set_enum(value, static_cast<gint>(s.detector));
      break;
    case PROP_DETECTOR_FILE:
      g_value_set_string(value, str(s.detector_file));
      break;
    case PROP_MIN_FACE_SIZE:
      g_value_set_int(value, s.min_face_size);
      break;
    case PROP_DETECTOR_THRESHOLD:
      g_value_set_double(value, s.detector_threshold);
      break;
    case PROP_DETECTOR_INPUT_SIZE:
      g_value_set_int(value, s.detector_input_size);
      break;
    case PROP_SCALE_FACTOR:
      g_value_set_double(value, s.scale_factor);
      break;
    case PROP_DETECT_INTERVAL:
      g_value_set_int(value, s.detect_interval);
      break;
    case PROP_REVERIFY_INTERVAL:
      g_value_set_int(value, s.reverify_interval);
      break;
    case PROP_TEMPLATE_SIZE:
      g_value_set_int(value, s.template_size);
      break;
    case PROP_CLAIMED_IDENTITY:
      g_value_set_string(value, str(s.claimed_identity));
      break;
    case PROP_MESSAGE:
      g_value_set_enum(value, static_cast<gint>(s.message));
      break;
    case PROP_THREADS:
      g_value_set_int(value, s.threads);
      break;
    case PROP_CONFIRM_FRAMES:
      g_value_set_string(value, s.confirm_frames.c_str());
      break;
    case PROP_MARGIN:
      g_value_set_float(value, s.margin);
      break;
    case PROP_PRECISION:
      g_value_set_enum(value, static_cast<gint>(s.precision));
      break;
    case PROP_MODEL_INSTANCE_ID:
      g_value_set_string(value, str(s.model_instance_id));
      break;
    case PROP_GALLERY_ERROR_TIMEOUT:
      g_value_set_uint(value, static_cast<guint>(s.gallery_error_timeout_s));
      break;
    case PROP_SEARCH:
      g_value_set_enum(value, static_cast<gint>(s.search));
      break;
    case PROP_SEARCH_PROBES:
      g_value_set_int(value, s.search_probes);
      break;
    default:
      return false;
  }
  return true;
}

}  // namespace siamese::gst
