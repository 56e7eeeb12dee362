// The face-crop CUDA kernel behind GpuFacePreprocessor: from one frame in device memory it
// crops every face region, resamples it with PIL's antialiased bilinear filter (the same
// 22-bit fixed-point taps and 8-bit intermediate as src/resample.cpp), converts it to gray or
// RGB and normalises it into a float batch [N,C,H,W], in one launch. Plain C++ API: no CUDA or
// torch headers. Thread-safety: reentrant; concurrent launches need their own buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "siamese/image_view.h"

namespace siamese::cuda {

/// A frame in device memory: plane pointers and strides as ImageView holds them on the host.
struct DeviceFrame {
  const std::uint8_t* planes[3] = {nullptr, nullptr, nullptr};
  int strides[3] = {0, 0, 0};
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kGray8;
};

/// Output geometry and normalisation: value = pixel * mul[c] + add[c], i.e. (p*scale-mean)/std.
struct CropOutput {
  int width = 0;
  int height = 0;
  int channels = 1;  // 1 = gray (OpenCV luma weights), 3 = RGB
  float mul[3] = {1.0f, 1.0f, 1.0f};
  float add[3] = {0.0f, 0.0f, 0.0f};
};

/// The resampling taps of every face packed into one int32 table (header per face, then the
/// horizontal and vertical taps), built on the host and copied to the device as it is.
struct FaceCropTable {
  std::vector<std::int32_t> data;
  int faces = 0;
};

/// Builds the table for n regions (frame pixels, after the crop policy; they may leave the
/// frame) resampled to out_width x out_height. Regions must have width and height >= 1.
void build_face_crop_table(const Box* regions, int n, int out_width, int out_height,
                           FaceCropTable& table);

/// Launches one kernel over all faces of the table. frame, table (device copy of
/// FaceCropTable::data) and out (device floats [faces, channels, height, width]) live on the
/// device; stream is a cudaStream_t (nullptr: the legacy default stream). Returns the launch's
/// cudaError_t as an int (0 = success).
int launch_face_crop(const DeviceFrame& frame, const std::int32_t* table, int faces,
                     const CropOutput& out, float* device_out, void* stream);

/// The kernel's own per-pixel code run on the CPU: frame planes and out in HOST memory. For
/// tests on machines without a GPU, and as a reference.
void run_face_crop_on_host(const DeviceFrame& frame, const std::int32_t* table, int faces,
                           const CropOutput& out, float* host_out);

/// The text of a cudaError_t code.
const char* cuda_error_text(int code);

}  // namespace siamese::cuda
