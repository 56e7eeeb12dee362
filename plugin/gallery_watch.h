// Keeps a gallery's Matcher current while a stream plays: a background thread polls
// Gallery::change_counter() (cheap) every poll interval and, when it changes, loads the matrix
// and swaps the shared Matcher atomically; a reload that fails keeps the previous matcher and
// is reported once. GStreamer-free. Thread-safety: matcher() and reload() from any thread.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "siamese/gallery.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"

namespace siamese::gst {

class GalleryWatch {
 public:
  /// Called from the polling thread (or reload()'s caller) with a message for the user.
  using Reporter = std::function<void(bool ok, const std::string& message)>;

  /// Opens the gallery bound to model and loads it: throws FileError or MismatchError naming
  /// the file. poll <= 0 disables polling (reload() only).
  GalleryWatch(const std::string& path, const ModelInfo& model, torch::Device device,
               float threshold, std::chrono::milliseconds poll, Reporter report);
  /// Stops the polling thread.
  ~GalleryWatch();
  GalleryWatch(const GalleryWatch&) = delete;
  GalleryWatch& operator=(const GalleryWatch&) = delete;

  /// The current matcher (never null); keep the pointer for one batch.
  std::shared_ptr<const Matcher> matcher() const;
  /// Reloads now; on failure keeps the previous matcher, reports and returns false.
  bool reload();
  /// Number of successful loads (1 after construction).
  int64_t generation() const;

 private:
  std::shared_ptr<const Matcher> load_locked();  // throws
  void poll_loop(std::chrono::milliseconds poll);

  ModelInfo model_;
  torch::Device device_;
  float threshold_;
  Reporter report_;

  mutable std::mutex gallery_mutex_;  // guards gallery_, last_counter_, failed_counter_
  Gallery gallery_;
  int64_t last_counter_ = 0;
  int64_t failed_counter_ = -1;
  int64_t generation_ = 0;

  std::shared_ptr<const Matcher> matcher_;  // atomic_load / atomic_store only

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace siamese::gst
