// siamese-import: turns a pretrained network from a pinned package (fetched once by
// tests/fetch_weights.sh, checked by sha256) into a model file that every program loads, and
// (--calibrate) measures its impostor tail on faces it is not evaluated on, so the default
// threshold can be sized to a gallery (threshold_policy.h).
#include <torch/torch.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "dataset.h"
#include "identity_split.h"
#include "lfw_pairs.h"
#include "siamese/cli.h"
#include "siamese/cli_core_flags.h"
#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/model_file.h"
#include "siamese/pretrained.h"
#include "siamese/text_safety.h"
#include "validation.h"

namespace {

namespace cli = siamese::cli;
namespace st = siamese::training;

constexpr const char* kProgram = "siamese-import";
// dlib's network was trained on aligned chips: on LFW View 2 with CNN boxes aligned crops
// scored 98.18% against 95.42% framed (README, "Landmarks and alignment").
constexpr siamese::Align kDefaultAlign = siamese::Align::kLandmarks68;

constexpr const char* kUsage = R"(usage: siamese-import face-api [DIR] --out MODEL

Imports a pretrained network from a pinned package and writes a model file that siamese-eval,
siamese-enroll and the faceverify element load like any other (architecture, input, threshold,
origin and licence recorded in it).

  face-api [DIR]   the face recognition network of @vladmandic/face-api 1.7.15: dlib's ResNet by
                   Davis King (150x150 RGB in, 128-D out, Euclidean distance, threshold 0.6).
                   DIR holds the package's files as tests/fetch_weights.sh caches them; default:
                   $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/
                   face-api-1.7.15. Their sha256 must match the pinned values.
  --out MODEL      the model file to write
  --crop W,H,SHIFT how a face detector's box is framed for this network: width and height
                   factors and the centre's vertical shift in box heights (negative = up);
                   default 1,1,0.1 (the box moved down a tenth of its height,
                   measured best on LFW with OpenCV's Haar boxes)
  --align none|landmarks68   landmarks68 (the default) cuts faces out along face-api's 68
                   landmarks (fitted onto dlib's 150x150 chip template, padding 0.25, see
                   --align-points) and needs the landmark network's files; none frames
                   the detector's box as --crop says. Aligned measured better: LFW View 2 on
                   CNN boxes 98.18% against 95.42% (README)
  --align-points dlib33|five
                   with landmarks68: the landmarks fitted onto the template. dlib33 (the
                   default) fits the 33 that dlib's get_face_chip_details fits (nose, eyes,
                   upper lip); five fits eye centres, nose tip and mouth corners. Recorded as
                   input.crop.align_points. dlib33 measured better: LFW View 2 on CNN boxes
                   98.83% against 98.60%, on Haar boxes 98.90% against 98.83% (README)
  --align-mirror, --no-align-mirror
                   with landmarks68: the landmark passes also run on each face mirrored
                   left-right and the two views' points are averaged (default: on, recorded in
                   the model file as input.crop.align_mirror; it doubles the landmark network's
                   work). On measured better: LFW View 2 on Haar boxes 98.77% off against 98.83%
                   on, within the noise (README)
  --flip-average, --no-flip-average
                   embed each face and its mirror image and keep the mean, wherever the model
                   is used (default: on; it doubles the network's work per face). On measured
                   better: LFW View 2, aligned Haar boxes, 98.60% off against 98.77% on (README)
low false-accept calibration (the package has none; without it the default threshold of a
gallery falls back to the pair threshold 0.6 and says so):
  --calibrate DIR  identity folders (e.g. LFW) whose faces are embedded as the element sees them
                   (detector crops); every pair of different people is an impostor pair, and
                   the lowest impostor distances, AUC, EER and the false-accept points are
                   recorded in the model's validation facts (its threshold stays 0.6). Use
                   people the model will not be evaluated on
  --calibrate-identities LIST   which identities of DIR, e.g. "s11-s20,s31-s40" (default all)
  --exclude-pairs FILE          leave out every person of an LFW pairs.txt (LFW View 2 is
                                evaluated on them)
  --help           this text

Exit status: 0 done, 1 error (missing or altered weights, unwritable file), 2 usage error.
)";

// Positionals: SOURCE [DIR], checked by run() to name what is wrong.
const cli::Program kProgramSpec{
    kProgram,
    kUsage,
    {{"",
      std::vector<cli::Flag>{cli::Flag::text("out"), cli::Flag::text("crop"),
                             cli::Flag::text("calibrate"), cli::Flag::text("calibrate-identities"),
                             cli::Flag::text("exclude-pairs"), cli::Flag::on_off("flip-average"),
                             cli::Flag::on_off("no-flip-average")} +
          cli::flags::alignment(),
      0, cli::kAnyNumber, ""}}};

using cli::fixed;

// Embeds the faces of dir (detector crops, as the element sees them) with the imported network
// and records every figure of its validation facts, read at the model's own threshold; appends
// what was used to the origin. Throws FileError/InputError naming the folder or file.
void calibrate(siamese::Network& network, siamese::ModelInfo& info, const std::string& dir,
               const std::string& identities, const std::string& exclude_pairs) {
  st::SplitOptions split_options;
  split_options.data = dir;
  split_options.identities = identities;
  split_options.val_identities = 0;  // every identity calibrates
  std::string excluded;
  if (!exclude_pairs.empty()) {
    split_options.exclude = st::lfw_people(st::read_lfw_pairs(exclude_pairs));
    excluded = ", the " + std::to_string(split_options.exclude.size()) + " people of " +
               exclude_pairs + " left out";
  }
  const st::DataSplit split = st::split_identities(split_options);
  st::DatasetOptions data_options;
  data_options.spec = info.input;
  data_options.detect = true;
  data_options.min_images_per_identity = 1;  // a person with one image still gives impostors
  std::cout << "calibrating on " << split.train.identities.size() << " identities of " << dir
            << excluded << " (detector crops)...\n"
            << std::flush;
  const st::FaceDataset data = st::load_dataset(split.train, data_options);
  // One line, not one per file: most of LFW's skipped photos are faces the detector missed.
  if (!data.skipped.empty()) {
    std::cout << "calibration: left out " << data.skipped.size()
              << " files or folders without a usable face (first: "
              << siamese::escape_for_display(data.skipped.front().path) << ": "
              << data.skipped.front().reason << ")\n";
  }
  const st::Validation v =
      st::validate(network, data, torch::kCPU, siamese::embedding_rule(info), info.threshold);
  if (v.figures.impostor_pairs < 1000) {
    throw siamese::InputError("--calibrate " + dir + ": only " +
                              std::to_string(v.figures.impostor_pairs) +
                              " impostor pairs; give at least 46 faces of different people");
  }
  info.validation = v.figures;
  info.origin +=
      "; impostor calibration (validation facts, impostor_tail): " + std::to_string(data.size()) +
      " faces of " + std::to_string(data.identities.size()) + " people of " + dir +
      (identities.empty() ? "" : " (" + identities + ")") + excluded + ", detector crops, " +
      std::to_string(v.figures.impostor_pairs) + " impostor pairs";
  std::cout << "calibration: " << data.size() << " faces of " << data.identities.size()
            << " people, " << v.figures.impostor_pairs << " impostor pairs, "
            << v.figures.pairs - v.figures.impostor_pairs << " genuine; AUC "
            << fixed(v.figures.auc, 4) << ", EER " << fixed(100 * v.figures.eer, 2)
            << "%, accuracy at " << info.threshold << " " << fixed(100 * v.figures.accuracy, 2)
            << "%; distance at FAR 1e-2 " << fixed(v.figures.threshold_at_far_1e2, 3)
            << ", at FAR 1e-4 " << fixed(v.figures.threshold_at_far_1e4, 3) << "\n";
}

siamese::CropPolicy parse_crop(const std::string& text) {
  siamese::CropPolicy crop;
  char comma1 = 0, comma2 = 0, rest = 0;
  std::istringstream in(text);
  if (!(in >> crop.scale_width >> comma1 >> crop.scale_height >> comma2 >> crop.shift_y) ||
      comma1 != ',' || comma2 != ',' || (in >> rest)) {
    throw cli::UsageError("--crop: expected W,H,SHIFT such as 1.2,1.3,-0.05, got '" + text + "'");
  }
  return crop;
}

int run(const cli::Args& args) {
  const std::vector<std::string>& positional = args.positionals();
  if (positional.empty()) throw cli::UsageError("name what to import: face-api");
  if (positional[0] != "face-api") {
    throw cli::UsageError("unknown source '" + positional[0] + "' (expected face-api)");
  }
  if (positional.size() > 2) throw cli::UsageError("unexpected argument '" + positional[2] + "'");
  const std::string dir = positional.size() == 2 ? positional[1] : siamese::face_api_cache_dir();
  const std::string out = args.required("out");

  siamese::ModelInfo info = siamese::face_api_model_info();
  if (args.has("crop")) {
    info.input.crop = parse_crop(args.text("crop"));
    try {
      siamese::check_input_spec(info.input);
    } catch (const siamese::InputError& e) {
      throw cli::UsageError(std::string("--crop: ") + e.what());
    }
  }
  info.input.crop.align = kDefaultAlign;
  cli::apply_alignment_flags(args, info.input.crop);
  args.exclusive("flip-average", "no-flip-average");
  info.flip_average = !args.has("no-flip-average");
  if (!args.has("calibrate") && (args.has("calibrate-identities") || args.has("exclude-pairs"))) {
    throw cli::UsageError("--calibrate-identities and --exclude-pairs need --calibrate DIR");
  }
  siamese::Network network = siamese::import_face_api(dir);
  // The landmark network's files too, before anything is written (after the recognition
  // network's own check, so that altered weights are named first).
  if (info.input.crop.align != siamese::Align::kNone) {
    siamese::FaceAligner check(info.input.crop, torch::kCPU, dir);
  }
  if (args.has("calibrate")) {
    calibrate(network, info, args.text("calibrate"), args.text("calibrate-identities"),
              args.text("exclude-pairs"));
  }
  siamese::save_model(out, network, info);

  // The file must come back as the same network: architecture rebuilt from its facts, weights
  // under the recorded fingerprint, the same embedding for the same input.
  siamese::LoadedModel loaded = siamese::load_model(out);
  {
    c10::InferenceMode guard;
    const siamese::InputSpec& in = loaded.info.input;
    const int64_t n = 2LL * in.channels * in.height * in.width;
    const torch::Tensor probe =
        (torch::arange(n).remainder(251).to(torch::kFloat32) / 251.0f - 0.5f)
            .reshape({2, in.channels, in.height, in.width});
    network.train(false);
    const float diff =
        (network.forward(probe) - loaded.network.forward(probe)).abs().max().item<float>();
    if (diff != 0.0f) {
      throw siamese::FileError(out,
                               "the written model does not reproduce the imported network "
                               "(max difference " +
                                   std::to_string(diff) + ")");
    }
  }
  std::cout << "imported " << siamese::kFaceApiPackage << " " << siamese::kFaceApiVersion
            << " from " << dir << "\n"
            << "wrote " << out << ": arch " << loaded.info.arch.arch << ", input "
            << loaded.info.input.channels << "x" << loaded.info.input.height << "x"
            << loaded.info.input.width << ", crop " << loaded.info.input.crop.scale_width << ","
            << loaded.info.input.crop.scale_height << "," << loaded.info.input.crop.shift_y
            << ", align " << siamese::align_name(loaded.info.input.crop.align)
            << (loaded.info.input.crop.align == siamese::Align::kNone
                    ? std::string()
                    : std::string(", align-points ") +
                          siamese::align_points_name(loaded.info.input.crop.align_points) +
                          ", align-mirror " + (loaded.info.input.crop.align_mirror ? "on" : "off"))
            << ", flip-average " << (loaded.info.flip_average ? "on" : "off") << ", "
            << loaded.info.embedding_size << "-D, " << siamese::count_parameters(loaded.network)
            << " parameters, threshold " << loaded.info.threshold << ", fingerprint "
            << loaded.info.fingerprint << "\n"
            << "licence: " << loaded.info.licence << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
