// Replays what the fuzzers (fuzz/) found, kept in fuzz/regressions/TARGET/, and their seeds
// through the same readers (fuzz/fuzz_inputs.h): every input must be accepted or refused with
// a typed error, never crash, throw anything else or break a reader's promise. Plus the
// siamese-bus-json reader's own findings, built here because they are too big to commit.
#include <gst/gst.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bus_lines.h"
#include "fuzz_inputs.h"

namespace fs = std::filesystem;
namespace sf = siamese::fuzz;
namespace ss = siamese::samples;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

sf::Outcome feed(const sf::Target& target, const sf::Scratch& scratch, const std::string& bytes) {
  return target.feed(scratch, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Seeds are valid inputs: a reader that refuses them gives the fuzzer nothing to explore.
// Every file of fuzz/regressions/TARGET: accepted or refused, nothing else.
void replay(const std::string& name) {
  gst_init(nullptr, nullptr);
  const sf::Target& target = sf::target_named(name);
  const sf::Scratch scratch;
  const auto seeds = sf::seed_inputs(name, scratch);
  REQUIRE(!seeds.empty());
  for (const auto& [file, bytes] : seeds) {
    INFO("seed " << file);
    sf::Outcome outcome;
    REQUIRE_NOTHROW(outcome = feed(target, scratch, bytes));
    INFO(outcome.error);
    CHECK(outcome.accepted);
  }
  const fs::path dir = fs::path(SIAMESE_SOURCE_DIR) / "fuzz" / "regressions" / name;
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    INFO("regression input " << file.string());
    sf::Outcome outcome;
    REQUIRE_NOTHROW(outcome = feed(target, scratch, read_file(file)));
    SUCCEED((outcome.accepted ? "accepted" : "refused: " + outcome.error));
  }
}

}  // namespace

TEST_CASE("Fuzz regressions and seeds: model files", "[core][fuzz]") { replay("model_file"); }

TEST_CASE("Fuzz regressions and seeds: gallery files", "[core][fuzz]") { replay("gallery"); }

TEST_CASE("Fuzz regressions and seeds: image files", "[core][fuzz]") { replay("image"); }

TEST_CASE("Fuzz regressions and seeds: siamese-bus-json lines", "[core][fuzz]") {
  replay("bus_json");
}

TEST_CASE("Fuzz regressions and seeds: tfjs weights manifests", "[core][fuzz]") {
  replay("tfjs_manifest");
}

TEST_CASE("Fuzz targets are named as their regression folders", "[core][fuzz]") {
  for (const sf::Target& t : sf::targets()) CHECK(&sf::target_named(t.name) == &t);
  CHECK_THROWS_WITH(sf::target_named("nope"), Catch::Contains("model_file"));
}

// A line of a few hundred kilobytes (a frame with many faces) overflowed the stack of the
// std::regex that used to match element messages.
TEST_CASE("siamese-bus-json reads a very long message line", "[core][fuzz]") {
  gst_init(nullptr, nullptr);
  const std::string payload(400000, 'a');
  const ss::BusLine line = ss::parse_bus_line(
      "Got message #9 from element \"fv\" (element): faceverify, note=(string)" + payload + ";");
  REQUIRE(line.kind == ss::BusLine::Kind::kMessage);
  CHECK(line.json["source"] == "fv");
  CHECK(line.json["note"] == payload);
}

// Text that is not UTF-8 (here the element name, which GStreamer does not check) made
// nlohmann::json::dump throw, which ended the program.
TEST_CASE("siamese-bus-json prints any text as valid JSON", "[core][fuzz]") {
  gst_init(nullptr, nullptr);
  const ss::BusLine line = ss::parse_bus_line(
      "Got message #9 from element \"c\xff\xfe"
      "am\" (element): faceverify, n=(int)1;");
  REQUIRE(line.kind == ss::BusLine::Kind::kMessage);
  const std::string text = ss::bus_json_text(line.json);
  const nlohmann::json back = nlohmann::json::parse(text);
  CHECK(back["source"] ==
        "c\xEF\xBF\xBD\xEF\xBF\xBD"
        "am");  // two U+FFFD
  CHECK(back["n"] == 1);
}

// A structure field called "message" or "source" replaced those two keys (and --only then
// compared a number with the message names).
TEST_CASE("siamese-bus-json keeps the message name and source over same-named fields",
          "[core][fuzz]") {
  gst_init(nullptr, nullptr);
  const ss::BusLine line = ss::parse_bus_line(
      "Got message #3 from element \"fv\" (element): faceverify-decision, message=(int)5, "
      "source=(string)x, track-id=(gint64)2;");
  REQUIRE(line.kind == ss::BusLine::Kind::kMessage);
  CHECK(line.message == "faceverify-decision");
  CHECK(line.json["message"] == "faceverify-decision");
  CHECK(line.json["source"] == "fv");
  CHECK(line.json["track-id"] == 2);
}

TEST_CASE("siamese-bus-json's reader tells messages, end lines and other lines apart",
          "[core][fuzz]") {
  gst_init(nullptr, nullptr);
  CHECK(ss::parse_bus_line("Setting pipeline to PAUSED ...").kind == ss::BusLine::Kind::kOther);
  CHECK(ss::parse_bus_line("Got message #74 from element \"queue0\" (state-changed): no "
                           "message details")
            .kind == ss::BusLine::Kind::kOther);
  CHECK(ss::parse_bus_line("Got message #1 from element \"a\" (element): ,,=(int)").kind ==
        ss::BusLine::Kind::kUnparsed);
  const ss::BusLine ended = ss::parse_bus_line("Execution ended after 1:01:02.500000000");
  REQUIRE(ended.kind == ss::BusLine::Kind::kMessage);
  CHECK(ended.message == "execution-ended");
  CHECK(ended.json["seconds"] == Approx(3662.5));
  CHECK(ss::parse_bus_line("Execution ended after -1:00:00").kind == ss::BusLine::Kind::kOther);
  std::string nul_line = "Got message #1 from element \"a\" (element): x, y=(int)1;";
  nul_line[50] = '\0';
  CHECK(ss::parse_bus_line(nul_line).kind == ss::BusLine::Kind::kUnparsed);
}
