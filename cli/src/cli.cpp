#include "siamese/cli.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "siamese/limits.h"
#include "siamese/text_safety.h"

namespace siamese::cli {
namespace {

constexpr long kMaxRangeNames = 100000;

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

const Command& command_of(const Program& program, const std::string& name) {
  std::string names;
  for (const auto& c : program.commands) {
    if (c.name == name) return c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  throw UsageError("unknown command '" + name + "' (one of " + names + ")");
}

const Flag* find_flag(const std::vector<Flag>& flags, const std::string& name) {
  for (const auto& f : flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Throws UsageError when text is not a value of f.
void check_value(const Flag& f, const std::string& text) {
  const std::string flag = "--" + f.name;
  switch (f.kind) {
    case FlagKind::kInteger:
      parse_integer(flag, text, static_cast<long>(f.min), static_cast<long>(f.max));
      return;
    case FlagKind::kNumber:
      parse_number(flag, text, f.min, f.max);
      return;
    case FlagKind::kChoice:
      if (std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
        std::string list;
        for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
        throw UsageError(flag + ": '" + text + "' is not one of " + list);
      }
      return;
    default:
      return;
  }
}

// "s12" -> ("s", 12); false when the text does not end in digits.
bool split_number(const std::string& s, std::string& prefix, long& number) {
  size_t i = s.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
  if (i == s.size() || s.size() - i > 9) return false;
  prefix = s.substr(0, i);
  number = std::strtol(s.c_str() + i, nullptr, 10);
  return true;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

Flag Flag::on_off(std::string name) { return {std::move(name), FlagKind::kSwitch, 0, 0, {}}; }
Flag Flag::text(std::string name) { return {std::move(name), FlagKind::kText, 0, 0, {}}; }
Flag Flag::integer(std::string name, long min, long max) {
  return {
      std::move(name), FlagKind::kInteger, static_cast<double>(min), static_cast<double>(max), {}};
}
Flag Flag::number(std::string name, double min, double max) {
  return {std::move(name), FlagKind::kNumber, min, max, {}};
}
Flag Flag::choice(std::string name, std::vector<std::string> choices) {
  return {std::move(name), FlagKind::kChoice, 0, 0, std::move(choices)};
}

std::vector<Flag> Program::all_flags() const {
  std::vector<Flag> out;
  for (const auto& c : commands) {
    for (const auto& f : c.flags) {
      if (!find_flag(out, f.name)) out.push_back(f);
    }
  }
  return out;
}

long parse_integer(const std::string& flag, const std::string& text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || n < min || n > max) {
    throw UsageError(flag + ": '" + text + "' is not an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  }
  return n;
}

double parse_number(const std::string& flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x) || x < min || x > max) {
    throw UsageError(flag + ": '" + text + "' is not a number in [" + number_text(min) + ", " +
                     number_text(max) + "]");
  }
  return x;
}

std::vector<long> parse_integer_list(const std::string& flag, const std::string& text, long min,
                                     long max) {
  std::vector<long> out;
  for (const std::string& item : expand_list(text, flag)) {
    out.push_back(parse_integer(flag, item, min, max));
  }
  return out;
}

std::vector<int> Args::integer_list(const std::string& name, const std::string& fallback, long min,
                                    long max) const {
  std::vector<int> out;
  for (long n : parse_integer_list("--" + name, text(name, fallback), min, max)) {
    out.push_back(static_cast<int>(n));
  }
  return out;
}

Args Args::parse(const Program& program, int argc, const char* const* argv) {
  Args args;
  args.program_ = program.name;
  int first = 1;
  std::string prefix;  // "add: " in a subcommand's messages
  if (program.has_subcommands()) {
    if (argc < 2) throw UsageError("missing command");
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help" || name == "--list-flags") {
      args.help_ = name != "--list-flags";
      args.list_flags_ = !args.help_;
      return args;
    }
    args.command_ = command_of(program, name);
    prefix = name + ": ";
    first = 2;
  } else {
    args.command_ = program.commands.at(0);
  }
  bool flags_done = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    // A negative number ("threshold s1 -1") is an argument, checked as one, not a flag.
    const bool negative_number =
        arg.size() > 1 && arg[0] == '-' &&
        (std::isdigit(static_cast<unsigned char>(arg[1])) != 0 || arg[1] == '.');
    if (flags_done || arg == "-" || arg.empty() || arg[0] != '-' || negative_number) {
      args.positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      args.help_ = true;
      continue;
    }
    if (arg == "--list-flags") {
      args.list_flags_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError(prefix + "unknown flag '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* flag = find_flag(args.command_.flags, name);
    if (flag == nullptr) throw UsageError(prefix + "unknown flag --" + name);
    std::string value;
    if (flag->kind == FlagKind::kSwitch) {
      if (inline_value) throw UsageError(prefix + "--" + name + " takes no value");
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argc) throw UsageError(prefix + "--" + name + " needs a value");
      value = argv[++i];
    }
    if (args.has(name)) throw UsageError(prefix + "--" + name + " is given twice");
    try {
      check_value(*flag, value);
    } catch (const UsageError& e) {
      throw UsageError(prefix + e.what());
    }
    args.values_.emplace_back(name, value);
  }
  if (args.help_ || args.list_flags_) return args;
  const int n = static_cast<int>(args.positionals_.size());
  const Command& c = args.command_;
  if (n < c.min_positionals || (c.max_positionals != kAnyNumber && n > c.max_positionals)) {
    if (!c.synopsis.empty()) throw UsageError("usage: " + program.name + " " + c.synopsis);
    if (c.max_positionals == 0) {
      throw UsageError(prefix + "unexpected argument '" + args.positionals_.front() +
                       "' (flags start with --)");
    }
    throw UsageError(prefix + "expected " + std::to_string(c.min_positionals) + " to " +
                     std::to_string(c.max_positionals) + " arguments, got " + std::to_string(n));
  }
  return args;
}

bool Args::declares(const std::string& name) const {
  return find_flag(command_.flags, name) != nullptr;
}

const Flag& Args::declared(const std::string& name) const {
  const Flag* f = find_flag(command_.flags, name);
  if (f == nullptr) {
    throw std::logic_error(program_ + ": the flag --" + name + " is read but not declared");
  }
  return *f;
}

bool Args::has(const std::string& name) const {
  return std::any_of(values_.begin(), values_.end(),
                     [&](const auto& v) { return v.first == name; });
}

std::optional<std::string> Args::value(const std::string& name) const {
  declared(name);
  for (const auto& v : values_) {
    if (v.first == name) return v.second;
  }
  return std::nullopt;
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
  return value(name).value_or(fallback);
}

std::string Args::required(const std::string& name) const {
  const auto v = value(name);
  const std::string prefix = command_.name.empty() ? "" : command_.name + ": ";
  if (!v || v->empty()) throw UsageError(prefix + "--" + name + " is required");
  return *v;
}

long Args::integer(const std::string& name, long fallback) const {
  const Flag& f = declared(name);
  if (f.kind != FlagKind::kInteger) throw std::logic_error("--" + name + " is not an integer flag");
  const auto v = value(name);
  return v ? parse_integer("--" + name, *v, static_cast<long>(f.min), static_cast<long>(f.max))
           : fallback;
}

double Args::number(const std::string& name, double fallback) const {
  return number(name).value_or(fallback);
}

std::optional<double> Args::number(const std::string& name) const {
  const Flag& f = declared(name);
  if (f.kind != FlagKind::kNumber) throw std::logic_error("--" + name + " is not a number flag");
  const auto v = value(name);
  if (!v) return std::nullopt;
  return parse_number("--" + name, *v, f.min, f.max);
}

void Args::exclusive(const std::string& a, const std::string& b) const {
  if (has(a) && has(b)) throw UsageError("--" + a + " and --" + b + " contradict each other");
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

int run_main(const Program& program, int argc, const char* const* argv,
             const std::function<int(const Args&)>& body) {
  try {
    const Args args = Args::parse(program, argc, argv);
    if (args.list_flags()) {
      for (const auto& f : program.all_flags()) std::cout << "--" << f.name << "\n";
      return 0;
    }
    if (args.help()) {
      std::cout << program.usage;
      return 0;
    }
    return body(args);
  } catch (const UsageError& e) {
    std::cerr << program.name << ": error: " << escape_for_display(e.what()) << "\n"
              << "Try '" << program.name << " --help'.\n";
    return 2;
  } catch (const std::exception& e) {
    // Messages quote names and paths from files: one escaped line, whatever they hold.
    std::cerr << program.name << ": error: " << escape_for_display(e.what()) << "\n";
    return 1;
  }
}

std::vector<std::string> expand_list(const std::string& text, const std::string& flag,
                                     const std::function<bool(const std::string&)>& is_name) {
  std::vector<std::string> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    if (is_name && is_name(item)) {
      out.push_back(item);
      continue;
    }
    // A dash between two names that end in digits is a range ("s1-s10", "6-10", "s1-10").
    const auto dash = item.find('-', 1);
    std::string p1, p2;
    long a = 0, b = 0;
    if (dash != std::string::npos && split_number(trim(item.substr(0, dash)), p1, a) &&
        split_number(trim(item.substr(dash + 1)), p2, b)) {
      if (p2.empty()) p2 = p1;
      if (p1 != p2 || a > b) {
        throw UsageError(flag + ": '" + item + "' is not a range like s1-s10 or 6-10");
      }
      if (b - a >= kMaxRangeNames) {
        throw UsageError(flag + ": the range '" + item + "' names more than " +
                         std::to_string(kMaxRangeNames));
      }
      for (long n = a; n <= b; ++n) out.push_back(p1 + std::to_string(n));
    } else {
      out.push_back(item);
    }
  }
  if (out.empty()) throw UsageError(flag + ": the list '" + text + "' is empty");
  return out;
}

namespace flags {
Flag model() { return Flag::text("model"); }
Flag gallery() { return Flag::text("gallery"); }
Flag device() { return Flag::text("device"); }
Flag threads() { return Flag::integer("threads", 0, kMaxThreads); }
Flag batch_size() { return Flag::integer("batch-size", 1, kMaxBatchSize); }
Flag detector() { return Flag::choice("detector", {"haar", "lbp", "cnn", "hog"}); }
Flag detector_file() { return Flag::text("detector-file"); }
Flag detector_threshold() {
  return Flag::number("detector-threshold", kMinDetectorThreshold, kMaxDetectorThreshold);
}
Flag detector_input_size() {
  return Flag::integer("detector-input-size", kMinDetectorInputSize, kMaxDetectorInputSize);
}
Flag min_face_size() { return Flag::integer("min-face-size", kMinMinFaceSize, kMaxMinFaceSize); }
Flag threshold() { return Flag::number("threshold", 0.0, kMaxDistanceThreshold); }
Flag json() { return Flag::on_off("json"); }
std::vector<Flag> embedder() { return {model(), device(), threads(), batch_size()}; }
std::vector<Flag> face_detector() {
  return {detector(), detector_threshold(), detector_input_size()};
}
std::vector<Flag> alignment() {
  return {Flag::text("align"), Flag::text("align-points"), Flag::on_off("align-mirror"),
          Flag::on_off("no-align-mirror")};
}
}  // namespace flags

std::vector<Flag> operator+(std::vector<Flag> a, const std::vector<Flag>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace siamese::cli
