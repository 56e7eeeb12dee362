// The door relay: an output that is open or closed (Relay), with two kinds, a GPIO line through
// libgpiod 1.6 (GpioRelay) and a user's command run as "CMD open" / "CMD close" (CommandRelay),
// and DoorRelay, which opens it on a grant for a set time (a re-grant extends it) and closes it
// when the time is up or the program stops. Thread-safety: one object per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace siamese::samples {

/// An output with two states. Implementations report failures to switch on stderr (the door
/// controller keeps running); constructors throw when the output cannot be used at all.
class Relay {
 public:
  virtual ~Relay() = default;
  /// Switches the output: true = open (the door's lock released), false = closed.
  virtual void set(bool open) = 0;
  /// What it drives, for messages ("gpio gpiochip0 line 17", "command '...'").
  virtual std::string describe() const = 0;
};

/// Where a GPIO relay is wired: a chip (name "gpiochip0", number "0", or path "/dev/gpiochip0",
/// as libgpiod's lookup takes it) and a line offset; active_low when the relay closes the lock
/// on a high level.
struct GpioRelaySettings {
  std::string chip;
  unsigned int line = 0;
  bool active_low = false;
};

/// A GPIO line requested as an output (consumer "siamese-access-control"), closed at start and
/// at destruction. Throws siamese::FileError naming the chip when it cannot be opened, and
/// naming chip and line when the line cannot be requested.
std::unique_ptr<Relay> make_gpio_relay(const GpioRelaySettings& settings);

/// Runs `sh -c "COMMAND open"` or `sh -c "COMMAND close"` and waits for it (a relay command
/// must return promptly: the controller waits); a failure is reported on stderr. Throws
/// siamese::InputError for an empty command.
std::unique_ptr<Relay> make_command_relay(const std::string& command);

/// Opens a relay on a grant for open_time, extends it on a re-grant, closes it when the time
/// is up (tick) or at destruction. Times are the caller's steady clock, so tests can drive it.
class DoorRelay {
 public:
  using Clock = std::chrono::steady_clock;
  /// relay: owned, may be null (no relay: grants open nothing). open_time_s > 0.
  DoorRelay(std::unique_ptr<Relay> relay, double open_time_s);
  ~DoorRelay();
  DoorRelay(const DoorRelay&) = delete;
  DoorRelay& operator=(const DoorRelay&) = delete;

  /// A grant at now: opens the relay if closed; it stays open until now + open time.
  void grant(Clock::time_point now);
  /// Closes the relay when its open time has passed at now.
  void tick(Clock::time_point now);
  /// Closes the relay now if it is open (Ctrl-C, end of stream).
  void close();
  /// A new open time (a reloaded config); applies from the next grant.
  void set_open_time(double open_time_s);

  bool is_open() const { return open_; }
  bool has_relay() const { return relay_ != nullptr; }
  double open_time_s() const { return open_time_s_; }

 private:
  std::unique_ptr<Relay> relay_;
  double open_time_s_;
  bool open_ = false;
  Clock::time_point open_until_{};
};

}  // namespace siamese::samples
