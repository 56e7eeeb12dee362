// bench_fixtures: inputs for the element benchmarks (streams_bench.sh, memory_bench.sh) without
// training: an untrained model file (speed and memory depend on the architecture, not on the
// weights) and a gallery of N random unit embeddings bound to a model.
//   bench_fixtures model OUT [--arch default|seed]
//   bench_fixtures gallery OUT --model M [--count 100000] [--per-identity 5]
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "siamese/gallery.h"
#include "siamese/model.h"
#include "siamese/model_file.h"

namespace {

struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

std::string option(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 3; i + 1 < argc; i += 2) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

void write_model(const std::string& out, const std::string& arch) {
  torch::manual_seed(1);
  siamese::ArchOptions a = siamese::ArchOptions().set_arch(arch);
  if (arch == "seed") a.set_embedding_size(5);
  siamese::Network network = siamese::Network::create(a);
  siamese::ModelInfo info;
  info.arch = a;
  info.input = siamese::default_input_spec(a);
  info.embedding_size = a.embedding_size;
  info.normalized = arch != "seed";
  info.threshold = 1.0f;
  info.origin = "untrained (bench_fixtures)";
  siamese::save_model(out, network, info);
  std::printf("wrote %s (%s, untrained)\n", out.c_str(), arch.c_str());
}

void write_gallery(const std::string& out, const std::string& model, long count, int per_identity) {
  const siamese::ModelInfo info = siamese::load_model(model).info;
  torch::manual_seed(2);
  const torch::Tensor e =
      torch::nn::functional::normalize(torch::randn({count, info.embedding_size}),
                                       torch::nn::functional::NormalizeFuncOptions().dim(1));
  const float* p = e.data_ptr<float>();
  std::vector<siamese::IdentitySamples> identities;
  for (long i = 0; i < count; ++i) {
    if (i % per_identity == 0) identities.push_back({"id" + std::to_string(i / per_identity), {}});
    siamese::EnrollmentSample s;
    s.source_file = "random";
    s.embedding.assign(p + i * info.embedding_size, p + (i + 1) * info.embedding_size);
    identities.back().second.push_back(std::move(s));
  }
  siamese::Gallery gallery = siamese::Gallery::open(out, info, true);
  gallery.enroll_batch(identities, false);
  std::printf("wrote %s: %ld embeddings of %lld values, %zu identities\n", out.c_str(), count,
              static_cast<long long>(info.embedding_size), identities.size());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) throw UsageError("usage: bench_fixtures model|gallery OUT [options]");
    const std::string what = argv[1], out = argv[2];
    if (what == "model") {
      write_model(out, option(argc, argv, "arch", "default"));
    } else if (what == "gallery") {
      const std::string model = option(argc, argv, "model", "");
      if (model.empty()) throw UsageError("gallery needs --model");
      write_gallery(out, model, std::stol(option(argc, argv, "count", "100000")),
                    std::stoi(option(argc, argv, "per-identity", "5")));
    } else {
      throw UsageError("unknown command '" + what + "' (model or gallery)");
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "bench_fixtures: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_fixtures: error: " << e.what() << "\n";
    return 1;
  }
}
