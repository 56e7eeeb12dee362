// Command-line flags of the sample programs: "--flag value" or "--flag=value", checked against
// the flags a program declares; a wrong command line is a UsageError (exit status 2).
// Thread-safety: a plain value.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace siamese::samples {

/// A wrong command line: unknown flag, missing or malformed value.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string name;  // without the leading dashes
  bool takes_value = true;
};

class Flags {
 public:
  /// Parses argv[1..]; throws UsageError for unknown flags, missing values and positionals.
  Flags(int argc, const char* const* argv, const std::vector<FlagSpec>& specs);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  /// The value of a flag, or fallback when absent.
  std::string text(const std::string& name, const std::string& fallback = "") const;
  /// The value of a flag that must be given; throws UsageError naming it.
  std::string required(const std::string& name) const;
  /// An integer in [min, max]; throws UsageError naming the flag otherwise.
  long integer(const std::string& name, long fallback, long min, long max) const;
  /// A number in [min, max]; throws UsageError naming the flag otherwise.
  double number(const std::string& name, double fallback, double min, double max) const;

 private:
  std::map<std::string, std::string> values_;
};

/// Expands "s1-s10", "s1,s3,s7-s9" or "6-10" into names in order ("s1".."s10", "6".."10").
/// A range needs the same prefix on both ends. Throws UsageError naming flag for bad text.
std::vector<std::string> expand_list(const std::string& text, const std::string& flag);

}  // namespace siamese::samples
