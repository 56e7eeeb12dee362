// The doors of one siamese-access-control run, one per faceverify element (camera): each with
// its settings from the config file and the command line, its relay, its schedule and its
// tailgate detector. It turns the door policy's actions into what the door does (a grant
// outside the schedule becomes "closed", a grant opens the relay and the tailgate window),
// adds tailgates, says what each decision used (AuditContext), and reloads the config file on
// SIGHUP. Thread-safety: the bus thread only (it sets element properties as an application).
#pragma once

#include <gst/gst.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "action_command.h"
#include "audit_log.h"
#include "door_config.h"
#include "door_policy.h"
#include "relay.h"
#include "tailgate.h"

namespace siamese::samples {

class Doors {
 public:
  /// flag_properties: the faceverify properties the command line set (they win over the file).
  /// Loads flags.config_file (if any), checks that each camera table names one of verifiers,
  /// sets the file's properties on the elements, opens the relays (closed). Throws
  /// siamese::FileError naming the file, table and key; UsageError for a camera table that
  /// names no element.
  Doors(const DoorFlags& flags,
        const std::vector<std::pair<std::string, std::string>>& flag_properties,
        const std::vector<GstElement*>& verifiers);
  Doors(const Doors&) = delete;
  Doors& operator=(const Doors&) = delete;

  /// The actions of camera's door policy for the message s, as the door carries them out:
  /// grants outside the schedule become "closed" (recorded, not let in), grants open the relay
  /// and the tailgate window; a frame message may add tailgates.
  std::vector<DoorAction> process(const std::string& camera, const GstStructure* s,
                                  std::vector<DoorAction> actions);
  /// What camera's last message said it decided with (gallery generation and version,
  /// threshold).
  AuditContext context(const std::string& camera) const;
  /// Runs the --on-tailgate command for a tailgate action.
  void run_hooks(const DoorAction& action, const std::string& time);
  /// Closes relays whose open time has passed; collects finished hook commands.
  void tick();
  /// The end of the run: the tailgates of windows still open, by camera; closes every relay.
  std::vector<std::pair<std::string, DoorAction>> finish();
  /// SIGHUP: reads the config file again and applies it to the running elements and doors. A
  /// bad file keeps every setting in use and says why on stderr. Returns whether it applied.
  bool reload();

  int tailgates() const;
  /// Grants turned into "closed" by the schedule.
  int closed() const;

 private:
  struct Door {
    GstElement* element = nullptr;  // borrowed from the pipeline
    CameraConfig config;
    std::unique_ptr<DoorRelay> relay;
    std::unique_ptr<TailgateDetector> tailgate;
    AuditContext context;
    int closed = 0;
  };
  CameraConfig config_of(const DoorConfig& file, const std::string& camera) const;
  void check_cameras(const DoorConfig& file) const;
  // Sets the file's element properties; at a reload only those GStreamer lets change while
  // playing (the others are reported as needing a restart).
  void apply_properties(Door& door, const CameraConfig& config, bool playing);
  void observe(Door& door, const GstStructure* s);

  DoorFlags flags_;
  std::vector<std::string> flag_properties_;
  std::map<std::string, Door> doors_;
  ActionCommand on_tailgate_;
};

}  // namespace siamese::samples
