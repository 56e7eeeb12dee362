// Device selection shared by the programs ("--device") and the element ("device").
// Thread-safety: stateless.
#pragma once

#include <torch/types.h>

#include <string>

namespace siamese {

/// "auto" (CUDA when usable, else CPU with one warning), "cpu", "cuda" or "cuda:N".
/// Throws InputError for an unknown name, DeviceError when CUDA is asked for but unusable.
torch::Device resolve_device(const std::string& spec);

/// Sets LibTorch's intra-op threads when n > 0 (0 keeps LibTorch's default).
void set_cpu_threads(int n);

}  // namespace siamese
