// siamese-access-control: the shape a door controller takes over the faceverify element.
// Builds the pipeline, acts on faceverify-decision messages (grant once per verified track,
// deny tracks that stay unknown, flag tailgating; doors.cpp), drives the relay and the user's
// commands, publishes events (MQTT, webhook; event_sinks.cpp), keeps an audit log (SQLite, or
// PostgreSQL: audit_postgres.h), reloads the per-camera config file on SIGHUP, and stops
// cleanly on Ctrl-C (EOS, drain, close the log) or at the end of a file.
#include <gst/gst.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "action_command.h"
#include "audit_log.h"
#include "audit_postgres.h"
#include "bus_events.h"
#include "crop_keeper.h"
#include "door_policy.h"
#include "doors.h"
#include "event_sinks.h"
#include "options.h"
#include "pipeline_builder.h"
#include "siamese/text_safety.h"
#include "web_server.h"

namespace ss = siamese::samples;

namespace {

constexpr const char* kProgram = "siamese-access-control";
constexpr GstClockTime kPollInterval = 100 * GST_MSECOND;

std::atomic<int> g_stop_requests{0};
std::atomic<int> g_reload_requests{0};

void on_stop_signal(int) { g_stop_requests.fetch_add(1); }
void on_reload_signal(int) { g_reload_requests.fetch_add(1); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_reload_signal;  // reload --config (doors.h)
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
}

std::string describe(const ss::DoorAction& a, const std::string& camera, bool several_cameras) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << "[" << std::setw(8) << a.running_time / 1e9
      << " s] ";
  if (several_cameras) out << camera << " ";
  switch (a.kind) {
    case ss::DoorAction::Kind::kGrant:
      out << "GRANT " << a.identity << " (track " << a.track_id << ", distance "
          << std::setprecision(3) << a.distance << ")";
      break;
    case ss::DoorAction::Kind::kDeny:
      if (a.decision == "revoke") {
        out << "DENY  track " << a.track_id << ": " << a.identity
            << " is no longer in the gallery -- ALERT";
        break;
      }
      out << "DENY  track " << a.track_id << ": not verified in time (";
      if (std::isfinite(a.distance)) {
        out << "nearest distance " << std::setprecision(3) << a.distance;
      } else {
        out << "no gallery match";
      }
      out << ") -- ALERT";
      break;
    case ss::DoorAction::Kind::kTailgate:
      out << "TAILGATE track " << a.track_id << " (" << a.identity
          << ") passed while the door was open without a grant -- ALERT";
      break;
    case ss::DoorAction::Kind::kClosed:
      out << "CLOSED " << a.identity << " (track " << a.track_id << "): " << a.reason;
      break;
    case ss::DoorAction::Kind::kDecision:
      out << "      track " << a.track_id << " is " << a.decision
          << (a.decision == "verified" ? " as " + a.identity : std::string());
      break;
  }
  return out.str();
}

// The wall-clock time (g_get_real_time, us) of running time `running` on element's clock: when
// a live source captured that frame, or a --realtime file showed it. -1 without a clock.
int64_t wall_time_of(GstElement* element, int64_t running, int64_t now_us) {
  GstClock* clock = element != nullptr ? gst_element_get_clock(element) : nullptr;
  if (clock == nullptr) return -1;
  const GstClockTime clock_now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  const auto at = static_cast<int64_t>(gst_element_get_base_time(element)) + running;
  return now_us - (static_cast<int64_t>(clock_now) - at) / 1000;
}

// The state of one run: the policies (one per camera) and where their actions go.
class Controller {
 public:
  Controller(const ss::AccessOptions& o, size_t cameras)
      : options_(o),
        log_(ss::open_audit_log(o.audit_log)),
        grant_(o.on_grant),
        deny_(o.on_deny),
        several_(cameras > 1) {}

  void handle_element_message(GstMessage* msg) {
    const GstStructure* s = gst_message_get_structure(msg);
    const std::string camera = GST_OBJECT_NAME(GST_MESSAGE_SRC(msg));
    auto it = policies_.try_emplace(camera, options_.deny_after_s).first;
    std::vector<ss::DoorAction> actions;
    if (auto d = ss::decision_event(s)) {
      actions = it->second.on_decision(*d);
    } else if (auto f = ss::frame_event(s)) {
      actions = it->second.on_frame(*f);
    }
    if (doors_ != nullptr) actions = doors_->process(camera, s, std::move(actions));
    for (const auto& a : actions) act(camera, a);
    if (events_ != nullptr && events_->enabled()) {
      gint64 generation = 0;  // a new gallery state: announce its people (Home Assistant)
      if (gst_structure_get_int64(s, "gallery-generation", &generation) &&
          generation != generations_[camera]) {
        if (generations_[camera] != 0) announce_people(GST_ELEMENT(GST_MESSAGE_SRC(msg)));
        generations_[camera] = generation;
      }
    }
    if (events_ != nullptr) {
      sources_[camera] = GST_ELEMENT(GST_MESSAGE_SRC(msg));  // the pipeline keeps it alive
      if (auto f = ss::frame_event(s)) events_->on_frame(camera, *f, g_get_real_time());
    }
    if (console_ != nullptr) {
      if (auto f = ss::frame_event(s)) console_->on_frame(camera, *f, g_get_real_time());
    }
  }

  /// What the web console shows live (--http); nullptr without one.
  void set_console(ss::ConsoleState* console) { console_ = console; }

  /// Where the actions are published (MQTT, webhook) besides the audit log.
  void set_events(ss::EventSinks* events) { events_ = events; }
  /// Where denied tracks' face crops are kept (--keep-crops), and the retention told of them.
  void set_crops(ss::CropKeeper* crops, ss::AuditRetention* retention) {
    crops_ = crops;
    retention_ = retention;
  }

  /// Publishes a presence sensor for each person of verifier's gallery (read-only SQLite).
  void announce_people(GstElement* verifier) {
    if (events_ == nullptr || !events_->enabled()) return;
    gchar* gallery = nullptr;
    g_object_get(verifier, "gallery", &gallery, nullptr);
    const std::string path = gallery != nullptr ? gallery : "";
    g_free(gallery);
    if (path.empty()) return;
    try {
      events_->announce_people(GST_OBJECT_NAME(verifier), ss::gallery_identity_names(path));
    } catch (const std::exception& e) {
      std::cerr << kProgram << ": warning: the people of the gallery are not announced: "
                << siamese::escape_for_display(e.what()) << "\n";
    }
  }

  void reap() {
    grant_.reap();
    deny_.reap();
    if (doors_ != nullptr) doors_->tick();
  }

  /// The doors (relays, schedules, tailgating, config file) the actions go through.
  void set_doors(ss::Doors* doors) { doors_ = doors; }
  /// SIGHUP: reloads the config file.
  void reload() {
    if (doors_ != nullptr) doors_->reload();
  }

  void finish() {
    if (doors_ != nullptr) {
      for (const auto& [camera, a] : doors_->finish()) act(camera, a);
    }
    if (events_ != nullptr && events_->enabled()) {
      events_->end_of_stream(g_get_real_time());
      if (events_->unsent() > 0) {
        std::cout << kProgram << ": delivering " << events_->unsent() << " queued events (at most "
                  << options_.stop_timeout_s << " s)" << std::endl;
      }
      for (const auto& line : events_->finish(options_.stop_timeout_s)) {
        std::cout << kProgram << ": " << line << std::endl;
      }
    }
    grant_.wait_all();
    deny_.wait_all();
    log_->close();
    int grants = 0, denials = 0;
    size_t tracks = 0;
    for (const auto& [camera, p] : policies_) {
      grants += p.grants();
      denials += p.denials();
      tracks += p.tracks();
    }
    if (doors_ != nullptr) grants -= doors_->closed();  // verified outside the schedule
    std::cout << kProgram << ": " << tracks << " tracks, " << grants << " granted, " << denials
              << " denied; audit log " << siamese::escape_for_display(log_->display_name())
              << std::endl;
    if (log_->lost() > 0) {  // a PostgreSQL log's rows refused or left unwritten (stderr said why)
      std::cerr << kProgram << ": " << log_->lost() << " audit rows were not written\n";
    }
    if (doors_ != nullptr && (doors_->tailgates() > 0 || doors_->closed() > 0)) {
      std::cout << kProgram << ": " << doors_->tailgates() << " tailgates, " << doors_->closed()
                << " verified outside the door's schedule" << std::endl;
    }
  }

 private:
  // --keep-crops: the crop of a denied or tailgating track, written now (its path; "" none); a
  // granted track's crop is dropped.
  std::string keep_crop(const std::string& camera, const ss::DoorAction& a,
                        const std::string& now) {
    if (crops_ == nullptr) return "";
    if (a.kind == ss::DoorAction::Kind::kGrant) crops_->forget(camera, a.track_id);
    const bool denied = a.kind == ss::DoorAction::Kind::kDeny && a.decision == "deny";
    if (!denied && a.kind != ss::DoorAction::Kind::kTailgate) return "";
    try {
      return crops_->write(camera, a.track_id, now, /*forget=*/denied);
    } catch (const std::exception& e) {
      std::cerr << kProgram
                << ": warning: face crop not kept: " << siamese::escape_for_display(e.what())
                << "\n";
      return "";
    }
  }

  void act(const std::string& camera, const ss::DoorAction& a) {
    const std::string now = siamese::sql::utc_now_iso8601(/*milliseconds=*/true);
    if (events_ != nullptr && events_->enabled()) {
      const int64_t now_us = g_get_real_time();
      const auto source = sources_.find(camera);
      events_->on_action(
          camera, a,
          wall_time_of(source != sources_.end() ? source->second : nullptr, a.first_seen, now_us),
          now_us);
    }
    const std::string crop = keep_crop(camera, a, now);
    log_->append(now, camera, a, doors_ != nullptr ? doors_->context(camera) : ss::AuditContext{},
                 crop);
    if (!crop.empty() && retention_ != nullptr) retention_->nudge();  // --max-crops
    if (console_ != nullptr) console_->on_action(camera, a, now);
    if (doors_ != nullptr) doors_->run_hooks(a, now);
    if (a.kind == ss::DoorAction::Kind::kGrant) grant_.run(a, now);
    if (a.kind == ss::DoorAction::Kind::kDeny) deny_.run(a, now);
    if (a.kind != ss::DoorAction::Kind::kDecision || options_.verbose) {
      // Identity and camera names come from the gallery and the pipeline: one escaped line,
      // so a name holding a newline or terminal escapes cannot print a forged "GRANT" line.
      std::cout << siamese::escape_for_display(describe(a, camera, several_)) << std::endl;
    }
  }

  const ss::AccessOptions& options_;
  std::unique_ptr<ss::AuditSink> log_;  // SQLite or PostgreSQL (issue 16)
  ss::ActionCommand grant_, deny_;
  bool several_;
  std::map<std::string, ss::DoorPolicy> policies_;
  ss::EventSinks* events_ = nullptr;
  std::map<std::string, GstElement*> sources_;  // camera -> its faceverify (clock, base time)
  ss::Doors* doors_ = nullptr;
  ss::ConsoleState* console_ = nullptr;
  ss::CropKeeper* crops_ = nullptr;
  ss::AuditRetention* retention_ = nullptr;
  std::map<std::string, int64_t> generations_;  // camera -> gallery-generation last seen
};

std::string error_text(GstMessage* msg) {
  GError* error = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(msg, &error, &debug);
  std::string text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " +
                     (error ? error->message : "unknown error");
  text = siamese::escape_for_display(text);  // messages quote file names and property values
  if (debug != nullptr) text += std::string("\n  (") + siamese::escape_for_display(debug) + ")";
  g_clear_error(&error);
  g_free(debug);
  return text;
}

// Runs the pipeline until EOS, an error, or Ctrl-C. Returns the exit status.
int run_pipeline(GstElement* pipeline, Controller& controller, const ss::AccessOptions& o,
                 ss::ConsoleState* console) {
  GstBus* bus = gst_element_get_bus(pipeline);
  int status = 0;
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The element posted why (a missing model, a gallery of another model, ...).
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, 2 * GST_SECOND, GST_MESSAGE_ERROR);
    std::cerr << kProgram << ": error: "
              << (msg != nullptr ? error_text(msg) : std::string("the pipeline did not start"))
              << "\n";
    if (msg != nullptr) gst_message_unref(msg);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(bus);
    return 1;
  }
  std::cout << kProgram << ": running (Ctrl-C to stop)" << std::endl;
  if (console != nullptr) console->set_pipeline_state("PLAYING");
  gint64 stop_deadline = -1;
  bool done = false;
  while (!done) {
    if (g_stop_requests.load() > 0 && stop_deadline < 0) {
      std::cout << kProgram << ": stopping (Ctrl-C again to quit at once)" << std::endl;
      gst_element_send_event(pipeline, gst_event_new_eos());
      stop_deadline = g_get_monotonic_time() + static_cast<gint64>(o.stop_timeout_s * 1e6);
    }
    if (g_stop_requests.load() > 1 ||
        (stop_deadline >= 0 && g_get_monotonic_time() > stop_deadline)) {
      std::cerr << kProgram << ": the pipeline did not drain; stopping now\n";
      break;
    }
    if (g_reload_requests.exchange(0) > 0) controller.reload();
    GstMessage* msg = gst_bus_timed_pop(bus, kPollInterval);
    controller.reap();
    if (msg == nullptr) continue;
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ELEMENT:
        controller.handle_element_message(msg);
        break;
      case GST_MESSAGE_EOS:
        if (console != nullptr) console->set_pipeline_state("stopped: end of stream");
        done = true;
        break;
      case GST_MESSAGE_ERROR:
        if (console != nullptr) console->add_error(error_text(msg));
        if (console != nullptr) console->set_pipeline_state("stopped: error");
        std::cerr << kProgram << ": error: " << error_text(msg) << "\n";
        status = 1;
        done = true;
        break;
      default:
        break;
    }
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  return status;
}

int run(const siamese::cli::Args& flags) {
  const ss::AccessOptions options = ss::access_options_of(flags);
  ss::BuiltPipeline built = ss::build_pipeline(options);
  std::unique_ptr<GstElement, decltype(&gst_object_unref)> pipeline(built.pipeline,
                                                                    &gst_object_unref);
  Controller controller(options, built.verifiers.size());
  ss::Doors doors(options.door, options.properties, built.verifiers);
  controller.set_doors(&doors);
  std::unique_ptr<ss::AuditRetention> retention;
  const ss::RetentionRules rules{options.door.audit_retention_days, options.crop_retention_days,
                                 options.max_crops};
  if (rules.audit_days > 0 || rules.crop_days > 0 || rules.max_crops > 0) {
    retention =
        std::make_unique<ss::AuditRetention>(options.audit_log, rules, ss::kAuditRetentionPeriodS);
  }
  std::unique_ptr<ss::CropKeeper> crops;  // its probes run until the pipeline stops
  if (!options.keep_crops.empty()) {
    crops = std::make_unique<ss::CropKeeper>(options.keep_crops);
    for (GstElement* v : built.verifiers) crops->attach(v);
  }
  controller.set_crops(crops.get(), retention.get());
  std::vector<std::string> cameras;
  for (GstElement* v : built.verifiers) cameras.push_back(GST_OBJECT_NAME(v));
  ss::EventSinks events(options.events, cameras);
  controller.set_events(&events);
  for (GstElement* v : built.verifiers) controller.announce_people(v);
  install_signal_handlers();
  // --http: the console serves from its own thread; the bus loop only feeds it (web_server.h).
  std::unique_ptr<ss::ConsoleState> console_state;
  std::unique_ptr<ss::WebConsole> console;
  if (options.web.enabled()) {
    console_state = std::make_unique<ss::ConsoleState>(cameras);
    ss::connect_snapshots(pipeline.get(), *console_state);
    controller.set_console(console_state.get());
    console = std::make_unique<ss::WebConsole>(
        options.web, *console_state,
        std::make_unique<ss::ConsoleApi>(options.audit_log,
                                         ss::enroll_settings_of(built.verifiers.front())));
    std::cout << kProgram << ": web console at " << console->url() << std::endl;
  }
  const int status = run_pipeline(pipeline.get(), controller, options, console_state.get());
  controller.finish();
  if (retention) retention->stop();  // the counts below are final
  if (crops) {
    std::cout << kProgram << ": " << crops->written() << " tracks' face crops kept in "
              << siamese::escape_for_display(crops->dir()) << std::endl;
  }
  if (retention && rules.audit_days > 0) {
    std::cout << kProgram << ": audit retention: " << retention->pruned() << " rows older than "
              << options.door.audit_retention_days << " days pruned" << std::endl;
  }
  if (retention && (rules.crop_days > 0 || rules.max_crops > 0)) {
    std::cout << kProgram << ": crop retention: " << retention->crops_pruned()
              << " kept crops pruned" << std::endl;
  }
  if (console != nullptr && options.web.stay && g_stop_requests.load() == 0) {
    std::cout << kProgram << ": the web console stays at " << console->url() << " until Ctrl-C"
              << std::endl;
    while (g_stop_requests.load() == 0) g_usleep(100 * 1000);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  return siamese::cli::run_main(ss::access_program(), argc, argv, run);
}
