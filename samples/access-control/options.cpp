#include "options.h"

#include "event_options.h"

#include <algorithm>

#include "siamese/gallery_location.h"

namespace siamese::samples {

namespace {

constexpr const char* kUsage =
    R"(usage: siamese-access-control --model MODEL --gallery DB SOURCE [options]

A door controller over the faceverify element: grants once per track when a face is verified,
denies (and alerts) when a track stays unverified, runs your commands, and appends every
decision to an SQLite audit log (never images). Ctrl-C stops cleanly (EOS, then close the log).

source (one of):
  --source DESC          a camera as a gst-launch description, e.g. "v4l2src device=/dev/video0"
                         or "rtspsrc location=rtsp://cam/stream ! decodebin"
  --source-file FILE     a video file (decodebin)
  --pipeline-desc DESC   a whole pipeline containing one or more faceverify elements (one per
                         camera); the flags below set their properties
faceverify (same names and meaning as the element's properties; see gst-inspect-1.0 faceverify):
  --model FILE  --gallery FILE  --device auto|cpu|cuda[:N]  --threshold T  --margin M
  --confirm-frames N/M  --min-face-size PX  --detect-interval N  --reverify-interval N
  --detector haar|lbp|upstream|cnn|hog  --detector-file XML  --batch-size N  --threads N
  --claimed-identity NAME  --search exact|ivf  --search-probes N
door:
  --deny-after S         deny a track still unverified S seconds after it appeared (default 3)
  --on-grant CMD         run `sh -c CMD` on each grant; the environment has SIAMESE_DECISION,
                         SIAMESE_IDENTITY, SIAMESE_TRACK_ID, SIAMESE_DISTANCE, SIAMESE_TIME
  --on-deny CMD          the same on each denial (an alert)
  --audit-log FILE       SQLite audit log, table `decisions` (default access-audit.db), or a
                         PostgreSQL URI (postgresql://USER@HOST/DB: table
                         `siamese_audit_decisions`; not with --keep-crops or --http)
  --display              show the video annotated by faceverifyoverlay
  --realtime             play --source-file at its frame rate (as a camera would)
  --stop-timeout S       after Ctrl-C, wait this long for the pipeline to drain (default 5)
  --verbose              print every decision change, not only grants and denials
  --keep-crops DIR       keep the face crops of each denied or tailgating track as PNG files
                         in a folder of DIR (0700; files 0600), named in the audit row's
                         `crop` column (off by default: faces are personal data; see README
                         "Kept crops"); siamese-enroll add NAME --from-track AUDIT.db:TRACK
  --crop-retention-days N  delete kept crops older than N days (at start, then hourly)
  --max-crops N          keep the crops of the newest N tracks; older ones are deleted
at the door (see README "At the door"):
  --config FILE.toml     per-camera settings ([default] and one table per faceverify element:
                         threshold, min-face-size, confirm-frames, schedule, open-time,
                         door-zone, tailgate-min-frames, relay); SIGHUP reloads it. A flag given
                         on the command line wins over the file
  --open-time S          how long a grant opens the door (and the tailgate window; default 5)
  --relay-command CMD    the relay is `sh -c "CMD open"` / `sh -c "CMD close"`
  --relay-gpio-chip CHIP --relay-gpio-line N [--relay-active-low]
                         the relay is a GPIO line (libgpiod: gpiochip0, 0 or /dev/gpiochip0)
  --door-zone X,Y,W,H    the door zone in frame pixels (default the whole frame)
  --tailgate-min-frames N  frames in the zone for a face to count (default 3)
  --on-tailgate CMD      run `sh -c CMD` on each tailgate, environment as --on-grant
  --audit-retention-days N  delete audit rows older than N days (at start, then hourly)

events (JSON schema in the README "Events out of the process"; sent off the bus thread,
queued while a sink is away; at the end, queued events get --stop-timeout seconds to leave):
  --mqtt URL             mqtt://HOST[:PORT][/PREFIX] or mqtts://... (default port 1883/8883,
                         prefix siamese): PREFIX/CAMERA/event (QoS 1), PREFIX/CAMERA/state and
                         PREFIX/availability (retained, last will "offline")
  --mqtt-ca-file FILE    mqtts: the CA certificates (default: the system's)
  --mqtt-username NAME   --mqtt-password-file FILE (a password is never a flag's value)
  --mqtt-client-id ID    (default siamese-access-control-PID)
  --mqtt-queue N         events held while the broker is away; beyond, the oldest are dropped
                         and counted (default 1000)
  --ha-discovery         announce each door to Home Assistant (MQTT discovery, retained)
  --ha-discovery-prefix P  Home Assistant's discovery prefix (default homeassistant)
  --webhook URL          POST each event's JSON to an http(s) URL
  --webhook-secret-file FILE  sign it: X-Siamese-Signature: sha256=HEX(HMAC-SHA256(secret, body))
  --webhook-timeout S    per attempt (default 5)
  --webhook-retries N    attempts after the first, back-off doubling from 0.25 s (default 3)
  --webhook-queue N      events waiting at most; the oldest are dropped beyond (default 1000)

web console (see README "A web console"):
  --http HOST:PORT       serve the console (Live, Decisions, People, Health) on HOST:PORT, e.g.
                         127.0.0.1:8080 (port 0: any free port; the URL is printed)
  --http-token-file FILE tokens, one per line "NAME TOKEN" (mode 0600; or the variable
                         SIAMESE_HTTP_TOKEN): every change needs one (Authorization: Bearer
                         TOKEN), and every request does when a token is set; an address other
                         than loopback needs one. Without, the console is read-only
  --https-cert PEM --https-key PEM  serve HTTPS with this certificate and key
  --http-stay            keep serving after the stream ends, until Ctrl-C

Exit status: 0 stopped at the end of the stream or by Ctrl-C, 1 error, 2 usage error.
The faceverify plugin must be findable: GST_PLUGIN_PATH=build/gst-plugins or installed.
)";

}  // namespace

const cli::Program& access_program() {
  using cli::Flag;
  static const cli::Program program = [] {
    std::vector<Flag> flags = {Flag::text("source"),
                               Flag::text("source-file"),
                               Flag::text("pipeline-desc"),
                               Flag::number("deny-after", 0, 86400),
                               Flag::text("on-grant"),
                               Flag::text("on-deny"),
                               Flag::text("audit-log"),
                               Flag::on_off("display"),
                               Flag::on_off("realtime"),
                               Flag::on_off("verbose"),
                               Flag::number("stop-timeout", 0, 3600),
                               Flag::text("keep-crops"),
                               Flag::integer("crop-retention-days", 1, 36500),
                               Flag::integer("max-crops", 1, 100000000)};
    for (auto& f : door_flag_declarations()) flags.push_back(std::move(f));
    for (auto& f : event_flag_declarations()) flags.push_back(std::move(f));
    for (auto& f : web_flag_declarations()) flags.push_back(std::move(f));
    // The element's properties: shared ranges where the flag layer has them; the others are
    // checked against the element's param specs when they are set (pipeline_builder.cpp).
    const std::vector<Flag> typed = {
        cli::flags::batch_size(), cli::flags::threads(), cli::flags::min_face_size(),
        Flag::choice("detector", {"haar", "lbp", "upstream", "cnn", "hog"}),
        Flag::choice("search", {"exact", "ivf"})};
    for (const auto& name : element_property_flags()) {
      const auto it =
          std::find_if(typed.begin(), typed.end(), [&](const Flag& f) { return f.name == name; });
      flags.push_back(it != typed.end() ? *it : Flag::text(name));
    }
    return cli::Program{"siamese-access-control", kUsage, {{"", flags, 0, 0, ""}}};
  }();
  return program;
}

AccessOptions access_options_of(const cli::Args& flags) {
  AccessOptions o;
  o.source = flags.text("source");
  o.source_file = flags.text("source-file");
  o.pipeline_desc = flags.text("pipeline-desc");
  const int sources = !o.source.empty() + !o.source_file.empty() + !o.pipeline_desc.empty();
  if (sources != 1) {
    throw UsageError("give exactly one of --source, --source-file, --pipeline-desc");
  }
  for (const auto& name : element_property_flags()) {
    if (flags.has(name)) o.properties.emplace_back(name, flags.text(name));
  }
  if (o.pipeline_desc.empty() && !flags.has("model")) throw UsageError("--model is required");
  o.deny_after_s = flags.number("deny-after", kDefaultDenyAfterS);
  o.stop_timeout_s = flags.number("stop-timeout", kDefaultStopTimeoutS);
  o.on_grant = flags.text("on-grant");
  o.on_deny = flags.text("on-deny");
  o.audit_log = flags.text("audit-log", kDefaultAuditLog);
  if (o.audit_log.empty()) throw UsageError("--audit-log needs a file name");
  o.keep_crops = flags.text("keep-crops");
  if (flags.has("keep-crops") && o.keep_crops.empty()) {
    throw UsageError("--keep-crops needs a folder name");
  }
  o.crop_retention_days = static_cast<int>(flags.integer("crop-retention-days", 0));
  o.max_crops = flags.integer("max-crops", 0);
  if (is_postgres_location(o.audit_log)) {  // issue 16: decisions only (audit_postgres.h)
    for (const std::string flag : {"keep-crops", "crop-retention-days", "max-crops"}) {
      if (flags.has(flag)) {
        throw UsageError("--" + flag +
                         " keeps face crops named in an SQLite audit log; not with a PostgreSQL "
                         "--audit-log");
      }
    }
  }
  o.display = flags.has("display");
  o.realtime = flags.has("realtime");
  o.verbose = flags.has("verbose");
  if (o.realtime && o.source_file.empty()) throw UsageError("--realtime needs --source-file");
  o.door = door_flags_of(flags);
  o.events = event_sink_options_of(flags);
  o.web = web_options_of(flags);
  if (o.web.enabled() && is_postgres_location(o.audit_log)) {
    throw UsageError(
        "--http reads and writes the console's tables in an SQLite --audit-log; not with a "
        "PostgreSQL --audit-log");
  }
  return o;
}

}  // namespace siamese::samples
