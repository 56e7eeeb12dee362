// Where a gallery lives: a file path (SQLite) or a PostgreSQL URI, how messages name it (a URI
// without its password), and a light read of a PostgreSQL gallery's people for programs that
// do not match faces (siamese_base: libpq, no LibTorch). Thread-safety: no shared state.
#pragma once

#include <string>
#include <vector>

namespace siamese {

/// Whether location names a PostgreSQL gallery (`postgresql://...` or `postgres://...`).
bool is_postgres_location(const std::string& location);
/// location as errors and logs show it: a URI loses its password (user:PASSWORD@, password=).
std::string gallery_display_name(const std::string& location);

/// Who is in the PostgreSQL gallery at uri, read in one transaction without checking a model.
struct PostgresGalleryPeople {
  std::vector<std::string> names;  // sorted by bytes, as the SQLite gallery's
  std::string last_updated;        // the latest identity update (ISO 8601 UTC; "" when none)
  long long embeddings = 0;
};
/// Reads it; throws FileError naming the URI without its password and quoting the server.
PostgresGalleryPeople read_postgres_gallery_people(const std::string& uri);

}  // namespace siamese
