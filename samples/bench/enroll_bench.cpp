// enroll_bench: enrollment throughput (images/s through decode, preprocess, embed and the
// SQLite commit, as `siamese-enroll add --no-detect` does it) and matcher latency for 1, 32
// and 256 query faces against galleries of 1k, 10k and 100k random unit embeddings.
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "enroll_job.h"
#include "image_set.h"
#include "siamese/cli_core_flags.h"
#include "siamese/device.h"
#include "siamese/gallery.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"

namespace cli = siamese::cli;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
  std::string model, data, device = "cpu";
  int threads = 0, batch_size = siamese::kDefaultBatchSize, embedding_size = 128;
  bool skip_enroll = false;
};

const cli::Program kProgramSpec{
    "enroll_bench",
    R"(usage: enroll_bench [options]

Enrollment throughput (images/s through decode, preprocess, embed and the SQLite commit, as
`siamese-enroll add --no-detect` does it) and matcher latency for 1, 32 and 256 query faces
against galleries of 1k, 10k and 100k random unit embeddings.

  --model FILE           the model (default: an untrained default-architecture network)
  --data DIR             the AT&T faces (default $SIAMESE_DATA, else ../shared/data/att_faces)
  --device D             auto, cpu (default), cuda, cuda:N
  --threads N            CPU threads of LibTorch (default: LibTorch's choice)
  --batch-size N         faces per forward pass (default 32)
  --embedding-size E     the random gallery's embedding size (default 128)
  --skip-enroll          measure the matcher only
)",
    {{"",
      cli::flags::embedder() + std::vector<cli::Flag>{cli::Flag::text("data"),
                                                      cli::Flag::integer("embedding-size", 1, 4096),
                                                      cli::Flag::on_off("skip-enroll")},
      0, 0, ""}}};

Options options_of(const cli::Args& args) {
  Options o;
  if (const char* env = std::getenv("SIAMESE_DATA"); env && *env) {
    o.data = env;
  } else {
    o.data = SIAMESE_SOURCE_DIR "/../shared/data/att_faces";
  }
  o.model = args.text("model");
  o.data = args.text("data", o.data);
  o.device = args.text("device", o.device);
  o.threads = static_cast<int>(args.integer("threads", o.threads));
  o.batch_size = static_cast<int>(args.integer("batch-size", o.batch_size));
  o.embedding_size = static_cast<int>(args.integer("embedding-size", o.embedding_size));
  o.skip_enroll = args.has("skip-enroll");
  return o;
}

// The model to enroll with: a file, or an untrained default-architecture network (the cost of
// a forward pass does not depend on the weights).
siamese::LoadedModel model_of(const Options& o) {
  if (!o.model.empty()) return siamese::load_model(o.model);
  siamese::ArchOptions arch;
  siamese::LoadedModel m{siamese::fresh_model_info(arch), siamese::Network::create(arch),
                         "(untrained)"};
  m.info.fingerprint = siamese::fingerprint_of(m.network);
  return m;
}

void bench_enroll(const Options& o, torch::Device device) {
  if (o.data.empty() || !fs::is_directory(o.data)) {
    std::cout << "enrollment: skipped (no AT&T folder; give --data or SIAMESE_DATA)\n\n";
    return;
  }
  siamese::Embedder embedder(model_of(o), device, o.batch_size);
  siamese::enroll::FaceSourceOptions fo;
  fo.detect = false;
  siamese::enroll::FaceSource source(fo, embedder.input_spec().channels);
  const auto plan = siamese::enroll::plan_enrollment({o.data}, std::nullopt);
  std::vector<siamese::enroll::EmbedRequest> requests;
  for (const auto& img : plan.images) requests.push_back({img.identity, img.path, std::nullopt});
  const std::string db =
      (fs::temp_directory_path() / ("enroll_bench_" + std::to_string(::getpid()) + ".db")).string();
  // Warm-up (first forward pass allocates), then the measured run into a fresh gallery.
  siamese::enroll::embed_requests(
      {requests.begin(), requests.begin() + std::min<size_t>(8, requests.size())}, source, embedder,
      {});
  const auto t0 = Clock::now();
  auto outcome = siamese::enroll::embed_requests(requests, source, embedder, {});
  const double t_embed = seconds_since(t0);
  const auto t1 = Clock::now();
  {
    siamese::Gallery g = siamese::Gallery::open(db, embedder.info(), true);
    g.enroll_batch(outcome.identities, false);
  }
  const double t_commit = seconds_since(t1);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);
  const double n = static_cast<double>(outcome.embedded);
  std::printf("enrollment (--no-detect, %s arch, batch %d, %s): %lld images of %zu identities\n",
              embedder.info().arch.arch.c_str(), o.batch_size, device.str().c_str(),
              static_cast<long long>(outcome.embedded), outcome.identities.size());
  std::printf("  decode+preprocess+embed: %.2f s = %.1f images/s\n", t_embed, n / t_embed);
  std::printf("  SQLite commit (one transaction): %.1f ms = %.0f rows/s\n", t_commit * 1e3,
              n / t_commit);
  std::printf("  end to end: %.1f images/s\n\n", n / (t_embed + t_commit));
}

siamese::GalleryMatrix random_gallery(int64_t m, int64_t e, int per_identity) {
  siamese::GalleryMatrix g;
  const int64_t identities = (m + per_identity - 1) / per_identity;
  for (int64_t i = 0; i < identities; ++i) g.names.push_back("id" + std::to_string(i));
  g.embeddings = torch::nn::functional::normalize(
      torch::randn({m, e}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  g.owners = torch::arange(m, torch::kInt64).div(per_identity, "floor");
  return g;
}

// Median seconds of one match() call (after warm-up), over enough repetitions to fill ~0.3 s.
double time_match(const siamese::Matcher& matcher, const torch::Tensor& q, torch::Device device) {
  for (int i = 0; i < 2; ++i) matcher.match(q, 5);
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 5 || (seconds_since(start) < 0.3 && times.size() < 200)) {
    const auto t = Clock::now();
    matcher.match(q, 5);  // results come back to the CPU: the call includes the sync
    times.push_back(seconds_since(t));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void bench_matcher(const Options& o, torch::Device device) {
  const int64_t e = o.embedding_size;
  std::printf(
      "matcher (%s, E=%lld, 5 embeddings per identity, top-5): median ms per match() call\n",
      device.str().c_str(), static_cast<long long>(e));
  std::printf("%10s %10s %10s %10s %12s %14s\n", "gallery", "1 query", "32 queries", "256 queries",
              "us/query@256", "batch gain@256");
  torch::manual_seed(0);
  for (const int64_t m : {1000, 10000, 100000}) {
    const siamese::Matcher matcher(random_gallery(m, e, 5), device, 1.0f);
    double ms[3];
    int k = 0;
    for (const int64_t n : {1, 32, 256}) {
      const auto q = torch::nn::functional::normalize(
          torch::randn({n, e}), torch::nn::functional::NormalizeFuncOptions().dim(1));
      ms[k++] = time_match(matcher, q, device) * 1e3;
    }
    // batch gain: 256 single-query calls vs one call of 256 queries.
    std::printf("%10lld %10.3f %10.3f %10.3f %12.2f %13.1fx\n", static_cast<long long>(m), ms[0],
                ms[1], ms[2], ms[2] * 1e3 / 256, 256 * ms[0] / ms[2]);
  }
}

int run(const cli::Args& args) {
  const Options o = options_of(args);
  siamese::set_cpu_threads(o.threads);
  const torch::Device device = siamese::resolve_device(o.device);
  std::printf("enroll_bench: torch threads %d, device %s\n\n", torch::get_num_threads(),
              device.str().c_str());
  if (!o.skip_enroll) bench_enroll(o, device);
  bench_matcher(o, device);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
