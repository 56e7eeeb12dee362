// Models trained elsewhere: the seed network exported by the Python reference as TorchScript
// loads through the same loader and gives PyTorch's embeddings.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "siamese/embedder.h"
#include "siamese/image_io.h"
#include "siamese/model_file.h"
#include "test_support.h"

using namespace siamese;
namespace fs = std::filesystem;

namespace {

// Runs seed_baseline.py export-torchscript once per test process; "" when it cannot run.
std::string exported_seed() {
  static std::string path = [] {
    const std::string script =
        fs::path(SIAMESE_SOURCE_DIR).parent_path().string() + "/shared/anchors/seed_baseline.py";
    const std::string att = testing::att_faces_dir();
    if (!fs::exists(script) || !fs::exists("/usr/bin/python3") || att.empty()) return std::string();
    const std::string dir = testing::temp_dir("torchscript");
    const std::string out = dir + "/seed.ts";
    const std::string cmd = "/usr/bin/python3 '" + script +
                            "' export-torchscript --epochs 0 --data '" + att + "' --out '" + out +
                            "' > '" + dir + "/export.log' 2>&1";
    return std::system(cmd.c_str()) == 0 && fs::exists(out) ? out : std::string();
  }();
  return path;
}

}  // namespace

TEST_CASE("TorchScript seed export: C++ embeddings equal PyTorch's", "[core][torchscript]") {
  const std::string ts = exported_seed();
  if (ts.empty()) {
    WARN(
        "skipped: needs /usr/bin/python3 with python3-torch, ../shared/anchors and the AT&T faces");
    return;
  }
  LoadedModel model = load_model(ts);
  CHECK(model.info.arch.arch == "torchscript");
  CHECK(model.info.input.width == 100);
  CHECK(model.info.embedding_size == 5);

  std::ifstream ref_file(ts + ".ref.json");
  const nlohmann::json ref = nlohmann::json::parse(ref_file);
  const auto n = static_cast<int64_t>(ref["images"].size());
  torch::Tensor inputs = torch::empty({n, 1, 100, 100});
  std::ifstream raw(ts + ".inputs.f32", std::ios::binary);
  raw.read(reinterpret_cast<char*>(inputs.data_ptr<float>()), inputs.numel() * 4);
  REQUIRE(raw.gcount() == inputs.numel() * 4);
  torch::Tensor expected = torch::empty({n, 5});
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 5; ++k) expected[i][k] = ref["embeddings"][i][k].get<float>();
  }

  Embedder embedder(std::move(model), torch::kCPU, 64);
  const torch::Tensor ours = embedder.embed(inputs);
  CHECK((ours - expected).abs().max().item<float>() <= 1e-4f);

  // The C++ preprocessing of the same image files (PIL-compatible antialiased bilinear resize):
  // inputs within one grey level, embeddings within 1e-3 of the embeddings' scale.
  const std::string att = testing::att_faces_dir();
  torch::Tensor ours_pre = torch::empty_like(inputs);
  for (int64_t i = 0; i < n; ++i) {
    const cv::Mat img = read_image(att + "/" + ref["images"][i].get<std::string>(), 1);
    const ImageView v = view_of(img);
    ours_pre[i] = preprocess(v, v.full_box(), embedder.input_spec(), Framing::kExact);
  }
  const float input_diff = (ours_pre - inputs).abs().max().item<float>();
  CHECK(input_diff <= 1.0f / 255.0f + 1e-6f);
  const torch::Tensor from_pre = embedder.embed(ours_pre);
  const float scale = expected.abs().max().item<float>();
  CHECK((from_pre - expected).abs().max().item<float>() <= 1e-3f * std::max(1.0f, scale));
}

TEST_CASE("TorchScript without preprocessing facts is refused by name", "[core][torchscript]") {
  const std::string ts = exported_seed();
  if (ts.empty()) {
    WARN("skipped: needs /usr/bin/python3 with python3-torch and the AT&T faces");
    return;
  }
  // A module saved without the extra file: reload the export and save it again plainly.
  torch::jit::Module m = torch::jit::load(ts);
  const std::string bare = fs::path(ts).parent_path().string() + "/bare.ts";
  m.save(bare);
  CHECK_THROWS_WITH(load_model(bare), Catch::Contains(bare) && Catch::Contains("siamese.json"));
  // ...and accepted with a sidecar.
  std::ofstream(bare + ".json") << R"({"input": {"channels": 1, "height": 100, "width": 100},
    "scale": 0.00392156862, "mean": [0.0], "std": [1.0], "metric": "euclidean", "threshold": 1.1})";
  const LoadedModel ok = load_model(bare);
  CHECK(ok.info.threshold == Approx(1.1f));
}
