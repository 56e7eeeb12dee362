// gpu_bench: the GPU figures of tests/gpu/run.sh, from one run on one CUDA device.
//  1. embeddings/s at batch 1..256, fp32 and fp16, `default`, `seed` and `dlib-resnet` (the
//     real-faces network of the demo) architectures, both
//     end to end (pinned host batch in, CPU embeddings out) and on device (batch already there);
//  2. per-frame latency (median, p99) of 8 faces on a 1920x1080 NV12 frame: upload + crop kernel
//     + embed + match against a gallery, next to the CPU-crop path;
//  3. frames/s of 8 streams whose faces go through one forward pass per round;
//  4. fp16 against fp32: distance error and decision flips at the median distance.
// Weights are fresh (speed does not depend on them). Usage:
//   gpu_bench [--device cuda:0] [--seconds 0.25] [--frames 300] [--gallery 1000] [--quick]
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "siamese/cli.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/face_resnet.h"
#include "siamese/gpu_preprocess.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string device = "cuda:0";
  double seconds = 0.25;  // per throughput point
  int frames = 300;       // per latency figure
  int gallery = 1000;     // identities (5 embeddings each)
  bool quick = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

siamese::LoadedModel fresh_model(const std::string& arch) {
  torch::manual_seed(1);
  siamese::ArchOptions opts;
  opts.set_arch(arch);
  if (arch == "seed") opts.set_embedding_size(5);
  if (arch == siamese::kDlibResNetArch) opts.set_embedding_size(128);
  siamese::LoadedModel m{siamese::fresh_model_info(opts), siamese::Network::create(opts), ""};
  return m;
}

// Waits for everything queued on the current stream (the embedder joins its stream back to it).
void sync(const torch::Tensor& t) { t.flatten()[0].item<float>(); }

// Embeddings per second at batch b: repeated embed() calls for at least `seconds`.
double throughput(siamese::Embedder& e, int64_t b, bool on_device, double seconds) {
  const siamese::InputSpec& s = e.input_spec();
  torch::Tensor input = torch::rand({b, s.channels, s.height, s.width}).pin_memory();
  if (on_device) input = input.to(e.device());
  auto run = [&] {
    if (on_device) {
      sync(e.embed_on_device(input));
    } else {
      e.embed(input);
    }
  };
  for (int i = 0; i < 3; ++i) run();
  int iterations = 0;
  const auto t0 = Clock::now();
  do {
    run();
    ++iterations;
  } while (seconds_since(t0) < seconds || iterations < 3);
  return static_cast<double>(b) * iterations / seconds_since(t0);
}

struct Latency {
  double median_ms = 0.0, p99_ms = 0.0;
};

Latency summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Latency l;
  l.median_ms = ms[ms.size() / 2];
  l.p99_ms = ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99))];
  return l;
}

// A 1920x1080 NV12 frame of smooth noise and 8 face boxes of 90..230 px.
struct TestFrame {
  int width = 1920, height = 1080;
  std::vector<std::uint8_t> y, uv;
  siamese::ImageView view;
  std::vector<siamese::Box> boxes;
};

TestFrame make_frame(unsigned seed) {
  TestFrame f;
  std::mt19937 rng(seed);
  f.y.resize(static_cast<size_t>(f.width) * f.height);
  f.uv.resize(static_cast<size_t>(f.width) * f.height / 2);
  for (size_t i = 0; i < f.y.size(); ++i)
    f.y[i] = static_cast<std::uint8_t>((i % 1920) / 8 + rng() % 32);
  for (auto& b : f.uv) b = static_cast<std::uint8_t>(112 + rng() % 32);
  f.view.planes = {f.y.data(), f.uv.data(), nullptr};
  f.view.strides = {f.width, f.width, 0};
  f.view.width = f.width;
  f.view.height = f.height;
  f.view.format = siamese::PixelFormat::kNV12;
  for (int i = 0; i < 8; ++i) {
    const int size = 90 + 20 * i;
    f.boxes.push_back({100 + i * 220, 200 + (i % 3) * 250, size, size});
  }
  return f;
}

siamese::GalleryMatrix random_gallery(int identities, int embedding_size) {
  siamese::GalleryMatrix g;
  const int per = 5;
  for (int i = 0; i < identities; ++i) g.names.push_back("id" + std::to_string(i));
  g.embeddings =
      torch::nn::functional::normalize(torch::randn({identities * per, embedding_size}),
                                       torch::nn::functional::NormalizeFuncOptions().dim(1));
  g.owners = torch::arange(identities * per, torch::kInt64).div(per, "floor");
  return g;
}

void print_throughput(const Options& opt, torch::Device device) {
  const std::vector<int64_t> batches = opt.quick
                                           ? std::vector<int64_t>{1, 8, 64, 256}
                                           : std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64, 128, 256};
  for (const std::string arch : {"default", "seed", "dlib-resnet"}) {
    std::printf(
        "\nEmbeddings/s, arch %s (E2E: pinned host batch -> CPU embeddings; DEV: on device)\n",
        arch.c_str());
    std::printf("%6s %12s %12s %12s %12s %10s\n", "batch", "fp32 E2E", "fp16 E2E", "fp32 DEV",
                "fp16 DEV", "fp16/fp32");
    siamese::Embedder e32(fresh_model(arch), device, 256, siamese::Precision::kFloat32);
    siamese::Embedder e16(fresh_model(arch), device, 256, siamese::Precision::kFloat16);
    e32.warm_up();
    e16.warm_up();
    for (const int64_t b : batches) {
      const double a = throughput(e32, b, false, opt.seconds);
      const double h = throughput(e16, b, false, opt.seconds);
      const double ad = throughput(e32, b, true, opt.seconds);
      const double hd = throughput(e16, b, true, opt.seconds);
      std::printf("%6lld %12.0f %12.0f %12.0f %12.0f %9.2fx\n", static_cast<long long>(b), a, h, ad,
                  hd, hd / ad);
      std::fflush(stdout);
    }
  }
}

void print_latency(const Options& opt, torch::Device device) {
  std::printf(
      "\nPer-frame latency, 8 faces on a 1920x1080 NV12 frame, arch default, gallery %d x 5"
      " (ms)\n",
      opt.gallery);
  std::printf("%-44s %10s %10s %10s\n", "path", "median", "p99", "frames/s");
  const TestFrame frame = make_frame(5);
  for (const auto precision : {siamese::Precision::kFloat32, siamese::Precision::kFloat16}) {
    siamese::Embedder embedder(fresh_model("default"), device, 64, precision);
    embedder.warm_up();
    const siamese::Matcher matcher(random_gallery(opt.gallery, embedder.info().embedding_size),
                                   device, 1.0f);
    siamese::GpuFacePreprocessor gpu(embedder.input_spec(), device);
    torch::Tensor pinned = siamese::make_batch_tensor(8, embedder.input_spec(), true);
    auto gpu_path = [&] {
      gpu.upload(frame.view);
      const torch::Tensor batch = gpu.crop(frame.boxes, siamese::Framing::kDetectorBox);
      return matcher.match(embedder.embed_on_device(batch)).size();
    };
    auto cpu_path = [&] {
      siamese::preprocess_into(frame.view, frame.boxes, embedder.input_spec(),
                               siamese::Framing::kDetectorBox, pinned, 0);
      return matcher.match(embedder.embed_on_device(pinned)).size();
    };
    const std::string p = siamese::precision_name(precision);
    for (int which = 0; which < 2; ++which) {
      std::vector<double> ms;
      for (int i = 0; i < opt.frames + 10; ++i) {
        const auto t0 = Clock::now();
        const size_t n = which == 0 ? gpu_path() : cpu_path();  // match() copies results back
        if (n != 8) throw siamese::Error("expected 8 matches");
        if (i >= 10) ms.push_back(seconds_since(t0) * 1e3);
      }
      const Latency l = summarise(ms);
      const std::string name = (which == 0 ? "GPU crop kernel + embed + match, "
                                           : "CPU crop (pinned) + embed + match, ") +
                               p;
      std::printf("%-44s %10.3f %10.3f %10.0f\n", name.c_str(), l.median_ms, l.p99_ms,
                  1e3 / l.median_ms);
      std::fflush(stdout);
    }
  }
}

void print_streams(const Options& opt, torch::Device device) {
  constexpr int kStreams = 8;
  std::printf("\n%d streams x 8 faces, one forward per round (GPU crops), arch default\n",
              kStreams);
  std::printf("%-10s %12s %12s %12s\n", "precision", "round ms", "p99 ms", "frames/s");
  std::vector<TestFrame> frames;
  for (int s = 0; s < kStreams; ++s) frames.push_back(make_frame(100 + s));
  for (const auto precision : {siamese::Precision::kFloat32, siamese::Precision::kFloat16}) {
    siamese::Embedder embedder(fresh_model("default"), device, 64, precision);
    embedder.warm_up();
    const siamese::Matcher matcher(random_gallery(opt.gallery, embedder.info().embedding_size),
                                   device, 1.0f);
    std::vector<siamese::GpuFacePreprocessor> pre;
    for (int s = 0; s < kStreams; ++s) pre.emplace_back(embedder.input_spec(), device);
    std::vector<double> ms;
    for (int i = 0; i < opt.frames / 4 + 5; ++i) {
      const auto t0 = Clock::now();
      std::vector<torch::Tensor> crops;
      for (int s = 0; s < kStreams; ++s) {
        crops.push_back(
            pre[s].preprocess(frames[s].view, frames[s].boxes, siamese::Framing::kDetectorBox));
      }
      const auto matches = matcher.match(embedder.embed_on_device(torch::cat(crops)));
      if (matches.size() != 8 * kStreams) throw siamese::Error("expected 64 matches");
      if (i >= 5) ms.push_back(seconds_since(t0) * 1e3);
    }
    const Latency l = summarise(ms);
    std::printf("%-10s %12.3f %12.3f %12.0f\n", siamese::precision_name(precision), l.median_ms,
                l.p99_ms, kStreams * 1e3 / l.median_ms);
    std::fflush(stdout);
  }
}

void print_agreement(torch::Device device) {
  std::printf("\nfp16 vs fp32 on 64 GPU crops (pairwise distances; threshold = median fp32)\n");
  std::printf("%-12s %8s %12s %14s %8s\n", "arch", "pairs", "median d", "max |d16-d32|", "flips");
  const TestFrame frame = make_frame(9);
  for (const std::string arch : {"default", "seed", "dlib-resnet"}) {
    siamese::Embedder e32(fresh_model(arch), device, 64, siamese::Precision::kFloat32);
    siamese::Embedder e16(fresh_model(arch), device, 64, siamese::Precision::kFloat16);
    siamese::GpuFacePreprocessor gpu(e32.input_spec(), device);
    std::vector<siamese::Box> boxes;
    for (int i = 0; i < 64; ++i)
      boxes.push_back({20 + (i % 16) * 115, 40 + (i / 16) * 250, 80 + i, 90 + i});
    const torch::Tensor batch = gpu.preprocess(frame.view, boxes, siamese::Framing::kExact);
    const torch::Tensor a = e32.embed(batch), b = e16.embed(batch);
    const auto iu = torch::triu_indices(64, 64, 1);
    const torch::Tensor da = torch::cdist(a, a).index({iu[0], iu[1]});
    const torch::Tensor db = torch::cdist(b, b).index({iu[0], iu[1]});
    const float t = da.median().item<float>();
    const int64_t flips = ((da <= t) != (db <= t)).sum().item<int64_t>();
    std::printf("%-12s %8lld %12.4f %14.5f %8lld\n", arch.c_str(),
                static_cast<long long>(da.numel()), t, (da - db).abs().max().item<float>(),
                static_cast<long long>(flips));
  }
}

const siamese::cli::Program kProgramSpec{
    "gpu_bench",
    R"(usage: gpu_bench [--device cuda:0] [--seconds S] [--frames N] [--gallery N] [--quick]

The GPU figures of tests/gpu/run.sh: embeddings/s by batch (fp32, fp16), per-frame latency of
8 faces on a 1920x1080 frame, frames/s of 8 streams, fp16 against fp32.

  --device D     a CUDA device (default cuda:0)
  --seconds S    seconds per throughput point (default 0.25)
  --frames N     frames per latency figure (default 300)
  --gallery N    identities in the gallery, 5 embeddings each (default 1000)
  --quick        batch sizes 1, 8, 64 and 256 only
)",
    {{"",
      {siamese::cli::flags::device(), siamese::cli::Flag::number("seconds", 0.01, 600),
       siamese::cli::Flag::integer("frames", 1, 1000000),
       siamese::cli::Flag::integer("gallery", 1, 10000000), siamese::cli::Flag::on_off("quick")},
      0,
      0,
      ""}}};

int run(const siamese::cli::Args& flags) {
  Options opt;
  opt.device = flags.text("device", opt.device);
  opt.seconds = flags.number("seconds", opt.seconds);
  opt.frames = static_cast<int>(flags.integer("frames", opt.frames));
  opt.gallery = static_cast<int>(flags.integer("gallery", opt.gallery));
  opt.quick = flags.has("quick");
  const torch::Device device = siamese::resolve_device(opt.device);
  if (!device.is_cuda()) throw siamese::DeviceError("gpu_bench needs a CUDA device");
  if (!siamese::GpuFacePreprocessor::available()) {
    throw siamese::DeviceError(siamese::GpuFacePreprocessor::unavailable_reason());
  }
  torch::NoGradGuard no_grad;
  std::printf("gpu_bench on %s (%d CUDA device(s)), LibTorch %s\n", device.str().c_str(),
              static_cast<int>(torch::cuda::device_count()), TORCH_VERSION);
  print_throughput(opt, device);
  print_latency(opt, device);
  print_streams(opt, device);
  print_agreement(device);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return siamese::cli::run_main(kProgramSpec, argc, argv, run); }
