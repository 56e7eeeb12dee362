// siamese-enroll's command line: the subcommands (add, list, bind, remove, rename, identify,
// verify, compare, threshold, calibrate), the flags each accepts, declared once with their ranges,
// and the --help text.
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
      "  --gallery FILE       gallery database; `add` creates it with mode 0600; or a\n"
      "                       PostgreSQL URI postgresql://USER@HOST/DB shared by a fleet\n"
      "  --from, --to         migrate: copy a gallery (SQLite <-> PostgreSQL) in one\n"
      "                       transaction; --replace: a target that holds identities too\n"
      "  --name NAME          add: DIR itself (or image files) is this one identity;\n"
      "                       otherwise each subfolder of DIR is an identity\n"
      "  --no-detect          each image is already a cropped face (e.g. the AT&T faces)\n"
      "  --largest-face       take the largest face of an image with several faces\n"
      "  --detector KIND      haar (default) or lbp: the opencv-data cascades; cnn: face-api's\n"
      "                       TinyFaceDetector on --device (tests/fetch_weights.sh); hog:\n"
      "                       dlib's HOG detector (libdlib-dev). cnn and hog search photos as\n"
      "                       they are (head crops on a background)\n"
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
      "  bind                 record --model's preprocessing (crop, alignment, flip-average)\n"
      "                       in a gallery written before galleries recorded it, which is\n"
      "                       refused until then; only when --model enrolled it (else use\n"
      "                       add --rebuild)\n"
      "  --keep-crops DIR     add: write the enrolled crops (what the model saw) for audit\n"
      "  --from-track AUDIT.db:TRACK  add NAME: enroll the face crop siamese-access-control\n"
      "                       kept (--keep-crops) of a denied track, read from its audit log;\n"
      "                       --camera CAMERA where several cameras share the log\n"
      "  --not NAME           add: the images are negative anchors, faces that must never\n"
      "                       verify as NAME (a relative, a poster, a known impostor): a face\n"
      "                       nearer to them than to NAME is not NAME; --not '*' (the\n"
      "                       reserved set 'anyone'): a face nearer to them than to its best\n"
      "                       identity verifies as nobody. `remove NAME` removes them too\n"
      "  threshold NAME T     NAME's own threshold (used instead of the gallery's for NAME;\n"
      "                       an explicit --threshold / threshold property still wins; the\n"
      "                       margin stays 0.1 x it); T = auto clears it\n"
      "  --strangers          calibrate: the DIRs are strangers' faces (each DIR's images and\n"
      "                       its subfolders'), embedded as enrollment embeds\n"
      "  --apply              calibrate: store the proposed thresholds (one transaction)\n"
      "  --plot FILE.png      calibrate: the genuine, other-person and stranger distance\n"
      "                       distributions with the proposed thresholds\n"
      "  calibrate's rule, per person: ceiling = the nearer of the nearest other enrolled\n"
      "  person and the nearest stranger; cap = ceiling / 1.1 (the nearest impostor stays out\n"
      "  by the decision margin); proposed = halfway between the genuine (leave-one-out) max\n"
      "  and cap, or cap, flagged '!', when the genuine max is not below it. Outlier photos:\n"
      "  median distance to the person's others > 1.5 x their typical, or nearer to another\n"
      "  person than to their own\n"
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
                                          Flag::on_off("rebuild"), Flag::on_off("replace"),
                                          Flag::text("not"), Flag::text("from-track"),
                                          Flag::text("camera"), json},
         0, cli::kAnyNumber,
         "add --model MODEL --gallery DB [--name NAME | --not NAME|'*'] [--no-detect] "
         "[--threshold T|strict] [--largest-face] [--keep-crops DIR] [--rebuild] [--replace] "
         "[--json] DIR... | add NAME --from-track AUDIT.db:TRACK [--camera CAMERA]"},
        {"list",
         {gallery, cli::flags::model(), json},
         0,
         0,
         "list --gallery DB [--model MODEL] [--json]"},
        {"bind", {gallery, cli::flags::model()}, 0, 0, "bind --model MODEL --gallery DB"},
        {"remove", {gallery}, 1, 1, "remove --gallery DB NAME"},
        {"rename", {gallery}, 2, 2, "rename --gallery DB OLD NEW"},
        {"migrate",
         {Flag::text("from"), Flag::text("to"), Flag::on_off("replace")},
         0,
         0,
         "migrate --from DB|postgresql://... --to DB|postgresql://... [--replace]"},
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
        {"threshold", {gallery}, 2, 2, "threshold --gallery DB NAME T|auto"},
        {"calibrate",
         face_flags() + std::vector<Flag>{gallery, Flag::on_off("strangers"), Flag::on_off("apply"),
                                          Flag::text("plot"), json},
         0, cli::kAnyNumber,
         "calibrate --model MODEL --gallery DB [--strangers DIR...] [--apply] [--plot FILE.png] "
         "[--no-detect] [--json]"},
    };
    return cli::Program{"siamese-enroll", usage_text(commands), commands};
  }();
  return program;
}

}  // namespace siamese::enroll
