// The two architectures: the seed network exactly as the Python reference, and the default.
#include <catch2/catch.hpp>

#include "siamese/errors.h"
#include "siamese/model.h"
#include "siamese/model_file.h"

using namespace siamese;

TEST_CASE("seed architecture has the reference's parameter count and output", "[core][model]") {
  Network net = Network::create(ArchOptions().set_arch("seed").set_embedding_size(5));
  CHECK(count_parameters(net) == 40254465);
  net.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net.forward(torch::rand({3, 1, 100, 100}));
  CHECK(out.sizes() == torch::IntArrayRef({3, 5}));
  // Registration names are the seed's state-dict keys, so PyTorch weights map one to one.
  const auto state = net.named_state();
  CHECK(state.front().first == "cnn.1.weight");
  bool has_fc = false;
  for (const auto& [name, t] : state) has_fc = has_fc || name == "fc.4.bias";
  CHECK(has_fc);
}

TEST_CASE("default architecture is compact and L2-normalised", "[core][model]") {
  const ArchOptions opts;  // default
  Network net = Network::create(opts);
  CHECK(count_parameters(net) <= 2000000);
  const InputSpec spec = default_input_spec(opts);
  net.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net.forward(torch::rand({4, spec.channels, spec.height, spec.width}));
  REQUIRE(out.sizes() == torch::IntArrayRef({4, opts.embedding_size}));
  CHECK(out.norm(2, 1).allclose(torch::ones({4}), 1e-5, 1e-5));
  CHECK(opts.embedding_size >= 64);
  CHECK(opts.embedding_size <= 128);
}

TEST_CASE("both members of a pair go through the same weights", "[core][model]") {
  Network net = Network::create(ArchOptions());
  net.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::rand({1, 1, 64, 64});
  const torch::Tensor b = torch::rand({1, 1, 64, 64});
  const torch::Tensor both = net.forward(torch::cat({a, b}));
  CHECK(both[0].allclose(net.forward(a)[0], 1e-5, 1e-6));
  CHECK(both[1].allclose(net.forward(b)[0], 1e-5, 1e-6));
}

TEST_CASE("unknown architecture is refused", "[core][model]") {
  CHECK_THROWS_WITH(Network::create(ArchOptions().set_arch("vgg")), Catch::Contains("vgg"));
}

TEST_CASE("BatchNorm folded for inference gives the same embeddings", "[core][model]") {
  torch::manual_seed(21);
  Network net = Network::create(ArchOptions());
  const torch::Tensor x = torch::rand({6, 1, 64, 64});
  {
    // A few training passes give the BatchNorms statistics and affine terms that are not 0/1.
    torch::NoGradGuard no_grad;
    for (auto& entry : net.named_state()) {
      if (entry.first.find("weight") != std::string::npos && entry.second.dim() == 1) {
        entry.second.uniform_(0.5, 1.5);
      } else if (entry.first.find("bias") != std::string::npos && entry.second.dim() == 1) {
        entry.second.uniform_(-0.2, 0.2);
      }
    }
    net.train(true);
    for (int i = 0; i < 3; ++i) net.forward(torch::rand({8, 1, 64, 64}));
  }
  net.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor plain = net.forward(x);
  net.fold_batchnorm();
  const torch::Tensor folded = net.forward(x);
  CHECK((folded - plain).abs().max().item<float>() < 1e-5f);
  // Training again drops the folded copies: the weights are about to change.
  net.train(true);
  net.train(false);
  for (auto& entry : net.named_state()) {
    if (entry.first.find("running_mean") != std::string::npos) entry.second.add_(0.1);
  }
  CHECK((net.forward(x) - plain).abs().max().item<float>() > 1e-4f);
}
