// Where a gallery lives: a file path (SQLite) or a PostgreSQL URI, and how messages name it
// (a URI without its password). Needs neither LibTorch nor libpq (siamese_base), so programs
// that only name galleries use it too. Thread-safety: pure functions.
#pragma once

#include <string>

namespace siamese {

/// Whether location names a PostgreSQL gallery (`postgresql://...` or `postgres://...`).
bool is_postgres_location(const std::string& location);
/// location as errors and logs show it: a URI loses its password (user:PASSWORD@, password=).
std::string gallery_display_name(const std::string& location);

}  // namespace siamese
