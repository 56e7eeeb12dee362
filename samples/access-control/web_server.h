// The web console's HTTP(S) server (libsoup 3): pages served from the binary, a JSON API over
// ConsoleApi and ConsoleState, annotated JPEG snapshots and a server-sent event stream. It runs
// on a thread of its own with its own GLib main context, so a slow client or an enrollment
// never holds up the bus loop or the pipeline. Thread-safety: construct and destroy on the
// main thread; the server's work happens on its thread.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>
#include <thread>

#include "web_api.h"
#include "web_options.h"
#include "web_state.h"

namespace siamese::samples {

/// The model, gallery and detector faceverify element `verifier` uses (for enrollment).
EnrollSettings enroll_settings_of(GstElement* verifier);

/// Feeds state with the JPEGs of the pipeline's snapshot branches (fakesink web_jpeg_CAMERA,
/// see with_snapshot_branch); cameras without one have no Live picture.
void connect_snapshots(GstElement* pipeline, ConsoleState& state);

class WebConsole {
 public:
  /// Listens on options.host:port (HTTPS with the certificate) and starts serving. Throws
  /// std::runtime_error naming the address when it cannot listen, siamese::FileError naming a
  /// certificate or key that does not load.
  WebConsole(const WebOptions& options, ConsoleState& state, std::unique_ptr<ConsoleApi> api);
  ~WebConsole();
  WebConsole(const WebConsole&) = delete;
  WebConsole& operator=(const WebConsole&) = delete;

  /// Where it listens: "http://127.0.0.1:8080/".
  const std::string& url() const { return url_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string url_;
  std::thread thread_;
};

}  // namespace siamese::samples
