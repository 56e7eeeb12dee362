// Every program's --help mentions every flag it accepts: the list comes from the program
// itself (--list-flags prints its parser's declarations), not from a copy kept here.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

// stdout of `program args`, and its exit status.
std::pair<int, std::string> run(const std::string& program, const std::string& args) {
  const std::string command = "'" + program + "' " + args + " 2>/dev/null";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

TEST_CASE("every program's --help mentions every flag it accepts", "[core][cli]") {
  const auto programs = split(SIAMESE_CLI_PROGRAMS, ',');
  REQUIRE(programs.size() >= 4);
  for (const auto& name : programs) {
    INFO(name);
    const std::string path = std::string(SIAMESE_BINARY_DIR) + "/bin/" + name;
    const auto [flags_status, flags_text] = run(path, "--list-flags");
    REQUIRE(flags_status == 0);
    const auto flags = split(flags_text, '\n');
    CHECK(flags.size() >= 1);
    const auto [help_status, help] = run(path, "--help");
    REQUIRE(help_status == 0);
    for (const auto& flag : flags) {
      INFO(flag);
      CHECK(flag.rfind("--", 0) == 0);
      // The flag as a word: "--detector" is not found inside "--detector-file".
      bool found = false;
      for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
        const size_t end = at + flag.size();
        const char next = end < help.size() ? help[end] : ' ';
        if (!(std::isalnum(static_cast<unsigned char>(next)) || next == '-' || next == '_')) {
          found = true;
          break;
        }
      }
      CHECK(found);
    }
  }
}
