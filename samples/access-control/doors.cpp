#include "doors.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>

#include "bus_events.h"
#include "siamese/errors.h"
#include "siamese/text_safety.h"

namespace siamese::samples {

namespace {

constexpr const char* kProgram = "siamese-access-control";

std::unique_ptr<Relay> make_relay(const RelayConfig& r) {
  if (!r.command.empty()) return make_command_relay(r.command);
  if (!r.gpio_chip.empty()) {
    return make_gpio_relay(
        GpioRelaySettings{r.gpio_chip, static_cast<unsigned int>(r.gpio_line), r.active_low});
  }
  return nullptr;
}

TailgateSettings tailgate_settings(const CameraConfig& c) {
  return TailgateSettings{c.zone, c.open_time_s, c.tailgate_min_frames};
}

// The property's value as text (for "changed?" checks).
std::string property_text(GstElement* element, GParamSpec* spec) {
  GValue value = G_VALUE_INIT;
  g_value_init(&value, spec->value_type);
  g_object_get_property(G_OBJECT(element), spec->name, &value);
  gchar* text = gst_value_serialize(&value);
  std::string out = text != nullptr ? text : "";
  g_free(text);
  g_value_unset(&value);
  return out;
}

// Sets name from text, checked against the element's param spec; throws InputError naming it.
void set_property(GstElement* element, GParamSpec* spec, const std::string& text) {
  GValue value = G_VALUE_INIT;
  g_value_init(&value, spec->value_type);
  bool ok = true;
  if (spec->value_type == G_TYPE_STRING) {
    g_value_set_string(&value, text.c_str());
  } else {
    ok = gst_value_deserialize(&value, text.c_str()) && !g_param_value_validate(spec, &value);
  }
  if (ok) g_object_set_property(G_OBJECT(element), spec->name, &value);
  g_value_unset(&value);
  if (!ok) {
    throw InputError(std::string(GST_ELEMENT_NAME(element)) + ": " + spec->name + " '" + text +
                     "' is not a valid value (see gst-inspect-1.0 faceverify)");
  }
}

bool same_number_text(const std::string& a, const std::string& b) {
  char* end_a = nullptr;
  char* end_b = nullptr;
  const double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
  if (*end_a != '\0' || *end_b != '\0' || a.empty() || b.empty()) return a == b;
  return std::fabs(x - y) <= 1e-6 * std::max(1.0, std::fabs(x));
}

}  // namespace

Doors::Doors(const DoorFlags& flags,
             const std::vector<std::pair<std::string, std::string>>& flag_properties,
             const std::vector<GstElement*>& verifiers)
    : flags_(flags), on_tailgate_(flags.on_tailgate) {
  for (const auto& [name, value] : flag_properties) flag_properties_.push_back(name);
  DoorConfig file;
  if (!flags_.config_file.empty()) file = load_door_config(flags_.config_file);
  for (GstElement* e : verifiers) {
    const std::string name = GST_ELEMENT_NAME(e);
    Door& d = doors_[name];
    d.element = e;
    d.config = config_of(file, name);
    d.context.threshold = std::numeric_limits<double>::quiet_NaN();
  }
  check_cameras(file);
  for (auto& [name, d] : doors_) {
    apply_properties(d, d.config, /*playing=*/false);
    d.relay = std::make_unique<DoorRelay>(make_relay(d.config.relay), d.config.open_time_s);
    d.tailgate = std::make_unique<TailgateDetector>(tailgate_settings(d.config));
  }
}

CameraConfig Doors::config_of(const DoorConfig& file, const std::string& camera) const {
  CameraConfig c = file.camera(camera);
  flags_.apply(c);
  return c;
}

void Doors::check_cameras(const DoorConfig& file) const {
  for (const auto& [name, c] : file.cameras) {
    if (doors_.count(name) != 0) continue;
    std::string names;
    for (const auto& [n, d] : doors_) names += (names.empty() ? "" : ", ") + n;
    throw FileError(file.path, "[" + name + "]: the pipeline has no faceverify element named '" +
                                   name + "' (it has " + names + "; [default] applies to all)");
  }
}

void Doors::apply_properties(Door& d, const CameraConfig& c, bool playing) {
  const std::string camera = GST_ELEMENT_NAME(d.element);
  for (const auto& [name, text] : c.element_properties()) {
    if (std::find(flag_properties_.begin(), flag_properties_.end(), name) !=
        flag_properties_.end()) {
      continue;  // the command line wins
    }
    GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(d.element), name.c_str());
    if (spec == nullptr) {
      throw InputError(camera + " has no property '" + name + "' (is the plugin up to date?)");
    }
    if (playing && (spec->flags & GST_PARAM_MUTABLE_PLAYING) == 0) {
      if (!same_number_text(property_text(d.element, spec), text)) {
        std::cerr << kProgram << ": " << escape_for_display(camera) << ": " << name << " = "
                  << escape_for_display(text)
                  << " takes effect at the next start (the element reads it when it starts); "
                     "keeping "
                  << escape_for_display(property_text(d.element, spec)) << "\n";
      }
      continue;
    }
    set_property(d.element, spec, text);
  }
}

void Doors::observe(Door& d, const GstStructure* s) {
  gdouble threshold = 0.0;
  if (gst_structure_get_double(s, "threshold", &threshold)) d.context.threshold = threshold;
  gint64 generation = 0;
  if (!gst_structure_get_int64(s, "gallery-generation", &generation)) return;
  if (generation == d.context.gallery_generation) return;
  d.context.gallery_generation = generation;
  d.context.gallery_version.clear();
  gchar* gallery = nullptr;
  g_object_get(d.element, "gallery", &gallery, nullptr);
  const std::string path = gallery != nullptr ? gallery : "";
  g_free(gallery);
  if (path.empty() || generation <= 0) return;
  try {
    d.context.gallery_version = gallery_version_of(path);
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": cannot read the gallery's version for the audit log: "
              << escape_for_display(e.what()) << "\n";
  }
}

std::vector<DoorAction> Doors::process(const std::string& camera, const GstStructure* s,
                                       std::vector<DoorAction> actions) {
  const auto it = doors_.find(camera);
  if (it == doors_.end()) return actions;
  Door& d = it->second;
  observe(d, s);
  for (DoorAction& a : actions) {
    if (a.kind != DoorAction::Kind::kGrant) continue;
    if (!d.config.schedule.open_now()) {
      a.kind = DoorAction::Kind::kClosed;
      a.decision = "closed";
      a.reason = "outside the door's schedule (" + d.config.schedule.describe() + ")";
      ++d.closed;
      continue;
    }
    d.relay->grant(DoorRelay::Clock::now());
    d.tailgate->on_grant(a.track_id, a.running_time);
  }
  if (auto f = frame_event(s)) {
    for (DoorAction& t : d.tailgate->on_frame(*f)) actions.push_back(std::move(t));
  }
  return actions;
}

AuditContext Doors::context(const std::string& camera) const {
  const auto it = doors_.find(camera);
  if (it == doors_.end()) {
    AuditContext none;
    none.threshold = std::numeric_limits<double>::quiet_NaN();
    return none;
  }
  return it->second.context;
}

void Doors::run_hooks(const DoorAction& a, const std::string& time) {
  if (a.kind == DoorAction::Kind::kTailgate) on_tailgate_.run(a, time);
}

void Doors::tick() {
  const auto now = DoorRelay::Clock::now();
  for (auto& [name, d] : doors_) d.relay->tick(now);
  on_tailgate_.reap();
}

std::vector<std::pair<std::string, DoorAction>> Doors::finish() {
  std::vector<std::pair<std::string, DoorAction>> out;
  for (auto& [name, d] : doors_) {
    for (DoorAction& a : d.tailgate->finish()) out.emplace_back(name, std::move(a));
    d.relay->close();
  }
  return out;
}

bool Doors::reload() {
  const std::string& path = flags_.config_file;
  if (path.empty()) {
    std::cerr << kProgram << ": SIGHUP: no --config file to reload\n";
    return false;
  }
  DoorConfig file;
  std::map<std::string, std::unique_ptr<Relay>> new_relays;
  try {
    file = load_door_config(path);
    check_cameras(file);
    for (auto& [name, d] : doors_) {  // new relays first: a relay that fails changes nothing
      const CameraConfig c = config_of(file, name);
      if (!(c.relay == d.config.relay)) new_relays[name] = make_relay(c.relay);
    }
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": SIGHUP: " << escape_for_display(e.what())
              << "; keeping the settings in use\n";
    return false;
  }
  for (auto& [name, d] : doors_) {
    const CameraConfig c = config_of(file, name);
    try {
      apply_properties(d, c, /*playing=*/true);
    } catch (const std::exception& e) {
      std::cerr << kProgram << ": SIGHUP: " << escape_for_display(e.what()) << "\n";
    }
    if (auto r = new_relays.find(name); r != new_relays.end()) {
      d.relay->close();
      d.relay = std::make_unique<DoorRelay>(std::move(r->second), c.open_time_s);
    } else {
      d.relay->set_open_time(c.open_time_s);
    }
    d.tailgate->set_settings(tailgate_settings(c));
    d.config = c;
  }
  std::cout << kProgram << ": reloaded " << escape_for_display(path) << std::endl;
  return true;
}

int Doors::tailgates() const {
  int n = 0;
  for (const auto& [name, d] : doors_) n += d.tailgate->tailgates();
  return n;
}

int Doors::closed() const {
  int n = 0;
  for (const auto& [name, d] : doors_) n += d.closed;
  return n;
}

}  // namespace siamese::samples
