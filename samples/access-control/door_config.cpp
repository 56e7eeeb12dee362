#include "door_config.h"

#include <toml++/toml.h>
#include <ctime>
#include <fstream>
#include <sstream>

#include "siamese/errors.h"
#include "siamese/limits.h"

namespace siamese::samples {

namespace {

constexpr const char* kDefaultTable = "default";
constexpr const char* kRelayTable = "relay";
constexpr double kMaxOpenTimeS = 3600.0;
constexpr int kMaxTailgateMinFrames = 1000;
constexpr int kMaxGpioLine = 1023;
constexpr int kMaxConfirmWindow = 64;  // as faceverify's confirm-frames
constexpr size_t kMaxConfigBytes = 1 << 20;
const std::array<const char*, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

// Reads one table's keys; every error names the file, the table and the key.
class TableReader {
 public:
  TableReader(const std::string& path, std::string table) : path_(path), table_(std::move(table)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw FileError(path_, "[" + table_ + "] " + key + ": " + why);
  }

  double number(const std::string& key, const toml::node& n, double min, double max) const {
    if (!n.is_number()) fail(key, std::string("expected a number, got ") + type_name(n));
    const double v =
        n.is_integer() ? static_cast<double>(n.as_integer()->get()) : n.as_floating_point()->get();
    if (!(v >= min && v <= max)) {
      std::ostringstream s;
      s << v << " is out of range [" << min << ", " << max << "]";
      fail(key, s.str());
    }
    return v;
  }
  int integer(const std::string& key, const toml::node& n, int min, int max) const {
    if (!n.is_integer()) fail(key, std::string("expected an integer, got ") + type_name(n));
    const int64_t v = n.as_integer()->get();
    if (v < min || v > max) {
      fail(key, std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                    std::to_string(max) + "]");
    }
    return static_cast<int>(v);
  }
  std::string text(const std::string& key, const toml::node& n) const {
    if (!n.is_string()) fail(key, std::string("expected a string, got ") + type_name(n));
    return n.as_string()->get();
  }
  bool boolean(const std::string& key, const toml::node& n) const {
    if (!n.is_boolean()) fail(key, std::string("expected true or false, got ") + type_name(n));
    return n.as_boolean()->get();
  }
  const std::string& table() const { return table_; }

 private:
  const std::string& path_;
  std::string table_;
};

void check_confirm_frames(const TableReader& r, const std::string& text) {
  int n = 0, m = 0;
  char slash = 0;
  std::istringstream in(text);
  if (!(in >> n >> slash >> m) || slash != '/' || !in.eof() || n < 1 || n > m ||
      m > kMaxConfirmWindow) {
    r.fail("confirm-frames", "'" + text + "' is not N/M with 1 <= N <= M <= 64");
  }
}

void read_relay(const TableReader& r, const toml::table& t, RelayConfig& relay) {
  RelayConfig out;  // a relay table replaces the inherited relay as a whole
  bool line_given = false;
  for (auto&& [k, n] : t) {
    const std::string key(k.str());
    if (key == "command") {
      out.command = r.text(key, n);
      if (out.command.empty()) r.fail(key, "the command is empty");
    } else if (key == "gpio-chip") {
      out.gpio_chip = r.text(key, n);
      if (out.gpio_chip.empty()) r.fail(key, "the chip name is empty");
    } else if (key == "gpio-line") {
      out.gpio_line = r.integer(key, n, 0, kMaxGpioLine);
      line_given = true;
    } else if (key == "active-low") {
      out.active_low = r.boolean(key, n);
    } else {
      r.fail(key, "unknown key (relay keys: command, gpio-chip, gpio-line, active-low)");
    }
  }
  if (!out.command.empty() && !out.gpio_chip.empty()) {
    r.fail("command", "give either command or gpio-chip, not both");
  }
  if (!out.gpio_chip.empty() && !line_given) r.fail("gpio-line", "gpio-chip needs gpio-line");
  if (out.gpio_chip.empty() && line_given) r.fail("gpio-line", "gpio-line needs gpio-chip");
  relay = out;
}

// Reads a camera table (or [default]) over config.
void read_camera(const std::string& path, const std::string& name, const toml::table& t,
                 CameraConfig& c) {
  const TableReader r(path, name);
  for (auto&& [k, n] : t) {
    const std::string key(k.str());
    if (key == "threshold") {
      c.threshold = r.number(key, n, 0.0, kMaxDistanceThreshold);
    } else if (key == "min-face-size") {
      c.min_face_size = r.integer(key, n, kMinMinFaceSize, kMaxMinFaceSize);
    } else if (key == "confirm-frames") {
      c.confirm_frames = r.text(key, n);
      check_confirm_frames(r, *c.confirm_frames);
    } else if (key == "open-time") {
      c.open_time_s = r.number(key, n, 0.001, kMaxOpenTimeS);
    } else if (key == "tailgate-min-frames") {
      c.tailgate_min_frames = r.integer(key, n, 1, kMaxTailgateMinFrames);
    } else if (key == "door-zone") {
      const toml::array* a = n.as_array();
      if (a == nullptr || a->size() != 4) r.fail(key, "expected [x, y, width, height] in pixels");
      const int x = r.integer(key, *a->get(0), 0, kMaxMinFaceSize * 16);
      const int y = r.integer(key, *a->get(1), 0, kMaxMinFaceSize * 16);
      const int w = r.integer(key, *a->get(2), 1, kMaxMinFaceSize * 16);
      const int h = r.integer(key, *a->get(3), 1, kMaxMinFaceSize * 16);
      c.zone = DoorZone{x, y, w, h};
    } else if (key == "schedule") {
      const toml::array* a = n.as_array();
      if (a == nullptr)
        r.fail(key, std::string("expected an array of strings, got ") + type_name(n));
      Schedule s;
      if (a->empty()) s.set_never();
      for (const toml::node& item : *a) {
        try {
          s.add_window(r.text(key, item));
        } catch (const InputError& e) {
          r.fail(key, e.what());
        }
      }
      c.schedule = s;
    } else if (key == kRelayTable) {
      if (!n.is_table()) r.fail(key, std::string("expected a table, got ") + type_name(n));
      read_relay(TableReader(path, name + "." + kRelayTable), *n.as_table(), c.relay);
    } else {
      r.fail(key,
             "unknown key (keys: threshold, min-face-size, confirm-frames, schedule, open-time, "
             "door-zone, tailgate-min-frames, relay)");
    }
  }
}

int parse_hhmm(const std::string& text, const std::string& whole) {
  int h = 0, m = 0;
  char colon = 0;
  std::istringstream in(text);
  if (text.size() != 5 || !(in >> h >> colon >> m) || colon != ':' || h < 0 || h > 24 || m < 0 ||
      m > 59 || (h == 24 && m != 0)) {
    throw InputError("'" + whole + "': '" + text + "' is not a time HH:MM (00:00 to 24:00)");
  }
  return h * 60 + m;
}

int day_index(const std::string& name, const std::string& whole) {
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (name == kDays[i]) return static_cast<int>(i);
  }
  throw InputError("'" + whole + "': '" + name + "' is not a day (mon tue wed thu fri sat sun)");
}

}  // namespace

void Schedule::add_window(const std::string& text) {
  std::istringstream in(text);
  std::string days, times, rest;
  if (!(in >> days >> times) || (in >> rest)) {
    throw InputError("'" + text + "' is not 'DAYS HH:MM-HH:MM' (e.g. 'mon-fri 07:00-19:00')");
  }
  Window w;
  if (days == "daily") {
    w.days.fill(true);
  } else {
    std::istringstream list(days);
    for (std::string item; std::getline(list, item, ',');) {
      const auto dash = item.find('-');
      if (dash == std::string::npos) {
        w.days[static_cast<size_t>(day_index(item, text))] = true;
        continue;
      }
      int d = day_index(item.substr(0, dash), text);
      const int last = day_index(item.substr(dash + 1), text);
      for (;; d = (d + 1) % 7) {  // "fri-mon" wraps over the weekend
        w.days[static_cast<size_t>(d)] = true;
        if (d == last) break;
      }
    }
  }
  const auto dash = times.find('-');
  if (dash == std::string::npos) throw InputError("'" + text + "': times are HH:MM-HH:MM");
  w.start = parse_hhmm(times.substr(0, dash), text);
  w.end = parse_hhmm(times.substr(dash + 1), text);
  if (w.start == w.end) throw InputError("'" + text + "': the window is empty");
  windows_.push_back(w);
  texts_.push_back(text);
  never_ = false;
}

bool Schedule::open_at(int weekday, int minute) const {
  if (never_) return false;
  if (windows_.empty()) return true;
  const int yesterday = (weekday + 6) % 7;
  for (const Window& w : windows_) {
    if (w.start < w.end) {
      if (w.days[static_cast<size_t>(weekday)] && minute >= w.start && minute < w.end) return true;
    } else {  // past midnight: the evening of its day and the morning after
      if (w.days[static_cast<size_t>(weekday)] && minute >= w.start) return true;
      if (w.days[static_cast<size_t>(yesterday)] && minute < w.end) return true;
    }
  }
  return false;
}

bool Schedule::open_now() const {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return open_at(local.tm_wday, local.tm_hour * 60 + local.tm_min);
}

std::string Schedule::describe() const {
  if (never_) return "never";
  if (texts_.empty()) return "always";
  std::string s;
  for (const auto& t : texts_) s += (s.empty() ? "" : "; ") + t;
  return s;
}

std::vector<std::pair<std::string, std::string>> CameraConfig::element_properties() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (threshold) {
    std::ostringstream s;
    s.precision(9);
    s << *threshold;
    out.emplace_back("threshold", s.str());
  }
  if (min_face_size) out.emplace_back("min-face-size", std::to_string(*min_face_size));
  if (confirm_frames) out.emplace_back("confirm-frames", *confirm_frames);
  return out;
}

void DoorFlags::apply(CameraConfig& c) const {
  if (open_time_s) c.open_time_s = *open_time_s;
  if (zone) c.zone = *zone;
  if (tailgate_min_frames) c.tailgate_min_frames = *tailgate_min_frames;
  if (relay_command) c.relay = RelayConfig{*relay_command, "", 0, false};
  if (relay_gpio_chip) {
    c.relay = RelayConfig{"", *relay_gpio_chip, relay_gpio_line.value_or(0), relay_active_low};
  }
}

std::vector<cli::Flag> door_flag_declarations() {
  using cli::Flag;
  return {Flag::text("config"),
          Flag::number("open-time", 0.001, kMaxOpenTimeS),
          Flag::text("relay-command"),
          Flag::text("relay-gpio-chip"),
          Flag::integer("relay-gpio-line", 0, kMaxGpioLine),
          Flag::on_off("relay-active-low"),
          Flag::text("door-zone"),
          Flag::integer("tailgate-min-frames", 1, kMaxTailgateMinFrames),
          Flag::text("on-tailgate"),
          Flag::integer("audit-retention-days", 1, 36500)};
}

DoorFlags door_flags_of(const cli::Args& flags) {
  DoorFlags d;
  d.config_file = flags.text("config");
  if (flags.has("config") && d.config_file.empty()) throw cli::UsageError("--config needs a file");
  d.open_time_s = flags.number("open-time");
  if (flags.has("relay-command")) {
    d.relay_command = flags.text("relay-command");
    if (d.relay_command->empty()) throw cli::UsageError("--relay-command needs a command");
  }
  flags.exclusive("relay-command", "relay-gpio-chip");
  if (flags.has("relay-gpio-chip")) {
    d.relay_gpio_chip = flags.text("relay-gpio-chip");
    if (!flags.has("relay-gpio-line")) {
      throw cli::UsageError("--relay-gpio-chip needs --relay-gpio-line");
    }
    d.relay_gpio_line = static_cast<int>(flags.integer("relay-gpio-line", 0));
  } else if (flags.has("relay-gpio-line") || flags.has("relay-active-low")) {
    throw cli::UsageError("--relay-gpio-line and --relay-active-low need --relay-gpio-chip");
  }
  d.relay_active_low = flags.has("relay-active-low");
  if (flags.has("door-zone")) {
    const std::string text = flags.text("door-zone");
    DoorZone z;
    char c1 = 0, c2 = 0, c3 = 0;
    std::istringstream in(text);
    if (!(in >> z.x >> c1 >> z.y >> c2 >> z.width >> c3 >> z.height) || !in.eof() || c1 != ',' ||
        c2 != ',' || c3 != ',' || z.x < 0 || z.y < 0 || z.width < 1 || z.height < 1) {
      throw cli::UsageError("--door-zone: '" + text + "' is not X,Y,WIDTH,HEIGHT in pixels");
    }
    d.zone = z;
  }
  if (flags.has("tailgate-min-frames")) {
    d.tailgate_min_frames = static_cast<int>(flags.integer("tailgate-min-frames", 0));
  }
  d.on_tailgate = flags.text("on-tailgate");
  d.audit_retention_days = static_cast<int>(flags.integer("audit-retention-days", 0));
  return d;
}

const CameraConfig& DoorConfig::camera(const std::string& name) const {
  const auto it = cameras.find(name);
  return it != cameras.end() ? it->second : defaults;
}

DoorConfig load_door_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot read the config file");
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) throw FileError(path, "the config file is over 1 MiB");
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw FileError(path, "line " + std::to_string(e.source().begin.line) + ": " +
                              std::string(e.description()));
  }
  DoorConfig config;
  config.path = path;
  if (const toml::node* d = root.get(kDefaultTable)) {
    if (!d->is_table()) {
      throw FileError(path, std::string("[default] must be a table, not ") + type_name(*d));
    }
    read_camera(path, kDefaultTable, *d->as_table(), config.defaults);
  }
  for (auto&& [k, n] : root) {
    const std::string name(k.str());
    if (name == kDefaultTable) continue;
    if (!n.is_table()) {
      throw FileError(path, "'" + name + "' must be a table [" + name +
                                "] of a faceverify element's settings, not " + type_name(n));
    }
    CameraConfig c = config.defaults;
    read_camera(path, name, *n.as_table(), c);
    config.cameras.emplace(name, std::move(c));
  }
  return config;
}

}  // namespace siamese::samples
