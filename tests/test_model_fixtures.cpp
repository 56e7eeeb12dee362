#include "test_model_fixtures.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

namespace siamese::testing {

ModelInfo untrained_model_info(const ArchOptions& arch) {
  ModelInfo info = fresh_model_info(arch);
  info.threshold = 0.5f;
  info.origin = "an untrained network (tests)";
  return info;
}

std::string save_untrained_model(const std::string& path, const ModelInfo& info, uint64_t seed) {
  torch::manual_seed(seed);
  Network net = Network::create(info.arch);
  save_model(path, net, info);
  return path;
}

std::string save_with_raw_facts(const std::string& path, Network& net,
                                const std::string& facts_json) {
  torch::serialize::OutputArchive archive;
  net.module()->save(archive);
  archive.write("siamese_meta", c10::IValue(facts_json));  // model_file.cpp's kMetaKey
  archive.save_to(path);
  return path;
}

std::string face_api_dir_with(std::initializer_list<const char*> files) {
  const std::filesystem::path dir = face_api_cache_dir();
  for (const char* file : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(dir / file, ec)) return "";
  }
  return dir.string();
}

namespace {
constexpr int kSide = 150;
int clamp8(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }
}  // namespace

cv::Mat drawn_reference_face(int seed) {
  cv::Mat px(kSide, kSide, CV_8UC3);
  const int cx = 73 + seed % 5, cy = 77 + seed % 3, ax = 42 + seed % 7, ay = 56 + seed % 4;
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      int r = (40 + x + 13 * seed) % 256, g = (90 + y + 29 * seed) % 256,
          b = (150 + ((x + y) >> 1) + 7 * seed) % 256;
      const int dx = x - cx, dy = y - cy;
      if (dx * dx * ay * ay + dy * dy * ax * ax <= ax * ax * ay * ay) {
        r = clamp8(205 - (y >> 3) + 3 * seed);
        g = clamp8(165 - (y >> 3) + seed);
        b = clamp8(135 - ((dx * dx) >> 6));
        const int ey = y - (cy - 14);
        for (int ex : {cx - 17, cx + 17}) {
          if ((x - ex) * (x - ex) + 2 * ey * ey <= 40) {
            r = 40;
            g = 30;
            b = 25 + seed;
          }
        }
        if (std::abs(dx) <= 14 && y >= cy + 24 && y <= cy + 28) {
          r = 150;
          g = 50;
          b = 60;
        }
        if (std::abs(dx) <= 2 && y >= cy - 5 && y <= cy + 10) {
          r = 170;
          g = 120;
          b = 100;
        }
      }
      unsigned char* p = px.ptr<unsigned char>(y) + 3 * x;
      p[0] = static_cast<unsigned char>(r);
      p[1] = static_cast<unsigned char>(g);
      p[2] = static_cast<unsigned char>(b);
    }
  }
  return px;
}

}  // namespace siamese::testing
