#include "walk_truth.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace siamese::samples {

WalkTruth load_walk_truth(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the truth file");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    WalkTruth t;
    t.fps = j.at("fps").get<double>();
    t.width = j.at("width").get<int>();
    t.height = j.at("height").get<int>();
    for (const auto& w : j.at("walkers")) {
      t.walkers.push_back({w.at("identity").get<std::string>(), w.at("label").get<std::string>(),
                           w.at("stranger").get<bool>(), w.at("first_frame").get<int>(),
                           w.at("last_frame").get<int>()});
    }
    t.frames.resize(j.at("frame_count").get<size_t>());
    for (const auto& f : j.at("frames")) {
      const size_t index = f.at("frame").get<size_t>();
      if (index >= t.frames.size()) throw std::runtime_error("frame index out of range");
      for (const auto& face : f.at("faces")) {
        t.frames[index].push_back({face.at("walker").get<int>(), face.at("x").get<int>(),
                                   face.at("y").get<int>(), face.at("width").get<int>(),
                                   face.at("height").get<int>()});
      }
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not a siamese-render-walk truth file (" + e.what() + ")");
  }
}

}  // namespace siamese::samples
