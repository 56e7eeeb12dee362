#include "gallery_watch.h"

#include <atomic>
#include <utility>

#include "siamese/errors.h"
#include "siamese/log.h"

namespace siamese::gst {

GalleryWatch::GalleryWatch(std::string path, const ModelInfo& model, torch::Device device,
                           std::chrono::milliseconds poll, std::chrono::milliseconds error_after,
                           Reporter report)
    : path_(std::move(path)),
      model_(model),
      device_(device),
      error_after_(error_after),
      report_(std::move(report)) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    load_locked();  // throws: the element's start() fails with the reason
  }
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

std::shared_ptr<const GalleryView> GalleryWatch::view() const { return std::atomic_load(&view_); }

void GalleryWatch::report(Event event, const std::string& message) {
  if (report_) report_(event, message);
}

void GalleryWatch::load_locked() {
  // The old connection goes first: SQLite finds a WAL by file name, and the replaced file's
  // -wal must not be read as the new file's.
  gallery_.reset();
  Gallery fresh = Gallery::open_reader(path_, model_);
  // Read before the snapshot: a commit landing in between shows as a change on the next poll.
  const int64_t counter = fresh.change_counter();
  GallerySnapshot snap = fresh.snapshot();
  // open_reader checked the binding; a rebind may have committed since.
  if (snap.model_fingerprint != model_.fingerprint ||
      snap.embedding_size != model_.embedding_size) {
    throw MismatchError(path_ + ": gallery was rebuilt with model " + snap.model_fingerprint +
                        ", the element runs model " + model_.fingerprint);
  }
  auto view = std::make_shared<GalleryView>();
  view->default_threshold =
      choose_threshold(std::nullopt, snap.threshold, model_, snap.matrix.size());
  view->matcher = std::make_shared<const Matcher>(std::move(snap.matrix), device_,
                                                  view->default_threshold.value);
  view->generation = ++generation_;
  std::atomic_store(&view_, std::shared_ptr<const GalleryView>(std::move(view)));
  gallery_.emplace(std::move(fresh));
  last_counter_ = counter;
  problem_.clear();
  fatal_reported_ = false;
}

void GalleryWatch::distrust_locked(const std::string& problem, std::string& message) {
  const auto current = view();
  if (problem_.empty()) untrusted_since_ = std::chrono::steady_clock::now();
  if (current == nullptr || current->trusted || problem != problem_) {
    auto view = std::make_shared<GalleryView>();
    GalleryMatrix none;
    view->default_threshold = current ? current->default_threshold : ThresholdChoice{};
    view->matcher =
        std::make_shared<const Matcher>(std::move(none), device_, view->default_threshold.value);
    view->trusted = false;
    view->problem = problem;
    view->generation = generation_;
    std::atomic_store(&view_, std::shared_ptr<const GalleryView>(std::move(view)));
    message = "gallery " + path_ + " cannot be trusted, verifying nobody until it can: " + problem;
  }
  problem_ = problem;
}

bool GalleryWatch::reload() {
  std::string message;
  Event event = Event::kLoaded;
  bool ok = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool was_untrusted = !problem_.empty();
    try {
      load_locked();
      ok = true;
      const auto v = view();
      message = path_ + ": " + (was_untrusted ? "trusted again, " : "reloaded, ") +
                std::to_string(v->matcher->names().size()) + " identities, " +
                std::to_string(v->matcher->embedding_count()) + " embeddings, threshold " +
                std::to_string(v->default_threshold.value) + " (" +
                v->default_threshold.description + ")";
    } catch (const std::exception& e) {
      gallery_.reset();
      event = Event::kUntrusted;
      distrust_locked(e.what(), message);
      if (message.empty() && error_after_.count() > 0 && !fatal_reported_ &&
          std::chrono::steady_clock::now() - untrusted_since_ >= error_after_) {
        fatal_reported_ = true;
        event = Event::kFatal;
        message = "gallery " + path_ + " has not been readable for " +
                  std::to_string(error_after_.count() / 1000.0) + " s: " + problem_;
      }
    }
  }
  if (!message.empty()) report(event, message);
  return ok;
}

bool GalleryWatch::changed_locked() {
  if (!gallery_) return true;  // untrusted: try again on every poll
  const std::optional<FileIdentity> now = file_identity_of(path_);
  if (!now || *now != gallery_->file_identity()) return true;  // removed or replaced
  try {
    return gallery_->change_counter() != last_counter_;
  } catch (const std::exception& e) {
    log(LogLevel::kDebug, std::string("gallery poll: ") + e.what());
    return true;  // the connection cannot read the file any more: read it afresh
  }
}

void GalleryWatch::poll_loop(std::chrono::milliseconds poll) {
  for (;;) {
    {
      std::unique_lock<std::mutex> stop_lock(stop_mutex_);
      if (stop_cv_.wait_for(stop_lock, poll, [this] { return stopping_; })) return;
    }
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      changed = changed_locked();
    }
    if (changed) reload();
  }
}

}  // namespace siamese::gst
