// Fine-tuning a trained or imported network (siamese-train --init): its layers in forward order,
// the first of them frozen (no gradient, so Adam leaves them as they are; their BatchNorm and
// scale layers kept in eval mode, so running statistics do not move either), and the defaults
// that keep a pretrained network from forgetting. Thread-safety: acts on the network it is given.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "siamese/model.h"

namespace siamese::training {

constexpr int kFineTuneEpochs = 5;                  // --epochs with --init
constexpr double kFineTuneLearningRate = 5e-5;      // --lr with --init (seed, default)
constexpr double kDlibFineTuneLearningRate = 1e-5;  // --lr with --init of a dlib-resnet model

/// A layer: a module of the network that holds parameters or buffers, at the top level or one
/// level inside a Sequential, with its registration name ("conv128_down", "features.3").
struct NetworkLayer {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
};

/// The layers of a native network in registration (forward) order. Throws InputError for a
/// TorchScript module (it cannot be fine-tuned here).
std::vector<NetworkLayer> network_layers(const Network& network);

/// How many layers come before the one named name (what --freeze-until NAME freezes). Throws
/// InputError naming the flag and listing the layers when there is none of that name.
int layers_before(const Network& network, const std::string& name, const std::string& flag);

/// The layer --init freezes up to by default: the last stage and the head train, the rest of a
/// pretrained network stays as it is (dlib-resnet: "conv256_down"; default: "features.6";
/// seed: "fc.0").
std::string default_freeze_until(const std::string& arch);

/// The default learning rate of --init for an architecture.
double fine_tune_learning_rate(const std::string& arch);

/// The layers frozen by freeze_layers().
struct FrozenLayers {
  std::vector<NetworkLayer> layers;
  int64_t parameters = 0;  // scalars no longer trained
};

/// Freezes the first count layers: requires_grad off for their parameters. Throws InputError
/// when count is negative or above the number of layers.
FrozenLayers freeze_layers(Network& network, int count);

/// After network.train(true): puts the frozen layers back into eval mode.
void keep_frozen_in_eval(const FrozenLayers& frozen);

}  // namespace siamese::training
