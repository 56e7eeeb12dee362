// The command-line layer of every program (siamese-train, siamese-enroll, the samples and the
// benchmarks): flags declared once with their type and inclusive range, one parser, one
// run_main() with the same messages and exit statuses (0 done, 1 error, 2 usage), and the
// "s1-s10" name-list grammar. No LibTorch, no GStreamer. Thread-safety: plain values.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "siamese/errors.h"

namespace siamese::cli {

/// A wrong command line (unknown or repeated flag, bad value, missing argument): exit status 2.
/// An InputError, so library code that reads a flag's text may throw it too.
class UsageError : public InputError {
 public:
  using InputError::InputError;
};

enum class FlagKind { kSwitch, kText, kInteger, kNumber, kChoice };

/// One flag a program accepts, "--name VALUE", "--name=VALUE" or a switch "--name". Its value
/// is checked when the command line is parsed; ranges are inclusive.
struct Flag {
  std::string name;  // without the leading dashes
  FlagKind kind = FlagKind::kText;
  double min = 0, max = 0;           // kInteger, kNumber
  std::vector<std::string> choices;  // kChoice

  /// A flag without a value.
  static Flag on_off(std::string name);
  /// A flag with any text as its value.
  static Flag text(std::string name);
  /// A whole number in [min, max].
  static Flag integer(std::string name, long min, long max);
  /// A finite number in [min, max].
  static Flag number(std::string name, double min, double max);
  /// One of the words in choices.
  static Flag choice(std::string name, std::vector<std::string> choices);
};

constexpr int kAnyNumber = -1;

/// What one program, or one subcommand of a program, accepts.
struct Command {
  std::string name;  // the subcommand ("add"), or empty for a program without subcommands
  std::vector<Flag> flags;
  int min_positionals = 0;
  int max_positionals = 0;  // kAnyNumber = no limit
  std::string synopsis;     // shown when the positionals are wrong, e.g. "remove --gallery DB NAME"
};

/// A program: its name in messages, its --help text and its command (or subcommands).
struct Program {
  std::string name;
  std::string usage;
  std::vector<Command> commands;  // one without a name, or the subcommands

  bool has_subcommands() const { return !commands.empty() && !commands.front().name.empty(); }
  /// Every flag of every command, each name once, in declaration order.
  std::vector<Flag> all_flags() const;
};

/// A parsed command line. Getters take the flag's name without dashes; asking for a flag the
/// command does not declare is a programming error (std::logic_error).
class Args {
 public:
  /// Parses argv[1..]: argv[1] picks the subcommand when the program has them. "--" ends the
  /// flags. --help and -h (anywhere) and --list-flags (the declared flags, one a line, for tests
  /// and shell completion) set help()/list_flags() and skip the other checks. Throws UsageError
  /// naming the flag: unknown, repeated, missing or unwanted value, value out of its range.
  static Args parse(const Program& program, int argc, const char* const* argv);

  const std::string& command() const { return command_.name; }
  const std::vector<std::string>& positionals() const { return positionals_; }
  bool help() const { return help_; }
  bool list_flags() const { return list_flags_; }

  /// True when the command declares the flag.
  bool declares(const std::string& name) const;
  /// True when the flag was given.
  bool has(const std::string& name) const;
  /// The flag's text, or nullopt when it was not given.
  std::optional<std::string> value(const std::string& name) const;
  /// The flag's text, or fallback when it was not given.
  std::string text(const std::string& name, const std::string& fallback = "") const;
  /// The flag's non-empty text; throws UsageError naming the flag when it is missing.
  std::string required(const std::string& name) const;
  /// An integer flag's value (range checked by parse), or fallback.
  long integer(const std::string& name, long fallback) const;
  /// A number flag's value (range checked by parse), or fallback.
  double number(const std::string& name, double fallback) const;
  /// A number flag's value, or nullopt when it was not given.
  std::optional<double> number(const std::string& name) const;
  /// A comma list of whole numbers in [min, max] (parse_integer_list), or fallback's when the
  /// flag was not given.
  std::vector<int> integer_list(const std::string& name, const std::string& fallback, long min,
                                long max) const;
  /// Throws UsageError when both flags were given ("--a and --b contradict each other").
  void exclusive(const std::string& a, const std::string& b) const;

 private:
  const Flag& declared(const std::string& name) const;

  Command command_;
  std::string program_;
  std::vector<std::pair<std::string, std::string>> values_;  // in command-line order
  std::vector<std::string> positionals_;
  bool help_ = false;
  bool list_flags_ = false;
};

/// text as an integer in [min, max]; UsageError naming flag and text otherwise.
long parse_integer(const std::string& flag, const std::string& text, long min, long max);
/// text as a finite number in [min, max]; UsageError naming flag and text otherwise.
double parse_number(const std::string& flag, const std::string& text, double min, double max);

/// A comma list of whole numbers in [min, max], ranges allowed ("1,8,32", "1-4"), for flags such
/// as --batches; UsageError naming flag for an empty list or a bad item.
std::vector<long> parse_integer_list(const std::string& flag, const std::string& text, long min,
                                     long max);

/// v with digits decimals ("0.250"): how the programs print figures.
std::string fixed(double v, int digits);

/// Parses the command line and runs body with it; prints program.usage for --help. Catches
/// once: UsageError -> "PROGRAM: error: MESSAGE" and a hint to --help on stderr, 2; any other
/// exception -> "PROGRAM: error: MESSAGE", 1 (messages escaped to one printable line). Returns
/// body's status otherwise.
int run_main(const Program& program, int argc, const char* const* argv,
             const std::function<int(const Args&)>& body);

/// Expands a comma list of names and ranges: "s1-s10", "s1,s3,s7-s9", "6-10", "s1-10". A range
/// needs the same prefix on both ends and at most 100000 names; an item for which is_name
/// returns true is taken as it is ("jean-2" as a folder name). Throws UsageError naming flag for
/// an empty list or a bad range.
std::vector<std::string> expand_list(const std::string& text, const std::string& flag,
                                     const std::function<bool(const std::string&)>& is_name = {});

/// The flags several programs share, with the element's property ranges (siamese/limits.h).
namespace flags {
Flag model();                // --model FILE
Flag gallery();              // --gallery FILE
Flag device();               // --device auto|cpu|cuda[:N], checked by the core
Flag threads();              // --threads N in [0, kMaxThreads]
Flag batch_size();           // --batch-size N in [1, kMaxBatchSize]
Flag detector();             // --detector haar|lbp|cnn|hog
Flag detector_file();        // --detector-file XML
Flag detector_threshold();   // --detector-threshold T in [kMinDetectorThreshold, kMax...]
Flag detector_input_size();  // --detector-input-size N in [kMinDetectorInputSize, kMax...]
Flag min_face_size();        // --min-face-size PX in [kMinMinFaceSize, kMaxMinFaceSize]
Flag threshold();            // --threshold T in [0, kMaxDistanceThreshold]
Flag json();                 // --json
/// --model --device --threads --batch-size: what loading an embedder reads.
std::vector<Flag> embedder();
/// --detector --detector-threshold --detector-input-size: what choosing a detector reads.
std::vector<Flag> face_detector();
/// --align --align-points --align-mirror --no-align-mirror: a model's alignment facts.
std::vector<Flag> alignment();
}  // namespace flags

/// a followed by b.
std::vector<Flag> operator+(std::vector<Flag> a, const std::vector<Flag>& b);

}  // namespace siamese::cli
