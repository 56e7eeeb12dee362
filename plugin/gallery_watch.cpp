#include "gallery_watch.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "siamese/errors.h"
#include "siamese/log.h"
#include "siamese/postgres_gallery.h"

namespace siamese::gst {

GalleryWatch::GalleryWatch(std::string path, const ModelInfo& model, torch::Device device,
                           std::chrono::milliseconds poll, std::chrono::milliseconds error_after,
                           Reporter report, const SearchSettings& search)
    : path_(std::move(path)),
      name_(gallery_display_name(path_)),
      postgres_(is_postgres_location(path_)),
      model_(model),
      device_(device),
      error_after_(error_after),
      report_(std::move(report)),
      search_(search) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    load_locked();  // throws: the element's start() fails with the reason
  }
  if (postgres_) {
    auto stale = std::make_shared<GalleryView>();
    stale->default_threshold = view()->default_threshold;
    stale->matcher =
        std::make_shared<const Matcher>(GalleryMatrix{}, device_, stale->default_threshold.value);
    stale->trusted = false;
    stale->problem = "no word from the PostgreSQL server for " +
                     std::to_string(kPostgresStaleLimit.count() / 1000.0) + " s";
    stale_view_ = std::move(stale);
  }
  if (poll.count() > 0) {
    thread_ = std::thread([this, poll] { postgres_ ? listen_loop(poll) : poll_loop(poll); });
  }
}

GalleryWatch::~GalleryWatch() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {
// The threshold a served matcher gets: the default's value, which identities' own thresholds
// override (the default is never an explicit one).
ThresholdChoice matcher_threshold(const ThresholdChoice& default_threshold) {
  return ThresholdChoice{default_threshold.value, ThresholdSource::kGallery, "gallery default",
                         default_threshold.calibrated};
}

int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

std::shared_ptr<const GalleryView> GalleryWatch::view() const {
  auto current = std::atomic_load(&view_);
  // Fail closed even when the watch's thread is stuck: a state not confirmed by the server
  // within the bound is not served.
  if (stale_view_ && current->trusted &&
      steady_ns(std::chrono::steady_clock::now()) > fresh_until_ns_.load()) {
    return stale_view_;
  }
  return current;
}

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
    throw MismatchError(name_ + ": gallery was rebuilt with model " + snap.model_fingerprint +
                        ", the element runs model " + model_.fingerprint);
  }
  if (const std::string why = preprocessing_mismatch(snap.preprocessing, model_); !why.empty()) {
    throw MismatchError(name_ + ": gallery was rebuilt and " + why);
  }
  auto view = std::make_shared<GalleryView>();
  view->default_threshold =
      choose_threshold(std::nullopt, snap.threshold, model_, snap.matrix.size());
  view->matcher = std::make_shared<const Matcher>(
      std::move(snap.matrix), device_, matcher_threshold(view->default_threshold), search_);
  // A file is polled through this connection; a PostgreSQL gallery is followed by the listener,
  // so its reader connection is not kept (one server connection per element, not two).
  if (!postgres_) gallery_.emplace(std::move(fresh));
  last_counter_ = counter;
  serve_locked(std::move(view), snap.version);
}

void GalleryWatch::serve_locked(std::shared_ptr<GalleryView> view, int64_t version) {
  view->generation = ++generation_;
  std::atomic_store(&view_, std::shared_ptr<const GalleryView>(std::move(view)));
  if (postgres_) {
    // Read from the server just now: current at least until the bound from now.
    const int64_t until = steady_ns(std::chrono::steady_clock::now() + kPostgresStaleLimit);
    if (until > fresh_until_ns_.load()) fresh_until_ns_.store(until);
    loaded_version_ = version;
  }
  problem_.clear();
  fatal_reported_ = false;
}

bool GalleryWatch::patch_locked(std::string& what) {
  const auto current = std::atomic_load(&view_);
  if (!postgres_ || loaded_version_ < 0 || !problem_.empty() || !current->trusted) return false;
  const Gallery reader = Gallery::open_reader(path_, model_);
  std::optional<GalleryDelta> delta = reader.changes_since(loaded_version_);
  if (!delta) return false;
  if (delta->model_fingerprint != model_.fingerprint ||
      delta->embedding_size != model_.embedding_size ||
      !preprocessing_mismatch(delta->preprocessing, model_).empty()) {
    return false;  // rebound: the full load says why
  }
  auto view = std::make_shared<GalleryView>();
  view->default_threshold =
      choose_threshold(std::nullopt, delta->threshold, model_,
                       current->matcher->embedding_count_after(delta->change));
  view->matcher =
      current->matcher->patched(delta->change, matcher_threshold(view->default_threshold));
  const size_t changed = delta->change.replaced.size() + (delta->change.anyone_replaced ? 1 : 0);
  what = std::to_string(changed) + (changed == 1 ? " identity changed" : " identities changed");
  serve_locked(std::move(view), delta->version);
  return true;
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
    message = "gallery " + name_ + " cannot be trusted, verifying nobody until it can: " + problem;
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
      std::string patched;
      try {
        if (!patch_locked(patched)) load_locked();
      } catch (const PostgresConnectionError&) {
        throw;
      } catch (const std::exception& e) {
        // A change log that does not fit what is served: read everything, which says what is
        // wrong if anything is.
        log(LogLevel::kDebug,
            name_ + ": reading everything, the change log did not apply: " + e.what());
        patched.clear();
        load_locked();
      }
      ok = true;
      const auto v = view();
      message = name_ + ": " +
                (was_untrusted     ? "trusted again, "
                 : patched.empty() ? "reloaded, "
                                   : "updated (" + patched + "), ") +
                std::to_string(v->matcher->names().size()) + " identities, " +
                std::to_string(v->matcher->embedding_count()) + " embeddings, threshold " +
                std::to_string(v->default_threshold.value) + " (" +
                v->default_threshold.description + ")";
    } catch (const PostgresConnectionError& e) {
      // The server, not the gallery, failed: like a lost listener, the last good state is
      // served until the bound (view() enforces it), and the listener reconnects.
      const auto current = std::atomic_load(&view_);
      if (current->trusted &&
          steady_ns(std::chrono::steady_clock::now()) <= fresh_until_ns_.load()) {
        connection_lost_ = true;
        event = Event::kStale;
        message = name_ + ": lost the PostgreSQL server while reading the gallery; serving the " +
                  "last good one for at most " +
                  std::to_string(kPostgresStaleLimit.count() / 1000.0) + " s: " + e.what();
      } else {
        fail_locked(e.what(), event, message);
      }
    } catch (const std::exception& e) {
      fail_locked(e.what(), event, message);
    }
  }
  if (!message.empty()) report(event, message);
  return ok;
}

bool GalleryWatch::take_connection_lost() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(connection_lost_, false);
}

void GalleryWatch::fail_locked(const std::string& problem, Event& event, std::string& message) {
  gallery_.reset();
  event = Event::kUntrusted;
  distrust_locked(problem, message);
  if (message.empty() && error_after_.count() > 0 && !fatal_reported_ &&
      std::chrono::steady_clock::now() - untrusted_since_ >= error_after_) {
    fatal_reported_ = true;
    event = Event::kFatal;
    message = "gallery " + name_ + " has not been readable for " +
              std::to_string(error_after_.count() / 1000.0) + " s: " + problem_;
  }
}

void GalleryWatch::fail(const std::string& problem) {
  std::string message;
  Event event = Event::kUntrusted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fail_locked(problem, event, message);
  }
  if (!message.empty()) report(event, message);
}

bool GalleryWatch::wait_stop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> stop_lock(stop_mutex_);
  return stop_cv_.wait_for(stop_lock, timeout, [this] { return stopping_; });
}

void GalleryWatch::listen_loop(std::chrono::milliseconds poll) {
  using Clock = std::chrono::steady_clock;
  const auto slice = std::min(poll, std::chrono::milliseconds(100));
  std::unique_ptr<PostgresChangeListener> listener;
  auto backoff = poll;
  auto next_try = Clock::now();
  auto next_retry = Clock::now();  // while untrusted: read again every poll
  bool lost_reported = false;
  for (;;) {
    if (!listener && Clock::now() >= next_try) {
      try {
        listener = std::make_unique<PostgresChangeListener>(path_);
        backoff = poll;
        lost_reported = false;
        reload();  // changes may have been committed while nobody listened
        if (take_connection_lost()) {
          listener.reset();  // and try again after the back-off
          next_try = Clock::now() + backoff;
          backoff = std::min(backoff * 2, kPostgresMaxBackoff);
          lost_reported = true;
        }
      } catch (const std::exception& e) {
        next_try = Clock::now() + backoff;
        backoff = std::min(backoff * 2, kPostgresMaxBackoff);
        if (!lost_reported) {
          lost_reported = true;
          report(Event::kStale, name_ + ": cannot reach the PostgreSQL server; serving the last " +
                                    "good gallery for at most " +
                                    std::to_string(kPostgresStaleLimit.count() / 1000.0) +
                                    " s while reconnecting: " + e.what());
        }
      }
    }
    if (listener) {
      try {
        const int notices = listener->wait(slice, kPostgresHeartbeat);
        const int64_t until = steady_ns(listener->last_heard() + kPostgresStaleLimit);
        if (until > fresh_until_ns_.load()) fresh_until_ns_.store(until);
        bool untrusted = false;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          untrusted = !problem_.empty();
        }
        if (notices > 0 || (untrusted && Clock::now() >= next_retry)) {
          next_retry = Clock::now() + poll;
          reload();
          if (take_connection_lost()) {
            listener.reset();
            next_try = Clock::now();
            lost_reported = true;
          }
        }
      } catch (const std::exception& e) {
        listener.reset();
        next_try = Clock::now();
        lost_reported = true;
        report(Event::kStale, name_ + ": lost the PostgreSQL server; serving the last good " +
                                  "gallery for at most " +
                                  std::to_string(kPostgresStaleLimit.count() / 1000.0) +
                                  " s while reconnecting: " + e.what());
      }
    } else if (wait_stop(slice)) {
      return;
    }
    // Past the bound: say so and serve nobody (view() already does).
    const auto current = std::atomic_load(&view_);
    if (current->trusted && steady_ns(Clock::now()) > fresh_until_ns_.load()) {
      fail(stale_view_->problem);
    }
    if (listener && wait_stop(std::chrono::milliseconds(0))) return;
  }
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
    if (wait_stop(poll)) return;
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      changed = changed_locked();
    }
    if (changed) reload();
  }
}

}  // namespace siamese::gst
