// siamese-bus-json's reader: one line of `gst-launch-1.0 -m` output to a JSON object, parsed
// back with gst_structure_from_string so types survive. Shared by the program and its fuzzer
// (fuzz/). Thread-safety: free functions; gst_init must have been called.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace siamese::samples {

/// What a line of `gst-launch-1.0 -m` output held.
struct BusLine {
  enum class Kind { kOther, kUnparsed, kMessage };
  Kind kind = Kind::kOther;  // kUnparsed: an element message whose structure did not parse
  std::string message;       // kMessage: the structure's name, or "execution-ended"
  // kMessage: {"source": ELEMENT, "message": NAME, FIELD: VALUE...}; a field named "source" or
  // "message" does not replace those two.
  nlohmann::ordered_json json;
};

/// Reads one line (no newline): an element message, the closing "Execution ended after
/// H:MM:SS" line ({"message": "execution-ended", "seconds": S}), or anything else (kOther).
/// Never throws for any text.
BusLine parse_bus_line(const std::string& line);

/// The JSON line to print: compact; bytes that are not UTF-8 become U+FFFD instead of
/// throwing (a message may carry any text).
std::string bus_json_text(const nlohmann::ordered_json& json);

}  // namespace siamese::samples
