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

std::optional<float> threshold_flag(const Args& args) {
  const auto t = args.number("threshold");
  return t ? std::optional<float>(static_cast<float>(*t)) : std::nullopt;
}

int run_command(const Args& args) {
  const std::string& c = args.command();
  if (c == "add") return run_add(args);
  if (c == "list") return run_list(args);
  if (c == "bind") return run_bind(args);
  if (c == "remove") return run_remove(args);
  if (c == "rename") return run_rename(args);
  if (c == "migrate") return run_migrate(args);
  if (c == "identify") return run_identify(args);
  if (c == "verify") return run_verify(args);
  if (c == "compare") return run_compare(args);
  if (c == "threshold") return run_threshold(args);
  if (c == "calibrate") return run_calibrate(args);
  throw UsageError("unknown command '" + c + "'");
}

Embedder load_embedder(const Args& args) {
  const std::string model_path = args.required("model");
  const int batch_size = static_cast<int>(args.integer("batch-size", kDefaultBatchSize));
  cli::apply_threads(args);
  const torch::Device device = cli::device_of(args);
  return Embedder(load_model(model_path), device, batch_size);
}

FaceSource make_face_source(const Args& args, int channels) {
  FaceSourceOptions options;
  options.detect = !args.has("no-detect");
  // The CNN runs on --device; the cascades on the CPU, whatever --device says.
  const bool cnn = options.detect && args.text("detector") == "cnn";
  options.detector = cli::detector_options_of(args, cnn ? cli::device_of(args) : torch::kCPU);
  return FaceSource(options, channels);
}

Gallery open_gallery(const Args& args, const Embedder& embedder, bool create) {
  const std::string path = args.required("gallery");
  try {
    // Readers open read-only: they work on galleries in folders they cannot write.
    return create ? Gallery::open(path, embedder.info(), true)
                  : Gallery::open_reader(path, embedder.info());
  } catch (const MismatchError& e) {
    throw MismatchError(std::string(e.what()) + " [model in use: " + args.required("model") + "]");
  }
}

ThresholdChoice threshold_in_force(const Gallery& gallery, const ModelInfo& model) {
  int64_t embeddings = 0;
  for (const auto& identity : gallery.identities()) embeddings += identity.embedding_count;
  return choose_threshold(std::nullopt, gallery.threshold(), model, embeddings);
}

ThresholdChoice pick_threshold(const Args& args, std::optional<float> gallery_threshold,
                               const ModelInfo& model, int64_t gallery_embeddings) {
  ThresholdChoice choice =
      choose_threshold(threshold_flag(args), gallery_threshold, model, gallery_embeddings);
  if (choice.source == ThresholdSource::kExplicit) choice.description = "--threshold";
  if (!choice.calibrated) std::cerr << "siamese-enroll: warning: " << choice.description << "\n";
  return choice;
}

}  // namespace siamese::enroll
