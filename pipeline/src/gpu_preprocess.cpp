#include "siamese/gpu_preprocess.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cstring>

#include "siamese/errors.h"

#if SIAMESE_HAVE_CUDA_KERNELS
#include <cuda_runtime_api.h>

#include "face_crop_kernel.h"
#endif
#if SIAMESE_HAVE_CUDA_KERNELS && SIAMESE_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace siamese {

bool GpuFacePreprocessor::available() {
#if SIAMESE_HAVE_CUDA_KERNELS
  return torch::cuda::is_available();
#else
  return false;
#endif
}

std::string GpuFacePreprocessor::unavailable_reason() {
#if SIAMESE_HAVE_CUDA_KERNELS
  if (torch::cuda::is_available()) return "";
  return "LibTorch sees no usable CUDA device (no GPU, no driver, or a LibTorch built without "
         "CUDA)";
#else
  return "this build has no CUDA kernels (nvcc was not found or SIAMESE_CUDA_KERNELS=OFF when "
         "it was configured)";
#endif
}

#if SIAMESE_HAVE_CUDA_KERNELS

namespace {

void check(cudaError_t err, const torch::Device& device, const char* what) {
  if (err != cudaSuccess) {
    throw DeviceError(device.str() + ": " + what + ": " + cudaGetErrorString(err));
  }
}

// Makes device current for a scope and restores the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(const torch::Device& device) {
    cudaGetDevice(&previous_);
    check(cudaSetDevice(device.index()), device, "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// One plane of a frame: rows of row_bytes at stride; bytes() is what must be copied.
struct PlaneLayout {
  const std::uint8_t* data = nullptr;
  int stride = 0, rows = 0, row_bytes = 0;
  size_t bytes() const {
    return rows <= 0 ? 0 : static_cast<size_t>(rows - 1) * stride + static_cast<size_t>(row_bytes);
  }
};

int plane_layouts(const ImageView& v, PlaneLayout* planes) {
  const int cw = (v.width + 1) / 2, ch = (v.height + 1) / 2;
  planes[0] = {v.planes[0], v.strides[0], v.height,
               v.width * std::max(1, bytes_per_pixel(v.format))};
  if (v.format == PixelFormat::kI420) {
    planes[1] = {v.planes[1], v.strides[1], ch, cw};
    planes[2] = {v.planes[2], v.strides[2], ch, cw};
    return 3;
  }
  if (v.format == PixelFormat::kNV12) {
    planes[1] = {v.planes[1], v.strides[1], ch, cw * 2};
    return 2;
  }
  return 1;
}

size_t align_up(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

struct GpuFacePreprocessor::Impl {
  InputSpec spec;
  torch::Device device;
  cuda::CropOutput out;
  cudaStream_t upload_stream = nullptr;
  cudaEvent_t uploaded = nullptr;   // the frame's copy is done: staging reusable, kernel may read
  cudaEvent_t cropped = nullptr;    // the last kernel is done: frame and table buffers reusable
  std::uint8_t* staging = nullptr;  // pinned, for the frame
  size_t staging_size = 0;
  std::uint8_t* frame_buffer = nullptr;  // device
  size_t frame_size = 0;
  std::int32_t* table_staging = nullptr;  // pinned
  std::int32_t* table_buffer = nullptr;   // device
  size_t table_capacity = 0;              // ints, both table buffers
  cuda::DeviceFrame frame;
  bool has_frame = false;
  cuda::FaceCropTable table;
  std::vector<Box> regions;

  Impl(InputSpec s, torch::Device d) : spec(std::move(s)), device(d) {}
  ~Impl() {
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(device.index());
    if (cropped) cudaEventSynchronize(cropped);
    if (uploaded) cudaEventSynchronize(uploaded);
    if (staging) cudaFreeHost(staging);
    if (table_staging) cudaFreeHost(table_staging);
    if (frame_buffer) cudaFree(frame_buffer);
    if (table_buffer) cudaFree(table_buffer);
    if (uploaded) cudaEventDestroy(uploaded);
    if (cropped) cudaEventDestroy(cropped);
    if (upload_stream) cudaStreamDestroy(upload_stream);
    cudaSetDevice(previous);
  }

  // The stream the kernel runs on: LibTorch's current stream, so the tensor it fills is ready
  // in stream order for whatever LibTorch does next with it.
  cudaStream_t kernel_stream() const {
#if SIAMESE_TORCH_CUDA
    return c10::cuda::getCurrentCUDAStream(device.index()).stream();
#else
    return nullptr;  // the legacy default stream, which LibTorch uses unless told otherwise
#endif
  }
};

GpuFacePreprocessor::GpuFacePreprocessor(InputSpec spec, torch::Device device) {
  if (!device.is_cuda()) {
    throw DeviceError("GPU preprocessing needs a CUDA device, not '" + device.str() + "'");
  }
  if (!available()) {
    throw DeviceError("GPU preprocessing on " + device.str() + ": " + unavailable_reason());
  }
  const int index = device.has_index() ? device.index() : 0;
  if (index >= static_cast<int>(torch::cuda::device_count())) {
    throw DeviceError("GPU preprocessing on " + device.str() + ": only " +
                      std::to_string(torch::cuda::device_count()) + " CUDA device(s) present");
  }
  if (spec.width <= 0 || spec.height <= 0 || (spec.channels != 1 && spec.channels != 3) ||
      spec.mean.size() != static_cast<size_t>(spec.channels) ||
      spec.std.size() != static_cast<size_t>(spec.channels)) {
    throw InputError("GPU preprocessing: model input spec " + std::to_string(spec.channels) + "x" +
                     std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                     " is not usable (channels 1 or 3, one mean/std per channel)");
  }
  impl_ = std::make_unique<Impl>(std::move(spec),
                                 torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)));
  Impl& m = *impl_;
  m.out.width = m.spec.width;
  m.out.height = m.spec.height;
  m.out.channels = m.spec.channels;
  for (int c = 0; c < m.spec.channels; ++c) {  // the same float arithmetic as preprocess()
    m.out.mul[c] = m.spec.scale / m.spec.std[c];
    m.out.add[c] = -m.spec.mean[c] / m.spec.std[c];
  }
  DeviceScope scope(m.device);
  check(cudaStreamCreateWithFlags(&m.upload_stream, cudaStreamNonBlocking), m.device,
        "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&m.uploaded, cudaEventDisableTiming), m.device, "cudaEventCreate");
  check(cudaEventCreateWithFlags(&m.cropped, cudaEventDisableTiming), m.device, "cudaEventCreate");
}

void GpuFacePreprocessor::upload(const ImageView& view) {
  view.validate();
  Impl& m = *impl_;
  PlaneLayout planes[3];
  const int count = plane_layouts(view, planes);
  size_t offsets[3] = {0, 0, 0};
  size_t total = 0;
  for (int p = 0; p < count; ++p) {
    offsets[p] = total;
    total += align_up(planes[p].bytes());
  }
  DeviceScope scope(m.device);
  // The staging buffer is free once the previous frame's copy is done.
  check(cudaEventSynchronize(m.uploaded), m.device, "waiting for the previous upload");
  if (total > m.staging_size) {
    if (m.staging) check(cudaFreeHost(m.staging), m.device, "cudaFreeHost");
    m.staging = nullptr;
    m.staging_size = 0;
    check(cudaMallocHost(reinterpret_cast<void**>(&m.staging), total), m.device,
          "cudaMallocHost (frame staging)");
    m.staging_size = total;
  }
  if (total > m.frame_size) {
    check(cudaEventSynchronize(m.cropped), m.device, "waiting for the previous crop");
    if (m.frame_buffer) check(cudaFree(m.frame_buffer), m.device, "cudaFree");
    m.frame_buffer = nullptr;
    m.frame_size = 0;
    check(cudaMalloc(reinterpret_cast<void**>(&m.frame_buffer), total), m.device,
          "cudaMalloc (frame)");
    m.frame_size = total;
  }
  for (int p = 0; p < count; ++p) {
    std::memcpy(m.staging + offsets[p], planes[p].data, planes[p].bytes());
  }
  // The frame buffer is free once the previous kernel (on whichever stream) has read it.
  check(cudaStreamWaitEvent(m.upload_stream, m.cropped, 0), m.device, "cudaStreamWaitEvent");
  check(cudaMemcpyAsync(m.frame_buffer, m.staging, total, cudaMemcpyHostToDevice, m.upload_stream),
        m.device, "uploading the frame");
  check(cudaEventRecord(m.uploaded, m.upload_stream), m.device, "cudaEventRecord");
  m.frame = cuda::DeviceFrame{};
  for (int p = 0; p < count; ++p) {
    m.frame.planes[p] = m.frame_buffer + offsets[p];
    m.frame.strides[p] = planes[p].stride;
  }
  m.frame.width = view.width;
  m.frame.height = view.height;
  m.frame.format = view.format;
  m.has_frame = true;
}

torch::Tensor GpuFacePreprocessor::crop(const std::vector<Box>& boxes, Framing framing) {
  Impl& m = *impl_;
  if (!m.has_frame) throw InputError("GPU preprocessing: crop() before any upload()");
  const auto n = static_cast<int64_t>(boxes.size());
  m.regions.clear();
  for (const Box& box : boxes) {  // the checks and messages of preprocess()
    if (box.width <= 0 || box.height <= 0) {
      throw InputError("face box " + std::to_string(box.width) + "x" + std::to_string(box.height) +
                       " is empty");
    }
    const Box r = framed_region(box, m.spec.crop, framing);
    const int x0 = std::max(r.x, 0), y0 = std::max(r.y, 0);
    const int x1 = std::min(r.x + r.width, m.frame.width);
    const int y1 = std::min(r.y + r.height, m.frame.height);
    if (x1 <= x0 || y1 <= y0) {
      throw InputError("face box at (" + std::to_string(box.x) + "," + std::to_string(box.y) +
                       ") lies outside the " + std::to_string(m.frame.width) + "x" +
                       std::to_string(m.frame.height) + " frame");
    }
    m.regions.push_back(r);
  }
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(m.device);
  torch::Tensor out = torch::empty({n, m.spec.channels, m.spec.height, m.spec.width}, options);
  if (n == 0) return out;

  cuda::build_face_crop_table(m.regions.data(), static_cast<int>(n), m.spec.width, m.spec.height,
                              m.table);
  const size_t ints = m.table.data.size();
  DeviceScope scope(m.device);
  const cudaStream_t stream = m.kernel_stream();
  // The table buffers are free once the previous kernel is done.
  check(cudaEventSynchronize(m.cropped), m.device, "waiting for the previous crop");
  if (ints > m.table_capacity) {
    if (m.table_staging) check(cudaFreeHost(m.table_staging), m.device, "cudaFreeHost");
    if (m.table_buffer) check(cudaFree(m.table_buffer), m.device, "cudaFree");
    m.table_staging = nullptr;
    m.table_buffer = nullptr;
    m.table_capacity = 0;
    const size_t capacity = std::max<size_t>(ints * 2, 4096);
    check(
        cudaMallocHost(reinterpret_cast<void**>(&m.table_staging), capacity * sizeof(std::int32_t)),
        m.device, "cudaMallocHost (tap table)");
    check(cudaMalloc(reinterpret_cast<void**>(&m.table_buffer), capacity * sizeof(std::int32_t)),
          m.device, "cudaMalloc (tap table)");
    m.table_capacity = capacity;
  }
  std::memcpy(m.table_staging, m.table.data.data(), ints * sizeof(std::int32_t));
  check(cudaMemcpyAsync(m.table_buffer, m.table_staging, ints * sizeof(std::int32_t),
                        cudaMemcpyHostToDevice, stream),
        m.device, "uploading the tap table");
  check(cudaStreamWaitEvent(stream, m.uploaded, 0), m.device, "cudaStreamWaitEvent");
  const int err = cuda::launch_face_crop(m.frame, m.table_buffer, static_cast<int>(n), m.out,
                                         out.data_ptr<float>(), stream);
  if (err != 0) {
    throw DeviceError(m.device.str() + ": face-crop kernel launch: " + cuda::cuda_error_text(err));
  }
  check(cudaEventRecord(m.cropped, stream), m.device, "cudaEventRecord");
  return out;
}

#else  // no kernels: the class exists so callers compile; constructing it throws.

struct GpuFacePreprocessor::Impl {
  InputSpec spec;
  torch::Device device{torch::kCPU};
};

GpuFacePreprocessor::GpuFacePreprocessor(InputSpec spec, torch::Device device) {
  throw DeviceError("GPU preprocessing on " + device.str() + ": " + unavailable_reason());
}

void GpuFacePreprocessor::upload(const ImageView& view) {
  throw DeviceError("GPU preprocessing: " + unavailable_reason());
}

torch::Tensor GpuFacePreprocessor::crop(const std::vector<Box>& boxes, Framing framing) {
  throw DeviceError("GPU preprocessing: " + unavailable_reason());
}

#endif

GpuFacePreprocessor::~GpuFacePreprocessor() = default;
GpuFacePreprocessor::GpuFacePreprocessor(GpuFacePreprocessor&&) noexcept = default;
GpuFacePreprocessor& GpuFacePreprocessor::operator=(GpuFacePreprocessor&&) noexcept = default;

torch::Tensor GpuFacePreprocessor::preprocess(const ImageView& view, const std::vector<Box>& boxes,
                                              Framing framing) {
  upload(view);
  return crop(boxes, framing);
}

const InputSpec& GpuFacePreprocessor::input_spec() const { return impl_->spec; }

torch::Device GpuFacePreprocessor::device() const { return impl_->device; }

}  // namespace siamese
