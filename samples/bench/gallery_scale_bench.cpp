// gallery_scale_bench: how a gallery of 10k, 100k and 1M embeddings (random unit vectors, 10 per
// identity) loads from SQLite and from PostgreSQL (the element's open_reader + snapshot: time
// and the peak RSS of a process that does only that), and the exact (brute-force) matcher's time
// per query against the largest. Run by gallery_scale_bench.sh, which starts a throwaway
// PostgreSQL server; or: gallery_scale_bench --dir DIR [--postgres URI] [--sizes 10000,...]
// [--embedding-size 128] [--queries 20]. Each size needs an empty database: URI gets "_N".
#include <torch/torch.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "siamese/gallery.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
  std::string dir, postgres;
  std::vector<int64_t> sizes = {10000, 100000, 1000000};
  int embedding_size = 128;
  int queries = 20;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "gallery_scale_bench: %s\nUsage: gallery_scale_bench --dir DIR [--postgres URI] "
               "[--sizes N,N,...] [--embedding-size E] [--queries Q]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value of " + flag);
    const std::string value = argv[++i];
    if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--postgres") {
      o.postgres = value;
    } else if (flag == "--sizes") {
      o.sizes.clear();
      size_t start = 0;
      while (start < value.size()) {
        const size_t end = value.find(',', start);
        o.sizes.push_back(std::atoll(value.substr(start, end - start).c_str()));
        if (end == std::string::npos) break;
        start = end + 1;
      }
    } else if (flag == "--embedding-size") {
      o.embedding_size = std::atoi(value.c_str());
    } else if (flag == "--queries") {
      o.queries = std::atoi(value.c_str());
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (o.dir.empty()) usage("--dir is required");
  return o;
}

siamese::ModelInfo bench_model(int size) {
  siamese::ModelInfo m;
  m.fingerprint = "be0c4be0c4be0c40";
  m.embedding_size = size;
  return m;
}

// Fills a new gallery with n random unit vectors, 10 per identity, in chunks of 50k rows.
double fill(const std::string& location, int64_t n, int size) {
  const auto t0 = Clock::now();
  siamese::Gallery g = siamese::Gallery::open(location, bench_model(size), true);
  torch::manual_seed(1);
  constexpr int64_t kPerIdentity = 10;
  constexpr int64_t kChunk = 50000;
  for (int64_t at = 0; at < n; at += kChunk) {
    const int64_t rows = std::min(kChunk, n - at);
    const torch::Tensor v = torch::nn::functional::normalize(
        torch::randn({rows, size}), torch::nn::functional::NormalizeFuncOptions().dim(1));
    const float* p = v.data_ptr<float>();
    std::vector<siamese::IdentitySamples> batch;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = at + r;
      if (row % kPerIdentity == 0) {
        char name[32];
        std::snprintf(name, sizeof name, "p%07lld", static_cast<long long>(row / kPerIdentity));
        batch.emplace_back(name, std::vector<siamese::EnrollmentSample>{});
      }
      siamese::EnrollmentSample s;
      s.source_file = "bench/" + std::to_string(row);
      s.embedding.assign(p + r * size, p + (r + 1) * size);
      batch.back().second.push_back(std::move(s));
    }
    g.enroll_batch(batch, false);
  }
  return seconds_since(t0);
}

// Loads in a child process: the seconds it took and the child's peak RSS (MiB).
std::pair<double, double> load_in_child(const std::string& location, int size) {
  int pipe_fd[2];
  if (::pipe(pipe_fd) != 0) std::exit(1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fd[0]);
    double seconds = -1.0;
    if (!location.empty()) {
      const auto t0 = Clock::now();
      const siamese::GallerySnapshot snap =
          siamese::Gallery::open_reader(location, bench_model(size)).snapshot();
      seconds = seconds_since(t0);
      if (snap.matrix.embeddings.size(0) == 0) seconds = -1.0;
    }
    (void)!::write(pipe_fd[1], &seconds, sizeof seconds);
    ::_exit(0);
  }
  ::close(pipe_fd[1]);
  double seconds = -1.0;
  (void)!::read(pipe_fd[0], &seconds, sizeof seconds);
  ::close(pipe_fd[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  return {seconds, static_cast<double>(usage.ru_maxrss) / 1024.0};
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::filesystem::create_directories(o.dir);
  torch::set_num_threads(1);
  const double baseline_mib = load_in_child("", o.embedding_size).second;
  std::printf(
      "gallery_scale_bench: embedding size %d, 10 embeddings per identity, 1 thread; "
      "baseline process peak RSS %.0f MiB\n",
      o.embedding_size, baseline_mib);
  std::printf("%-10s %-10s %10s %10s %14s\n", "store", "embeddings", "fill s", "load s",
              "load RSS MiB");
  std::string largest;
  for (const int64_t n : o.sizes) {
    std::vector<std::pair<std::string, std::string>> stores = {
        {"sqlite", o.dir + "/scale_" + std::to_string(n) + ".db"}};
    if (!o.postgres.empty()) stores.emplace_back("postgres", o.postgres + "_" + std::to_string(n));
    for (const auto& [store, location] : stores) {
      if (store == "sqlite") std::filesystem::remove(location);
      const double fill_s = fill(location, n, o.embedding_size);
      const auto [load_s, rss] = load_in_child(location, o.embedding_size);
      std::printf("%-10s %-10lld %10.2f %10.3f %14.0f\n", store.c_str(), static_cast<long long>(n),
                  fill_s, load_s, rss - baseline_mib);
      std::fflush(stdout);
      largest = location;
    }
  }
  // The exact matcher at the largest size: one distance matrix per query batch.
  siamese::GallerySnapshot snap =
      siamese::Gallery::open_reader(largest, bench_model(o.embedding_size)).snapshot();
  const int64_t rows = snap.matrix.embeddings.size(0);
  const siamese::Matcher matcher(std::move(snap.matrix), torch::kCPU, 0.5f);
  for (const int batch : {1, 8}) {
    const torch::Tensor q =
        torch::nn::functional::normalize(torch::randn({batch, o.embedding_size}),
                                         torch::nn::functional::NormalizeFuncOptions().dim(1));
    (void)matcher.match(q);  // warm-up
    const auto t0 = Clock::now();
    for (int i = 0; i < o.queries; ++i) (void)matcher.match(q);
    const double ms = seconds_since(t0) * 1000.0 / o.queries;
    std::printf(
        "exact matcher, %lld embeddings, batch %d: %.1f ms per batch, %.1f ms per face "
        "(1 thread)\n",
        static_cast<long long>(rows), batch, ms, ms / batch);
  }
  return 0;
}
