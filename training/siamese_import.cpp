// siamese-import: turns a pretrained network from a pinned package (fetched once by
// tests/fetch_weights.sh, checked by sha256) into a model file that every program loads.
#include <torch/torch.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "siamese/errors.h"
#include "siamese/model_file.h"
#include "siamese/pretrained.h"

namespace {

namespace st = siamese::training;

constexpr const char* kProgram = "siamese-import";

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
  --help           this text

Exit status: 0 done, 1 error (missing or altered weights, unwritable file), 2 usage error.
)";

const std::vector<st::FlagSpec> kFlags = {{"out"}, {"crop"}, {"help", false}};

siamese::CropPolicy parse_crop(const std::string& text) {
  siamese::CropPolicy crop;
  char comma1 = 0, comma2 = 0, rest = 0;
  std::istringstream in(text);
  if (!(in >> crop.scale_width >> comma1 >> crop.scale_height >> comma2 >> crop.shift_y) ||
      comma1 != ',' || comma2 != ',' || (in >> rest)) {
    throw st::UsageError("--crop: expected W,H,SHIFT such as 1.2,1.3,-0.05, got '" + text + "'");
  }
  return crop;
}

int run(int argc, char** argv) {
  // Positionals first (SOURCE [DIR]), then flags.
  std::vector<const char*> flag_argv{argv[0]};
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      flag_argv.push_back(argv[i]);
      if (a.find('=') == std::string::npos && a != "--help" && i + 1 < argc) {
        flag_argv.push_back(argv[++i]);
      }
    } else {
      positional.push_back(a);
    }
  }
  const st::CliArgs args(static_cast<int>(flag_argv.size()), flag_argv.data(), kFlags);
  if (args.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (positional.empty()) throw st::UsageError("name what to import: face-api");
  if (positional[0] != "face-api") {
    throw st::UsageError("unknown source '" + positional[0] + "' (expected face-api)");
  }
  if (positional.size() > 2) throw st::UsageError("unexpected argument '" + positional[2] + "'");
  const std::string dir = positional.size() == 2 ? positional[1] : siamese::face_api_cache_dir();
  const std::string out = args.required("out");

  siamese::ModelInfo info = siamese::face_api_model_info();
  if (args.has("crop")) {
    info.input.crop = parse_crop(args.text("crop"));
    try {
      siamese::check_input_spec(info.input);
    } catch (const siamese::InputError& e) {
      throw st::UsageError(std::string("--crop: ") + e.what());
    }
  }
  siamese::Network network = siamese::import_face_api(dir);
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
            << loaded.info.input.crop.scale_height << "," << loaded.info.input.crop.shift_y << ", "
            << loaded.info.embedding_size << "-D, " << siamese::count_parameters(loaded.network)
            << " parameters, threshold " << loaded.info.threshold << ", fingerprint "
            << loaded.info.fingerprint << "\n"
            << "licence: " << loaded.info.licence << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const st::UsageError& e) {
    std::cerr << kProgram << ": error: " << e.what() << "\n"
              << "Try '" << kProgram << " --help'.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": error: " << e.what() << "\n";
    return 1;
  }
}
