// The faceverify elements' shared model (model-instance-id): concurrent callers' rows go through
// one forward pass and come back to the right caller; a bad input fails only its caller; a
// stream that never submits holds nobody up beyond the window.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gst_test_support.h"
#include "shared_embedder.h"
#include "siamese/model_file.h"
#include "test_support.h"

namespace {

std::unique_ptr<siamese::Embedder> test_embedder(int batch_size) {
  const std::string dir = siamese::testing::temp_dir("shared-embedder");
  const std::string model = siamese::testing::save_untrained_model(dir, "model.pt", 5);
  return std::make_unique<siamese::Embedder>(siamese::load_model(model), torch::Device(torch::kCPU),
                                             batch_size);
}

torch::Tensor inputs_like(const siamese::InputSpec& spec, int64_t n, int seed) {
  torch::manual_seed(seed);
  return torch::rand({n, spec.channels, spec.height, spec.width});
}

}  // namespace

TEST_CASE("a shared embedder batches four callers in one forward pass, each gets its rows",
          "[gst]") {
  siamese::gst::SharedEmbedder shared(test_embedder(64), std::chrono::seconds(60));
  const siamese::InputSpec spec = shared.embedder()->input_spec();
  constexpr int kCallers = 4;
  std::vector<torch::Tensor> inputs, expected, got(kCallers);
  for (int k = 0; k < kCallers; ++k) {
    inputs.push_back(inputs_like(spec, k + 1, 100 + k));
    expected.push_back(shared.embedder()->embed_on_device(inputs.back()));
  }
  for (int k = 0; k < kCallers; ++k) shared.add_user();
  std::vector<std::thread> threads;
  // The window only ends when all four have submitted (or 60 s): one forward pass for all.
  for (int k = 0; k < kCallers; ++k) {
    threads.emplace_back([&, k] { got[k] = shared.embed(inputs[k]); });
  }
  for (std::thread& t : threads) t.join();
  CHECK(shared.forward_count() == 1);
  for (int k = 0; k < kCallers; ++k) {
    CAPTURE(k);
    REQUIRE(got[k].size(0) == k + 1);
    CHECK(torch::allclose(got[k], expected[k], 1e-5, 1e-5));
  }
}

TEST_CASE("a bad batch fails only its caller, the others get their embeddings", "[gst]") {
  siamese::gst::SharedEmbedder shared(test_embedder(64), std::chrono::seconds(60));
  const siamese::InputSpec spec = shared.embedder()->input_spec();
  const torch::Tensor good = inputs_like(spec, 3, 7);
  const torch::Tensor expected = shared.embedder()->embed_on_device(good);
  const torch::Tensor bad = torch::rand({2, spec.channels + 2, spec.height, spec.width});
  shared.add_user();
  shared.add_user();
  torch::Tensor got;
  bool bad_failed = false;
  std::thread a([&] { got = shared.embed(good); });
  std::thread b([&] {
    try {
      shared.embed(bad);
    } catch (const std::exception&) {
      bad_failed = true;
    }
  });
  a.join();
  b.join();
  CHECK(bad_failed);
  CHECK(torch::allclose(got, expected, 1e-5, 1e-5));
}

TEST_CASE("a stream that never submits does not stall the others", "[gst]") {
  siamese::gst::SharedEmbedder shared(test_embedder(64), std::chrono::milliseconds(20));
  shared.add_user();
  shared.add_user();  // this user never submits
  const siamese::InputSpec spec = shared.embedder()->input_spec();
  for (int i = 0; i < 3; ++i) {
    const torch::Tensor in = inputs_like(spec, 2, i);
    CHECK(torch::allclose(shared.embed(in), shared.embedder()->embed_on_device(in), 1e-5, 1e-5));
  }
  CHECK(shared.forward_count() == 3);
  shared.remove_user();
  shared.remove_user();
}
