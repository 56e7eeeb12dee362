// The model file: round trip, and clear errors naming the file for anything unusable.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/model_file.h"
#include "test_support.h"

using namespace siamese;
namespace fs = std::filesystem;

namespace {

std::string save_fresh_model(const std::string& dir, const std::string& arch = "default") {
  ArchOptions a = ArchOptions().set_arch(arch);
  if (arch == "seed") a.set_embedding_size(5);
  Network net = Network::create(a);
  ModelInfo info;
  info.arch = a;
  info.input = default_input_spec(a);
  info.input.crop = CropPolicy{1.3f, 1.6f, -0.1f};
  info.embedding_size = a.embedding_size;
  info.normalized = arch == "default";
  info.flip_average = arch == "default";
  info.threshold = 0.75f;
  info.validation.auc = 0.97;
  info.validation.threshold_at_far_1e2 = 0.625;
  info.validation.threshold_at_far_1e4 = 0.5;
  info.validation.tar_at_far_1e4 = 0.25;
  info.validation.impostor_pairs = 12345;
  info.origin = "test";
  const std::string path = dir + "/" + arch + ".pt";
  save_model(path, net, info);
  return path;
}

}  // namespace

TEST_CASE("save -> load -> forward gives identical output", "[core][model-file]") {
  const std::string dir = testing::temp_dir("model-file");
  for (const std::string arch : {"default", "seed"}) {
    const std::string path = save_fresh_model(dir, arch);
    LoadedModel a = load_model(path);
    LoadedModel b = load_model(path);
    CHECK(a.info.arch.arch == arch);
    CHECK(a.info.threshold == Approx(0.75f));
    CHECK(a.info.input.crop == (CropPolicy{1.3f, 1.6f, -0.1f}));
    CHECK(a.info.validation.auc == Approx(0.97));
    CHECK(a.info.validation.threshold_at_far_1e2 == Approx(0.625));
    CHECK(a.info.flip_average == (arch == "default"));
    CHECK(a.info.validation.threshold_at_far_1e4 == Approx(0.5));
    CHECK(a.info.validation.tar_at_far_1e4 == Approx(0.25));
    CHECK(a.info.validation.impostor_pairs == 12345);
    CHECK(a.info.fingerprint.size() == 16);
    CHECK(a.info.fingerprint == b.info.fingerprint);
    torch::NoGradGuard no_grad;
    const torch::Tensor x =
        torch::rand({2, a.info.input.channels, a.info.input.height, a.info.input.width});
    CHECK(torch::equal(a.network.forward(x), b.network.forward(x)));
  }
}

TEST_CASE("a flip-average model embeds a face and its mirror image alike, as recorded",
          "[core][model-file]") {
  const std::string dir = testing::temp_dir("model-file");
  LoadedModel plain = load_model(save_fresh_model(dir, "seed"));  // flip_average off
  const std::string flipping_path = save_fresh_model(dir, "default");
  LoadedModel flipping = load_model(flipping_path);
  REQUIRE_FALSE(plain.info.flip_average);
  REQUIRE(flipping.info.flip_average);
  const InputSpec& in = flipping.info.input;
  torch::manual_seed(3);
  const torch::Tensor faces = torch::rand({3, in.channels, in.height, in.width});
  const torch::Tensor mirrored = faces.flip({3});
  torch::NoGradGuard no_grad;
  // The recorded rule: the mean of both views, back on the unit sphere.
  const torch::Tensor expected = torch::nn::functional::normalize(
      flipping.network.forward(faces) + flipping.network.forward(mirrored),
      torch::nn::functional::NormalizeFuncOptions().dim(1));
  Embedder embedder(load_model(flipping_path), torch::kCPU, 2);  // 3 faces: 2 chunks
  const torch::Tensor got = embedder.embed(faces);
  CHECK((got - expected).abs().max().item<float>() < 1e-5f);
  CHECK((embedder.embed(mirrored) - got).abs().max().item<float>() < 1e-5f);
  // Without the rule the branch alone answers, and it is not mirror-symmetric.
  const torch::Tensor plain_faces = torch::rand({2, 1, 100, 100});
  CHECK((infer_embeddings(plain.network, plain_faces, embedding_rule(plain.info)) -
         plain.network.forward(plain_faces))
            .abs()
            .max()
            .item<float>() == 0.0f);
  CHECK((flipping.network.forward(faces) - flipping.network.forward(mirrored))
            .abs()
            .max()
            .item<float>() > 1e-3f);
}

TEST_CASE("a fresh model has a different fingerprint", "[core][model-file]") {
  const std::string dir = testing::temp_dir("model-file");
  const std::string first = save_fresh_model(dir);
  const std::string fp1 = load_model(first).info.fingerprint;
  fs::rename(first, dir + "/first.pt");
  CHECK(load_model(save_fresh_model(dir)).info.fingerprint != fp1);
}

TEST_CASE("missing, truncated and foreign model files name the file", "[core][model-file]") {
  const std::string dir = testing::temp_dir("model-file");
  const std::string missing = dir + "/nope.pt";
  CHECK_THROWS_AS(load_model(missing), FileError);
  CHECK_THROWS_WITH(load_model(missing), Catch::Contains(missing));

  const std::string good = save_fresh_model(dir);
  const auto size = fs::file_size(good);
  for (const double keep : {0.5, 0.9, 0.99}) {
    const std::string truncated = dir + "/truncated.pt";
    fs::copy_file(good, truncated, fs::copy_options::overwrite_existing);
    fs::resize_file(truncated, static_cast<uintmax_t>(size * keep));
    INFO("kept " << keep);
    CHECK_THROWS_AS(load_model(truncated), FileError);
    CHECK_THROWS_WITH(load_model(truncated), Catch::Contains(truncated));
  }

  const std::string foreign = dir + "/foreign.pt";
  std::ofstream(foreign) << "this is not a model\n";
  CHECK_THROWS_WITH(load_model(foreign),
                    Catch::Contains(foreign) && Catch::Contains("not a model"));

  const std::string folder = dir + "/a-folder.pt";
  fs::create_directory(folder);
  CHECK_THROWS_WITH(load_model(folder), Catch::Contains(folder));
}

TEST_CASE("flipped weight bytes are caught by the fingerprint", "[core][model-file]") {
  const std::string dir = testing::temp_dir("model-file");
  const std::string good = save_fresh_model(dir, "seed");
  // Flip bytes deep inside the 160 MB first Linear layer's data.
  std::fstream f(good, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(good) / 2));
  const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  f.write(junk, sizeof junk);
  f.close();
  CHECK_THROWS_WITH(load_model(good), Catch::Contains(good));
}
