// dlib_bench: embeddings/s of the imported dlib-resnet (face-api's face recognition network) at
// batch 1, 8 and 32 in C++ (LibTorch on the CPU, affine layers folded, as the programs run it)
// beside the same network run by face-api's own JavaScript in node
// (tests/reference/face_api_embeddings.js --bench: dist/face-api.js, tfjs CPU backend), on the
// same inputs, interleaved in one run; with the FLOPs of one face and the GFLOP/s each side
// reaches. Inputs: the first LFW photos (whole 250x250 images resized to 150x150 by the one
// preprocessing function), else random pixels; both sides read the same pixels from a raw file.
// Each C++ thread setting T runs in its own process with LibTorch threads =
// OPENBLAS_NUM_THREADS = T (as samples/bench/embed_bench.cpp does), node after it, per round.
//   dlib_bench [--model dlib.pt] [--batches 1,8,32] [--threads 1,2] [--seconds 2] [--rounds 2]
//              [--lfw DIR] [--node node | --node none]
//   dlib_bench --worker T --model dlib.pt --inputs FILE --batches ... --seconds S
// Without --model the network is imported from the weights cache (tests/fetch_weights.sh).
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
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
#include "siamese/face_resnet.h"
#include "siamese/image_io.h"
#include "siamese/limits.h"
#include "siamese/model_file.h"
#include "siamese/pretrained.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using siamese::bench::median;
using siamese::bench::run_capture;

std::string fmt(double v, int precision = 1) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << v;
  return s.str();
}

// Up to n faces as the model's input [n,3,150,150] (LFW photos when present, else random).
torch::Tensor bench_inputs(const siamese::InputSpec& spec, const std::string& lfw, int n,
                           std::string* what) {
  std::vector<torch::Tensor> faces;
  std::error_code ec;
  if (!lfw.empty() && fs::is_directory(lfw, ec)) {
    const siamese::ImageFolder folder = siamese::scan_image_folder(lfw);
    for (const auto& image : folder.images) {
      if (static_cast<int>(faces.size()) == n) break;
      const cv::Mat img = siamese::read_image(image.path, 3);
      const siamese::ImageView view = siamese::view_of(img);
      faces.push_back(siamese::preprocess(view, view.full_box(), spec, siamese::Framing::kExact));
    }
    *what = "the first " + std::to_string(faces.size()) + " LFW photos of " + lfw;
  }
  if (faces.empty()) {
    *what = "random pixels (no LFW folder)";
    torch::manual_seed(0);
    return torch::rand({n, spec.channels, spec.height, spec.width}) - 0.45;
  }
  return torch::stack(faces);
}

// The inputs as both sides read them: float32 pixel values (0..255), HWC, face after face.
void write_pixels(const torch::Tensor& inputs, const siamese::InputSpec& spec,
                  const std::string& path) {
  torch::Tensor pixels = inputs.clone();
  for (int c = 0; c < spec.channels; ++c) {
    pixels.select(1, c).mul_(spec.std[c]).add_(spec.mean[c]).div_(spec.scale);
  }
  pixels = pixels.permute({0, 2, 3, 1}).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(pixels.data_ptr<float>()),
            static_cast<std::streamsize>(pixels.numel() * sizeof(float)));
}

// And back: [N,C,H,W] normalised as the model expects.
torch::Tensor read_pixels(const std::string& path, const siamese::InputSpec& spec) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  const int64_t face = int64_t{spec.channels} * spec.height * spec.width;
  const int64_t n = static_cast<int64_t>(bytes.size()) / (face * 4);
  if (n < 1 || n * face * 4 != static_cast<int64_t>(bytes.size())) {
    throw std::runtime_error(path + ": not whole faces of the model's input");
  }
  torch::Tensor t =
      torch::from_blob(bytes.data(), {n, spec.height, spec.width, spec.channels}, torch::kFloat32)
          .permute({0, 3, 1, 2})
          .contiguous();
  for (int c = 0; c < spec.channels; ++c) {
    t.select(1, c).mul_(spec.scale).sub_(spec.mean[c]).div_(spec.std[c]);
  }
  return t;
}

siamese::LoadedModel bench_model(const siamese::cli::Args& args) {
  siamese::LoadedModel model;
  if (args.has("model")) {
    model = siamese::load_model(args.text("model"));
  } else {
    model.info = siamese::face_api_model_info();
    model.network = siamese::import_face_api(siamese::face_api_cache_dir());
    model.path = "(imported from " + siamese::face_api_cache_dir() + ")";
  }
  if (model.info.arch.arch != siamese::kDlibResNetArch) {
    throw std::invalid_argument("--model: expected a dlib-resnet model, got " +
                                model.info.arch.arch);
  }
  return model;
}

// One thread setting: one JSON line per batch size.
int run_worker(const siamese::cli::Args& args) {
  const int threads = static_cast<int>(args.integer("worker", 1));
  const double seconds = args.number("seconds", 2.0);
  siamese::set_cpu_threads(threads);
  siamese::LoadedModel model = bench_model(args);
  const torch::Tensor inputs = read_pixels(args.required("inputs"), model.info.input);
  const std::vector<int> batches =
      args.integer_list("batches", "1,8,32", 1, siamese::kMaxBatchSize);
  siamese::Embedder embedder(model, torch::kCPU, *std::max_element(batches.begin(), batches.end()));
  for (int b : batches) {
    std::vector<int64_t> rows(b);  // faces 0..b-1, as node takes them
    for (int i = 0; i < b; ++i) rows[i] = i % inputs.size(0);
    const torch::Tensor x = inputs.index_select(0, torch::tensor(rows));
    embedder.embed(x);  // warm-up
    int64_t runs = 0;
    const auto begin = Clock::now();
    double elapsed = 0.0;
    do {
      embedder.embed(x);
      ++runs;
      elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    } while (elapsed < seconds);
    std::cout << nlohmann::json{{"threads", threads},
                                {"batch", b},
                                {"runs", runs},
                                {"embeddings_per_s", runs * b / elapsed}}
                     .dump()
              << std::endl;
  }
  return 0;
}

int run_driver(const siamese::cli::Args& args, const std::string& self) {
  const std::string batches_text = args.text("batches", "1,8,32");
  const std::vector<int> batches =
      args.integer_list("batches", "1,8,32", 1, siamese::kMaxBatchSize);
  const std::vector<int> thread_settings =
      args.integer_list("threads", "1,2", 1, siamese::kMaxThreads);
  const std::string seconds = args.text("seconds", "2");
  const int rounds = static_cast<int>(args.integer("rounds", 2));
  const std::string node = args.text("node", "node");
  const std::string lfw = args.text("lfw", std::string(SIAMESE_SOURCE_DIR) + "/../shared/data/lfw");

  siamese::LoadedModel model = bench_model(args);
  const siamese::InputSpec spec = model.info.input;
  std::string inputs_text;
  const torch::Tensor inputs =
      bench_inputs(spec, lfw, *std::max_element(batches.begin(), batches.end()), &inputs_text);
  const std::string tag = std::to_string(getpid());
  const std::string pixels_path =
      (fs::temp_directory_path() / ("dlib_bench_" + tag + ".f32")).string();
  write_pixels(inputs, spec, pixels_path);
  std::string model_path = args.text("model", "");
  if (model_path.empty()) {  // the workers load what the driver imported
    model_path = (fs::temp_directory_path() / ("dlib_bench_" + tag + ".pt")).string();
    siamese::save_model(model_path, model.network, model.info);
  }
  const double gflop = siamese::dlib_resnet_flops(spec.width) / 1e9;

  // results[side][batch] -> embeddings/s per round
  std::map<std::string, std::map<int, std::vector<double>>> results;
  // A worker's output: one JSON line per batch size ({"batch", "embeddings_per_s", ...}).
  const auto record = [&](const std::string& out, const std::string& side, int round, int digits) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] != '{') continue;
      const nlohmann::json j = nlohmann::json::parse(line);
      const double rate = j["embeddings_per_s"].get<double>();
      results[side][j["batch"].get<int>()].push_back(rate);
      std::cerr << "round " << round << ", batch " << j["batch"] << ", " << side
                << (j.contains("backend") ? " (" + j["backend"].get<std::string>() + ")" : "")
                << ": " << fmt(rate, digits) << " embeddings/s\n";
    }
  };
  for (int round = 1; round <= rounds; ++round) {
    for (int t : thread_settings) {
      const std::string out =
          run_capture("OPENBLAS_NUM_THREADS=" + std::to_string(t) + " " + self + " --worker " +
                      std::to_string(t) + " --model " + model_path + " --inputs " + pixels_path +
                      " --batches " + batches_text + " --seconds " + seconds + " 2>&1");
      record(out, "C++ " + std::to_string(t) + " thr", round, 1);
    }
    if (node != "none") {
      const std::string out = run_capture(node + " " + SIAMESE_SOURCE_DIR +
                                          "/tests/reference/face_api_embeddings.js --bench" +
                                          " --batches " + batches_text + " --seconds " + seconds +
                                          " --inputs " + pixels_path + " 2>/dev/null");
      record(out, "face-api.js", round, 2);
    }
  }
  fs::remove(pixels_path);
  if (!args.has("model")) fs::remove(model_path);

  std::cout << "dlib-resnet (" << model.path << "): " << spec.channels << "x" << spec.height << "x"
            << spec.width << " -> " << model.info.embedding_size << "-D, " << fmt(gflop, 3)
            << " GFLOP per face\n"
            << "inputs: " << inputs_text << "\n"
            << "embeddings/s (GFLOP/s), median of " << rounds << " interleaved rounds";
  if (node != "none") {
    std::cout << "; face-api.js = its dist bundle in node "
              << run_capture(node + " --version 2>&1").substr(0, 8)
              << " (tfjs CPU backend, one thread)";
  }
  std::cout << "\n" << std::left << std::setw(7) << "batch";
  for (const auto& entry : results) std::cout << std::right << std::setw(22) << entry.first;
  if (results.count("face-api.js")) std::cout << std::setw(16) << "best C++ / JS";
  std::cout << "\n";
  for (int b : batches) {
    std::cout << std::left << std::setw(7) << b;
    double best = 0.0;
    for (auto& [side, per_batch] : results) {
      const double m = median(per_batch[b]);
      if (side != "face-api.js") best = std::max(best, m);
      std::cout << std::right << std::setw(22)
                << (fmt(m, m < 10 ? 2 : 1) + " (" + fmt(m * gflop, 1) + ")");
    }
    if (results.count("face-api.js")) {
      const double js = median(results["face-api.js"][b]);
      std::cout << std::setw(16) << (js > 0 ? fmt(best / js, 0) + "x" : "-");
    }
    std::cout << "\n";
  }
  return 0;
}

const siamese::cli::Program kProgramSpec{
    "dlib_bench",
    R"(usage: dlib_bench [--model dlib.pt] [--batches 1,8,32] [--threads 1,2] [--seconds 2]
                  [--rounds 2] [--lfw DIR] [--node node | --node none]
       dlib_bench --worker T --model dlib.pt --inputs FILE --batches LIST --seconds S

Embeddings/s of the imported dlib-resnet in C++ beside face-api's own JavaScript in node, on the
same pixels, interleaved per round. Without --model the network is imported from the weights
cache (tests/fetch_weights.sh).

  --model FILE     a dlib-resnet model (default: imported from the cache)
  --batches LIST   batch sizes (default 1,8,32)
  --threads LIST   LibTorch and OpenBLAS thread settings (default 1,2)
  --seconds S      seconds per measurement at least (default 2)
  --rounds N       rounds (default 2)
  --lfw DIR        LFW photos for the inputs (default ../shared/data/lfw)
  --node CMD       node to run face-api with, or none (default node)
  --worker T       one C++ measurement process at T threads (run by the driver), with --inputs
)",
    {{"",
      {siamese::cli::flags::model(), siamese::cli::Flag::text("batches"),
       siamese::cli::Flag::text("threads"), siamese::cli::Flag::number("seconds", 0.01, 3600),
       siamese::cli::Flag::integer("rounds", 1, 1000), siamese::cli::Flag::text("lfw"),
       siamese::cli::Flag::text("node"),
       siamese::cli::Flag::integer("worker", 1, siamese::kMaxThreads),
       siamese::cli::Flag::text("inputs")},
      0,
      0,
      ""}}};

}  // namespace

int main(int argc, char** argv) {
  return siamese::cli::run_main(kProgramSpec, argc, argv, [](const siamese::cli::Args& args) {
    if (args.has("worker")) return run_worker(args);
    return run_driver(args, fs::canonical("/proc/self/exe").string());
  });
}
