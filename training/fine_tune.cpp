#include "fine_tune.h"

#include "siamese/errors.h"
#include "siamese/face_resnet.h"

namespace siamese::training {
namespace {

bool holds_state(const torch::nn::Module& m) {
  return !m.parameters(true).empty() || !m.buffers(true).empty();
}

}  // namespace

std::vector<NetworkLayer> network_layers(const Network& network) {
  if (network.is_script() || !network.module()) {
    throw InputError(
        "a TorchScript module cannot be fine-tuned (--init needs a model file "
        "written by siamese-train or siamese-import)");
  }
  std::vector<NetworkLayer> layers;
  for (const auto& child : network.module()->named_children()) {
    if (std::dynamic_pointer_cast<torch::nn::SequentialImpl>(child.value())) {
      for (const auto& inner : child.value()->named_children()) {
        if (holds_state(*inner.value())) {
          layers.push_back({child.key() + "." + inner.key(), inner.value()});
        }
      }
    } else if (holds_state(*child.value())) {
      layers.push_back({child.key(), child.value()});
    }
  }
  return layers;
}

int layers_before(const Network& network, const std::string& name, const std::string& flag) {
  const std::vector<NetworkLayer> layers = network_layers(network);
  std::string names;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == name) return static_cast<int>(i);
    names += (i ? ", " : "") + layers[i].name;
  }
  throw InputError(flag + ": no layer '" + name + "'; the layers are " + names);
}

std::string default_freeze_until(const std::string& arch) {
  if (arch == kDlibResNetArch) return "conv256_down";
  if (arch == "default") return "features.6";
  return "fc.0";
}

double fine_tune_learning_rate(const std::string& arch) {
  return arch == kDlibResNetArch ? kDlibFineTuneLearningRate : kFineTuneLearningRate;
}

FrozenLayers freeze_layers(Network& network, int count) {
  const std::vector<NetworkLayer> layers = network_layers(network);
  if (count < 0 || count > static_cast<int>(layers.size())) {
    throw InputError("--freeze " + std::to_string(count) + ": the network has " +
                     std::to_string(layers.size()) + " layers");
  }
  FrozenLayers frozen;
  frozen.layers.assign(layers.begin(), layers.begin() + count);
  for (const auto& layer : frozen.layers) {
    for (auto& p : layer.module->parameters(true)) {
      p.requires_grad_(false);
      frozen.parameters += p.numel();
    }
  }
  return frozen;
}

void keep_frozen_in_eval(const FrozenLayers& frozen) {
  for (const auto& layer : frozen.layers) layer.module->train(false);
}

}  // namespace siamese::training
