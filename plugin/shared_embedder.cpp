#include "shared_embedder.h"

#include <exception>
#include <map>
#include <vector>

#include "siamese/errors.h"

namespace siamese::gst {

struct SharedEmbedder::Request {
  torch::Tensor inputs;
  torch::Tensor outputs;
  std::exception_ptr error;
  bool done = false;
};

SharedEmbedder::SharedEmbedder(std::unique_ptr<Embedder> embedder, std::chrono::microseconds window)
    : embedder_(std::move(embedder)), window_(window) {
  if (!embedder_) throw InputError("SharedEmbedder: no embedder");
}

void SharedEmbedder::add_user() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++users_;
}

void SharedEmbedder::remove_user() {
  std::lock_guard<std::mutex> lock(mutex_);
  --users_;
  cv_.notify_all();  // a collecting leader need not wait for this stream any more
}

int64_t SharedEmbedder::forward_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return forwards_;
}

torch::Tensor SharedEmbedder::embed(const torch::Tensor& inputs) {
  Request request;
  request.inputs = inputs;
  std::unique_lock<std::mutex> lock(mutex_);
  pending_.push_back(&request);
  pending_rows_ += inputs.size(0);
  cv_.notify_all();
  while (!request.done) {
    if (leader_) {
      cv_.wait(lock);
      continue;
    }
    // Lead the next batch: wait a short window for the other streams' faces, no longer.
    leader_ = true;
    const auto deadline = std::chrono::steady_clock::now() + window_;
    while (static_cast<int>(pending_.size()) < users_ && pending_rows_ < embedder_->batch_size() &&
           cv_.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
    run_batch(lock);
  }
  if (request.error) std::rethrow_exception(request.error);
  return request.outputs;
}

void SharedEmbedder::run_batch(std::unique_lock<std::mutex>& lock) {
  std::vector<Request*> batch;
  int64_t rows = 0;
  while (!pending_.empty() && (batch.empty() || rows < embedder_->batch_size())) {
    batch.push_back(pending_.front());
    rows += pending_.front()->inputs.size(0);
    pending_.pop_front();
  }
  pending_rows_ -= rows;
  lock.unlock();
  int64_t forwards = 0;
  try {
    std::vector<torch::Tensor> parts;
    for (Request* r : batch) parts.push_back(r->inputs);
    const torch::Tensor out =
        embedder_->embed_on_device(parts.size() == 1 ? parts[0] : torch::cat(parts, 0));
    ++forwards;
    int64_t row = 0;
    for (Request* r : batch) {
      const int64_t n = r->inputs.size(0);
      r->outputs = out.narrow(0, row, n);
      row += n;
    }
  } catch (...) {
    // Embed each caller's rows alone, so that only the faulty input fails.
    for (Request* r : batch) {
      try {
        r->outputs = embedder_->embed_on_device(r->inputs);
        ++forwards;
      } catch (...) {
        r->error = std::current_exception();
      }
    }
  }
  lock.lock();
  for (Request* r : batch) r->done = true;
  forwards_ += forwards;
  leader_ = false;
  cv_.notify_all();
}

namespace {

struct RegistryEntry {
  SharedModelKey key;
  std::weak_ptr<SharedEmbedder> shared;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, RegistryEntry>& registry() {
  static std::map<std::string, RegistryEntry> r;
  return r;
}

bool same_model(const SharedModelKey& a, const SharedModelKey& b) {
  return a.model_path == b.model_path && a.device == b.device && a.precision == b.precision &&
         a.batch_size == b.batch_size;
}

std::string describe(const SharedModelKey& k) {
  return "model \"" + k.model_path + "\" on " + k.device + " (" + k.precision + ", batch-size " +
         std::to_string(k.batch_size) + ")";
}

}  // namespace

std::shared_ptr<SharedEmbedder> acquire_shared_embedder(
    const SharedModelKey& key, const std::function<std::unique_ptr<Embedder>()>& make) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto& entries = registry();
  auto it = entries.find(key.instance_id);
  if (it != entries.end()) {
    if (std::shared_ptr<SharedEmbedder> shared = it->second.shared.lock()) {
      if (!same_model(it->second.key, key)) {
        throw InputError("model-instance-id \"" + key.instance_id + "\" is in use with " +
                         describe(it->second.key) + ", not " + describe(key));
      }
      return shared;
    }
  }
  auto shared = std::make_shared<SharedEmbedder>(make());
  entries[key.instance_id] = RegistryEntry{key, shared};
  return shared;
}

}  // namespace siamese::gst
