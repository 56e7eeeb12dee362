// siamese-eval: verification figures of a model file on an identity-per-folder image tree,
// over all pairs of its images (ROC AUC, EER, TAR at FAR=1%, accuracy at the model's threshold),
// or over the pairs of an LFW View 2 pairs file with that protocol's 10-fold accuracy (--pairs).
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

#include "dataset.h"
#include "identity_split.h"
#include "lfw_protocol.h"
#include "malloc_tuning.h"
#include "plots.h"
#include "siamese/cli_core_flags.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "validation.h"

namespace {

namespace cli = siamese::cli;
namespace st = siamese::training;

constexpr const char* kProgram = "siamese-eval";

constexpr const char* kUsage = R"(usage: siamese-eval --model MODEL --data DIR [options]
       siamese-eval --model MODEL --data LFW --pairs LFW/pairs.txt [--detect] [options]

Embeds every image of DIR (one subfolder per identity) with MODEL and scores all pairs: ROC AUC,
equal error rate, true-accept rate at a 1% false-accept rate, and the accuracy at the threshold
stored in the model (calibrated on validation identities when it was trained).

With --pairs, runs the LFW View 2 protocol instead: only the pairs of the file (10 folds of 300
matched and 300 mismatched pairs, each image embedded once); each fold's accuracy at the
threshold of best accuracy on the other nine folds, their mean and standard error (sample
standard deviation / sqrt(10)); AUC, EER and TAR at FAR 1e-2 and 1e-3 over all pairs. With
--detect, an image where the detector finds no face is cropped at a centre box of 0.472 of its
side (118x118 of LFW's 250x250, the median Haar box there: deep-funneled faces sit at the
centre) as if the detector had found it; their number is printed.

  --model MODEL             a siamese-train model file or a TorchScript module with its facts
  --data DIR                images, one subfolder per identity
  --identities LIST         use only these identities, e.g. "s1-s10" or "s1,s4,s9"
  --pairs FILE              LFW View 2 pairs.txt: the protocol above, images under --data as
                            NAME/NAME_NNNN.jpg
  --detect                  place each image on a background, detect the face and crop it with
                            the model's crop policy (as the element does) instead of using the
                            whole image
  --detector KIND           with --detect: the face detector, haar (default), lbp, cnn or
                            hog. cnn: face-api's TinyFaceDetector (needs
                            tests/fetch_weights.sh); hog: dlib's HOG detector (needs
                            libdlib-dev at build time). Both search photos as they are and
                            place only head crops on a background
  --detector-threshold T    cnn: the score a face needs, in [0.01, 0.99] (default 0.5)
  --detector-input-size N   cnn: its input side, a multiple of 32 (default 416; 320, 224 faster)
  --json                    print one JSON object: auc, eer, tar_at_far_1e-2 (and -1e-4, with
                            their thresholds; 1e-4 needs 10,000 impostor pairs: see
                            impostor_pairs), accuracy, threshold, pairs; with --pairs:
                            mean_accuracy, standard_error, fold_accuracies, fold_thresholds,
                            auc, eer, tar_at_far_1e-2, tar_at_far_1e-3 (and thresholds),
                            accuracy (at the model's threshold), images, no_face
  --roc FILE.png            also draw the ROC curve
  --device auto|cpu|cuda[:N]  (default auto)
  --threads N               CPU threads of LibTorch (default: LibTorch's choice)
  --batch-size N            faces per forward pass (default 32)
  --help                    this text

Exit status: 0 done, 1 error (model, data, device), 2 usage error.
)";

const cli::Program kProgramSpec{
    kProgram,
    kUsage,
    {{"",
      std::vector<cli::Flag>{cli::Flag::text("data"), cli::Flag::text("identities"),
                             cli::Flag::text("pairs"), cli::Flag::on_off("detect"),
                             cli::flags::json(), cli::Flag::text("roc")} +
          cli::flags::embedder() + cli::flags::face_detector(),
      0, 0, ""}}};

using cli::fixed;

// --pairs: the LFW View 2 protocol.
int run_lfw(const cli::Args& args, siamese::LoadedModel model, torch::Device device, int batch) {
  const std::string model_path = model.path;
  const std::string data_dir = args.required("data");
  const st::LfwPairs pairs = st::read_lfw_pairs(args.text("pairs"));
  const siamese::ModelInfo info = model.info;
  siamese::Embedder embedder(std::move(model), device, batch);
  st::LfwEvalOptions options;
  options.detect = args.has("detect");
  options.detector = cli::detector_options_of(args, device);
  int64_t shown = 0;
  options.progress = [&](int64_t done, int64_t total) {
    if (done * 10 / total > shown * 10 / total || done == total) {
      std::cerr << "embedded " << done << "/" << total << " images" << std::endl;
    }
    shown = done;
  };
  const st::LfwEvaluation r = st::evaluate_lfw(embedder, pairs, data_dir, options);
  const int64_t genuine = r.scores.genuine_count();
  const int64_t count = static_cast<int64_t>(r.scores.distance.size());
  const std::string fallback = options.detect ? "centre box 0.472 of the image side (118x118 of "
                                                "250x250), framed as a detector box"
                                              : "none (whole images)";
  if (args.has("roc")) {
    std::ostringstream title;
    title << "LFW View 2, " << count << " pairs: AUC " << fixed(r.auc, 4) << ", accuracy "
          << fixed(100 * r.folds.accuracy.mean, 2) << "%";
    st::save_roc_curve(args.text("roc"), r.scores, title.str());
  }
  if (args.has("json")) {
    nlohmann::json fold_accuracies = nlohmann::json::array();
    nlohmann::json fold_thresholds = nlohmann::json::array();
    for (const auto& f : r.folds.folds) {
      fold_accuracies.push_back(f.accuracy);
      fold_thresholds.push_back(f.threshold);
    }
    const nlohmann::json j = {{"protocol", "lfw-view2"},
                              {"mean_accuracy", r.folds.accuracy.mean},
                              {"standard_error", r.folds.accuracy.standard_error},
                              {"fold_accuracies", fold_accuracies},
                              {"fold_thresholds", fold_thresholds},
                              {"auc", r.auc},
                              {"eer", r.eer.value},
                              {"eer_threshold", r.eer.threshold},
                              {"tar_at_far_1e-2", r.tar_at_far_1e2.value},
                              {"threshold_at_far_1e-2", r.tar_at_far_1e2.threshold},
                              {"tar_at_far_1e-3", r.tar_at_far_1e3.value},
                              {"threshold_at_far_1e-3", r.tar_at_far_1e3.threshold},
                              {"accuracy", r.accuracy_at_model_threshold},
                              {"threshold", info.threshold},
                              {"pairs", count},
                              {"genuine_pairs", genuine},
                              {"folds", pairs.folds},
                              {"images", r.images},
                              {"detect", options.detect},
                              {"no_face", static_cast<int64_t>(r.no_face.size())},
                              {"no_face_fallback", fallback},
                              {"median_box_side", r.median_box_side},
                              {"seconds", r.seconds}};
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::cout << "model: " << model_path << " (arch " << info.arch.arch << ", fingerprint "
            << info.fingerprint << ")\n"
            << "LFW View 2: " << pairs.path << ", " << pairs.folds << " folds, " << count
            << " pairs (" << genuine << " matched), " << r.images << " images embedded once"
            << (options.detect ? " (detector crops)" : " (whole images)") << " in "
            << fixed(r.seconds, 1) << " s\n";
  if (options.detect) {
    std::cout << "no face found in " << r.no_face.size() << " of " << r.images
              << " images: " << fallback << "; detected boxes: median side "
              << fixed(r.median_box_side, 3) << " of the image's\n";
  }
  std::cout << "fold accuracies (threshold from the other folds):";
  for (const auto& f : r.folds.folds) std::cout << " " << fixed(100 * f.accuracy, 2);
  std::cout << "\n"
            << "accuracy     " << fixed(100 * r.folds.accuracy.mean, 2) << " % +- "
            << fixed(100 * r.folds.accuracy.standard_error, 2) << " (standard error)\n"
            << "AUC          " << fixed(r.auc, 4) << "\n"
            << "EER          " << fixed(100 * r.eer.value, 2) << " % (at distance "
            << fixed(r.eer.threshold, 3) << ")\n"
            << "TAR@FAR=1e-2 " << fixed(r.tar_at_far_1e2.value, 4) << "\n"
            << "TAR@FAR=1e-3 " << fixed(r.tar_at_far_1e3.value, 4) << "\n"
            << "accuracy     " << fixed(100 * r.accuracy_at_model_threshold, 2)
            << " % at the model's threshold " << fixed(info.threshold, 3) << "\n";
  if (args.has("roc")) std::cout << "ROC curve: " << args.text("roc") << "\n";
  return 0;
}

int run(const cli::Args& args) {
  const std::string model_path = args.required("model");
  const std::string data_dir = args.required("data");
  const int batch = static_cast<int>(args.integer("batch-size", siamese::kDefaultBatchSize));
  const torch::Device device = cli::device_of(args);
  cli::apply_threads(args);

  if (args.has("pairs") && args.has("identities")) {
    throw cli::UsageError(
        "--identities cannot be combined with --pairs (the pairs file names "
        "the images)");
  }
  siamese::LoadedModel model = siamese::load_model(model_path);
  if (args.has("pairs")) return run_lfw(args, std::move(model), device, batch);
  siamese::ImageFolder folder = siamese::scan_image_folder(data_dir);
  if (args.has("identities")) {
    folder = siamese::select_identities(
        folder,
        st::parse_identity_list(args.text("identities"), folder.identities, "--identities"));
  }
  st::DatasetOptions data_options;
  data_options.spec = model.info.input;
  data_options.detect = args.has("detect");
  data_options.detector = cli::detector_options_of(args, device);
  const st::FaceDataset data = st::load_dataset(folder, data_options);
  st::report_skipped(data, data_dir);

  const siamese::ModelInfo info = model.info;
  siamese::Embedder embedder(std::move(model), device, batch);
  const torch::Tensor embeddings = embedder.embed(data.images);
  const st::Validation v = st::score_embeddings(embeddings, data.labels, info.threshold);
  const int64_t genuine = v.scores.genuine_count();
  const int64_t pairs = static_cast<int64_t>(v.scores.distance.size());

  if (args.has("roc")) {
    std::ostringstream title;
    title << "ROC on " << data.identities.size() << " identities: AUC " << fixed(v.figures.auc, 4)
          << ", EER " << fixed(100 * v.figures.eer, 2) << "%";
    st::save_roc_curve(args.text("roc"), v.scores, title.str());
  }
  if (args.has("json")) {
    nlohmann::json j = siamese::validation_json(v.figures);
    j.erase("impostor_tail");  // 1,024 distances: a model file's business, not this report's
    j.update(nlohmann::json{{"threshold", info.threshold},
                            {"pairs", pairs},
                            {"genuine_pairs", genuine},
                            {"images", data.size()},
                            {"identities", data.identities.size()}});
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::cout << "model: " << model_path << " (arch " << info.arch.arch << ", fingerprint "
            << info.fingerprint << ")\n"
            << "data: " << data_dir << ", " << data.identities.size() << " identities, "
            << data.size() << " images" << (data_options.detect ? " (detector crops)" : "") << ", "
            << pairs << " pairs (" << genuine << " genuine, " << pairs - genuine << " impostor)\n"
            << "AUC          " << fixed(v.figures.auc, 4) << "\n"
            << "EER          " << fixed(100 * v.figures.eer, 2) << " % (at distance "
            << fixed(v.eer_threshold, 3) << ")\n"
            << "TAR@FAR=1%   " << fixed(v.figures.tar_at_far_1e2, 4) << "\n"
            << "accuracy     " << fixed(100 * v.figures.accuracy, 2)
            << " % at the model's threshold " << fixed(info.threshold, 3) << "\n";
  if (args.has("roc")) std::cout << "ROC curve: " << args.text("roc") << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  siamese::training::keep_freed_memory_for_reuse();
  return cli::run_main(kProgramSpec, argc, argv, run);
}
