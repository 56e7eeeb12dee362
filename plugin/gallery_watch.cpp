#include "gallery_watch.h"

#include <atomic>

#include "siamese/errors.h"
#include "siamese/log.h"

namespace siamese::gst {

GalleryWatch::GalleryWatch(const std::string& path, const ModelInfo& model, torch::Device device,
                           float threshold, std::chrono::milliseconds poll, Reporter report)
    : model_(model),
      device_(device),
      threshold_(threshold),
      report_(std::move(report)),
      gallery_(Gallery::open(path, model, /*create=*/false)) {
  std::lock_guard<std::mutex> lock(gallery_mutex_);
  last_counter_ = gallery_.change_counter();
  std::atomic_store(&matcher_, load_locked());
  if (poll.count() > 0) thread_ = std::thread([this, poll] { poll_loop(poll); });
}

GalleryWatch::~GalleryWatch() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Matcher> GalleryWatch::matcher() const { return std::atomic_load(&matcher_); }

int64_t GalleryWatch::generation() const {
  std::lock_guard<std::mutex> lock(gallery_mutex_);
  return generation_;
}

std::shared_ptr<const Matcher> GalleryWatch::load_locked() {
  // The file may have been rebuilt with another model since it was opened.
  const std::string fingerprint = gallery_.model_fingerprint();
  if (fingerprint != model_.fingerprint) {
    throw MismatchError(gallery_.path() + ": gallery was built with model " + fingerprint +
                        ", the element runs model " + model_.fingerprint);
  }
  auto matcher = std::make_shared<const Matcher>(gallery_.load_matrix(), device_, threshold_);
  ++generation_;
  log(LogLevel::kInfo, gallery_.path() + ": loaded " + std::to_string(matcher->names().size()) +
                           " identities, " + std::to_string(matcher->embedding_count()) +
                           " embeddings");
  return matcher;
}

bool GalleryWatch::reload() {
  std::string message;
  bool ok = false;
  {
    std::lock_guard<std::mutex> lock(gallery_mutex_);
    try {
      last_counter_ = gallery_.change_counter();
      std::atomic_store(&matcher_, load_locked());
      failed_counter_ = -1;
      ok = true;
      message = gallery_.path() + ": reloaded, " + std::to_string(matcher()->names().size()) +
                " identities";
    } catch (const std::exception& e) {
      failed_counter_ = last_counter_;
      message = std::string("gallery reload failed, keeping the previous gallery: ") + e.what();
    }
  }
  if (report_) report_(ok, message);
  return ok;
}

void GalleryWatch::poll_loop(std::chrono::milliseconds poll) {
  for (;;) {
    {
      std::unique_lock<std::mutex> stop_lock(stop_mutex_);
      if (stop_cv_.wait_for(stop_lock, poll, [this] { return stopping_; })) return;
    }
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(gallery_mutex_);
      try {
        const int64_t counter = gallery_.change_counter();
        // A failed state is reported once, not on every poll.
        changed = counter != last_counter_ && counter != failed_counter_;
        if (changed) last_counter_ = counter;
      } catch (const std::exception& e) {
        log(LogLevel::kDebug, std::string("gallery poll: ") + e.what());
      }
    }
    if (changed) reload();
  }
}

}  // namespace siamese::gst
