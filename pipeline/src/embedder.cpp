#include "siamese/embedder.h"

#include <ATen/Parallel.h>

#include "siamese/errors.h"
#include "siamese/face_align.h"

// Where LibTorch has CUDA (SIAMESE_TORCH_CUDA, set by pipeline/cuda/CMakeLists.txt), each
// Embedder on a GPU runs its copies and forward passes on its own stream from LibTorch's pool,
// so several elements (threads) overlap on one GPU instead of queueing on the default stream.
// The caller's current stream is joined with events on entry and exit, and the result is
// recorded on it, so to the caller everything stays in stream order.
#if SIAMESE_TORCH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace siamese {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFloat32;
  if (name == "fp16") return Precision::kFloat16;
  throw InputError("precision '" + name + "' is not one of fp32, fp16");
}

const char* precision_name(Precision precision) {
  return precision == Precision::kFloat16 ? "fp16" : "fp32";
}

#if SIAMESE_TORCH_CUDA
struct Embedder::CudaState {
  c10::cuda::CUDAStream stream;
  cudaEvent_t inputs_ready = nullptr;  // recorded on the caller's stream, waited for on ours
  cudaEvent_t done = nullptr;          // recorded on ours, waited for on the caller's

  explicit CudaState(c10::DeviceIndex index)
      : stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)) {
    c10::cuda::CUDAGuard guard(index);
    if (cudaEventCreateWithFlags(&inputs_ready, cudaEventDisableTiming) != cudaSuccess ||
        cudaEventCreateWithFlags(&done, cudaEventDisableTiming) != cudaSuccess) {
      throw DeviceError("cuda:" + std::to_string(index) + ": cannot create CUDA events");
    }
  }
  ~CudaState() {
    if (inputs_ready) cudaEventDestroy(inputs_ready);
    if (done) cudaEventDestroy(done);
  }
  CudaState(const CudaState&) = delete;
  CudaState& operator=(const CudaState&) = delete;
};
#else
struct Embedder::CudaState {};
#endif

Embedder::Embedder(LoadedModel model, torch::Device device, int batch_size, Precision precision)
    : model_(std::move(model)), device_(device), batch_size_(batch_size), precision_(precision) {
  if (batch_size_ < 1) {
    throw InputError("batch-size must be at least 1 (got " + std::to_string(batch_size) + ")");
  }
  if (precision_ == Precision::kFloat16 && !device_.is_cuda()) {
    throw InputError("precision=fp16 needs a CUDA device (device is " + device_.str() +
                     "); use precision=fp32 on the CPU");
  }
  if (device_.is_cuda() && !device_.has_index()) device_ = torch::Device(torch::kCUDA, 0);
  model_.network.to(device_);
  if (precision_ == Precision::kFloat16) {
    // What Module::to(kHalf) does, for native and TorchScript networks alike: the tensors
    // named_state() returns are the network's own.
    for (auto& entry : model_.network.named_state()) {
      if (entry.second.is_floating_point()) entry.second.set_data(entry.second.to(torch::kHalf));
    }
  }
  model_.network.train(false);
  model_.network.fold_batchnorm();  // after the device and precision conversions above
  if (model_.info.input.crop.align != Align::kNone) {
    aligner_ = std::make_shared<FaceAligner>(model_.info.input.crop, device_);
  }
#if SIAMESE_TORCH_CUDA
  if (device_.is_cuda()) cuda_ = std::make_shared<CudaState>(device_.index());
#endif
}

namespace {

// On the CPU, forward passes over more rows than this run slower per row: the convolutions'
// activations leave the caches. The seed's best is ~32 rows (~610 embeddings/s there, ~360 at
// 64, where its 160 MB first Linear layer is already amortised). The default architecture on
// one thread is as fast at 8 rows as at 32; on two, 32-row passes win (b32: ~4000 vs ~2600
// embeddings/s; samples/bench/embed_bench, alternating runs).
int64_t cpu_chunk_rows(const ModelInfo& info) {
  if (info.arch.arch != "default") return 32;
  return at::get_num_threads() > 1 ? 32 : 8;
}

}  // namespace

torch::Tensor Embedder::forward_chunks(const torch::Tensor& inputs) {
  const bool async = device_.is_cuda() && inputs.is_pinned();
  const int64_t step =
      device_.is_cpu() ? std::min<int64_t>(batch_size_, cpu_chunk_rows(model_.info)) : batch_size_;
  std::vector<torch::Tensor> chunks;
  for (int64_t start = 0; start < inputs.size(0); start += step) {
    const int64_t len = std::min<int64_t>(step, inputs.size(0) - start);
    torch::Tensor chunk = inputs.narrow(0, start, len).to(device_, torch::kFloat32, async);
    if (precision_ == Precision::kFloat16) chunk = chunk.to(torch::kHalf);
    chunks.push_back(
        infer_embeddings(model_.network, chunk, embedding_rule(model_.info)).to(torch::kFloat32));
  }
  return chunks.size() == 1 ? chunks[0] : torch::cat(chunks);
}

torch::Tensor Embedder::embed_on_device(const torch::Tensor& inputs) {
  const InputSpec& spec = model_.info.input;
  if (inputs.dim() != 4 || inputs.size(1) != spec.channels || inputs.size(2) != spec.height ||
      inputs.size(3) != spec.width) {
    throw InputError("embed: expected input [N," + std::to_string(spec.channels) + "," +
                     std::to_string(spec.height) + "," + std::to_string(spec.width) + "], got " +
                     c10::str(inputs.sizes()));
  }
  c10::InferenceMode guard;
  if (inputs.size(0) == 0) {
    return torch::empty({0, model_.info.embedding_size},
                        torch::TensorOptions().dtype(torch::kFloat32).device(device_));
  }
  torch::Tensor source = inputs;
  if (device_.is_cuda() && source.device().is_cpu()) {
    // Host batches travel from pinned memory, asynchronously (LibTorch's caching host
    // allocator keeps the pinned block until the copy is done).
    source = source.contiguous();
    if (!source.is_pinned()) source = source.pin_memory();
  }
#if SIAMESE_TORCH_CUDA
  if (cuda_) {
    const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device_.index());
    const c10::cuda::CUDAStream own = cuda_->stream;
    c10::cuda::CUDAGuard device_guard(device_.index());
    cudaEventRecord(cuda_->inputs_ready, caller.stream());
    cudaStreamWaitEvent(own.stream(), cuda_->inputs_ready, 0);
    torch::Tensor out;
    {
      c10::cuda::CUDAStreamGuard stream_guard(own);
      out = forward_chunks(source);
    }
    cudaEventRecord(cuda_->done, own.stream());
    cudaStreamWaitEvent(caller.stream(), cuda_->done, 0);
    out.record_stream(caller);  // its memory is used on the caller's stream from here on
    return out;
  }
#endif
  return forward_chunks(source);
}

torch::Tensor Embedder::embed(const torch::Tensor& inputs) {
  return embed_on_device(inputs).to(torch::kCPU);
}

torch::Tensor Embedder::embed_faces(const ImageView& view, const std::vector<Box>& boxes,
                                    Framing framing) {
  torch::Tensor batch =
      make_batch_tensor(static_cast<int64_t>(boxes.size()), input_spec(), device_.is_cuda());
  preprocess_into(view, boxes, input_spec(), framing, batch, 0,
                  face_landmarks(view, boxes, framing));
  return embed(batch);
}

std::vector<Landmarks68> Embedder::face_landmarks(const ImageView& view,
                                                  const std::vector<Box>& boxes, Framing framing) {
  if (!aligner_ || framing == Framing::kExact) return {};
  return aligner_->landmarks(view, boxes);
}

FaceLandmarker* Embedder::landmarker() const { return aligner_ ? aligner_->landmarker() : nullptr; }

void Embedder::warm_up() {
  const InputSpec& spec = model_.info.input;
  for (const int64_t n : {static_cast<int64_t>(batch_size_), int64_t{1}}) {
    embed(torch::zeros({n, spec.channels, spec.height, spec.width}));  // .to(kCPU) waits
  }
}

}  // namespace siamese
