#include "commands.h"

#include <nlohmann/json.hpp>

#include "siamese/device.h"
#include "siamese/errors.h"
#include "siamese/model_file.h"

#include <iostream>

namespace siamese::enroll {

std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_command(const Args& args) {
  const std::string& c = args.command();
  if (c == "add") return run_add(args);
  if (c == "list") return run_list(args);
  if (c == "remove") return run_remove(args);
  if (c == "rename") return run_rename(args);
  if (c == "identify") return run_identify(args);
  if (c == "verify") return run_verify(args);
  if (c == "compare") return run_compare(args);
  throw UsageError("unknown command '" + c + "'");
}

Embedder load_embedder(const Args& args) {
  const std::string model_path = args.required("--model");
  const int batch_size = args.int_value("--batch-size", kDefaultBatchSize, 1, 65536);
  set_cpu_threads(args.int_value("--threads", 0, 0, 1024));
  const torch::Device device = resolve_device(args.value_or("--device", "auto"));
  return Embedder(load_model(model_path), device, batch_size);
}

FaceSource make_face_source(const Args& args, int channels) {
  FaceSourceOptions options;
  options.detect = !args.has("--no-detect");
  options.detector.set_kind(args.value_or("--detector", "haar"))
      .set_cascade_file(args.value_or("--detector-file", ""))
      .set_min_face_size(args.int_value("--min-face-size", kDefaultMinFaceSize, 1, 100000));
  const std::string& kind = options.detector.kind;
  if (options.detect && kind != "haar" && kind != "lbp" && kind != "cnn") {
    throw UsageError(args.command() + ": --detector must be haar, lbp or cnn, not '" + kind + "'");
  }
  if (const auto t = args.float_value("--detector-threshold", 0.0f)) {
    options.detector.set_threshold(*t);
  }
  options.detector.set_input_size(args.int_value("--detector-input-size",
                                                 kDefaultDetectorInputSize, kMinDetectorInputSize,
                                                 kMaxDetectorInputSize));
  try {
    check_tiny_face_detector_options(TinyFaceDetectorOptions()
                                         .set_input_size(options.detector.input_size)
                                         .set_score_threshold(options.detector.threshold));
  } catch (const InputError& e) {
    throw UsageError(args.command() + ": --" + e.what());
  }
  if (options.detect && kind == "cnn") {
    options.detector.set_device(resolve_device(args.value_or("--device", "auto")));
  }
  return FaceSource(options, channels);
}

Gallery open_gallery(const Args& args, const Embedder& embedder, bool create) {
  const std::string path = args.required("--gallery");
  try {
    // Readers open read-only: they work on galleries in folders they cannot write.
    return create ? Gallery::open(path, embedder.info(), true)
                  : Gallery::open_reader(path, embedder.info());
  } catch (const MismatchError& e) {
    throw MismatchError(std::string(e.what()) + " [model in use: " + args.required("--model") +
                        "]");
  }
}

ThresholdChoice threshold_in_force(const Gallery& gallery, const ModelInfo& model) {
  int64_t embeddings = 0;
  for (const auto& identity : gallery.identities()) embeddings += identity.embedding_count;
  return choose_threshold(std::nullopt, gallery.threshold(), model, embeddings);
}

ThresholdChoice pick_threshold(const Args& args, std::optional<float> gallery_threshold,
                               const ModelInfo& model, int64_t gallery_embeddings) {
  ThresholdChoice choice = choose_threshold(args.float_value("--threshold", 0.0f),
                                            gallery_threshold, model, gallery_embeddings);
  if (choice.source == ThresholdSource::kExplicit) choice.description = "--threshold";
  if (!choice.calibrated) std::cerr << "siamese-enroll: warning: " << choice.description << "\n";
  return choice;
}

}  // namespace siamese::enroll
