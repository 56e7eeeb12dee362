#include "siamese/gallery_location.h"

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

}  // namespace siamese
