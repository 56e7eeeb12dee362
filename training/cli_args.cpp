#include "cli_args.h"

#include <cerrno>
#include <cstdlib>

#include "siamese/errors.h"

namespace siamese::training {

CliArgs::CliArgs(int argc, const char* const* argv, const std::vector<FlagSpec>& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw UsageError("unexpected argument '" + arg + "' (flags start with --)");
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& f : flags) {
      if (f.name == name) spec = &f;
    }
    if (!spec) throw UsageError("unknown flag --" + name);
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
      value = argv[++i];
    } else if (!spec->takes_value && inline_value) {
      throw UsageError("--" + name + " takes no value");
    }
    if (values_.count(name)) throw UsageError("--" + name + " is given twice");
    values_[name] = value;
  }
}

std::string CliArgs::text(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string CliArgs::required(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) throw UsageError("--" + name + " is required");
  return it->second;
}

long CliArgs::integer(const std::string& name, long fallback, long min, long max) const {
  if (!has(name)) return fallback;
  const std::string& v = values_.at(name);
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < min || n > max) {
    throw UsageError("--" + name + ": '" + v + "' is not an integer in " + std::to_string(min) +
                     ".." + std::to_string(max));
  }
  return n;
}

double CliArgs::number(const std::string& name, double fallback, double min, double max) const {
  if (!has(name)) return fallback;
  const std::string& v = values_.at(name);
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !(x > min) || x > max) {
    throw UsageError("--" + name + ": '" + v + "' is not a number above " + std::to_string(min) +
                     " and at most " + std::to_string(max));
  }
  return x;
}

std::string CliArgs::choice(const std::string& name, const std::string& fallback,
                            const std::vector<std::string>& choices) const {
  if (!has(name)) return fallback;
  const std::string& v = values_.at(name);
  std::string list;
  for (const auto& c : choices) {
    if (c == v) return v;
    list += (list.empty() ? "" : ", ") + c;
  }
  throw UsageError("--" + name + ": '" + v + "' is not one of " + list);
}

DetectorOptions detector_options_of(const CliArgs& args, torch::Device device) {
  DetectorOptions options;
  options.set_kind(args.choice("detector", "haar", {"haar", "lbp", "cnn"}));
  options.set_threshold(args.number("detector-threshold", kDefaultDetectorThreshold, 0.0, 1.0))
      .set_input_size(static_cast<int>(args.integer("detector-input-size",
                                                    kDefaultDetectorInputSize,
                                                    kMinDetectorInputSize, kMaxDetectorInputSize)))
      .set_device(device);
  try {
    check_tiny_face_detector_options(TinyFaceDetectorOptions()
                                         .set_input_size(options.input_size)
                                         .set_score_threshold(options.threshold));
  } catch (const InputError& e) {
    throw UsageError(std::string("--") + e.what());
  }
  return options;
}

}  // namespace siamese::training
