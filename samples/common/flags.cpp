#include "flags.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace siamese::samples {

Flags::Flags(int argc, const char* const* argv, const std::vector<FlagSpec>& specs) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw UsageError("unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) throw UsageError("unknown option --" + name);
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

std::string Flags::text(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Flags::required(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) throw UsageError("--" + name + " is required");
  return it->second;
}

long Flags::integer(const std::string& name, long fallback, long min, long max) const {
  if (!has(name)) return fallback;
  const std::string v = text(name);
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max) {
    throw UsageError("--" + name + ": '" + v + "' is not an integer in [" + std::to_string(min) +
                     ", " + std::to_string(max) + "]");
  }
  return n;
}

double Flags::number(const std::string& name, double fallback, double min, double max) const {
  if (!has(name)) return fallback;
  const std::string v = text(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= min && x <= max)) {
    std::ostringstream range;
    range << "[" << min << ", " << max << "]";
    throw UsageError("--" + name + ": '" + v + "' is not a number in " + range.str());
  }
  return x;
}

namespace {

// "s12" -> {"s", 12}; false when the text does not end in digits.
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

std::vector<std::string> expand_list(const std::string& text, const std::string& flag) {
  std::vector<std::string> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    // A dash between two names that end in digits is a range ("s1-s10", "6-10").
    const auto dash = item.find('-', 1);
    std::string p1, p2;
    long a = 0, b = 0;
    if (dash != std::string::npos && split_number(item.substr(0, dash), p1, a) &&
        split_number(item.substr(dash + 1), p2, b)) {
      if (p2.empty()) p2 = p1;  // "s1-10" means s1..s10
      if (p1 != p2 || a > b) {
        throw UsageError(flag + ": '" + item + "' is not a range like s1-s10 or 6-10");
      }
      for (long n = a; n <= b; ++n) out.push_back(p1 + std::to_string(n));
    } else {
      out.push_back(item);
    }
  }
  if (out.empty()) throw UsageError(flag + ": the list '" + text + "' is empty");
  return out;
}

}  // namespace siamese::samples
