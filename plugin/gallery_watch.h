// Keeps a gallery current while a stream plays, and fails closed. A background thread checks
// every poll interval whether the file was replaced (device/inode: mv, rm + cp) or committed
// to (Gallery::change_counter()), and then reads the new state through a FRESH connection
// (Gallery::open_reader + snapshot: binding, threshold and rows in one transaction) and swaps
// it in atomically. When the gallery cannot be read or trusted (missing, corrupt, rebuilt with
// another model, a bad stored threshold) the watch serves an EMPTY gallery, so nobody is
// verified, reports why, retries every poll, and reports a fatal error once it has stayed
// untrusted for the error timeout. A PostgreSQL gallery is followed instead through LISTEN on
// a connection of its own; on each NOTIFY it reads only the identities changed since the
// version it holds (the gallery's change log) and patches the served matcher, falling back to a
// full reload when the log cannot say (Gallery::changes_since); when that connection is lost the
// watch retries with back-off and keeps serving the last good state for at most kPostgresStaleLimit
// after it last heard from the server, then serves the empty gallery. GStreamer-free.
// Thread-safety: view() and reload() from any thread; the reporter is called from the polling
// thread or reload()'s caller.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "siamese/gallery.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"
#include "siamese/threshold_policy.h"

namespace siamese::gst {

/// How long a PostgreSQL gallery is served after the watch last heard from its server (a
/// heartbeat every kPostgresHeartbeat): the revocation bound while the server is unreachable.
constexpr std::chrono::milliseconds kPostgresStaleLimit{5000};
constexpr std::chrono::milliseconds kPostgresHeartbeat{1000};
/// Reconnection back-off: from the poll interval, doubling up to this.
constexpr std::chrono::milliseconds kPostgresMaxBackoff{4000};

/// One loaded state of the gallery, as the streaming thread uses it for a batch.
struct GalleryView {
  std::shared_ptr<const Matcher> matcher;  // never null; empty while untrusted
  /// The threshold when none is set explicitly: the gallery's stored one, else the default
  /// for this gallery's size (threshold_policy.h).
  ThresholdChoice default_threshold;
  bool trusted = true;
  std::string problem;     // why it is not trusted ("" when trusted)
  int64_t generation = 0;  // counts successful loads
};

class GalleryWatch {
 public:
  enum class Event {
    kLoaded,     // a new state is served (also after recovering)
    kUntrusted,  // the gallery cannot be trusted: nobody is verified until it can
    kFatal,      // untrusted for longer than the error timeout (reported once per episode)
    kStale,      // lost the PostgreSQL server: the last good state is served, for a bound
  };
  using Reporter = std::function<void(Event event, const std::string& message)>;

  /// Opens and loads the gallery: throws FileError or MismatchError naming the file (a state
  /// change must fail, not start with an empty gallery). poll <= 0 disables polling (reload()
  /// only); error_after <= 0 never reports kFatal.
  GalleryWatch(std::string path, const ModelInfo& model, torch::Device device,
               std::chrono::milliseconds poll, std::chrono::milliseconds error_after,
               Reporter report, const SearchSettings& search = {});
  /// Stops the polling thread.
  ~GalleryWatch();
  GalleryWatch(const GalleryWatch&) = delete;
  GalleryWatch& operator=(const GalleryWatch&) = delete;

  /// The current state (never null); keep the pointer for one batch. A PostgreSQL gallery not
  /// heard from for kPostgresStaleLimit reads as empty and untrusted here, whatever the thread.
  std::shared_ptr<const GalleryView> view() const;
  /// Reads the gallery again now through a fresh connection; returns false (and serves an
  /// empty, untrusted gallery) when that fails.
  bool reload();

 private:
  // Loads through a fresh connection; throws. Caller holds mutex_.
  void load_locked();
  // PostgreSQL: applies the changes since loaded_version_ to the served matcher; false (nothing
  // done) when only a full load will do. Throws like load_locked. Caller holds mutex_.
  bool patch_locked(std::string& what);
  // Serves view, read from the server just now (version: the gallery's). Caller holds mutex_.
  void serve_locked(std::shared_ptr<GalleryView> view, int64_t version);
  // Serves the empty gallery and reports (once per distinct problem). Caller holds mutex_.
  void distrust_locked(const std::string& problem, std::string& message);
  // Whether the file changed since it was loaded. Caller holds mutex_.
  bool changed_locked();
  void poll_loop(std::chrono::milliseconds poll);
  // PostgreSQL: LISTEN, reload on NOTIFY, reconnect with back-off.
  void listen_loop(std::chrono::milliseconds poll);
  // Serves the empty gallery for problem and reports it, kFatal after the error timeout.
  void fail(const std::string& problem);
  // fail() with mutex_ held: sets what to report.
  void fail_locked(const std::string& problem, Event& event, std::string& message);
  // Whether a reload since the last call failed for the server's sake (and the last good
  // state was kept); clears it.
  bool take_connection_lost();
  // Waits up to timeout for the destructor; true when it asks the thread to stop.
  bool wait_stop(std::chrono::milliseconds timeout);
  void report(Event event, const std::string& message);

  const std::string path_;
  const std::string name_;  // how messages name it: a URI loses its password
  const bool postgres_;
  const ModelInfo model_;
  const torch::Device device_;
  const std::chrono::milliseconds error_after_;
  const Reporter report_;
  const SearchSettings search_;

  mutable std::mutex mutex_;        // guards everything below but view_
  std::optional<Gallery> gallery_;  // the file polled; none while untrusted or for PostgreSQL
  int64_t last_counter_ = 0;
  int64_t loaded_version_ = -1;  // PostgreSQL: the version served (-1: none)
  int64_t generation_ = 0;
  std::string problem_;  // the last reported problem ("" when trusted)
  std::chrono::steady_clock::time_point untrusted_since_;
  bool fatal_reported_ = false;
  bool connection_lost_ = false;  // PostgreSQL: a reload could not reach the server

  std::shared_ptr<const GalleryView> view_;  // atomic_load / atomic_store only
  // PostgreSQL: the view is served until then (steady clock, ns), the empty one after.
  std::atomic<int64_t> fresh_until_ns_{0};
  std::shared_ptr<const GalleryView> stale_view_;  // set once in the constructor

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace siamese::gst
