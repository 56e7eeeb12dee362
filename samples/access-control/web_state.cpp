#include "web_state.h"

#include <chrono>
#include <cmath>

namespace siamese::samples {

namespace {

constexpr int64_t kFpsWindowUs = 2000000;  // frames/s over the last two seconds

nlohmann::json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

nlohmann::json action_json(const std::string& camera, const DoorAction& a,
                           const std::string& time) {
  return {{"camera", camera},
          {"time", time},
          {"decision", a.decision},
          {"identity", a.identity},
          {"track", a.track_id},
          {"distance", number_or_null(a.distance)},
          {"margin", number_or_null(a.margin)},
          {"votes", a.votes},
          {"reason", a.reason}};
}

ConsoleState::ConsoleState(std::vector<std::string> cameras) : cameras_(std::move(cameras)) {
  for (const auto& c : cameras_) by_name_[c];
}

void ConsoleState::on_jpeg(const std::string& camera, const uint8_t* data, size_t size) {
  auto copy = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = by_name_.find(camera);
  if (it == by_name_.end()) return;
  it->second.jpeg = std::move(copy);
  ++it->second.jpegs;
  ++version_;
}

void ConsoleState::on_frame(const std::string& camera, const FrameEvent& frame, int64_t now_us) {
  auto faces = nlohmann::json::array();
  for (const auto& f : frame.faces) {
    faces.push_back({{"track", f.track_id},
                     {"state", f.state},
                     {"identity", f.identity},
                     {"distance", number_or_null(f.distance)},
                     {"box", {f.x, f.y, f.width, f.height}}});
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = by_name_.find(camera);
  if (it == by_name_.end()) return;
  Camera& c = it->second;
  ++c.frames;
  c.frame_times_us.push_back(now_us);
  while (!c.frame_times_us.empty() && c.frame_times_us.front() < now_us - kFpsWindowUs) {
    c.frame_times_us.pop_front();
  }
  if (faces != c.faces) ++version_;
  c.faces = std::move(faces);
}

void ConsoleState::on_action(const std::string& camera, const DoorAction& action,
                             const std::string& time) {
  std::lock_guard<std::mutex> lock(mutex_);
  actions_.push_front(action_json(camera, action, time));
  if (actions_.size() > kRecentActions) actions_.pop_back();
  ++version_;
}

void ConsoleState::set_pipeline_state(const std::string& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  pipeline_state_ = state;
  ++version_;
}

void ConsoleState::add_error(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  errors_.push_front(text);
  if (errors_.size() > kRecentErrors) errors_.pop_back();
  ++version_;
}

std::optional<std::shared_ptr<const std::string>> ConsoleState::jpeg(
    const std::string& camera) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = by_name_.find(camera);
  if (it == by_name_.end() || !it->second.jpeg) return std::nullopt;
  return it->second.jpeg;
}

nlohmann::json ConsoleState::live() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto cameras = nlohmann::json::array();
  for (const auto& name : cameras_) {
    const Camera& c = by_name_.at(name);
    cameras.push_back(
        {{"name", name}, {"faces", c.faces}, {"jpegs", c.jpegs}, {"fps", fps(c, now_us())}});
  }
  return {
      {"cameras", cameras}, {"actions", nlohmann::json(actions_)}, {"pipeline", pipeline_state_}};
}

nlohmann::json ConsoleState::health() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto cameras = nlohmann::json::array();
  for (const auto& name : cameras_) {
    const Camera& c = by_name_.at(name);
    cameras.push_back(
        {{"name", name}, {"fps", fps(c, now_us())}, {"frames", c.frames}, {"jpegs", c.jpegs}});
  }
  return {{"pipeline", pipeline_state_}, {"cameras", cameras}, {"errors", nlohmann::json(errors_)}};
}

double ConsoleState::fps(const Camera& c, int64_t now_us) {
  int64_t recent = 0;
  for (const int64_t t : c.frame_times_us) recent += t >= now_us - kFpsWindowUs ? 1 : 0;
  return static_cast<double>(recent) * 1e6 / kFpsWindowUs;
}

uint64_t ConsoleState::version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

}  // namespace siamese::samples
