#include "shared_embedder.h"

#include <exception>
#include <map>
#include <vector>

#include "siamese/errors.h"

namespace siamese::gst {

struct SharedForward::Request {
  torch::Tensor inputs;
  torch::Tensor outputs;
  std::exception_ptr error;
  bool done = false;
};

SharedForward::SharedForward(NetworkForward forward, int64_t max_rows,
                             std::chrono::microseconds window)
    : forward_(std::move(forward)), max_rows_(max_rows), window_(window) {
  if (!forward_) throw InputError("SharedForward: no forward function");
  if (max_rows_ < 1) throw InputError("SharedForward: max_rows must be at least 1");
}

void SharedForward::add_user() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++users_;
}

void SharedForward::remove_user() {
  std::lock_guard<std::mutex> lock(mutex_);
  --users_;
  cv_.notify_all();  // a collecting leader need not wait for this stream any more
}

int SharedForward::users() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return users_;
}

int64_t SharedForward::forward_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return forwards_;
}

torch::Tensor SharedForward::run(const torch::Tensor& inputs) {
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
    // Lead the next batch: wait a short window for the other streams' rows, no longer.
    leader_ = true;
    const auto deadline = std::chrono::steady_clock::now() + window_;
    while (static_cast<int>(pending_.size()) < users_ && pending_rows_ < max_rows_ &&
           cv_.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
    run_batch(lock);
  }
  if (request.error) std::rethrow_exception(request.error);
  return request.outputs;
}

void SharedForward::run_batch(std::unique_lock<std::mutex>& lock) {
  std::vector<Request*> batch;
  int64_t rows = 0;
  while (!pending_.empty() && (batch.empty() || rows < max_rows_)) {
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
    const torch::Tensor out = forward_(parts.size() == 1 ? parts[0] : torch::cat(parts, 0));
    ++forwards;
    int64_t row = 0;
    for (Request* r : batch) {
      const int64_t n = r->inputs.size(0);
      r->outputs = out.narrow(0, row, n);
      row += n;
    }
  } catch (...) {
    // Run each caller's rows alone, so that only the faulty input fails.
    for (Request* r : batch) {
      try {
        r->outputs = forward_(r->inputs);
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

NetworkForward embed_forward(const std::shared_ptr<Embedder>& embedder) {
  if (!embedder) throw InputError("SharedEmbedder: no embedder");
  Embedder* e = embedder.get();
  return [e](const torch::Tensor& inputs) { return e->embed_on_device(inputs); };
}

}  // namespace

SharedEmbedder::SharedEmbedder(std::unique_ptr<Embedder> embedder, std::chrono::microseconds window)
    : embedder_(std::move(embedder)),
      forward_(embed_forward(embedder_), embedder_ ? embedder_->batch_size() : 1, window) {}

SharedModels::SharedModels(std::unique_ptr<Embedder> embedder, std::chrono::microseconds window)
    : embedder_(std::move(embedder), window), window_(window) {
  if (FaceLandmarker* landmarker = embedder_.embedder()->landmarker()) {
    landmarks_ = std::make_unique<SharedForward>(
        [landmarker](const torch::Tensor& inputs) { return landmarker->forward(inputs); },
        landmarker->options().batch_size, window_);
  }
}

SharedForward& SharedModels::detector(
    int input_size, const std::function<std::unique_ptr<TinyFaceDetector>()>& make) {
  std::lock_guard<std::mutex> lock(detector_mutex_);
  if (detector_network_) {
    const int in_use = detector_network_->options().input_size;
    if (in_use != input_size) {
      throw InputError("the CNN detector of this model-instance-id runs at detector-input-size " +
                       std::to_string(in_use) + ", not " + std::to_string(input_size) +
                       ": elements sharing a model-instance-id share one detector");
    }
    return *detector_;
  }
  std::unique_ptr<TinyFaceDetector> network = make();
  TinyFaceDetector* net = network.get();
  detector_ = std::make_unique<SharedForward>(
      [net](const torch::Tensor& inputs) { return net->forward(inputs); }, kSharedDetectorMaxFrames,
      window_);
  detector_network_ = std::move(network);
  return *detector_;
}

SharedForward* SharedModels::detector_if_any() {
  std::lock_guard<std::mutex> lock(detector_mutex_);
  return detector_.get();
}

namespace {

struct RegistryEntry {
  SharedModelKey key;
  std::weak_ptr<SharedModels> shared;
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

std::shared_ptr<SharedModels> acquire_shared_models(
    const SharedModelKey& key, const std::function<std::unique_ptr<Embedder>()>& make) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto& entries = registry();
  auto it = entries.find(key.instance_id);
  if (it != entries.end()) {
    if (std::shared_ptr<SharedModels> shared = it->second.shared.lock()) {
      if (!same_model(it->second.key, key)) {
        throw InputError("model-instance-id \"" + key.instance_id + "\" is in use with " +
                         describe(it->second.key) + ", not " + describe(key));
      }
      return shared;
    }
  }
  auto shared = std::make_shared<SharedModels>(make());
  entries[key.instance_id] = RegistryEntry{key, shared};
  return shared;
}

std::shared_ptr<SharedModels> find_shared_models(const std::string& instance_id) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = registry().find(instance_id);
  return it == registry().end() ? nullptr : it->second.shared.lock();
}

}  // namespace siamese::gst
