// Command-line flags of siamese-train and siamese-eval: "--flag value" or "--flag=value",
// checked against the flags a program declares. Problems are UsageError (exit status 2).
// Thread-safety: a plain value.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "siamese/detector.h"

namespace siamese::training {

/// A wrong command line: unknown flag, missing or malformed value, conflicting flags.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string name;  // without the leading dashes
  bool takes_value = true;
};

class CliArgs {
 public:
  /// Parses argv[1..]; throws UsageError for unknown flags, missing values and positionals.
  CliArgs(int argc, const char* const* argv, const std::vector<FlagSpec>& flags);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  /// The value of a flag, or fallback when absent.
  std::string text(const std::string& name, const std::string& fallback = "") const;
  /// The value of a flag that must be given; throws UsageError naming it.
  std::string required(const std::string& name) const;
  /// An integer value in [min, max]; throws UsageError naming the flag otherwise.
  long integer(const std::string& name, long fallback, long min, long max) const;
  /// A number value in (min, max]; throws UsageError naming the flag otherwise.
  double number(const std::string& name, double fallback, double min, double max) const;
  /// One of choices; throws UsageError listing them otherwise.
  std::string choice(const std::string& name, const std::string& fallback,
                     const std::vector<std::string>& choices) const;

 private:
  std::map<std::string, std::string> values_;
};

/// The detector that --detector haar|lbp|cnn, --detector-threshold T and --detector-input-size N
/// choose (flags shared with siamese-enroll), the CNN on device; UsageError naming a bad value.
DetectorOptions detector_options_of(const CliArgs& args, torch::Device device);

}  // namespace siamese::training
