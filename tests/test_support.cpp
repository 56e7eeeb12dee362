#include "test_support.h"

#include <opencv2/imgproc.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace siamese::testing {

namespace fs = std::filesystem;

std::string att_faces_dir() {
  if (const char* env = std::getenv("SIAMESE_DATA"); env && *env) {
    return fs::is_directory(env) ? std::string(env) : std::string();
  }
  const fs::path beside = fs::path(SIAMESE_SOURCE_DIR) / ".." / "shared" / "data" / "att_faces";
  return fs::is_directory(beside / "s1") ? fs::weakly_canonical(beside).string() : std::string();
}

namespace {
std::vector<std::string>& temp_dirs_of_this_process() {
  static std::vector<std::string> dirs;
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& tag) {
  static std::random_device rd;
  const fs::path dir =
      fs::path(SIAMESE_BINARY_DIR) / "test-tmp" / (tag + "-" + std::to_string(rd()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  temp_dirs_of_this_process().push_back(dir.string());
  return dir.string();
}

const std::vector<std::string>& created_temp_dirs() { return temp_dirs_of_this_process(); }

void remove_temp_dirs() {
  for (const std::string& dir : temp_dirs_of_this_process()) {
    std::error_code ignored;  // best effort: a folder a test already removed is fine
    fs::remove_all(dir, ignored);
  }
  temp_dirs_of_this_process().clear();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

int run_shell(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char chunk[4096];
  size_t n = 0;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) output->append(chunk, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

cv::Mat synthetic_gray(int width, int height, int seed) {
  cv::Mat img(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      img.at<uchar>(y, x) =
          static_cast<uchar>((x * 3 + y * 5 + seed * 37 + ((x / 7 + y / 5 + seed) % 3) * 40) % 256);
    }
  }
  return img;
}

cv::Mat place_on_background(const cv::Mat& face, int width, int height, int x, int y) {
  cv::Mat bg(height, width, CV_8UC3, cv::Scalar(90, 110, 100));
  cv::Mat face_bgr;
  cv::cvtColor(face, face_bgr, cv::COLOR_GRAY2BGR);
  face_bgr.copyTo(bg(cv::Rect(x, y, face.cols, face.rows)));
  return bg;
}

}  // namespace siamese::testing
