// fuzz_seeds: writes the fuzzers' seed inputs (fuzz_inputs.h: a tiny untrained model, a tiny
// gallery, small synthetic images, sample `gst-launch-1.0 -m` text; never a face photo).
//   fuzz_seeds OUT_DIR [TARGET...]   -> OUT_DIR/TARGET/NAME for every target (or those named)
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "fuzz_inputs.h"

namespace sf = siamese::fuzz;

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << "usage: fuzz_seeds OUT_DIR [TARGET...]\n";
      return 2;
    }
    torch::set_num_threads(1);
    std::vector<std::string> names;
    for (int i = 2; i < argc; ++i) names.push_back(sf::target_named(argv[i]).name);
    if (names.empty()) {
      for (const sf::Target& t : sf::targets()) names.push_back(t.name);
    }
    const sf::Scratch scratch;
    for (const std::string& name : names) {
      const std::filesystem::path dir = std::filesystem::path(argv[1]) / name;
      std::filesystem::create_directories(dir);
      for (const auto& [file, bytes] : sf::seed_inputs(name, scratch)) {
        std::ofstream out(dir / file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) throw std::runtime_error((dir / file).string() + ": cannot write");
        std::cout << (dir / file).string() << " (" << bytes.size() << " bytes)\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seeds: error: " << e.what() << "\n";
    return 1;
  }
}
