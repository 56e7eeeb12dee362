// The web console's pages: one HTML shell (Live, Decisions, People, Health), its stylesheet and
// its script, served from the binary (no build step, nothing fetched from elsewhere).
// Thread-safety: constant data.
#pragma once

#include <string>

namespace siamese::samples {

struct Asset {
  const char* type;  // Content-Type
  std::string body;
};

/// The asset served at path ("/", "/live", "/app.js", ...); nullptr for any other path.
const Asset* find_asset(const std::string& path);

}  // namespace siamese::samples
