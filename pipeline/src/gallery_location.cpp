#include "siamese/gallery_location.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>

#include "siamese/errors.h"

namespace siamese {

bool is_postgres_location(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string gallery_display_name(const std::string& location) {
  if (!is_postgres_location(location)) return location;
  const size_t scheme_end = location.find("://") + 3;
  size_t authority_end = location.find_first_of("/?", scheme_end);
  if (authority_end == std::string::npos) authority_end = location.size();
  std::string out = location.substr(0, scheme_end);
  const std::string authority = location.substr(scheme_end, authority_end - scheme_end);
  const size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    const std::string user = authority.substr(0, at);
    out += user.substr(0, user.find(':')) + authority.substr(at);
  } else {
    out += authority;
  }
  std::string rest = location.substr(authority_end);
  const size_t q = rest.find('?');
  if (q == std::string::npos) return out + rest;
  out += rest.substr(0, q);
  std::string params;
  size_t start = q + 1;
  while (start <= rest.size()) {
    size_t end = rest.find('&', start);
    if (end == std::string::npos) end = rest.size();
    const std::string param = rest.substr(start, end - start);
    if (!param.empty() && param.rfind("password=", 0) != 0) {
      params += (params.empty() ? "?" : "&") + param;
    }
    start = end + 1;
  }
  return out + params;
}

PostgresGalleryPeople read_postgres_gallery_people(const std::string& uri) {
  const std::string name = gallery_display_name(uri);
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"5", uri.c_str(), nullptr};
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdbParams(keys, values, 1), PQfinish);
  const auto fail = [&](const std::string& what) {
    std::string message = conn ? PQerrorMessage(conn.get()) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    throw FileError(name, what + ": " + message);
  };
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) fail("cannot connect to PostgreSQL");
  using Result = std::unique_ptr<PGresult, void (*)(PGresult*)>;
  const auto query = [&](const char* sql, ExecStatusType want) {
    Result r(PQexec(conn.get(), sql), PQclear);
    if (!r || PQresultStatus(r.get()) != want) fail("PostgreSQL: reading the people");
    return r;
  };
  // One snapshot: the names and the counts agree.
  query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK);
  PostgresGalleryPeople people;
  const Result names =
      query("SELECT name FROM siamese_identities ORDER BY name COLLATE \"C\"", PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(names.get()); ++i) {
    people.names.emplace_back(PQgetvalue(names.get(), i, 0));
  }
  const Result counts = query(
      "SELECT COALESCE(MAX(updated), ''), (SELECT count(*) FROM siamese_embeddings) "
      "FROM siamese_identities",
      PGRES_TUPLES_OK);
  people.last_updated = PQgetvalue(counts.get(), 0, 0);
  people.embeddings = std::atoll(PQgetvalue(counts.get(), 0, 1));
  query("COMMIT", PGRES_COMMAND_OK);
  return people;
}

}  // namespace siamese
