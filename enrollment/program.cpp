// siamese-enroll's command line: the subcommands (add, list, remove, rename, identify, verify,
// compare), the flags each accepts, declared once with their ranges, and the --help text.
#include "commands.h"

namespace siamese::enroll {
namespace {

// The model, the detector and their device: the flags of every command that embeds faces.
std::vector<cli::Flag> face_flags() {
  return cli::flags::embedder() + cli::flags::face_detector() +
         std::vector<cli::Flag>{cli::flags::detector_file(), cli::flags::min_face_size(),
                                cli::Flag::on_off("no-detect")};
}

std::string usage_text(const std::vector<cli::Command>& commands) {
  std::string text =
      "Usage: siamese-enroll COMMAND [OPTIONS] ...\n"
      "Builds and queries a face gallery (SQLite) for the faceverify element.\n\nCommands:\n";
  for (const auto& spec : commands) text += "  siamese-enroll " + spec.synopsis + "\n";
  text +=
      "\nOptions:\n"
      "  --model FILE         model file written by siamese-train (or TorchScript + facts)\n"
      "  --gallery FILE       gallery database; `add` creates it with mode 0600\n"
      "  --name NAME          add: DIR itself (or image files) is this one identity;\n"
      "                       otherwise each subfolder of DIR is an identity\n"
      "  --no-detect          each image is already a cropped face (e.g. the AT&T faces)\n"
      "  --largest-face       take the largest face of an image with several faces\n"
      "  --detector KIND      haar (default) or lbp: the opencv-data cascades; cnn: face-api's\n"
      "                       TinyFaceDetector on --device (tests/fetch_weights.sh), which\n"
      "                       searches photos as they are (head crops on a background)\n"
      "  --detector-file F    a cascade XML file instead of the default\n"
      "  --detector-threshold T  cnn: the score a face needs, in [0.01, 0.99] (default 0.5)\n"
      "  --detector-input-size N cnn: its input side, a multiple of 32 (default 416)\n"
      "  --min-face-size PX   smallest face to detect, pixels (default 60)\n"
      "  --threshold T        Euclidean distance at or below which a face is verified;\n"
      "                       add: stored as the gallery's threshold (loosening it is up to\n"
      "                       you); identify/verify/compare: overrides it. Default: the\n"
      "                       gallery's stored one, else one sized to the gallery from the\n"
      "                       model's calibration (a stranger's face matches anyone at most\n"
      "                       1% of the time), recomputed as the gallery grows; compare: the\n"
      "                       model's pair threshold. add --threshold strict: the model's\n"
      "                       threshold at a 1e-4 false-accept rate; add --threshold auto:\n"
      "                       clear the stored one (back to the sized default)\n"
      "                       list --model MODEL shows the threshold in force\n"
      "  --replace            add: an identity's old embeddings are replaced (atomically)\n"
      "  --rebuild            add: re-embed the recorded source files with --model\n"
      "  --keep-crops DIR     add: write the enrolled crops (what the model saw) for audit\n"
      "  --top K              identify: list the K nearest identities (default 3)\n"
      "  --claim NAME         verify: the identity claimed (exit 0 verified, 3 rejected)\n"
      "  --show OUT.png       compare: both faces side by side with their dissimilarity\n"
      "  --device D           auto (default), cpu, cuda, cuda:N\n"
      "  --batch-size N       faces per forward pass (default 32)\n"
      "  --threads N          CPU threads for LibTorch (default: LibTorch's choice)\n"
      "  --json               machine-readable output (identify: one object per line and face)\n"
      "\nExit status: 0 success, 1 error (or some files failed; the rest is kept), 2 usage,\n"
      "3 verify: not verified.\n";
  return text;
}

}  // namespace

const cli::Program& enroll_program() {
  using cli::Flag;
  static const cli::Program program = [] {
    const Flag json = cli::flags::json(), gallery = cli::flags::gallery();
    const Flag largest = Flag::on_off("largest-face"), threshold = cli::flags::threshold();
    std::vector<cli::Command> commands = {
        {"add",
         face_flags() + std::vector<Flag>{gallery, Flag::text("name"), Flag::text("threshold"),
                                          Flag::text("keep-crops"), largest,
                                          Flag::on_off("rebuild"), Flag::on_off("replace"), json},
         0, cli::kAnyNumber,
         "add --model MODEL --gallery DB [--name NAME] [--no-detect] [--threshold T|strict] "
         "[--largest-face] [--keep-crops DIR] [--rebuild] [--replace] [--json] DIR..."},
        {"list",
         {gallery, cli::flags::model(), json},
         0,
         0,
         "list --gallery DB [--model MODEL] [--json]"},
        {"remove", {gallery}, 1, 1, "remove --gallery DB NAME"},
        {"rename", {gallery}, 2, 2, "rename --gallery DB OLD NEW"},
        {"identify",
         face_flags() +
             std::vector<Flag>{gallery, Flag::integer("top", 0, 100000), threshold, largest, json},
         1, cli::kAnyNumber,
         "identify --model MODEL --gallery DB [--top K] [--threshold T] [--no-detect] "
         "[--largest-face] [--json] IMAGE..."},
        {"verify", face_flags() + std::vector<Flag>{gallery, Flag::text("claim"), threshold, json},
         1, 1,
         "verify --model MODEL --gallery DB --claim NAME [--threshold T] [--no-detect] [--json] "
         "IMAGE"},
        {"compare", face_flags() + std::vector<Flag>{Flag::text("show"), threshold, json}, 2, 2,
         "compare --model MODEL [--show OUT.png] [--threshold T] [--no-detect] [--json] "
         "IMAGE_A IMAGE_B"},
    };
    return cli::Program{"siamese-enroll", usage_text(commands), commands};
  }();
  return program;
}

}  // namespace siamese::enroll
