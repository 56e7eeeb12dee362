// Helpers shared by the tests: where the AT&T faces are, synthetic images, temporary folders.
// Thread-safety: not needed (Catch2 runs tests serially).
#pragma once

#include <torch/cuda.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace siamese::testing {

/// $SIAMESE_DATA, else ../shared/data/att_faces beside the source tree; "" when absent.
std::string att_faces_dir();

/// Skips the current test with a clear message when the AT&T faces are absent.
#define SIAMESE_REQUIRE_ATT(dir_var)                                  \
  const std::string dir_var = ::siamese::testing::att_faces_dir();    \
  if (dir_var.empty()) {                                              \
    WARN(                                                             \
        "skipped: AT&T faces not found (set SIAMESE_DATA or provide " \
        "../shared/data/att_faces)");                                 \
    return;                                                           \
  }

/// Unless cond holds: skips the current test with why (Catch2 WARN + return), or FAILS it when
/// the build expects CUDA (SIAMESE_EXPECT_CUDA=ON: a GPU machine must not skip silently).
#define SIAMESE_REQUIRE_GPU(cond, why)                                       \
  do {                                                                       \
    if (!(cond)) {                                                           \
      if (SIAMESE_EXPECT_CUDA) FAIL("SIAMESE_EXPECT_CUDA=ON but " << (why)); \
      WARN("skipped: " << (why));                                            \
      return;                                                                \
    }                                                                        \
  } while (0)

/// Skips (or fails, with SIAMESE_EXPECT_CUDA=ON) the current test when no GPU is usable.
#define SIAMESE_REQUIRE_CUDA()                       \
  SIAMESE_REQUIRE_GPU(::torch::cuda::is_available(), \
                      "no usable CUDA device (no GPU or driver, or a LibTorch without CUDA)")

/// A fresh empty folder under the build tree, removed at exit of the test process when its
/// tests passed (test_main.cpp).
std::string temp_dir(const std::string& tag);

/// The folders temp_dir made in this process, and their removal.
const std::vector<std::string>& created_temp_dirs();
void remove_temp_dirs();

/// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

/// Runs command through the shell with stderr joined to stdout; *output becomes what it printed.
/// Returns its exit status (-1 when it did not exit normally).
int run_shell(const std::string& command, std::string* output);

/// A deterministic synthetic gray image (smooth gradients plus a pattern keyed by seed).
cv::Mat synthetic_gray(int width, int height, int seed);

/// Places face (gray) on a background of size w x h at (x, y), returning a BGR image.
cv::Mat place_on_background(const cv::Mat& face, int width, int height, int x, int y);

}  // namespace siamese::testing
