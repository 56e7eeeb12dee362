// embed_bench: embeddings/s of one Siamese branch at batch 1, 8, 32, 64, 128 for the `seed`
// network and the default architecture, against the Python reference
// (../shared/anchors/seed_baseline.py infer), interleaved in one run: per round, per
// batch size and thread setting (LibTorch threads = OPENBLAS_NUM_THREADS = T, T in --threads),
// the reference, then the C++ seed, then the C++ default architecture, each in its own
// process. Each side is reported at its best thread setting (median over rounds), with ratios
// to the reference's seed.
//   embed_bench [--rounds 3] [--threads 1,2] [--batches 1,8,32,64,128] [--seconds 1.0]
//               [--python /usr/bin/python3] [--reference PATH]
//   embed_bench --worker --arch seed|default --threads T --batches ... --seconds S
// The worker embeds [B,1,100,100] (seed) / the default input, uniform in [0,1) like ToTensor's
// images; speed does not depend on the pixel values. Prints one JSON line per batch.
#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "siamese/cli.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/limits.h"
#include "siamese/model.h"
#include "siamese/model_file.h"

namespace {

using Clock = std::chrono::steady_clock;

using siamese::bench::median;
using siamese::bench::run_capture;

const siamese::cli::Program kProgramSpec{
    "embed_bench",
    R"(usage: embed_bench [--rounds 3] [--threads 1,2] [--batches 1,8,32,64,128] [--seconds 1.0]
                   [--python /usr/bin/python3] [--reference PATH]
       embed_bench --worker --arch seed|default --threads T --batches LIST --seconds S

Embeddings/s of one Siamese branch, the C++ seed and default architectures against the Python
reference (seed_baseline.py infer), interleaved per round, batch size and thread setting.

  --rounds N        rounds (default 3)
  --threads LIST    LibTorch and OpenBLAS thread settings to try (default 1,2)
  --batches LIST    batch sizes (default 1,8,32,64,128)
  --seconds S       seconds per measurement at least (default 1.0)
  --python FILE     the Python with torch for the reference (default /usr/bin/python3)
  --reference FILE  seed_baseline.py (default ../shared/anchors/seed_baseline.py)
  --worker          one measurement process (run by the driver): --arch seed|default
)",
    {{"",
      {siamese::cli::Flag::integer("rounds", 1, 1000), siamese::cli::Flag::text("threads"),
       siamese::cli::Flag::text("batches"), siamese::cli::Flag::number("seconds", 0.01, 3600),
       siamese::cli::Flag::text("python"), siamese::cli::Flag::text("reference"),
       siamese::cli::Flag::on_off("worker"),
       siamese::cli::Flag::choice("arch", {"seed", "default"})},
      0,
      0,
      ""}}};

int run_worker(const siamese::cli::Args& a) {
  const std::string arch = a.text("arch", "seed");
  const int threads = a.integer_list("threads", "1", 1, siamese::kMaxThreads).front();
  const double seconds = a.number("seconds", 1.5);
  siamese::set_cpu_threads(threads);
  siamese::ArchOptions options = siamese::ArchOptions().set_arch(arch);
  if (arch == "seed") options.set_embedding_size(5);
  const siamese::InputSpec spec = siamese::default_input_spec(options);
  siamese::ModelInfo info;
  info.arch = options;
  info.input = spec;
  info.embedding_size = options.embedding_size;
  for (int batch : a.integer_list("batches", "1,8,32,64,128", 1, siamese::kMaxBatchSize)) {
    torch::manual_seed(0);
    siamese::Embedder embedder(siamese::LoadedModel{info, siamese::Network::create(options), ""},
                               torch::kCPU, batch);
    const torch::Tensor x = torch::rand({batch, spec.channels, spec.height, spec.width});
    for (int i = 0; i < 3; ++i) embedder.embed(x);
    const int calls = std::max(1, 20 / batch);  // as the reference's calls per timed run
    std::vector<double> rates;
    const auto begin = Clock::now();
    while (rates.size() < 5 ||
           std::chrono::duration<double>(Clock::now() - begin).count() < seconds) {
      const auto t0 = Clock::now();
      for (int i = 0; i < calls; ++i) embedder.embed(x);
      rates.push_back(calls * batch / std::chrono::duration<double>(Clock::now() - t0).count());
    }
    nlohmann::json out = {{"arch", arch},
                          {"threads", threads},
                          {"batch", batch},
                          {"runs", rates.size()},
                          {"emb_per_s", median(rates)}};
    std::cout << out.dump() << std::endl;
  }
  return 0;
}

// results[side][batch][threads] -> figures over rounds
using Results = std::map<std::string, std::map<int, std::map<int, std::vector<double>>>>;

std::string fmt(double v, int precision = 1) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << v;
  return s.str();
}

int run_driver(const siamese::cli::Args& a, const std::string& self) {
  const int rounds = static_cast<int>(a.integer("rounds", 3));
  const std::vector<int> batches =
      a.integer_list("batches", "1,8,32,64,128", 1, siamese::kMaxBatchSize);
  const std::vector<int> thread_settings =
      a.integer_list("threads", "1,2", 1, siamese::kMaxThreads);
  const std::string seconds = a.text("seconds", "1.0");
  const std::string python = a.text("python", "/usr/bin/python3");
  const std::string reference =
      a.text("reference", std::string(SIAMESE_SOURCE_DIR) + "/../shared/anchors/seed_baseline.py");
  const std::string json_path = (std::filesystem::temp_directory_path() /
                                 ("embed_bench_ref_" + std::to_string(getpid()) + ".json"))
                                    .string();

  Results results;
  // Interleaved finely (per batch size and thread setting) so that the load of a shared machine
  // falls on both sides alike.
  for (int round = 1; round <= rounds; ++round) {
    for (int b : batches) {
      for (int t : thread_settings) {
        const std::string env = "OPENBLAS_NUM_THREADS=" + std::to_string(t) + " ";
        std::cerr << "round " << round << "/" << rounds << ", batch " << b << ", threads " << t
                  << std::endl;
        run_capture(env + python + " " + reference + " infer --infer-batches " + std::to_string(b) +
                    " --threads " + std::to_string(t) + " --runs 5 --warmup 2 --out " + json_path +
                    " 2>&1");
        std::ifstream in(json_path);
        const nlohmann::json ref = nlohmann::json::parse(in);
        results["reference seed"][b][t].push_back(
            ref["batches"][std::to_string(b)]["emb_per_s"]["median"].get<double>());
        for (const std::string arch : {"seed", "default"}) {
          const std::string out = run_capture(env + self + " --worker --arch " + arch +
                                              " --threads " + std::to_string(t) + " --batches " +
                                              std::to_string(b) + " --seconds " + seconds);
          std::istringstream lines(out);
          std::string line;
          while (std::getline(lines, line)) {
            if (line.empty() || line[0] != '{') continue;
            const nlohmann::json j = nlohmann::json::parse(line);
            results["C++ " + arch][b][t].push_back(j["emb_per_s"].get<double>());
          }
        }
      }
    }
  }
  std::filesystem::remove(json_path);

  // Each side at its best thread setting (by the median over rounds).
  auto best = [&](const std::string& side, int b, int* threads) {
    double top = 0.0;
    for (const auto& [t, v] : results[side][b]) {
      const double m = median(v);
      if (m > top) {
        top = m;
        *threads = t;
      }
    }
    return top;
  };
  std::cout << "embeddings/s, median of " << rounds
            << " interleaved rounds, each side at its best threads (T)\n";
  std::cout << std::left << std::setw(7) << "batch" << std::right << std::setw(16)
            << "reference seed" << std::setw(4) << "T" << std::setw(12) << "C++ seed"
            << std::setw(4) << "T" << std::setw(8) << "ratio" << std::setw(14) << "C++ default"
            << std::setw(4) << "T" << std::setw(10) << "ratio"
            << "\n";
  bool seed_ok = true, default_ok = true;
  for (int b : batches) {
    int tr = 0, ts = 0, td = 0;
    const double r = best("reference seed", b, &tr);
    const double s = best("C++ seed", b, &ts);
    const double d = best("C++ default", b, &td);
    seed_ok = seed_ok && s >= r;
    default_ok = default_ok && d >= 5.0 * r;
    std::cout << std::left << std::setw(7) << b << std::right << std::setw(16) << fmt(r)
              << std::setw(4) << tr << std::setw(12) << fmt(s) << std::setw(4) << ts << std::setw(8)
              << fmt(s / r, 2) << std::setw(14) << fmt(d) << std::setw(4) << td << std::setw(10)
              << fmt(d / r, 1) << "\n";
  }
  std::cout << "goal: C++ seed >= reference at every batch: " << (seed_ok ? "met" : "NOT met")
            << "; default >= 5x reference seed: " << (default_ok ? "met" : "NOT met") << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return siamese::cli::run_main(kProgramSpec, argc, argv, [](const siamese::cli::Args& a) {
    const std::string self = std::filesystem::canonical("/proc/self/exe").string();
    return a.has("worker") ? run_worker(a) : run_driver(a, self);
  });
}
