// Device side of the face-crop kernel: one thread per output pixel (all channels) of one face,
// blockIdx.z = face; the per-pixel code is face_crop_pixel.h. Integer arithmetic throughout and
// a final (p * mul) + add with round-to-nearest intrinsics (no FMA contraction), so the result
// is bit-identical to preprocess() on the CPU.
#include <cuda_runtime.h>

#include "face_crop_kernel.h"
#include "face_crop_pixel.h"

namespace siamese::cuda {
namespace {

using detail::PackedOffsets;
using detail::Source;

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int kMaxGridZ = 65535;

template <Source S, int C>
__global__ void face_crop_kernel(DeviceFrame frame, PackedOffsets offsets,
                                 const std::int32_t* __restrict__ table, int first_face,
                                 CropOutput out, float* __restrict__ dst) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= out.width || oy >= out.height) return;
  detail::crop_pixel<S, C>(frame, offsets, table, first_face + static_cast<int>(blockIdx.z), ox, oy,
                           out, dst);
}

}  // namespace

int launch_face_crop(const DeviceFrame& frame, const std::int32_t* table, int faces,
                     const CropOutput& out, float* device_out, void* stream_ptr) {
  if (faces <= 0) return 0;
  if (out.width <= 0 || out.height <= 0 || (out.channels != 1 && out.channels != 3)) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  const PackedOffsets offsets = detail::packed_offsets(frame.format);
  int result = 0;
  detail::dispatch_source(frame.format, out.channels, [&](auto source, auto channels) {
    constexpr Source S = decltype(source)::value;
    constexpr int C = decltype(channels)::value;
    const dim3 block(kBlockX, kBlockY);
    for (int first = 0; first < faces && result == 0; first += kMaxGridZ) {
      const int count = faces - first < kMaxGridZ ? faces - first : kMaxGridZ;
      const dim3 grid((out.width + kBlockX - 1) / kBlockX, (out.height + kBlockY - 1) / kBlockY,
                      count);
      face_crop_kernel<S, C>
          <<<grid, block, 0, stream>>>(frame, offsets, table, first, out, device_out);
      result = static_cast<int>(cudaGetLastError());
    }
  });
  return result;
}

const char* cuda_error_text(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

}  // namespace siamese::cuda
