// At the door (issue 15), without GStreamer: the config file (tables, keys, errors naming file,
// table and key), schedules, the tailgate count, the relays (the command relay for real, the
// GPIO relay against libgpiod's errors) and the audit log's upgrade and retention.
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit_log.h"
#include "door_config.h"
#include "relay.h"
#include "siamese/errors.h"
#include "tailgate.h"
#include "test_support.h"

namespace ss = siamese::samples;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The error load_door_config gives for the text; "" when it loads.
std::string config_error(const std::string& dir, const std::string& text) {
  const std::string path = write_file(dir, "bad.toml", text);
  try {
    ss::load_door_config(path);
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == path);
    return e.what();
  }
  return "";
}

ss::FaceSeen face(int64_t track, int x, const std::string& state = "unknown") {
  ss::FaceSeen f;
  f.track_id = track;
  f.state = state;
  f.x = x;
  f.y = 100;
  f.width = 80;
  f.height = 80;
  return f;
}

ss::FrameEvent frame(double t_s, std::vector<ss::FaceSeen> faces) {
  return ss::FrameEvent{static_cast<int64_t>(t_s * 1e9), std::move(faces)};
}

constexpr int64_t kSecond = 1000000000;

// A relay that records what it was told.
class RecordingRelay : public ss::Relay {
 public:
  explicit RecordingRelay(std::vector<bool>* log) : log_(log) {}
  void set(bool open) override { log_->push_back(open); }
  std::string describe() const override { return "recording"; }

 private:
  std::vector<bool>* log_;
};

}  // namespace

TEST_CASE("door schedule windows open by day and local time", "[samples][door]") {
  ss::Schedule s;
  CHECK(s.always_open());
  CHECK(s.open_at(0, 0));
  s.add_window("mon-fri 07:00-19:00");
  s.add_window("sat 09:00-13:00");
  CHECK(s.open_at(1, 7 * 60));         // Monday 07:00
  CHECK_FALSE(s.open_at(1, 19 * 60));  // the end is excluded
  CHECK_FALSE(s.open_at(0, 10 * 60));  // Sunday
  CHECK(s.open_at(6, 12 * 60 + 59));   // Saturday 12:59
  CHECK_FALSE(s.open_at(6, 13 * 60));
  CHECK(s.describe() == "mon-fri 07:00-19:00; sat 09:00-13:00");

  ss::Schedule night;  // past midnight: Friday 22:00 to Saturday 06:00
  night.add_window("fri 22:00-06:00");
  CHECK(night.open_at(5, 23 * 60));
  CHECK(night.open_at(6, 5 * 60));
  CHECK_FALSE(night.open_at(5, 5 * 60));  // Friday morning belongs to Thursday's night
  CHECK_FALSE(night.open_at(6, 23 * 60));

  ss::Schedule weekend;  // a day range across the week's end
  weekend.add_window("sat-sun 00:00-24:00");
  CHECK(weekend.open_at(0, 0));
  CHECK(weekend.open_at(6, 1439));
  CHECK_FALSE(weekend.open_at(1, 600));

  ss::Schedule never;
  never.set_never();
  CHECK_FALSE(never.open_at(3, 600));
  CHECK(never.describe() == "never");

  ss::Schedule bad;
  CHECK_THROWS_WITH(bad.add_window("mon-fri"), Catch::Contains("DAYS HH:MM-HH:MM"));
  CHECK_THROWS_WITH(bad.add_window("mon 7:00-19:00"), Catch::Contains("'7:00'"));
  CHECK_THROWS_WITH(bad.add_window("mon 07:00-25:00"), Catch::Contains("'25:00'"));
  CHECK_THROWS_WITH(bad.add_window("funday 07:00-08:00"), Catch::Contains("'funday'"));
  CHECK_THROWS_WITH(bad.add_window("mon 08:00-08:00"), Catch::Contains("empty"));
}

TEST_CASE("the door config file gives each camera its table over [default]", "[samples][door]") {
  const std::string dir = siamese::testing::temp_dir("door_config");
  // The example shipped with the sample loads, as documented.
  const ss::DoorConfig example = ss::load_door_config(std::string(SIAMESE_SOURCE_DIR) +
                                                      "/samples/access-control/door.example.toml");
  CHECK(example.cameras.count("front") == 1);
  CHECK(example.camera("front").relay.gpio_chip == "gpiochip0");
  CHECK(example.camera("garage").relay.command == "/usr/local/bin/door-relay");

  const std::string path = write_file(dir, "door.toml", R"(
[default]
threshold = 0.5
confirm-frames = "3/5"
open-time = 4
schedule = ["mon-fri 07:00-19:00"]
[default.relay]
command = "door"

[faceverify0]
threshold = 0.25
min-face-size = 40
door-zone = [10, 20, 300, 400]
tailgate-min-frames = 2

[back]
schedule = []
[back.relay]
gpio-chip = "gpiochip1"
gpio-line = 4
active-low = true
)");
  const ss::DoorConfig c = ss::load_door_config(path);
  const ss::CameraConfig& cam = c.camera("faceverify0");
  CHECK(*cam.threshold == Approx(0.25));
  CHECK(*cam.min_face_size == 40);
  CHECK(*cam.confirm_frames == "3/5");    // inherited from [default]
  CHECK(cam.open_time_s == Approx(4.0));  // an integer is a number too
  CHECK(cam.zone.x == 10);
  CHECK(cam.zone.height == 400);
  CHECK(cam.tailgate_min_frames == 2);
  CHECK(cam.relay.command == "door");
  CHECK(cam.schedule.open_at(2, 8 * 60));
  CHECK_FALSE(cam.schedule.open_at(0, 8 * 60));
  const ss::CameraConfig& back = c.camera("back");
  CHECK_FALSE(back.schedule.open_at(2, 8 * 60));  // an empty list: never
  CHECK(back.relay.command.empty());              // its relay table replaces the default's
  CHECK(back.relay.gpio_line == 4);
  CHECK(back.relay.active_low);
  CHECK(c.camera("other").threshold == c.defaults.threshold);  // no table: [default]
  const auto props = cam.element_properties();
  CHECK(props.size() == 3);
  CHECK(props[0] == std::make_pair(std::string("threshold"), std::string("0.25")));

  // The command line wins.
  ss::DoorFlags flags;
  flags.open_time_s = 9.0;
  flags.relay_command = "other";
  ss::CameraConfig overridden = cam;
  flags.apply(overridden);
  CHECK(overridden.open_time_s == Approx(9.0));
  CHECK(overridden.relay.command == "other");
}

TEST_CASE("a bad door config file is refused naming the file, the table and the key",
          "[samples][door]") {
  const std::string dir = siamese::testing::temp_dir("door_config_bad");
  CHECK_THAT(config_error(dir, "[default]\nthreshhold = 0.5\n"),
             Catch::Contains("bad.toml: [default] threshhold: unknown key"));
  CHECK_THAT(config_error(dir, "[cam1]\nthreshold = \"low\"\n"),
             Catch::Contains("[cam1] threshold: expected a number, got a string"));
  CHECK_THAT(config_error(dir, "[cam1]\nthreshold = -1\n"),
             Catch::Contains("[cam1] threshold: -1 is out of range"));
  CHECK_THAT(config_error(dir, "[cam1]\nmin-face-size = 2\n"),
             Catch::Contains("[cam1] min-face-size: 2 is out of range [8, 4096]"));
  CHECK_THAT(config_error(dir, "[cam1]\nconfirm-frames = \"5/3\"\n"),
             Catch::Contains("[cam1] confirm-frames: '5/3' is not N/M"));
  CHECK_THAT(config_error(dir, "[cam1]\nschedule = [\"mon 07:00-31:00\"]\n"),
             Catch::Contains("[cam1] schedule: 'mon 07:00-31:00'"));
  CHECK_THAT(config_error(dir, "[cam1]\ndoor-zone = [1, 2, 3]\n"),
             Catch::Contains("[cam1] door-zone: expected [x, y, width, height]"));
  CHECK_THAT(config_error(dir, "[cam1.relay]\ngpio-chip = \"gpiochip0\"\n"),
             Catch::Contains("[cam1.relay] gpio-line: gpio-chip needs gpio-line"));
  CHECK_THAT(config_error(dir, "[cam1.relay]\ncommand = \"x\"\ngpio-chip = \"c\"\ngpio-line = 1\n"),
             Catch::Contains("[cam1.relay] command: give either command or gpio-chip"));
  CHECK_THAT(config_error(dir, "[cam1.relay]\nvoltage = 12\n"),
             Catch::Contains("[cam1.relay] voltage: unknown key"));
  CHECK_THAT(config_error(dir, "threshold = 0.5\n"),
             Catch::Contains("'threshold' must be a table"));
  CHECK_THAT(config_error(dir, "[cam1\nthreshold = 0.5\n"), Catch::Contains("bad.toml: line 1"));
  CHECK_THROWS_WITH(ss::load_door_config(dir + "/missing.toml"),
                    Catch::Contains("missing.toml: cannot read"));
  CHECK(config_error(dir, "[default]\nthreshold = 0.5\n").empty());
}

TEST_CASE("a face that passes the door zone while it is open without a grant is a tailgate",
          "[samples][door]") {
  ss::TailgateSettings settings;
  settings.window_s = 2.0;
  settings.min_frames = 2;
  SECTION("a stranger walks in with a granted person") {
    ss::TailgateDetector t(settings);
    CHECK(t.on_frame(frame(0.5, {face(1, 100), face(2, 300)})).empty());  // door closed
    t.on_grant(1, kSecond);
    CHECK(t.window_open());
    CHECK(t.on_frame(frame(1.1, {face(1, 100), face(2, 300)})).empty());
    CHECK(t.on_frame(frame(1.2, {face(1, 100), face(2, 300)})).empty());
    const auto a = t.on_frame(frame(3.5, {}));  // past the window: the door closed
    REQUIRE(a.size() == 1);
    CHECK(a[0].kind == ss::DoorAction::Kind::kTailgate);
    CHECK(a[0].decision == "tailgate");
    CHECK(a[0].track_id == 2);
    CHECK(a[0].identity == "unknown");
    CHECK(a[0].running_time == 3 * kSecond);  // when the door closed
    CHECK(t.tailgates() == 1);
    CHECK_FALSE(t.window_open());
  }
  SECTION("two people granted in one window are no tailgate") {
    ss::TailgateDetector t(settings);
    t.on_grant(1, kSecond);
    t.on_frame(frame(1.1, {face(1, 100), face(2, 300)}));
    t.on_grant(2, static_cast<int64_t>(1.2 * kSecond));
    t.on_frame(frame(1.3, {face(1, 100), face(2, 300)}));
    CHECK(t.finish().empty());
  }
  SECTION("a face outside the zone, or seen too briefly, does not count") {
    settings.zone = ss::DoorZone{0, 0, 250, 480};
    ss::TailgateDetector t(settings);
    t.on_grant(1, kSecond);
    for (double s : {1.1, 1.2, 1.3}) t.on_frame(frame(s, {face(1, 100), face(2, 300)}));
    t.on_frame(frame(1.4, {face(3, 100)}));  // one frame only
    CHECK(t.finish().empty());
  }
  SECTION("a re-grant keeps the door open longer") {
    ss::TailgateDetector t(settings);
    t.on_grant(1, kSecond);
    t.on_grant(1, static_cast<int64_t>(2.5 * kSecond));     // ends at 4.5 s
    CHECK(t.on_frame(frame(3.5, {face(5, 100)})).empty());  // still open
    CHECK(t.on_frame(frame(4.0, {face(5, 100, "verified")})).empty());
    const auto a = t.on_frame(frame(4.6, {}));
    REQUIRE(a.size() == 1);
    CHECK(a[0].track_id == 5);
  }
  CHECK_THROWS_AS(ss::TailgateDetector(ss::TailgateSettings{{}, 0.0, 1}), siamese::InputError);
  CHECK_THROWS_AS(ss::TailgateDetector(ss::TailgateSettings{{}, 1.0, 0}), siamese::InputError);
}

TEST_CASE("a grant opens the door relay for its open time and a re-grant extends it",
          "[samples][door]") {
  std::vector<bool> log;
  using Clock = ss::DoorRelay::Clock;
  const Clock::time_point t0 = Clock::now();
  const auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  {
    ss::DoorRelay relay(std::make_unique<RecordingRelay>(&log), 2.0);
    relay.grant(at(0));
    relay.tick(at(1.5));
    relay.grant(at(1.5));  // re-grant: open until 3.5 s, not switched again
    relay.tick(at(3.0));
    CHECK(relay.is_open());
    CHECK(log == std::vector<bool>{true});
    relay.tick(at(3.5));
    CHECK_FALSE(relay.is_open());
    CHECK(log == std::vector<bool>{true, false});
    relay.grant(at(10));  // open when the program stops: closed by the destructor
  }
  CHECK(log == std::vector<bool>{true, false, true, false});
  CHECK_THROWS_AS(ss::DoorRelay(nullptr, 0.0), siamese::InputError);
}

TEST_CASE("the command relay runs the command with open and close", "[samples][door]") {
  const std::string dir = siamese::testing::temp_dir("door_relay_command");
  const std::string out = dir + "/relay.log";
  auto relay = ss::make_command_relay("echo >> '" + out + "'");
  relay->set(true);
  relay->set(false);
  CHECK(read_all(out) == "open\nclose\n");
  CHECK_THROWS_AS(ss::make_command_relay(""), siamese::InputError);
}

TEST_CASE("the GPIO relay names the chip it cannot open", "[samples][door]") {
  try {
    ss::make_gpio_relay(ss::GpioRelaySettings{"gpiochip-siamese-missing", 17, true});
    FAIL("a missing GPIO chip was accepted");
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == "gpiochip-siamese-missing");
    CHECK_THAT(e.what(), Catch::Contains("cannot open the GPIO chip"));
  }
  CHECK_THROWS_AS(ss::make_gpio_relay(ss::GpioRelaySettings{"", 0, false}), siamese::InputError);
  // Switching a real line needs a chip: the gpio-sim or gpio-mockup kernel module (root, a
  // kernel that has it). Where none is present, that part is not tested here.
  if (!std::filesystem::exists("/dev/gpiochip0")) {
    WARN(
        "no GPIO chip here (/dev/gpiochip0 missing; gpio-sim/gpio-mockup not loaded): the GPIO "
        "relay's switching is not tested, only its errors");
    return;
  }
  WARN(
      "a GPIO chip is present; the switching test needs a simulated chip and is not run "
      "against real hardware");
}

TEST_CASE("an older audit log gets the new columns and keeps its rows", "[samples][door]") {
  const std::string dir = siamese::testing::temp_dir("door_audit_upgrade");
  const std::string path = dir + "/old.db";
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE TABLE decisions (id INTEGER PRIMARY KEY, time TEXT NOT NULL,"
                       " running_time REAL NOT NULL, camera TEXT NOT NULL, track INTEGER NOT NULL,"
                       " identity TEXT NOT NULL, distance REAL, decision TEXT NOT NULL);"
                       "INSERT INTO decisions (time, running_time, camera, track, identity,"
                       " distance, decision) VALUES ('2020-01-01T00:00:00.000Z', 1.0, 'cam', 1,"
                       " 's1', 0.2, 'grant');",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  chmod(path.c_str(), 0600);
  {
    ss::AuditLog log(path);
    ss::DoorAction a;
    a.kind = ss::DoorAction::Kind::kClosed;
    a.track_id = 2;
    a.identity = "s2";
    a.distance = 0.3;
    a.decision = "closed";
    a.reason = "outside the door's schedule (never)";
    log.append("2026-01-01T00:00:00.000Z", "cam", a, ss::AuditContext{3, "2026-01-01/2/10", 0.42});
  }
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT identity, decision, reason, gallery_generation, "
                             "gallery_version, threshold FROM decisions ORDER BY id",
                             -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);  // the old row, its new columns NULL
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "s1");
  CHECK(sqlite3_column_type(s, 3) == SQLITE_NULL);
  CHECK(sqlite3_column_type(s, 5) == SQLITE_NULL);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 1))) == "closed");
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 2))) ==
        "outside the door's schedule (never)");
  CHECK(sqlite3_column_int64(s, 3) == 3);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 4))) == "2026-01-01/2/10");
  CHECK(sqlite3_column_double(s, 5) == Approx(0.42));
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_CASE("audit retention deletes rows older than the cut-off only", "[samples][door]") {
  const std::string dir = siamese::testing::temp_dir("door_audit_retention");
  const std::string path = dir + "/audit.db";
  ss::DoorAction a;
  a.decision = "grant";
  a.identity = "s1";
  {
    ss::AuditLog log(path);
    log.append("2020-01-01T00:00:00.000Z", "cam", a);
    log.append("2020-06-01T00:00:00.000Z", "cam", a);
    log.append(siamese::sql::utc_now_iso8601(true), "cam", a);
    CHECK(ss::prune_audit_log(path, "2020-03-01T00:00:00.000Z") == 1);
    // The background pruner: at start, on its own connection, while the log is open.
    ss::AuditRetention retention(path, 30, ss::kAuditRetentionPeriodS);
    for (int i = 0; i < 1000 && retention.pruned() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(retention.pruned() == 1);
    log.append(siamese::sql::utc_now_iso8601(true), "cam", a);  // still writable
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(time) FROM decisions", -1, &s, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(sqlite3_column_int(s, 0) == 2);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 1))) > "2026");
  sqlite3_finalize(s);
  sqlite3_close(db);
  CHECK(ss::retention_cutoff(1).size() == 24);
  CHECK_THROWS_AS(ss::AuditRetention(path, 0, 1.0), siamese::InputError);
}
