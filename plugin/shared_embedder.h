// Several cameras, one model: the networks that faceverify elements with the same
// model-instance-id share (the embedder, the landmark network of a model that aligns, the CNN
// face detector), each behind a SharedForward that batches the rows several streaming threads
// submit within a short window into one forward pass; a process-wide registry (weak references,
// keyed by model-instance-id) hands the same SharedModels to every element with that id.
// Thread-safety: run()/embed() may be called from any number of threads; a caller waits only for
// the batch that holds its own rows, and a stalled stream holds nobody up.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "siamese/embedder.h"
#include "siamese/network_forward.h"
#include "siamese/tiny_face_detector.h"

namespace siamese::gst {

/// How long the first rows of a batch wait for other streams' rows before the forward pass.
constexpr std::chrono::microseconds kDefaultShareWindow{2000};
/// Frames of all streams in one pass of a shared CNN detector (3 x 416 x 416 floats each).
constexpr int64_t kSharedDetectorMaxFrames = 16;

/// One network's forward pass, shared by streams: rows of concurrent callers are concatenated
/// (dim 0), run once and split back.
class SharedForward {
 public:
  /// A pass holds at most max_rows rows plus the rows of the one request that overflows it.
  SharedForward(NetworkForward forward, int64_t max_rows,
                std::chrono::microseconds window = kDefaultShareWindow);

  /// inputs [N, ...] -> forward's rows for them; rows of concurrent callers go through one
  /// pass. Rethrows the pass's error for this caller's rows only.
  torch::Tensor run(const torch::Tensor& inputs);

  /// A stream starts / stops using this network (the window ends early once every user's rows
  /// have arrived).
  void add_user();
  void remove_user();
  int users() const;
  /// Forward passes run so far (for statistics and tests).
  int64_t forward_count() const;

 private:
  struct Request;
  void run_batch(std::unique_lock<std::mutex>& lock);

  NetworkForward forward_;
  int64_t max_rows_;
  std::chrono::microseconds window_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Request*> pending_;
  int64_t pending_rows_ = 0;
  bool leader_ = false;  // a caller is collecting or running a batch
  int users_ = 0;
  int64_t forwards_ = 0;
};

/// The embedder behind a SharedForward (at most embedder->batch_size() rows a pass).
class SharedEmbedder {
 public:
  explicit SharedEmbedder(std::unique_ptr<Embedder> embedder,
                          std::chrono::microseconds window = kDefaultShareWindow);

  /// inputs [N,C,H,W] -> embeddings [N,E] on the embedder's device; rows of concurrent callers
  /// go through one forward pass. Rethrows the forward pass's error for this caller's rows only.
  torch::Tensor embed(const torch::Tensor& inputs) { return forward_.run(inputs); }

  void add_user() { forward_.add_user(); }
  void remove_user() { forward_.remove_user(); }

  /// The shared embedder (read-only use: input spec, device, landmark network).
  std::shared_ptr<Embedder> embedder() const { return embedder_; }
  /// Forward passes run so far (for statistics and tests).
  int64_t forward_count() const { return forward_.forward_count(); }

 private:
  std::shared_ptr<Embedder> embedder_;
  SharedForward forward_;
};

/// What elements with one model-instance-id share: the embedder, its landmark network when the
/// model aligns, and the CNN detector once an element asks for it.
class SharedModels {
 public:
  explicit SharedModels(std::unique_ptr<Embedder> embedder,
                        std::chrono::microseconds window = kDefaultShareWindow);

  SharedEmbedder& embedder() { return embedder_; }
  /// The landmark network's passes (the embedder's FaceLandmarker), or null when the model does
  /// not align.
  SharedForward* landmarks() { return landmarks_.get(); }
  /// The CNN detector's passes at input_size (TinyFaceDetector::forward), the network made by
  /// make() for the first element that asks. Throws InputError naming detector-input-size and
  /// model-instance-id when it already runs at another size; rethrows make()'s errors.
  SharedForward& detector(int input_size,
                          const std::function<std::unique_ptr<TinyFaceDetector>()>& make);
  /// The shared detector's passes, or null when no element asked for one (statistics, tests).
  SharedForward* detector_if_any();

 private:
  SharedEmbedder embedder_;
  std::chrono::microseconds window_;
  std::unique_ptr<SharedForward> landmarks_;
  std::mutex detector_mutex_;
  std::unique_ptr<TinyFaceDetector> detector_network_;
  std::unique_ptr<SharedForward> detector_;
};

/// What identifies a shareable model: same id, file, device, precision and batch size.
struct SharedModelKey {
  std::string instance_id, model_path, device, precision;
  int batch_size = 0;
};

/// The SharedModels registered (and still alive) for key.instance_id, or new ones around the
/// embedder from make() (called under the registry lock, so one id loads once). Throws
/// InputError naming model-instance-id when the id is in use with another model, device,
/// precision or batch size; rethrows make()'s errors.
std::shared_ptr<SharedModels> acquire_shared_models(
    const SharedModelKey& key, const std::function<std::unique_ptr<Embedder>()>& make);

/// The SharedModels alive under instance_id, or null (statistics, tests).
std::shared_ptr<SharedModels> find_shared_models(const std::string& instance_id);

}  // namespace siamese::gst
