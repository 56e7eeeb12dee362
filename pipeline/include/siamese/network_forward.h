// A network's forward pass as a function of its input rows, so that several streams can use one
// network: each prepares its own rows and decodes its own outputs, and the function (e.g. a
// batcher shared by streams) runs the rows of several callers through one pass.
// Thread-safety: as the function given; the alias itself is a plain type.
#pragma once

#include <torch/types.h>

#include <functional>

namespace siamese {

/// inputs [N, ...] -> outputs [N, ...], row i of the output for row i of the input.
using NetworkForward = std::function<torch::Tensor(const torch::Tensor& inputs)>;

}  // namespace siamese
