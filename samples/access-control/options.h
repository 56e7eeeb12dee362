// The command line of siamese-access-control: where the video comes from, the faceverify
// settings (flags named as the element's properties), the door policy and its outputs.
// Thread-safety: plain values.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "door_config.h"
#include "event_sinks.h"
#include "siamese/cli.h"
#include "web_options.h"

namespace siamese::samples {

using cli::UsageError;

constexpr double kDefaultDenyAfterS = 3.0;
constexpr double kDefaultStopTimeoutS = 5.0;
constexpr const char* kDefaultAuditLog = "access-audit.db";

/// faceverify properties that have a flag of the same name.
inline const std::vector<std::string>& element_property_flags() {
  static const std::vector<std::string> names = {
      "model",           "gallery",           "device",         "threshold",
      "batch-size",      "detector",          "detector-file",  "min-face-size",
      "detect-interval", "reverify-interval", "confirm-frames", "margin",
      "threads",         "claimed-identity",  "search",         "search-probes"};
  return names;
}

struct AccessOptions {
  std::string source;         // --source: a gst-launch description of a camera ("v4l2src")
  std::string source_file;    // --source-file: a video file, decoded with decodebin
  std::string pipeline_desc;  // --pipeline-desc: a whole pipeline with faceverify elements
  std::vector<std::pair<std::string, std::string>> properties;  // faceverify name=value
  double deny_after_s = kDefaultDenyAfterS;
  std::string on_grant;
  std::string on_deny;
  std::string audit_log = kDefaultAuditLog;
  std::string keep_crops;       // --keep-crops DIR: denied tracks' face crops ("" off)
  int crop_retention_days = 0;  // --crop-retention-days N (0 off)
  long max_crops = 0;           // --max-crops N (0 off)

  bool display = false;   // draw with faceverifyoverlay into autovideosink
  bool realtime = false;  // --source-file at its own frame rate instead of as fast as possible
  bool verbose = false;   // print every decision change, not only grants and denials
  double stop_timeout_s = kDefaultStopTimeoutS;
  DoorFlags door;           // --config, relay, tailgating, audit retention (door_config.h)
  WebOptions web;           // --http ... (web_options.h)
  EventSinkOptions events;  // --mqtt ..., --ha-discovery, --webhook ... (event_options.h)
};

/// The command line: the flags above and the --help text.
const cli::Program& access_program();

/// The options a parsed command line gives. Throws UsageError naming what is wrong.
AccessOptions access_options_of(const cli::Args& flags);

}  // namespace siamese::samples
