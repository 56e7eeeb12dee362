// Host side of the face-crop kernel: PIL's antialiased bilinear taps, computed with exactly the
// arithmetic of src/resample.cpp (double weights, 22-bit fixed point), so the kernel's 8-bit
// pixels equal the CPU path's; and the kernel's per-pixel code run on the host.
#include <algorithm>
#include <cmath>

#include "face_crop_kernel.h"
#include "face_crop_layout.h"
#include "face_crop_pixel.h"

namespace siamese::cuda {
namespace {

using detail::kPrecisionBits;

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

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
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  const int count_max = static_cast<int>(std::ceil(support)) * 2 + 1;
  std::vector<double> k(count_max);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) / filter_scale);
      total += k[x];
    }
    data.push_back(xmin);
    data.push_back(xmax);
    for (int x = 0; x < count_max; ++x) {
      if (x >= xmax) {
        data.push_back(0);
        continue;
      }
      const double w = total != 0.0 ? k[x] / total : 0.0;
      data.push_back(static_cast<std::int32_t>(w < 0
                                                   ? std::trunc(-0.5 + w * (1 << kPrecisionBits))
                                                   : std::trunc(0.5 + w * (1 << kPrecisionBits))));
    }
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
