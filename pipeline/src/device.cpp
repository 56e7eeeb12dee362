#include "siamese/device.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <limits>
#include <string>

#include "siamese/errors.h"
#include "siamese/log.h"

namespace siamese {

torch::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  if (spec.empty() || spec == "auto") {
    if (torch::cuda::is_available()) return torch::Device(torch::kCUDA, 0);
    log(LogLevel::kWarning, "device=auto: no usable CUDA device, running on the CPU");
    return torch::kCPU;
  }
  if (spec.rfind("cuda", 0) != 0) {
    throw InputError("device '" + spec + "' is not one of auto, cpu, cuda, cuda:N");
  }
  int index = 0;
  if (spec.size() > 4) {
    if (spec[4] != ':' || spec.size() == 5 ||
        spec.find_first_not_of("0123456789", 5) != std::string::npos) {
      throw InputError("device '" + spec + "' is not one of auto, cpu, cuda, cuda:N");
    }
    // Digits only, so the one failure left is size: more digits than any device index has.
    std::string digits = spec.substr(5);
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    constexpr int kMaxIndex = std::numeric_limits<c10::DeviceIndex>::max();
    if (digits.size() > 3 || std::stoi(digits) > kMaxIndex) {
      throw InputError("device \"" + spec + "\": invalid CUDA device index (at most " +
                       std::to_string(kMaxIndex) + ")");
    }
    index = std::stoi(digits);
  }
  if (!torch::cuda::is_available()) {
    throw DeviceError("device '" + spec + "': no usable CUDA device (this LibTorch " +
                      (torch::cuda::device_count() == 0 ? "sees no GPU or was built without CUDA"
                                                        : "cannot use the GPU") +
                      ")");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw DeviceError("device '" + spec + "': only " + std::to_string(count) +
                      " CUDA device(s) present");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void set_cpu_threads(int n) {
  if (n > 0) at::set_num_threads(n);
}

}  // namespace siamese
