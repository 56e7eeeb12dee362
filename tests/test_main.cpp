// Catch2 main for every test executable.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>

#include "test_support.h"

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  // A passing test leaves nothing behind (a model file is 150 MiB and CI's disk is finite);
  // a failing one keeps its folders for a look, as does SIAMESE_KEEP_TEST_TMP=1.
  const char* keep = std::getenv("SIAMESE_KEEP_TEST_TMP");
  if (failed == 0 && !(keep && *keep && std::string(keep) != "0")) {
    siamese::testing::remove_temp_dirs();
  } else {
    for (const std::string& dir : siamese::testing::created_temp_dirs()) {
      std::cerr << "test folder kept: " << dir << "\n";
    }
  }
  return failed;
}
