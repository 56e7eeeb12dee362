#include "bus_lines.h"

#include <gst/gst.h>

#include <cctype>
#include <cmath>
#include <cstdio>

namespace siamese::samples {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kMessagePrefix = "Got message #";
constexpr const char* kElementMarker = " (element): ";
constexpr const char* kEndedPrefix = "Execution ended after ";

Json to_json(const GValue* v);

Json structure_to_json(const GstStructure* s) {
  Json out = Json::object();
  const int n = gst_structure_n_fields(s);
  for (int i = 0; i < n; ++i) {
    const char* name = gst_structure_nth_field_name(s, static_cast<guint>(i));
    out[name] = to_json(gst_structure_get_value(s, name));
  }
  return out;
}

Json to_json(const GValue* v) {
  const GType t = G_VALUE_TYPE(v);
  if (t == G_TYPE_BOOLEAN) return static_cast<bool>(g_value_get_boolean(v));
  if (t == G_TYPE_INT) return g_value_get_int(v);
  if (t == G_TYPE_UINT) return g_value_get_uint(v);
  if (t == G_TYPE_INT64) return g_value_get_int64(v);
  if (t == G_TYPE_UINT64) {
    const guint64 x = g_value_get_uint64(v);
    return x == GST_CLOCK_TIME_NONE ? Json(nullptr) : Json(x);
  }
  if (t == G_TYPE_DOUBLE || t == G_TYPE_FLOAT) {
    const double x = t == G_TYPE_DOUBLE ? g_value_get_double(v) : g_value_get_float(v);
    return std::isfinite(x) ? Json(x) : Json(nullptr);
  }
  if (t == G_TYPE_STRING) {
    const gchar* s = g_value_get_string(v);
    return s != nullptr ? Json(s) : Json(nullptr);
  }
  if (GST_VALUE_HOLDS_LIST(v) || GST_VALUE_HOLDS_ARRAY(v)) {
    Json out = Json::array();
    const bool list = GST_VALUE_HOLDS_LIST(v);
    const guint n = list ? gst_value_list_get_size(v) : gst_value_array_get_size(v);
    for (guint i = 0; i < n; ++i) {
      out.push_back(
          to_json(list ? gst_value_list_get_value(v, i) : gst_value_array_get_value(v, i)));
    }
    return out;
  }
  if (GST_VALUE_HOLDS_STRUCTURE(v)) return structure_to_json(gst_value_get_structure(v));
  gchar* text = gst_value_serialize(v);  // anything else: its GStreamer text
  Json out = text != nullptr ? Json(text) : Json(nullptr);
  g_free(text);
  return out;
}

bool starts_with(const std::string& text, const char* prefix) {
  return text.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}

// "0:00:16.284205603" at the start of text -> seconds; false when it is not a clock time.
bool clock_seconds(const char* text, double* seconds) {
  unsigned h = 0, m = 0;
  double s = 0.0;
  int used = 0;
  if (!std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  if (std::sscanf(text, "%u:%u:%lf%n", &h, &m, &s, &used) != 3 || used == 0) return false;
  *seconds = h * 3600.0 + m * 60.0 + s;
  return std::isfinite(*seconds);
}

}  // namespace

// Matched by hand rather than with std::regex: libstdc++'s regex executor recurses once per
// character, so a long line (a frame with many faces) would overflow the stack.
BusLine parse_bus_line(const std::string& line) {
  BusLine out;
  if (starts_with(line, kEndedPrefix)) {
    double seconds = 0.0;
    const char* clock = line.c_str() + std::char_traits<char>::length(kEndedPrefix);
    if (clock_seconds(clock, &seconds)) {
      out.kind = BusLine::Kind::kMessage;
      out.message = "execution-ended";
      out.json = Json{{"message", out.message}, {"seconds", seconds}};
    }
    return out;
  }
  // Got message #N from element "NAME" (element): STRUCTURE
  if (!starts_with(line, kMessagePrefix)) return out;
  size_t pos = std::char_traits<char>::length(kMessagePrefix);
  const size_t digits = line.find_first_not_of("0123456789", pos);
  const std::string from = " from element \"";
  if (digits == pos || digits == std::string::npos || line.compare(digits, from.size(), from)) {
    return out;
  }
  pos = digits + from.size();
  const size_t quote = line.find('"', pos);
  const size_t marker = std::char_traits<char>::length(kElementMarker);
  if (quote == std::string::npos || line.compare(quote + 1, marker, kElementMarker)) return out;
  const std::string source = line.substr(pos, quote - pos);
  const std::string text = line.substr(quote + 1 + marker);
  if (text.find('\0') != std::string::npos) {
    out.kind = BusLine::Kind::kUnparsed;  // GStreamer would read only up to the NUL
    return out;
  }
  GstStructure* s = gst_structure_from_string(text.c_str(), nullptr);
  if (s == nullptr) {
    out.kind = BusLine::Kind::kUnparsed;
    return out;
  }
  out.kind = BusLine::Kind::kMessage;
  out.message = gst_structure_get_name(s);
  out.json = Json{{"source", source}, {"message", out.message}};
  Json fields = structure_to_json(s);
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (!out.json.contains(it.key())) out.json[it.key()] = std::move(it.value());
  }
  gst_structure_free(s);
  return out;
}

std::string bus_json_text(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace siamese::samples
