// The CUDA path: the face-crop kernel against preprocess() (its per-pixel code on the host
// everywhere, the kernel itself on a GPU), the Embedder on CUDA against the CPU, fp16 decisions
// against fp32. GPU tests skip without a usable GPU and FAIL instead when the build expects
// CUDA (SIAMESE_EXPECT_CUDA=ON). Tolerances: crops 1e-6 (bit-identical by construction);
// embeddings on CUDA vs CPU 1e-2 x norm (cuDNN may use TF32); fp16 distances 1e-2 x norm.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "../pipeline/cuda/face_crop_kernel.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/gpu_preprocess.h"
#include "siamese/model_file.h"
#include "siamese/preprocess.h"
#include "test_support.h"

using namespace siamese;

namespace {

constexpr PixelFormat kAllFormats[] = {PixelFormat::kGray8, PixelFormat::kRGB,  PixelFormat::kBGR,
                                       PixelFormat::kRGBx,  PixelFormat::kBGRx, PixelFormat::kxRGB,
                                       PixelFormat::kxBGR,  PixelFormat::kRGBA, PixelFormat::kBGRA,
                                       PixelFormat::kI420,  PixelFormat::kNV12};

// A frame of random bytes with padded strides (odd sizes catch stride and chroma bugs).
struct Frame {
  std::vector<std::uint8_t> planes[3];
  ImageView view;
};

Frame random_frame(PixelFormat format, int width, int height, unsigned seed) {
  std::mt19937 rng(seed);
  Frame f;
  auto fill = [&](int p, int stride, int rows) {
    f.planes[p].resize(static_cast<size_t>(stride) * rows);
    for (auto& b : f.planes[p]) b = static_cast<std::uint8_t>(rng() & 0xFF);
    f.view.strides[p] = stride;
  };
  const int cw = (width + 1) / 2, ch = (height + 1) / 2;
  if (format == PixelFormat::kI420) {
    fill(0, width + 3, height);
    fill(1, cw + 5, ch);
    fill(2, cw + 1, ch);
  } else if (format == PixelFormat::kNV12) {
    fill(0, width + 3, height);
    fill(1, cw * 2 + 6, ch);
  } else {
    fill(0, width * bytes_per_pixel(format) + 7, height);
  }
  for (int p = 0; p < 3; ++p) f.view.planes[p] = f.planes[p].empty() ? nullptr : f.planes[p].data();
  f.view.width = width;
  f.view.height = height;
  f.view.format = format;
  return f;
}

// Boxes inside, across the borders, up- and down-scaled, 1x1, and one the output's size.
std::vector<Box> test_boxes() {
  return {{0, 0, 385, 289},     {10, 20, 50, 60},   {-15, -10, 70, 80}, {350, 260, 60, 50},
          {100, 100, 100, 100}, {200, 150, 17, 23}, {5, 7, 1, 1},       {120, 40, 233, 201}};
}

struct SpecCase {
  const char* name;
  InputSpec spec;
  Framing framing;
};

std::vector<SpecCase> spec_cases() {
  InputSpec seed_like;  // gray 100x100, p/255
  InputSpec gray;
  gray.width = gray.height = 64;
  gray.mean = {0.5f};
  gray.std = {0.25f};
  gray.crop = CropPolicy{1.2f, 1.3f, -0.1f};
  InputSpec rgb;
  rgb.width = 64;
  rgb.height = 48;
  rgb.channels = 3;
  rgb.mean = {0.485f, 0.456f, 0.406f};
  rgb.std = {0.229f, 0.224f, 0.225f};
  rgb.crop = CropPolicy{1.1f, 1.1f, 0.05f};
  return {{"gray 100x100 exact", seed_like, Framing::kExact},
          {"gray 64x64 detector box", gray, Framing::kDetectorBox},
          {"rgb 64x48 detector box", rgb, Framing::kDetectorBox},
          {"rgb 64x48 exact", rgb, Framing::kExact}};
}

float max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU) - b.to(torch::kCPU)).abs().max().item<float>();
}

cuda::CropOutput crop_output(const InputSpec& spec) {
  cuda::CropOutput out;
  out.width = spec.width;
  out.height = spec.height;
  out.channels = spec.channels;
  for (int c = 0; c < spec.channels; ++c) {
    out.mul[c] = spec.scale / spec.std[c];
    out.add[c] = -spec.mean[c] / spec.std[c];
  }
  return out;
}

// A binary PGM (P5, 8-bit), as the AT&T faces are stored; empty Mat when unreadable.
cv::Mat read_pgm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  auto next_int = [&](int& v) {
    while (in >> std::ws && in.peek() == '#') in.ignore(1 << 20, '\n');
    in >> v;
  };
  in >> magic;
  if (magic != "P5") return {};
  next_int(w);
  next_int(h);
  next_int(maxval);
  in.get();
  if (w <= 0 || h <= 0 || maxval != 255) return {};
  cv::Mat img(h, w, CV_8UC1);
  in.read(reinterpret_cast<char*>(img.data), static_cast<std::streamsize>(w) * h);
  return in ? img : cv::Mat();
}

// 40 faces: s1..s10 x 4 images of the AT&T set when present, synthetic images otherwise.
std::vector<cv::Mat> test_faces() {
  std::vector<cv::Mat> faces;
  const std::string dir = testing::att_faces_dir();
  for (int s = 1; s <= 10; ++s) {
    for (int i = 1; i <= 4; ++i) {
      cv::Mat img;
      if (!dir.empty()) {
        img = read_pgm(dir + "/s" + std::to_string(s) + "/" + std::to_string(i) + ".pgm");
      }
      faces.push_back(img.empty() ? testing::synthetic_gray(92, 112, s * 10 + i) : img);
    }
  }
  return faces;
}

torch::Tensor face_batch(const std::vector<cv::Mat>& faces, const InputSpec& spec) {
  std::vector<torch::Tensor> rows;
  for (const cv::Mat& img : faces) {
    const ImageView v = ImageView::packed(img.data, img.cols, img.rows, static_cast<int>(img.step),
                                          PixelFormat::kGray8);
    rows.push_back(preprocess(v, v.full_box(), spec, Framing::kExact));
  }
  return torch::stack(rows);
}

// A freshly initialised (seeded) network saved to a model file, so that each Embedder can load
// its own copy (an Embedder moves and converts the network it is given).
std::string save_fresh_model(const std::string& arch) {
  torch::manual_seed(7);
  ArchOptions opts;
  opts.set_arch(arch);
  if (arch == "seed") opts.set_embedding_size(5);
  Network net = Network::create(opts);
  ModelInfo info;
  info.arch = opts;
  info.input = default_input_spec(opts);
  info.embedding_size = opts.embedding_size;
  info.normalized = arch != "seed";
  const std::string path = testing::temp_dir("cuda-model") + "/" + arch + ".pt";
  save_model(path, net, info);
  return path;
}

// All pairwise Euclidean distances i < j of embeddings [N, E] (CPU).
std::vector<float> pair_distances(const torch::Tensor& e) {
  const torch::Tensor d =
      torch::cdist(e.to(torch::kCPU).unsqueeze(0), e.to(torch::kCPU).unsqueeze(0))[0];
  std::vector<float> out;
  for (int64_t i = 0; i < d.size(0); ++i) {
    for (int64_t j = i + 1; j < d.size(1); ++j) out.push_back(d[i][j].item<float>());
  }
  return out;
}

float median_of(std::vector<float> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("the kernel's per-pixel code equals preprocess() bit for bit (on the host)",
          "[cuda][preprocess]") {
  const std::vector<Box> boxes = test_boxes();
  for (const SpecCase& sc : spec_cases()) {
    for (const PixelFormat format : kAllFormats) {
      INFO(sc.name << ", " << pixel_format_name(format));
      const Frame frame = random_frame(format, 385, 289, 11);
      const torch::Tensor cpu = preprocess_batch(frame.view, boxes, sc.spec, sc.framing);

      std::vector<Box> regions;
      for (const Box& b : boxes) regions.push_back(framed_region(b, sc.spec.crop, sc.framing));
      cuda::FaceCropTable table;
      cuda::build_face_crop_table(regions.data(), static_cast<int>(regions.size()), sc.spec.width,
                                  sc.spec.height, table);
      cuda::DeviceFrame host_frame;  // host pointers: run_face_crop_on_host reads them
      for (int p = 0; p < 3; ++p) {
        host_frame.planes[p] = frame.view.planes[p];
        host_frame.strides[p] = frame.view.strides[p];
      }
      host_frame.width = frame.view.width;
      host_frame.height = frame.view.height;
      host_frame.format = format;
      torch::Tensor host = torch::empty_like(cpu);
      cuda::run_face_crop_on_host(host_frame, table.data.data(), table.faces, crop_output(sc.spec),
                                  host.data_ptr<float>());
      CHECK(torch::equal(host, cpu));
    }
  }
}

TEST_CASE("GPU preprocessing says why it cannot run", "[cuda][preprocess]") {
  const InputSpec spec;
  CHECK_THROWS_AS(GpuFacePreprocessor(spec, torch::kCPU), DeviceError);
  if (GpuFacePreprocessor::available()) {
    CHECK(GpuFacePreprocessor::unavailable_reason().empty());
    CHECK_NOTHROW(GpuFacePreprocessor(spec, torch::Device("cuda:0")));
  } else {
    CHECK_FALSE(GpuFacePreprocessor::unavailable_reason().empty());
    CHECK_THROWS_AS(GpuFacePreprocessor(spec, torch::Device("cuda:0")), DeviceError);
  }
}

TEST_CASE("fp16 is refused on the CPU, naming precision", "[cuda][embedder]") {
  CHECK(parse_precision("fp32") == Precision::kFloat32);
  CHECK(parse_precision("fp16") == Precision::kFloat16);
  CHECK_THROWS_WITH(parse_precision("half"), Catch::Contains("precision"));
  ArchOptions opts;
  LoadedModel model{ModelInfo{}, Network::create(opts), ""};
  model.info.arch = opts;
  model.info.input = default_input_spec(opts);
  model.info.embedding_size = opts.embedding_size;
  CHECK_THROWS_WITH(Embedder(model, torch::kCPU, 8, Precision::kFloat16),
                    Catch::Contains("precision"));
}

TEST_CASE("GPU face crops equal the CPU preprocessing for every format", "[cuda][preprocess]") {
  SIAMESE_REQUIRE_CUDA();
  SIAMESE_REQUIRE_GPU(GpuFacePreprocessor::available(), GpuFacePreprocessor::unavailable_reason());
  const std::vector<Box> boxes = test_boxes();
  for (const SpecCase& sc : spec_cases()) {
    GpuFacePreprocessor gpu(sc.spec, torch::Device("cuda:0"));
    for (const PixelFormat format : kAllFormats) {
      INFO(sc.name << ", " << pixel_format_name(format));
      const Frame frame = random_frame(format, 385, 289, 13);
      const torch::Tensor cpu = preprocess_batch(frame.view, boxes, sc.spec, sc.framing);
      const torch::Tensor out = gpu.preprocess(frame.view, boxes, sc.framing);
      CHECK(out.is_cuda());
      REQUIRE(out.sizes() == cpu.sizes());
      const float diff = max_abs_diff(out, cpu);
      INFO("max |gpu - cpu| = " << diff);
      CHECK(diff <= 1e-6f);
    }
  }
}

TEST_CASE("GPU preprocessing reuses its buffers across frames of changing sizes",
          "[cuda][preprocess]") {
  SIAMESE_REQUIRE_CUDA();
  SIAMESE_REQUIRE_GPU(GpuFacePreprocessor::available(), GpuFacePreprocessor::unavailable_reason());
  const SpecCase sc = spec_cases()[2];
  GpuFacePreprocessor gpu(sc.spec, torch::Device("cuda:0"));
  const int sizes[][2] = {{385, 289}, {64, 48}, {1281, 721}, {385, 289}, {33, 17}, {1920, 1080}};
  std::vector<torch::Tensor> outs, expected;
  unsigned seed = 0;
  for (const auto& size : sizes) {
    for (const PixelFormat format : {PixelFormat::kNV12, PixelFormat::kBGRx, PixelFormat::kI420}) {
      const Frame frame = random_frame(format, size[0], size[1], ++seed);
      const std::vector<Box> boxes = {{size[0] / 4, size[1] / 4, size[0] / 2, size[1] / 2},
                                      {-3, -3, 20, 20}};
      // No synchronisation between frames: results are only read at the end.
      outs.push_back(gpu.preprocess(frame.view, boxes, sc.framing));
      expected.push_back(preprocess_batch(frame.view, boxes, sc.spec, sc.framing));
    }
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    INFO("frame " << i);
    CHECK(max_abs_diff(outs[i], expected[i]) <= 1e-6f);
  }
  CHECK(gpu.crop({}, Framing::kExact).size(0) == 0);
}

TEST_CASE("GPU preprocessing refuses what the CPU path refuses", "[cuda][preprocess]") {
  SIAMESE_REQUIRE_CUDA();
  SIAMESE_REQUIRE_GPU(GpuFacePreprocessor::available(), GpuFacePreprocessor::unavailable_reason());
  const InputSpec spec;
  GpuFacePreprocessor gpu(spec, torch::Device("cuda:0"));
  CHECK_THROWS_AS(gpu.crop({{0, 0, 10, 10}}, Framing::kExact), InputError);  // nothing uploaded
  const Frame frame = random_frame(PixelFormat::kGray8, 120, 80, 3);
  gpu.upload(frame.view);
  CHECK_THROWS_AS(gpu.crop({{0, 0, 0, 10}}, Framing::kExact), InputError);
  CHECK_THROWS_AS(gpu.crop({{500, 500, 10, 10}}, Framing::kExact), InputError);
  ImageView bad = frame.view;
  bad.strides[0] = 10;
  CHECK_THROWS_AS(gpu.upload(bad), InputError);
  CHECK_THROWS_AS(GpuFacePreprocessor(spec, torch::Device("cuda:99")), DeviceError);
}

TEST_CASE("the Embedder on CUDA equals the CPU", "[cuda][embedder]") {
  SIAMESE_REQUIRE_CUDA();
  const std::vector<cv::Mat> faces = test_faces();
  for (const std::string arch : {"default", "seed"}) {
    INFO("arch " << arch);
    const std::string path = save_fresh_model(arch);
    Embedder cpu(load_model(path), torch::kCPU, 16);
    Embedder gpu(load_model(path), torch::Device("cuda:0"), 16);
    gpu.warm_up();
    const torch::Tensor batch = face_batch(faces, cpu.input_spec());
    const torch::Tensor expected = cpu.embed(batch);
    const torch::Tensor on_device = gpu.embed_on_device(batch);  // pageable input: pinned inside
    CHECK(on_device.is_cuda());
    CHECK(on_device.scalar_type() == torch::kFloat32);
    const torch::Tensor got = on_device.to(torch::kCPU);
    REQUIRE(got.sizes() == expected.sizes());
    const torch::Tensor err = (got - expected).norm(2, 1);
    const torch::Tensor bound = expected.norm(2, 1) * 1e-2 + 1e-4;
    INFO("max row error " << err.max().item<float>() << ", row norm "
                          << expected.norm(2, 1).mean().item<float>());
    CHECK((err <= bound).all().item<bool>());
    // The same batch already on the GPU, and from pinned memory, gives the same embeddings.
    CHECK(gpu.embed(batch.to(torch::Device("cuda:0"))).allclose(got, 1e-4, 1e-5));
    CHECK(gpu.embed(batch.pin_memory()).allclose(got, 1e-4, 1e-5));
    std::remove(path.c_str());
  }
}

TEST_CASE("GPU crops feed the CUDA Embedder like CPU crops do", "[cuda][embedder]") {
  SIAMESE_REQUIRE_CUDA();
  SIAMESE_REQUIRE_GPU(GpuFacePreprocessor::available(), GpuFacePreprocessor::unavailable_reason());
  const std::string path = save_fresh_model("default");
  Embedder embedder(load_model(path), torch::Device("cuda:0"), 8);
  GpuFacePreprocessor gpu(embedder.input_spec(), embedder.device());
  const Frame frame = random_frame(PixelFormat::kNV12, 1281, 721, 21);
  std::vector<Box> boxes;
  for (int i = 0; i < 20; ++i) boxes.push_back({40 + i * 55, 30 + (i % 5) * 120, 90 + i, 100 + i});
  for (int round = 0; round < 5; ++round) {  // back to back, no explicit synchronisation
    const torch::Tensor from_gpu =
        embedder.embed(gpu.preprocess(frame.view, boxes, Framing::kDetectorBox));
    const torch::Tensor from_cpu = embedder.embed_faces(frame.view, boxes, Framing::kDetectorBox);
    CHECK(from_gpu.allclose(from_cpu, 1e-4, 1e-5));
  }
  std::remove(path.c_str());
}

TEST_CASE("fp16 decisions equal fp32 decisions on a batch of faces", "[cuda][embedder]") {
  SIAMESE_REQUIRE_CUDA();
  const std::vector<cv::Mat> faces = test_faces();
  for (const std::string arch : {"default", "seed"}) {
    INFO("arch " << arch);
    const std::string path = save_fresh_model(arch);
    Embedder fp32(load_model(path), torch::Device("cuda:0"), 32, Precision::kFloat32);
    Embedder fp16(load_model(path), torch::Device("cuda:0"), 32, Precision::kFloat16);
    CHECK(fp16.precision() == Precision::kFloat16);
    const torch::Tensor batch = face_batch(faces, fp32.input_spec());
    const torch::Tensor e16 = fp16.embed(batch);
    const torch::Tensor e32 = fp32.embed(batch);
    CHECK(e16.scalar_type() == torch::kFloat32);
    const std::vector<float> d32 = pair_distances(e32);
    const std::vector<float> d16 = pair_distances(e16);
    // A fresh network has no calibrated threshold: the median fp32 distance splits the pairs
    // in half, the hardest place for decisions to agree. fp16 keeps ~3 significant digits, so
    // distances agree within 1% of the embeddings' norm (or 3% of the median distance).
    const float threshold = median_of(d32);
    const float norm = e32.norm(2, 1).mean().item<float>();
    const float tol = std::max(0.03f * threshold, 0.01f * norm);
    float worst = 0.0f;
    int flips = 0, hard_flips = 0;
    for (size_t i = 0; i < d32.size(); ++i) {
      worst = std::max(worst, std::abs(d16[i] - d32[i]));
      const bool differ = (d16[i] <= threshold) != (d32[i] <= threshold);
      flips += differ;
      hard_flips += differ && std::abs(d32[i] - threshold) > tol;
    }
    INFO("pairs " << d32.size() << ", threshold " << threshold << ", norm " << norm
                  << ", max |d16 - d32| " << worst << ", flips " << flips << " (" << hard_flips
                  << " farther than " << tol << " from the threshold)");
    CHECK(worst <= tol);
    CHECK(hard_flips == 0);  // decisions differ only for pairs within the tolerance
    std::remove(path.c_str());
  }
}
