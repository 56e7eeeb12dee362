// Command-line parsing of siamese-enroll: a subcommand, its flags (--flag VALUE, --flag=VALUE,
// boolean --flag) and positional arguments, checked against the subcommand's table.
// Thread-safety: plain values.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace siamese::enroll {

/// A wrong command line: the program prints it with a hint and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The flags one subcommand accepts.
struct CommandSpec {
  std::string name;
  std::string synopsis;                  // one usage line without the program name
  std::vector<std::string> value_flags;  // take a value: "--model"
  std::vector<std::string> bool_flags;   // switches: "--json"
  int min_positionals = 0;
  int max_positionals = -1;  // -1 = any number
};

/// The table of subcommands (add, list, remove, rename, identify, verify, compare).
const std::vector<CommandSpec>& command_specs();

/// The full --help text.
std::string usage_text();

class Args {
 public:
  /// Parses argv (argv[1] is the subcommand); throws UsageError for anything not in the table.
  static Args parse(int argc, const char* const* argv);

  const std::string& command() const { return command_; }
  bool help() const { return help_; }
  const std::vector<std::string>& positionals() const { return positionals_; }

  /// True when the switch or value flag was given.
  bool has(const std::string& flag) const;
  /// The flag's value (the last one when repeated).
  std::optional<std::string> value(const std::string& flag) const;
  /// The flag's value; throws UsageError naming the flag when it is missing.
  std::string required(const std::string& flag) const;
  std::string value_or(const std::string& flag, const std::string& fallback) const;
  /// An integer flag in [min, max]; throws UsageError naming the flag otherwise.
  int int_value(const std::string& flag, int fallback, int min, int max) const;
  /// A finite float flag >= min; nullopt when absent; throws UsageError naming the flag.
  std::optional<float> float_value(const std::string& flag, float min) const;

 private:
  std::string command_;
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::vector<std::string> switches_;
  std::vector<std::string> positionals_;
};

}  // namespace siamese::enroll
