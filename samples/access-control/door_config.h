// The per-camera door settings of siamese-access-control, read from one TOML file (--config):
// a [default] table and one table per camera named after its faceverify element, each with the
// element's threshold, min-face-size and confirm-frames, the schedule when the door may open,
// the open time, the door zone, the tailgate count and the relay. Free of GStreamer, so unit
// tests reach it. Thread-safety: plain values; load_door_config is reentrant.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "siamese/cli.h"
#include "tailgate.h"

namespace siamese::samples {

/// When the door may open: windows of days and local times ("mon-fri 07:00-19:00"). A window
/// whose end is before its start runs past midnight into the next day. No windows: always open.
class Schedule {
 public:
  /// Parses "DAYS HH:MM-HH:MM": DAYS is "daily" or a comma list of days and day ranges
  /// ("mon-fri", "sat,sun"); HH:MM from 00:00 to 24:00. Throws siamese::InputError.
  void add_window(const std::string& text);
  /// The schedule never opens (an explicit empty list).
  void set_never() { never_ = true; }
  /// weekday 0 = Sunday ... 6 = Saturday; minute of the day 0..1439.
  bool open_at(int weekday, int minute) const;
  /// open_at for the local time now (localtime_r).
  bool open_now() const;
  bool always_open() const { return windows_.empty() && !never_; }
  /// The windows as written, "; "-separated ("always" / "never" when there are none).
  std::string describe() const;
  bool operator==(const Schedule& o) const { return texts_ == o.texts_ && never_ == o.never_; }

 private:
  struct Window {
    std::array<bool, 7> days{};  // by weekday, 0 = Sunday
    int start = 0, end = 0;      // minutes of the day
  };
  std::vector<Window> windows_;
  std::vector<std::string> texts_;
  bool never_ = false;
};

/// Where the door's relay is wired: a command, or a GPIO chip and line (one or neither).
struct RelayConfig {
  std::string command;    // run as "COMMAND open" / "COMMAND close"
  std::string gpio_chip;  // libgpiod's lookup: "gpiochip0", "0" or "/dev/gpiochip0"
  int gpio_line = 0;
  bool active_low = false;
  bool any() const { return !command.empty() || !gpio_chip.empty(); }
  bool operator==(const RelayConfig& o) const {
    return command == o.command && gpio_chip == o.gpio_chip && gpio_line == o.gpio_line &&
           active_low == o.active_low;
  }
};

/// The settings of one camera (door). Element properties are optional: unset leaves the
/// element's own value (or the command line's).
struct CameraConfig {
  std::optional<double> threshold;
  std::optional<int> min_face_size;
  std::optional<std::string> confirm_frames;
  Schedule schedule;
  double open_time_s = kDefaultOpenTimeS;
  DoorZone zone;
  int tailgate_min_frames = kDefaultTailgateMinFrames;
  RelayConfig relay;

  /// faceverify property name -> value text for the properties this config sets.
  std::vector<std::pair<std::string, std::string>> element_properties() const;
};

/// The door flags of the command line; each one given overrides its key in every table of the
/// config file (the command line wins).
struct DoorFlags {
  std::string config_file;  // --config
  std::optional<double> open_time_s;
  std::optional<std::string> relay_command;
  std::optional<std::string> relay_gpio_chip;
  std::optional<int> relay_gpio_line;
  bool relay_active_low = false;
  std::optional<DoorZone> zone;
  std::optional<int> tailgate_min_frames;
  std::string on_tailgate;
  int audit_retention_days = 0;  // 0 = keep every row

  /// Applies the flags given over config.
  void apply(CameraConfig& config) const;
};

/// The flags above, for the program's declaration.
std::vector<cli::Flag> door_flag_declarations();
/// The door flags of a parsed command line. Throws cli::UsageError naming the flag.
DoorFlags door_flags_of(const cli::Args& flags);

struct DoorConfig {
  std::string path;                             // the file it came from ("" = no file)
  CameraConfig defaults;                        // built-in defaults under [default]
  std::map<std::string, CameraConfig> cameras;  // per faceverify element name, over [default]

  /// The settings of the camera named name: its table, else [default].
  const CameraConfig& camera(const std::string& name) const;
};

/// Reads and checks path. Throws siamese::FileError naming the file, the table and the key for
/// an unknown key, a value of the wrong type or out of range, or a file that does not parse.
DoorConfig load_door_config(const std::string& path);

}  // namespace siamese::samples
