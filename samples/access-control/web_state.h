// What the web console shows live, fed by the application's threads: per camera the latest
// annotated JPEG (streaming thread), the faces of the last frame, frames per second and the
// recent actions (bus thread); the pipeline's state and errors. Read by the console's thread.
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "door_policy.h"

namespace siamese::samples {

constexpr size_t kRecentActions = 50;  // actions kept for the Live page
constexpr size_t kRecentErrors = 20;   // errors kept for the Health page

class ConsoleState {
 public:
  /// The cameras (faceverify element names) of the pipeline, in order.
  explicit ConsoleState(std::vector<std::string> cameras);

  /// A new annotated JPEG of camera (copied).
  void on_jpeg(const std::string& camera, const uint8_t* data, size_t size);
  /// The faces of camera's latest frame; now_us: g_get_real_time().
  void on_frame(const std::string& camera, const FrameEvent& frame, int64_t now_us);
  /// An action the door took (or a decision change), with the wall-clock time it was logged.
  void on_action(const std::string& camera, const DoorAction& action, const std::string& time);
  /// The pipeline's state ("PLAYING", "stopped: end of stream", ...).
  void set_pipeline_state(const std::string& state);
  /// An error to show on the Health page (kept: the last kRecentErrors).
  void add_error(const std::string& text);

  /// The latest JPEG of camera; nullopt when none yet or no such camera.
  std::optional<std::shared_ptr<const std::string>> jpeg(const std::string& camera) const;
  /// Cameras, their current faces and the recent actions (the Live page's events).
  nlohmann::json live() const;
  /// Pipeline state, frames/s and frames per camera, errors (the Health page).
  nlohmann::json health() const;
  /// Changes on every update: the event stream sends when it moved.
  uint64_t version() const;
  const std::vector<std::string>& cameras() const { return cameras_; }

 private:
  struct Camera {
    std::shared_ptr<const std::string> jpeg;
    int64_t jpegs = 0;
    int64_t frames = 0;
    std::deque<int64_t> frame_times_us;  // the frames of the last two seconds (wall clock)
    nlohmann::json faces = nlohmann::json::array();
  };
  // Frames/s over the window ending at now_us (wall clock): 0 once frames stop.
  static double fps(const Camera& c, int64_t now_us);
  std::vector<std::string> cameras_;
  mutable std::mutex mutex_;
  std::map<std::string, Camera> by_name_;
  std::deque<nlohmann::json> actions_;
  std::deque<nlohmann::json> errors_;
  std::string pipeline_state_ = "starting";
  uint64_t version_ = 0;
};

/// An action as the console's JSON: camera, time, decision, identity, track, distance, reason.
nlohmann::json action_json(const std::string& camera, const DoorAction& action,
                           const std::string& time);

}  // namespace siamese::samples
