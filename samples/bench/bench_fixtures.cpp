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

#include "siamese/cli.h"
#include "siamese/gallery.h"
#include "siamese/model.h"
#include "siamese/model_file.h"

namespace {

namespace cli = siamese::cli;

const cli::Program kProgramSpec{"bench_fixtures",
                                R"(usage: bench_fixtures model OUT [--arch default|seed]
       bench_fixtures gallery OUT --model M [--count N] [--per-identity K]

Inputs for the element benchmarks (streams_bench.sh, memory_bench.sh) without training:
  model     an untrained model file of --arch (default: default)
  gallery   N random unit embeddings bound to --model M: --count N identities (default
            100000), --per-identity K embeddings each (default 5)
)",
                                {{"model",
                                  {cli::Flag::choice("arch", {"default", "seed"})},
                                  1,
                                  1,
                                  "model OUT [--arch default|seed]"},
                                 {"gallery",
                                  {cli::flags::model(), cli::Flag::integer("count", 1, 10000000),
                                   cli::Flag::integer("per-identity", 1, 1000)},
                                  1,
                                  1,
                                  "gallery OUT --model M [--count N] [--per-identity K]"}}};

void write_model(const std::string& out, const std::string& arch) {
  torch::manual_seed(1);
  siamese::ArchOptions a = siamese::ArchOptions().set_arch(arch);
  if (arch == "seed") a.set_embedding_size(5);
  siamese::Network network = siamese::Network::create(a);
  siamese::ModelInfo info = siamese::fresh_model_info(a);
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

int run(const cli::Args& args) {
  const std::string out = args.positionals().front();
  if (args.command() == "model") {
    write_model(out, args.text("arch", "default"));
  } else {
    write_gallery(out, args.required("model"), args.integer("count", 100000),
                  static_cast<int>(args.integer("per-identity", 5)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
