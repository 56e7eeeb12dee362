// Several cameras, one model: a SharedEmbedder owns one Embedder and batches the faces that
// several streaming threads submit within a short window into one forward pass; a process-wide
// registry (weak references, keyed by model-instance-id) hands it to every faceverify element
// with the same id. Thread-safety: embed() may be called from any number of threads; a caller
// waits only for the batch that holds its own rows, and a stalled stream holds nobody up.
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

namespace siamese::gst {

/// How long the first face batch waits for other streams' faces before the forward pass.
constexpr std::chrono::microseconds kDefaultShareWindow{2000};

class SharedEmbedder {
 public:
  /// Takes the embedder; a forward pass holds at most embedder->batch_size() rows plus the rows
  /// of the one request that overflows it.
  explicit SharedEmbedder(std::unique_ptr<Embedder> embedder,
                          std::chrono::microseconds window = kDefaultShareWindow);

  /// inputs [N,C,H,W] -> embeddings [N,E] on the embedder's device; rows of concurrent callers
  /// go through one forward pass. Rethrows the forward pass's error for this caller's rows only.
  torch::Tensor embed(const torch::Tensor& inputs);

  /// A stream starts / stops using this instance (the window ends early once every user's
  /// batch has arrived).
  void add_user();
  void remove_user();

  /// The shared embedder (read-only use: input spec, device).
  std::shared_ptr<Embedder> embedder() const { return embedder_; }
  /// Forward passes run so far (for statistics and tests).
  int64_t forward_count() const;

 private:
  struct Request;
  void run_batch(std::unique_lock<std::mutex>& lock);

  std::shared_ptr<Embedder> embedder_;
  std::chrono::microseconds window_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Request*> pending_;
  int64_t pending_rows_ = 0;
  bool leader_ = false;  // a caller is collecting or running a batch
  int users_ = 0;
  int64_t forwards_ = 0;
};

/// What identifies a shareable model: same id, file, device, precision and batch size.
struct SharedModelKey {
  std::string instance_id, model_path, device, precision;
  int batch_size = 0;
};

/// The SharedEmbedder registered (and still alive) for key.instance_id, or a new one from make()
/// (called under the registry lock, so one id loads once). Throws InputError naming
/// model-instance-id when the id is in use with another model, device, precision or batch size;
/// rethrows make()'s errors.
std::shared_ptr<SharedEmbedder> acquire_shared_embedder(
    const SharedModelKey& key, const std::function<std::unique_ptr<Embedder>()>& make);

}  // namespace siamese::gst
