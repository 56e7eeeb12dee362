#include "web_options.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "siamese/errors.h"

namespace siamese::samples {

std::vector<cli::Flag> web_flag_declarations() {
  using cli::Flag;
  return {Flag::text("http"), Flag::text("http-token-file"), Flag::text("https-cert"),
          Flag::text("https-key"), Flag::on_off("http-stay")};
}

std::string with_snapshot_branch(const std::string& sink, const std::string& camera) {
  const std::string tee = "web_tee_" + camera;
  return "tee name=" + tee + " ! queue ! " + sink + " " + tee +
         ". ! queue leaky=downstream max-size-buffers=1 ! videorate drop-only=true max-rate=" +
         std::to_string(kSnapshotRate) +
         " ! faceverifyoverlay ! videoconvert ! jpegenc quality=75 ! fakesink name=web_jpeg_" +
         camera + " signal-handoffs=true sync=false async=false";
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::vector<WebToken> read_token_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw FileError(path, "cannot read the token file");
  if ((st.st_mode & 077) != 0) {
    throw FileError(path, "the token file is readable by others (chmod 600 it)");
  }
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot read the token file");
  std::vector<WebToken> tokens;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream words(line);
    std::string a, b, extra;
    words >> a >> b >> extra;
    if (a.empty() || a[0] == '#') continue;
    WebToken t = b.empty() ? WebToken{"token", a} : WebToken{a, b};
    const std::string where = "line " + std::to_string(number);
    if (!extra.empty()) throw FileError(path, where + ": expected NAME TOKEN or TOKEN");
    if (static_cast<int>(t.secret.size()) < kMinTokenLength) {
      throw FileError(path, where + ": a token needs at least " + std::to_string(kMinTokenLength) +
                                " characters");
    }
    tokens.push_back(std::move(t));
  }
  if (tokens.empty()) throw FileError(path, "the token file holds no token");
  return tokens;
}

WebOptions web_options_of(const cli::Args& flags) {
  WebOptions o;
  const std::string listen = flags.text("http");
  if (!listen.empty()) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      throw cli::UsageError("--http: '" + listen + "' is not HOST:PORT (e.g. 127.0.0.1:8080)");
    }
    o.host = listen.substr(0, colon);
    if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') {
      o.host = o.host.substr(1, o.host.size() - 2);
    }
    o.port = static_cast<int>(cli::parse_integer("--http", listen.substr(colon + 1), 0, 65535));
  }
  if (flags.has("http-token-file")) {
    o.tokens = read_token_file(flags.required("http-token-file"));
  } else if (const char* env = std::getenv(kHttpTokenVariable); env != nullptr && *env != 0) {
    if (static_cast<int>(std::string(env).size()) < kMinTokenLength) {
      throw cli::UsageError(std::string(kHttpTokenVariable) + " needs at least " +
                            std::to_string(kMinTokenLength) + " characters");
    }
    o.tokens.push_back({"token", env});
  }
  o.https_cert = flags.text("https-cert");
  o.https_key = flags.text("https-key");
  o.stay = flags.has("http-stay");
  if (o.https_cert.empty() != o.https_key.empty()) {
    throw cli::UsageError("--https-cert and --https-key go together");
  }
  if (!o.enabled()) {
    for (const char* f : {"http-token-file", "https-cert", "https-key", "http-stay"}) {
      if (flags.has(f)) throw cli::UsageError(std::string("--") + f + " needs --http");
    }
    return o;
  }
  if (!is_loopback_host(o.host) && o.tokens.empty()) {
    throw cli::UsageError("--http " + listen + " is not a loopback address: give " +
                          "--http-token-file FILE (or " + kHttpTokenVariable + ")");
  }
  return o;
}

}  // namespace siamese::samples
