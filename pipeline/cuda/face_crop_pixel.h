// Internal: the per-output-pixel code of the face-crop kernel, compiled for the device by nvcc
// and for the host by the C++ compiler (run_face_crop_on_host), so the CPU-only test suite
// checks the kernel's own arithmetic against preprocess(). Each output pixel evaluates PIL's
// separable filter as src/resample.cpp does: per vertical tap, the horizontal pass over that
// source row rounded to 8 bits, then the vertical sum rounded to 8 bits. Source coordinates are
// clamped to the frame, which is what the CPU path's BORDER_REPLICATE padding gives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "face_crop_kernel.h"
#include "face_crop_layout.h"

#if defined(__CUDACC__)
#define SIAMESE_HD __host__ __device__ __forceinline__
#else
#define SIAMESE_HD inline
#endif

namespace siamese::cuda::detail {

constexpr int kPrecisionBits = 32 - 8 - 2;

// How pixels are read: luma straight from plane 0, gray copied to RGB, packed RGB-like, or
// planar/semi-planar YUV converted to RGB.
enum class Source { kPlane0, kGrayToRgb, kPacked, kI420, kNV12 };

struct PackedOffsets {
  int bytes, r, g, b;
};

inline PackedOffsets packed_offsets(PixelFormat f) {
  switch (f) {
    case PixelFormat::kRGB:
      return {3, 0, 1, 2};
    case PixelFormat::kBGR:
      return {3, 2, 1, 0};
    case PixelFormat::kRGBx:
    case PixelFormat::kRGBA:
      return {4, 0, 1, 2};
    case PixelFormat::kBGRx:
    case PixelFormat::kBGRA:
      return {4, 2, 1, 0};
    case PixelFormat::kxRGB:
      return {4, 1, 2, 3};
    case PixelFormat::kxBGR:
      return {4, 3, 2, 1};
    default:
      return {1, 0, 0, 0};
  }
}

/// Calls f(integral_constant<Source>, integral_constant<int channels>) for a frame format and
/// an output channel count (1 or 3), so kernels are instantiated per source kind.
template <class F>
void dispatch_source(PixelFormat format, int channels, F&& f) {
  using S = Source;
  const bool gray = channels == 1;
  const bool luma_plane =
      format == PixelFormat::kGray8 || format == PixelFormat::kI420 || format == PixelFormat::kNV12;
  if (gray && luma_plane)
    return f(std::integral_constant<S, S::kPlane0>{}, std::integral_constant<int, 1>{});
  if (gray) return f(std::integral_constant<S, S::kPacked>{}, std::integral_constant<int, 1>{});
  switch (format) {
    case PixelFormat::kGray8:
      return f(std::integral_constant<S, S::kGrayToRgb>{}, std::integral_constant<int, 3>{});
    case PixelFormat::kI420:
      return f(std::integral_constant<S, S::kI420>{}, std::integral_constant<int, 3>{});
    case PixelFormat::kNV12:
      return f(std::integral_constant<S, S::kNV12>{}, std::integral_constant<int, 3>{});
    default:
      return f(std::integral_constant<S, S::kPacked>{}, std::integral_constant<int, 3>{});
  }
}

SIAMESE_HD int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

SIAMESE_HD int clip8(int acc) {
  acc >>= kPrecisionBits;
  return acc < 0 ? 0 : (acc > 255 ? 255 : acc);
}

// OpenCV's fixed-point RGB->gray weights, as src/preprocess.cpp.
SIAMESE_HD int luma_of(int r, int g, int b) {
  return (r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14;
}

// BT.601 limited range, as src/preprocess.cpp.
SIAMESE_HD void yuv_to_rgb(int y, int u, int v, int* rgb) {
  const int c = (y - 16) * 1192, d = u - 128, e = v - 128;
  rgb[0] = clamp_int((c + 1634 * e + 512) >> 10, 0, 255);
  rgb[1] = clamp_int((c - 401 * d - 832 * e + 512) >> 10, 0, 255);
  rgb[2] = clamp_int((c + 2066 * d + 512) >> 10, 0, 255);
}

// (p * mul) + add rounded after each step, never fused, like the CPU path's float code.
SIAMESE_HD float normalize(float p, float mul, float add) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(p, mul), add);
#else
  const float scaled = p * mul;
  return scaled + add;
#endif
}

// The C channel values (0..255) of frame pixel (x, y), inside the frame.
template <Source S, int C>
SIAMESE_HD void read_pixel(const DeviceFrame& f, const PackedOffsets& o, int x, int y, int* px) {
  const std::uint8_t* row0 = f.planes[0] + static_cast<std::size_t>(y) * f.strides[0];
  if constexpr (S == Source::kPlane0) {
    px[0] = row0[x];
  } else if constexpr (S == Source::kGrayToRgb) {
    px[0] = px[1] = px[2] = row0[x];
  } else if constexpr (S == Source::kPacked) {
    const std::uint8_t* p = row0 + x * o.bytes;
    if constexpr (C == 1) {
      px[0] = luma_of(p[o.r], p[o.g], p[o.b]);
    } else {
      px[0] = p[o.r];
      px[1] = p[o.g];
      px[2] = p[o.b];
    }
  } else if constexpr (S == Source::kI420) {
    const int u = f.planes[1][static_cast<std::size_t>(y / 2) * f.strides[1] + x / 2];
    const int v = f.planes[2][static_cast<std::size_t>(y / 2) * f.strides[2] + x / 2];
    yuv_to_rgb(row0[x], u, v, px);
  } else {  // NV12
    const std::uint8_t* uv =
        f.planes[1] + static_cast<std::size_t>(y / 2) * f.strides[1] + (x / 2) * 2;
    yuv_to_rgb(row0[x], uv[0], uv[1], px);
  }
}

// Output pixel (ox, oy) of face `face`, all channels, into dst [faces, C, out.height, out.width].
template <Source S, int C>
SIAMESE_HD void crop_pixel(const DeviceFrame& frame, const PackedOffsets& offsets,
                           const std::int32_t* table, int face, int ox, int oy,
                           const CropOutput& out, float* dst) {
  const std::int32_t* header = table + static_cast<std::size_t>(face) * kTableHeaderInts;
  const std::int32_t* htaps = table + header[kHeaderHOffset] + ox * header[kHeaderHStride];
  const std::int32_t* vtaps = table + header[kHeaderVOffset] + oy * header[kHeaderVStride];
  const int h_first = header[kHeaderX] + htaps[0], h_count = htaps[1];
  const int v_first = header[kHeaderY] + vtaps[0], v_count = vtaps[1];
  const int max_x = frame.width - 1, max_y = frame.height - 1;

  int acc_v[C];
  for (int c = 0; c < C; ++c) acc_v[c] = 1 << (kPrecisionBits - 1);
  for (int j = 0; j < v_count; ++j) {
    const int sy = clamp_int(v_first + j, 0, max_y);
    int acc_h[C];
    for (int c = 0; c < C; ++c) acc_h[c] = 1 << (kPrecisionBits - 1);
    for (int i = 0; i < h_count; ++i) {
      int px[3];
      read_pixel<S, C>(frame, offsets, clamp_int(h_first + i, 0, max_x), sy, px);
      const int w = htaps[2 + i];
      for (int c = 0; c < C; ++c) acc_h[c] += px[c] * w;
    }
    const int w = vtaps[2 + j];
    for (int c = 0; c < C; ++c) acc_v[c] += clip8(acc_h[c]) * w;
  }
  const std::size_t plane = static_cast<std::size_t>(out.width) * out.height;
  float* face_out = dst + static_cast<std::size_t>(face) * C * plane +
                    static_cast<std::size_t>(oy) * out.width + ox;
  for (int c = 0; c < C; ++c) {
    face_out[c * plane] = normalize(static_cast<float>(clip8(acc_v[c])), out.mul[c], out.add[c]);
  }
}

}  // namespace siamese::cuda::detail
