#include "relay.h"

#include <gpiod.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "siamese/errors.h"
#include "siamese/text_safety.h"

extern char** environ;

namespace siamese::samples {

namespace {

constexpr const char* kConsumer = "siamese-access-control";

class GpioRelay : public Relay {
 public:
  explicit GpioRelay(const GpioRelaySettings& s) : settings_(s) {
    if (s.chip.empty()) throw InputError("--relay-gpio-chip: the GPIO chip name is empty");
    errno = 0;
    chip_ = gpiod_chip_open_lookup(s.chip.c_str());
    if (chip_ == nullptr) {
      throw FileError(s.chip, std::string("cannot open the GPIO chip: ") +
                                  (errno != 0 ? std::strerror(errno) : "no such chip"));
    }
    line_ = gpiod_chip_get_line(chip_, s.line);
    const int flags = s.active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (line_ == nullptr || gpiod_line_request_output_flags(line_, kConsumer, flags, 0) != 0) {
      const std::string why = std::strerror(errno);
      gpiod_chip_close(chip_);
      throw FileError(s.chip,
                      "cannot request line " + std::to_string(s.line) + " as an output: " + why);
    }
  }
  ~GpioRelay() override {
    gpiod_line_set_value(line_, 0);  // closed: the lock engaged
    gpiod_line_release(line_);
    gpiod_chip_close(chip_);
  }
  void set(bool open) override {
    if (gpiod_line_set_value(line_, open ? 1 : 0) != 0) {
      std::cerr << "siamese-access-control: " << describe()
                << ": cannot set the line: " << std::strerror(errno) << "\n";
    }
  }
  std::string describe() const override {
    return "gpio " + settings_.chip + " line " + std::to_string(settings_.line) +
           (settings_.active_low ? " (active low)" : "");
  }

 private:
  GpioRelaySettings settings_;
  gpiod_chip* chip_ = nullptr;
  gpiod_line* line_ = nullptr;
};

class CommandRelay : public Relay {
 public:
  explicit CommandRelay(std::string command) : command_(std::move(command)) {
    if (command_.empty()) throw InputError("--relay-command: the command is empty");
  }
  void set(bool open) override {
    std::string sh = "/bin/sh", flag = "-c", cmd = command_ + (open ? " open" : " close");
    char* argv[] = {sh.data(), flag.data(), cmd.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // not our files, sockets, pipes
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      std::cerr << "siamese-access-control: relay: cannot run '" << escape_for_display(cmd)
                << "': " << std::strerror(rc) << "\n";
      return;
    }
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (done == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      std::cerr << "siamese-access-control: relay: '" << escape_for_display(cmd) << "' "
                << (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : std::string("was killed by a signal"))
                << "\n";
    }
  }
  std::string describe() const override { return "command '" + command_ + "'"; }

 private:
  std::string command_;
};

}  // namespace

std::unique_ptr<Relay> make_gpio_relay(const GpioRelaySettings& settings) {
  return std::make_unique<GpioRelay>(settings);
}

std::unique_ptr<Relay> make_command_relay(const std::string& command) {
  return std::make_unique<CommandRelay>(command);
}

DoorRelay::DoorRelay(std::unique_ptr<Relay> relay, double open_time_s)
    : relay_(std::move(relay)), open_time_s_(open_time_s) {
  if (!(open_time_s > 0.0)) throw InputError("the door's open time must be > 0 seconds");
}

DoorRelay::~DoorRelay() { close(); }

void DoorRelay::grant(Clock::time_point now) {
  const auto until = now + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(open_time_s_));
  if (!open_ && relay_) relay_->set(true);
  if (!open_ || until > open_until_) open_until_ = until;  // a re-grant extends, never shortens
  open_ = true;
}

void DoorRelay::tick(Clock::time_point now) {
  if (open_ && now >= open_until_) close();
}

void DoorRelay::close() {
  if (!open_) return;
  open_ = false;
  if (relay_) relay_->set(false);
}

void DoorRelay::set_open_time(double open_time_s) {
  if (!(open_time_s > 0.0)) throw InputError("the door's open time must be > 0 seconds");
  open_time_s_ = open_time_s;
}

}  // namespace siamese::samples
