// Face preprocessing on the GPU: a frame is uploaded once (through a reused pinned staging
// buffer, on the preprocessor's own CUDA stream), then one kernel crops, resizes, converts and
// normalises all its faces straight into a CUDA batch tensor [N,C,H,W] — the same values as
// preprocess() on the CPU (bit-identical by construction; the tests allow 1e-6).
// Needs the CUDA kernels (built when nvcc is found) and a LibTorch with CUDA and a usable GPU.
// Thread-safety: one instance per thread (it owns its stream and buffers).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "siamese/preprocess.h"

namespace siamese {

class GpuFacePreprocessor {
 public:
  /// True when this build has the CUDA kernels and LibTorch sees a usable GPU.
  static bool available();
  /// Why available() is false ("" when it is true).
  static std::string unavailable_reason();

  /// Buffers for spec on device (a CUDA device). Throws DeviceError naming the device when
  /// !available() or the device does not exist, InputError for an unusable spec.
  GpuFacePreprocessor(InputSpec spec, torch::Device device);
  ~GpuFacePreprocessor();
  GpuFacePreprocessor(GpuFacePreprocessor&&) noexcept;
  GpuFacePreprocessor& operator=(GpuFacePreprocessor&&) noexcept;

  /// Copies the frame's planes to the device (asynchronously); the view's pixels may be
  /// released when this returns. Throws InputError for an invalid view, DeviceError on a
  /// CUDA failure.
  void upload(const ImageView& view);
  /// Faces of the last uploaded frame -> new CUDA float tensor [boxes.size(), C, H, W], ready
  /// in stream order on LibTorch's current stream. Throws InputError (no frame uploaded, empty
  /// box, box outside the frame) like preprocess(), DeviceError on a CUDA failure.
  torch::Tensor crop(const std::vector<Box>& boxes, Framing framing);
  /// upload(view) then crop(boxes, framing).
  torch::Tensor preprocess(const ImageView& view, const std::vector<Box>& boxes, Framing framing);

  const InputSpec& input_spec() const;
  torch::Device device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamese
