// Host side of the face-crop kernel: PIL's antialiased bilinear taps, taken from src/resample.cpp
// (compute_resample_taps: double weights, 22-bit fixed point), so the kernel's 8-bit
// pixels equal the CPU path's; and the kernel's per-pixel code run on the host.
#include <algorithm>
#include <cmath>

#include "../src/resample.h"
#include "face_crop_kernel.h"
#include "face_crop_layout.h"
#include "face_crop_pixel.h"

namespace siamese::cuda {
namespace {

using detail::kPrecisionBits;
static_assert(kPrecisionBits == ::siamese::detail::kResamplePrecisionBits,
              "kernel and CPU fixed point differ");

// Appends the taps of in_size -> out_size: per output [first, count, weights x count_max];
// returns the record length (2 + count_max).
int append_taps(int in_size, int out_size, std::vector<std::int32_t>& data) {
  if (in_size == out_size) {  // identity: one tap of weight 1.0, as PIL's pass would give
    for (int xx = 0; xx < out_size; ++xx) {
      data.push_back(xx);
      data.push_back(1);
      data.push_back(1 << kPrecisionBits);
    }
    return 3;
  }
  // The CPU path's own taps (src/resample.cpp), so GPU and CPU crops agree by construction.
  const ::siamese::detail::ResampleTaps taps =
      ::siamese::detail::compute_resample_taps(in_size, out_size);
  const int count_max = taps.count_max;
  for (int xx = 0; xx < out_size; ++xx) {
    data.push_back(taps.first[xx]);
    data.push_back(taps.count[xx]);
    const int* w = &taps.weights[static_cast<size_t>(xx) * count_max];
    data.insert(data.end(), w, w + count_max);
  }
  return 2 + count_max;
}

}  // namespace

void build_face_crop_table(const Box* regions, int n, int out_width, int out_height,
                           FaceCropTable& table) {
  table.faces = n;
  table.data.assign(static_cast<size_t>(n) * kTableHeaderInts, 0);
  for (int f = 0; f < n; ++f) {
    const Box& r = regions[f];
    const auto h_offset = static_cast<std::int32_t>(table.data.size());
    const int h_stride = append_taps(r.width, out_width, table.data);
    const auto v_offset = static_cast<std::int32_t>(table.data.size());
    const int v_stride = append_taps(r.height, out_height, table.data);
    std::int32_t* header = table.data.data() + static_cast<size_t>(f) * kTableHeaderInts;
    header[kHeaderX] = r.x;
    header[kHeaderY] = r.y;
    header[kHeaderHOffset] = h_offset;
    header[kHeaderHStride] = h_stride;
    header[kHeaderVOffset] = v_offset;
    header[kHeaderVStride] = v_stride;
  }
}

void run_face_crop_on_host(const DeviceFrame& frame, const std::int32_t* table, int faces,
                           const CropOutput& out, float* host_out) {
  const detail::PackedOffsets offsets = detail::packed_offsets(frame.format);
  detail::dispatch_source(frame.format, out.channels, [&](auto source, auto channels) {
    constexpr detail::Source S = decltype(source)::value;
    constexpr int C = decltype(channels)::value;
    for (int face = 0; face < faces; ++face) {
      for (int oy = 0; oy < out.height; ++oy) {
        for (int ox = 0; ox < out.width; ++ox) {
          detail::crop_pixel<S, C>(frame, offsets, table, face, ox, oy, out, host_out);
        }
      }
    }
  });
}

}  // namespace siamese::cuda
