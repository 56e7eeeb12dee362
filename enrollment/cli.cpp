#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace siamese::enroll {
namespace {

const std::vector<std::string> kModelFlags = {"--model", "--device", "--batch-size", "--threads"};
const std::vector<std::string> kFaceFlags = {"--detector", "--detector-file", "--min-face-size",
                                             "--detector-threshold", "--detector-input-size"};

std::vector<std::string> join(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const CommandSpec& spec_of(const std::string& name) {
  for (const auto& spec : command_specs()) {
    if (spec.name == name) return spec;
  }
  throw UsageError("unknown command '" + name +
                   "' (one of add, list, remove, rename, identify, verify, compare)");
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
  static const std::vector<CommandSpec> specs = {
      {"add",
       "add --model MODEL --gallery DB [--name NAME] [--no-detect] [--threshold T|strict] "
       "[--largest-face] [--keep-crops DIR] [--rebuild] [--replace] [--json] DIR...",
       join({kModelFlags, kFaceFlags, {"--gallery", "--name", "--threshold", "--keep-crops"}}),
       {"--no-detect", "--largest-face", "--rebuild", "--replace", "--json"},
       0,
       -1},
      {"list", "list --gallery DB [--model MODEL] [--json]", {"--gallery", "--model"}, {"--json"},
       0, 0},
      {"remove", "remove --gallery DB NAME", {"--gallery"}, {}, 1, 1},
      {"rename", "rename --gallery DB OLD NEW", {"--gallery"}, {}, 2, 2},
      {"identify",
       "identify --model MODEL --gallery DB [--top K] [--threshold T] [--no-detect] "
       "[--largest-face] [--json] IMAGE...",
       join({kModelFlags, kFaceFlags, {"--gallery", "--top", "--threshold"}}),
       {"--no-detect", "--largest-face", "--json"},
       1,
       -1},
      {"verify",
       "verify --model MODEL --gallery DB --claim NAME [--threshold T] [--no-detect] [--json] "
       "IMAGE",
       join({kModelFlags, kFaceFlags, {"--gallery", "--claim", "--threshold"}}),
       {"--no-detect", "--json"},
       1,
       1},
      {"compare",
       "compare --model MODEL [--show OUT.png] [--threshold T] [--no-detect] [--json] "
       "IMAGE_A IMAGE_B",
       join({kModelFlags, kFaceFlags, {"--show", "--threshold"}}),
       {"--no-detect", "--json"},
       2,
       2},
  };
  return specs;
}

std::string usage_text() {
  std::string text =
      "Usage: siamese-enroll COMMAND [OPTIONS] ...\n"
      "Builds and queries a face gallery (SQLite) for the faceverify element.\n\nCommands:\n";
  for (const auto& spec : command_specs()) text += "  siamese-enroll " + spec.synopsis + "\n";
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
      "  --detector-threshold T  cnn: the score a face needs, in (0, 1) (default 0.5)\n"
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

Args Args::parse(int argc, const char* const* argv) {
  Args args;
  if (argc < 2) throw UsageError("missing command");
  const std::string first = argv[1];
  if (first == "-h" || first == "--help" || first == "help") {
    args.help_ = true;
    return args;
  }
  const CommandSpec& spec = spec_of(first);
  args.command_ = spec.name;
  bool options_done = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
        if (arg == "-h") {
          args.help_ = true;
          continue;
        }
        throw UsageError(spec.name + ": unknown option '" + arg + "'");
      }
      args.positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "--help") {
      args.help_ = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (contains(spec.value_flags, arg)) {
      if (inline_value) {
        args.values_[arg] = *inline_value;
      } else {
        if (i + 1 >= argc) throw UsageError(spec.name + ": " + arg + " needs a value");
        args.values_[arg] = argv[++i];
      }
    } else if (contains(spec.bool_flags, arg)) {
      if (inline_value) throw UsageError(spec.name + ": " + arg + " takes no value");
      args.switches_.push_back(arg);
    } else {
      throw UsageError(spec.name + ": unknown option '" + arg + "'");
    }
  }
  if (args.help_) return args;
  const int n = static_cast<int>(args.positionals_.size());
  if (n < spec.min_positionals || (spec.max_positionals >= 0 && n > spec.max_positionals)) {
    throw UsageError("usage: siamese-enroll " + spec.synopsis);
  }
  return args;
}

bool Args::has(const std::string& flag) const {
  return values_.count(flag) > 0 || contains(switches_, flag);
}

std::optional<std::string> Args::value(const std::string& flag) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::required(const std::string& flag) const {
  const auto v = value(flag);
  if (!v || v->empty()) throw UsageError(command_ + ": " + flag + " is required");
  return *v;
}

std::string Args::value_or(const std::string& flag, const std::string& fallback) const {
  return value(flag).value_or(fallback);
}

int Args::int_value(const std::string& flag, int fallback, int min, int max) const {
  const auto v = value(flag);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0 || n < min || n > max) {
    throw UsageError(command_ + ": " + flag + " must be an integer in [" + std::to_string(min) +
                     ", " + std::to_string(max) + "], not '" + *v + "'");
  }
  return static_cast<int>(n);
}

std::optional<float> Args::float_value(const std::string& flag, float min) const {
  const auto v = value(flag);
  if (!v) return std::nullopt;
  char* end = nullptr;
  const float f = std::strtof(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(f) || f < min) {
    throw UsageError(command_ + ": " + flag + " must be a number >= " + std::to_string(min) +
                     ", not '" + *v + "'");
  }
  return f;
}

}  // namespace siamese::enroll
