// gallery_scale_bench: how a gallery of 10k, 100k and 1M embeddings (random unit vectors, 10 per
// identity) loads from SQLite and from PostgreSQL (the element's open_reader + snapshot: time
// and the peak RSS of a process that does only that), and the exact (brute-force) matcher's time
// per query against the largest. Then, on face-like clustered data of each size, the FAISS
// IVF-Flat index (AnnIndex): build time, time per face, recall@1 against exact search, and the
// time of one patched() change. Run by gallery_scale_bench.sh, which starts a throwaway
// PostgreSQL server; or: gallery_scale_bench --dir DIR [--postgres URI] [--sizes 10000,...]
// [--embedding-size 128] [--queries 20] [--ann-only 1]. Each size needs an empty database: URI
// gets "_N".
#include <torch/torch.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "siamese/ann_index.h"
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
  bool ann_only = false;  // skip the stores and the exact matcher at the largest size
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "gallery_scale_bench: %s\nUsage: gallery_scale_bench --dir DIR [--postgres URI] "
               "[--sizes N,N,...] [--embedding-size E] [--queries Q] [--ann-only 1]\n",
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
    } else if (flag == "--ann-only") {
      o.ann_only = value == "1";
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

// What a PostgreSQL follower does for one change (one person removed, one enrolled: two commits),
// in a child process: read the change log's delta and patch the exact matcher it serves, against
// reading everything again and building the matcher afresh (what a reload costs). Prints a line.
void change_pickup_in_child(const std::string& location, int size) {
  const pid_t pid = ::fork();
  if (pid != 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return;
  }
  const siamese::ModelInfo model = bench_model(size);
  siamese::GallerySnapshot snap = siamese::Gallery::open_reader(location, model).snapshot();
  const int64_t version = snap.version;
  const siamese::Matcher served(std::move(snap.matrix), torch::kCPU, 0.5f);
  {
    siamese::Gallery writer = siamese::Gallery::open(location, model, false);
    writer.remove("p0000000");
    std::vector<siamese::EnrollmentSample> samples(10);
    const torch::Tensor v = torch::randn({10, size});
    for (int i = 0; i < 10; ++i) {
      samples[i].source_file = "newcomer/" + std::to_string(i);
      samples[i].embedding.assign(v[i].data_ptr<float>(), v[i].data_ptr<float>() + size);
    }
    writer.enroll("newcomer", samples, false);
  }
  auto t0 = Clock::now();
  const std::optional<siamese::GalleryDelta> delta =
      siamese::Gallery::open_reader(location, model).changes_since(version);
  const double read_s = seconds_since(t0);
  t0 = Clock::now();
  if (!delta) {
    std::printf("one change picked up: the change log did not say (a full reload)\n");
    ::_exit(1);
  }
  const auto patched = served.patched(
      delta->change, siamese::ThresholdChoice{0.5f, siamese::ThresholdSource::kGallery, "", true});
  const double patch_s = seconds_since(t0);
  t0 = Clock::now();
  siamese::GallerySnapshot again = siamese::Gallery::open_reader(location, model).snapshot();
  const siamese::Matcher fresh(std::move(again.matrix), torch::kCPU, 0.5f);
  const double full_s = seconds_since(t0);
  std::printf(
      "one change picked up (1 person removed, 1 enrolled), %lld embeddings: read the change "
      "%.3f s + patch the exact matcher %.3f s = %.3f s; a full reload (read + matcher) %.3f s%s\n",
      static_cast<long long>(served.embedding_count()), read_s, patch_s, read_s + patch_s, full_s,
      patched->names() == fresh.names() ? "" : " (MISMATCH: patched != fresh)");
  std::fflush(stdout);
  ::_exit(0);
}

// Face-like data: identity centres are random unit vectors (about 1.41 apart in 128-D), each
// sample is its centre plus Gaussian noise of kNoiseRatio * 1.41 / sqrt(E) per value, so a sample
// lies about 0.5 of the between-identity distance from its centre (0.7): genuine pairs then
// measure about 1.0 and impostor pairs about 1.7, the proportions of face embeddings (the dlib
// ResNet's: ~0.4-0.5 genuine against ~0.9 impostor). Random vectors would have no clusters and
// make any IVF index look worse than it is on faces.
constexpr int64_t kSamplesPerIdentity = 10;
constexpr double kNoiseRatio = 0.5;

torch::Tensor unit_rows(int64_t n, int size) {
  return torch::nn::functional::normalize(torch::randn({n, size}),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor noisy(const torch::Tensor& centres) {
  const double sigma = kNoiseRatio * std::sqrt(2.0) / std::sqrt(double(centres.size(1)));
  return centres + sigma * torch::randn(centres.sizes());
}

struct FaceLike {
  torch::Tensor centres, rows;  // [n / 10, E], [n, E]: row r belongs to identity r / 10
};

FaceLike face_like(int64_t n, int size) {
  torch::manual_seed(2);
  FaceLike f;
  f.centres = unit_rows((n + kSamplesPerIdentity - 1) / kSamplesPerIdentity, size);
  f.rows = noisy(f.centres.repeat_interleave(kSamplesPerIdentity, 0).slice(0, 0, n));
  return f;
}

// Mean milliseconds of fn() over at least 0.3 s (and 5 calls), after one warm-up call.
template <typename Fn>
double ms_per_call(Fn&& fn) {
  fn();
  int calls = 0;
  const auto t0 = Clock::now();
  while (calls < 5 || seconds_since(t0) < 0.3) {
    fn();
    ++calls;
  }
  return seconds_since(t0) * 1000.0 / calls;
}

// Exact nearest row of each query (the matcher's arithmetic, in chunks of rows): {distance, row}.
std::pair<torch::Tensor, torch::Tensor> exact_nearest(const torch::Tensor& rows,
                                                      const torch::Tensor& q) {
  torch::Tensor best_d = torch::full({q.size(0)}, INFINITY);
  torch::Tensor best_i = torch::full({q.size(0)}, -1, torch::kLong);
  const torch::Tensor qq = q.pow(2).sum(1, true);
  for (int64_t at = 0; at < rows.size(0); at += 100000) {
    const torch::Tensor g = rows.slice(0, at, at + 100000);
    const torch::Tensor d2 = (qq + g.pow(2).sum(1).unsqueeze(0) - 2 * q.matmul(g.t())).clamp_min(0);
    auto [d, i] = d2.min(1);
    const torch::Tensor better = d.sqrt() < best_d;
    best_d = torch::where(better, d.sqrt(), best_d);
    best_i = torch::where(better, i + at, best_i);
  }
  return {best_d, best_i};
}

// The IVF index on face-like data of each size: one table row per (size, probes).
void ann_bench(const Options& o) {
  if (!siamese::ann_available()) {
    std::printf("AnnIndex: this build has no FAISS (apt-get install libfaiss-dev and rebuild)\n");
    return;
  }
  const int default_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  constexpr int64_t kProbes = 500;  // genuine probes, and as many strangers
  std::printf(
      "\nFAISS IVF-Flat (AnnIndex) on face-like data: %lld samples per identity, genuine distance "
      "~%.1f, impostor ~%.1f; %lld genuine probes (fresh views of enrolled people) and %lld "
      "strangers; ms per face, 1 thread or %d (default); recall@1 = same identity as exact "
      "search's nearest row\n",
      static_cast<long long>(kSamplesPerIdentity), 2.0 * kNoiseRatio,
      std::sqrt(2.0 + 4.0 * kNoiseRatio * kNoiseRatio), static_cast<long long>(kProbes),
      static_cast<long long>(kProbes), default_threads);
  const std::string nt = std::to_string(default_threads) + "t";
  std::printf("%-10s %6s %6s %8s %8s %8s %8s %8s %8s %8s %9s %8s %8s %8s %8s\n", "embeddings",
              "lists", "probes", "build s", "b1 1t", ("b1 " + nt).c_str(), "b8 1t",
              ("b8 " + nt).c_str(), "b64 1t", ("b64 " + nt).c_str(), "exact b1", "genuine",
              "stranger", "str err", "patch s");
  for (const int64_t n : o.sizes) {
    const FaceLike data = face_like(n, o.embedding_size);
    torch::manual_seed(3);
    const torch::Tensor who = torch::randint(0, data.centres.size(0), {kProbes}, torch::kLong);
    const torch::Tensor genuine = noisy(data.centres.index_select(0, who));
    const torch::Tensor strangers = noisy(unit_rows(kProbes, o.embedding_size));
    torch::set_num_threads(default_threads);
    const auto [genuine_d, genuine_row] = exact_nearest(data.rows, genuine);
    const auto [stranger_d, stranger_row] = exact_nearest(data.rows, strangers);

    torch::set_num_threads(default_threads);
    auto t0 = Clock::now();
    const auto index = siamese::AnnIndex::build(data.rows, siamese::AnnSettings{});
    const double build_s = seconds_since(t0);

    // One change: identity 0's rows removed (the rest move down), 10 rows of a new one added.
    std::vector<int64_t> new_row_of_old(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) new_row_of_old[static_cast<size_t>(r)] = r < 10 ? -1 : r - 10;
    const torch::Tensor added = noisy(unit_rows(1, o.embedding_size).expand({10, -1}));
    t0 = Clock::now();
    const auto changed = index->patched(new_row_of_old, added, n - 10);
    const double patch_s = seconds_since(t0);
    if (changed->size() != n) std::printf("patched() has %lld rows\n", (long long)changed->size());

    // The exact matcher at this size, batch 1, one thread (the column to compare with).
    siamese::GalleryMatrix matrix;
    matrix.embeddings = data.rows;
    matrix.owners = torch::arange(n, torch::kLong).div(kSamplesPerIdentity, "floor");
    for (int64_t i = 0; i < data.centres.size(0); ++i) matrix.names.push_back(std::to_string(i));
    const siamese::Matcher matcher(std::move(matrix), torch::kCPU, 0.5f);
    torch::set_num_threads(1);
    const double exact_ms = ms_per_call([&] { (void)matcher.match(genuine.slice(0, 0, 1)); });

    for (const int probes : {8, 16, 32}) {
      // [batch 1, 8, 64][1 thread, default]; AnnIndex runs batches under 16 on the calling
      // thread whatever OpenMP allows (ann_index.cpp says why), so only 64 can differ.
      double ms[3][2];
      for (int b = 0; b < 3; ++b) {
        const int batch = b == 0 ? 1 : b == 1 ? 8 : 64;
        for (int t = 0; t < 2; ++t) {
          torch::set_num_threads(t == 0 ? 1 : default_threads);  // OpenMP's, used by FAISS too
          int64_t at = 0;
          ms[b][t] = ms_per_call([&] {
                       (void)index->search(genuine.slice(0, at, at + batch), 1, probes);
                       at = (at + batch) % (kProbes - batch);
                     }) /
                     batch;
        }
      }
      torch::set_num_threads(default_threads);
      const auto g = index->search(genuine, 1, probes);
      const auto s = index->search(strangers, 1, probes);
      const auto identity = [](const torch::Tensor& row) {
        return row.div(kSamplesPerIdentity, "floor");
      };
      const double genuine_recall = identity(g.second.squeeze(1))
                                        .eq(identity(genuine_row))
                                        .to(torch::kDouble)
                                        .mean()
                                        .item<double>();
      const double stranger_recall = identity(s.second.squeeze(1))
                                         .eq(identity(stranger_row))
                                         .to(torch::kDouble)
                                         .mean()
                                         .item<double>();
      const double stranger_err =
          ((s.first.squeeze(1) - stranger_d) / stranger_d).mean().item<double>();
      std::printf(
          "%-10lld %6d %6d %8.2f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %9.2f %8.3f %8.3f %8.4f "
          "%8.3f\n",
          static_cast<long long>(n), index->lists(), probes, build_s, ms[0][0], ms[0][1], ms[1][0],
          ms[1][1], ms[2][0], ms[2][1], exact_ms, genuine_recall, stranger_recall, stranger_err,
          patch_s);
      std::fflush(stdout);
    }
  }
  torch::set_num_threads(1);
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
  if (!o.ann_only) {
    std::printf("%-10s %-10s %10s %10s %14s\n", "store", "embeddings", "fill s", "load s",
                "load RSS MiB");
    std::string largest;
    for (const int64_t n : o.sizes) {
      std::vector<std::pair<std::string, std::string>> stores = {
          {"sqlite", o.dir + "/scale_" + std::to_string(n) + ".db"}};
      if (!o.postgres.empty())
        stores.emplace_back("postgres", o.postgres + "_" + std::to_string(n));
      for (const auto& [store, location] : stores) {
        if (store == "sqlite") std::filesystem::remove(location);
        const double fill_s = fill(location, n, o.embedding_size);
        const auto [load_s, rss] = load_in_child(location, o.embedding_size);
        std::printf("%-10s %-10lld %10.2f %10.3f %14.0f\n", store.c_str(),
                    static_cast<long long>(n), fill_s, load_s, rss - baseline_mib);
        std::fflush(stdout);
        largest = location;
      }
    }
    if (!o.postgres.empty()) {
      for (const int64_t n : o.sizes) {
        change_pickup_in_child(o.postgres + "_" + std::to_string(n), o.embedding_size);
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
  }
  ann_bench(o);
  return 0;
}
