// The core (pipeline/) must not depend on GStreamer or GLib: the trainer and enrollment tool
// link it without them, and the element stays a thin shell over it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("pipeline/ includes no GStreamer or GLib header", "[core][layering]") {
  const fs::path root = fs::path(SIAMESE_SOURCE_DIR) / "pipeline";
  const std::regex forbidden(R"(#\s*include\s*[<"](gst/|glib|gobject/|glib-object))");
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cpp") continue;
    ++files;
    INFO(entry.path().string());
    CHECK_FALSE(std::regex_search(slurp(entry.path()), forbidden));
  }
  CHECK(files > 10);
}

TEST_CASE("siamese_core's CMake target links no GStreamer", "[core][layering]") {
  const std::string cmake = slurp(fs::path(SIAMESE_SOURCE_DIR) / "pipeline" / "CMakeLists.txt");
  CHECK(cmake.find("gstreamer") == std::string::npos);
  CHECK(cmake.find("GST") == std::string::npos);
  CHECK(cmake.find("glib") == std::string::npos);
}
