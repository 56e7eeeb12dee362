// The web console's command line (--http, --http-token-file, --https-cert/--https-key,
// --http-stay) and its tokens: who may change things, by name. A token is read from a file
// (mode 0600 or stricter) or the SIAMESE_HTTP_TOKEN variable, never from a flag's value, and is
// never printed. Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

#include "siamese/cli.h"

namespace siamese::samples {

constexpr const char* kHttpTokenVariable = "SIAMESE_HTTP_TOKEN";
constexpr int kMinTokenLength = 16;
constexpr int kSnapshotRate = 5;  // Live pictures per second at most

/// A secret and the name the audit log records for whoever presents it.
struct WebToken {
  std::string name;
  std::string secret;
};

struct WebOptions {
  std::string host;  // "" = no console
  int port = 0;      // 0 = any free port (printed at start)
  std::vector<WebToken> tokens;
  std::string https_cert, https_key;  // PEM files; both or neither
  bool stay = false;                  // keep serving after the stream ends, until Ctrl-C
  bool enabled() const { return !host.empty(); }
  bool https() const { return !https_cert.empty(); }
};

/// The flags above, for access_program().
std::vector<cli::Flag> web_flag_declarations();

/// The options a parsed command line gives. Throws UsageError naming the flag (a non-loopback
/// address without a token, one of --https-cert/--https-key alone), siamese::FileError naming
/// a token file that is unreadable, readable by others or holds a short token.
WebOptions web_options_of(const cli::Args& flags);

/// The tokens of a file: one per line, "NAME TOKEN" or "TOKEN" (named "token"); '#' comments.
/// Throws siamese::FileError naming the file and line.
std::vector<WebToken> read_token_file(const std::string& path);

/// sink (a gst-launch sink description) behind a tee whose second branch draws the results
/// (faceverifyoverlay), encodes at most kSnapshotRate JPEGs a second and hands them to the
/// console through `fakesink name=web_jpeg_CAMERA`; it never holds up the first branch.
std::string with_snapshot_branch(const std::string& sink, const std::string& camera);

/// Whether host names the loopback interface (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace siamese::samples
