// siamese-bus-json: turns the text of `gst-launch-1.0 -m` into JSON lines, one per element
// message (e.g. faceverify's "faceverify" and "faceverify-decision"), parsed back with
// gst_structure_from_string so types survive; plus {"message": "execution-ended", "seconds": S}
// from gst-launch's closing line. Reads stdin (or --input FILE), writes stdout line by line,
// so it can follow a live pipeline.
#include <gst/gst.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "bus_lines.h"
#include "siamese/cli.h"

namespace cli = siamese::cli;
namespace ss = siamese::samples;

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

const cli::Program kProgramSpec{
    kProgram, kUsage, {{"", {cli::Flag::text("only"), cli::Flag::text("input")}, 0, 0, ""}}};

std::set<std::string> parse_only(const std::string& text) {
  std::set<std::string> names;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (!name.empty()) names.insert(name);
  }
  return names;
}

int run(const cli::Args& flags) {
  const std::set<std::string> only = parse_only(flags.text("only"));
  std::ifstream file;
  if (flags.has("input")) {
    file.open(flags.text("input"));
    if (!file) throw std::runtime_error(flags.text("input") + ": cannot read (--input)");
  }
  std::istream& in = flags.has("input") ? file : std::cin;
  std::string line;
  while (std::getline(in, line)) {
    const ss::BusLine parsed = ss::parse_bus_line(line);
    if (parsed.kind == ss::BusLine::Kind::kUnparsed) {
      std::cerr << kProgram << ": warning: cannot parse: " << line.substr(0, 120) << "\n";
      continue;
    }
    if (parsed.kind != ss::BusLine::Kind::kMessage) continue;
    if (only.empty() || only.count(parsed.message)) {
      std::cout << ss::bus_json_text(parsed.json) << std::endl;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  return cli::run_main(kProgramSpec, argc, argv, run);
}
