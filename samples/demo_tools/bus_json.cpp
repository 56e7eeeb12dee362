// siamese-bus-json: turns the text of `gst-launch-1.0 -m` into JSON lines, one per element
// message (e.g. faceverify's "faceverify" and "faceverify-decision"), parsed back with
// gst_structure_from_string so types survive; plus {"message": "execution-ended", "seconds": S}
// from gst-launch's closing line. Reads stdin (or --input FILE), writes stdout line by line,
// so it can follow a live pipeline.
#include <gst/gst.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "flags.h"

namespace ss = siamese::samples;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kProgram = "siamese-bus-json";
constexpr const char* kUsage =
    R"(usage: gst-launch-1.0 -m ... | siamese-bus-json [--only NAMES] [--input FILE]

Prints one JSON object per line for each element message in the output of `gst-launch-1.0 -m`:
{"source": ELEMENT, "message": NAME, FIELD: VALUE, ...}; lists become arrays and structures
objects; unknown times (GST_CLOCK_TIME_NONE) and infinite distances become null. The closing
"Execution ended after H:MM:SS" line becomes {"message": "execution-ended", "seconds": S}.

  --only NAMES   comma-separated message names to keep, e.g. faceverify-decision
  --input FILE   read FILE instead of stdin
)";

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

// "0:00:16.284205603" -> seconds.
double clock_seconds(const std::string& text) {
  int h = 0, m = 0;
  double s = 0.0;
  if (std::sscanf(text.c_str(), "%d:%d:%lf", &h, &m, &s) != 3) return -1.0;
  return h * 3600.0 + m * 60.0 + s;
}

std::set<std::string> parse_only(const std::string& text) {
  std::set<std::string> names;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (!name.empty()) names.insert(name);
  }
  return names;
}

int run(int argc, char** argv) {
  const ss::Flags flags(argc, argv, {{"only"}, {"input"}, {"help", false}});
  if (flags.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  const std::set<std::string> only = parse_only(flags.text("only"));
  std::ifstream file;
  if (flags.has("input")) {
    file.open(flags.text("input"));
    if (!file) throw std::runtime_error(flags.text("input") + ": cannot read (--input)");
  }
  std::istream& in = flags.has("input") ? file : std::cin;
  static const std::regex element_line(
      R"re(^Got message #\d+ from element "([^"]*)" \(element\): (.*)$)re");
  static const std::regex ended_line(R"(^Execution ended after (\d+:\d+:[\d.]+))");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, ended_line)) {
      if (only.empty() || only.count("execution-ended")) {
        std::cout << Json{{"message", "execution-ended"}, {"seconds", clock_seconds(m[1])}}.dump()
                  << std::endl;
      }
      continue;
    }
    if (!std::regex_match(line, m, element_line)) continue;
    GstStructure* s = gst_structure_from_string(m[2].str().c_str(), nullptr);
    if (s == nullptr) {
      std::cerr << kProgram << ": warning: cannot parse: " << line.substr(0, 120) << "\n";
      continue;
    }
    const std::string name = gst_structure_get_name(s);
    if (only.empty() || only.count(name)) {
      Json out = {{"source", m[1].str()}, {"message", name}};
      out.update(structure_to_json(s));
      std::cout << out.dump() << std::endl;
    }
    gst_structure_free(s);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  try {
    return run(argc, argv);
  } catch (const ss::UsageError& e) {
    std::cerr << kProgram << ": " << e.what() << "\n(see " << kProgram << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": error: " << e.what() << "\n";
    return 1;
  }
}
