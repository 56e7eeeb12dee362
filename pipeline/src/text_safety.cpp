#include "siamese/text_safety.h"

#include <cstdint>
#include <cstdio>
#include <vector>

#include "siamese/errors.h"

namespace siamese {
namespace {

// The code point that starts at text[i] and its length in bytes; length 0 when the bytes there
// are not well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
struct CodePoint {
  char32_t value = 0;
  size_t length = 0;
};

CodePoint decode_at(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  char32_t value = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, value = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, value = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, value = b0 & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + length > text.size()) return {};
  for (size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return {};
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {};
  return {value, length};
}

bool is_control(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// Code points that change how the rest of a printed line reads: line and paragraph separators
// (a new line in some terminals and viewers) and the bidirectional embeddings, overrides and
// isolates ("Trojan Source": the line shows its characters in another order).
bool reorders_line(char32_t c) {
  return c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

std::string hex_byte(unsigned char b, const char* prefix) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%s%02X", prefix, b);
  return buf;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

bool is_valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const CodePoint cp = decode_at(text, i);
    if (cp.length == 0) return false;
    i += cp.length;
  }
  return true;
}

void check_identity_name(const std::string& name) {
  const auto refuse = [&](const std::string& why) {
    throw InputError("identity name \"" + escape_for_display(name) + "\" " + why);
  };
  if (name.empty()) throw InputError("an identity name must not be empty");
  if (name.size() > kMaxIdentityNameBytes) {
    throw InputError("identity name \"" + escape_for_display(name.substr(0, 40)) + "...\" is " +
                     std::to_string(name.size()) + " bytes long (at most " +
                     std::to_string(kMaxIdentityNameBytes) + ")");
  }
  for (size_t i = 0; i < name.size();) {
    const CodePoint cp = decode_at(name, i);
    if (cp.length == 0) refuse("is not valid UTF-8");
    if (is_control(cp.value)) refuse("holds a control character (newline, tab, escape, ...)");
    if (reorders_line(cp.value)) {
      refuse(
          "holds a line separator or a bidirectional override (it would print as other "
          "text)");
    }
    i += cp.length;
  }
}

std::string escape_for_display(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const CodePoint cp = decode_at(text, i);
    if (cp.length == 0) {
      out += hex_byte(static_cast<unsigned char>(text[i]), "\\x");
      ++i;
      continue;
    }
    const char32_t c = cp.value;
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_control(c)) {
      for (size_t k = 0; k < cp.length; ++k) {
        out += hex_byte(static_cast<unsigned char>(text[i + k]), "\\x");
      }
    } else if (reorders_line(c)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(text, i, cp.length);
    }
    i += cp.length;
  }
  return out;
}

std::string to_valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const CodePoint cp = decode_at(text, i);
    if (cp.length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text, i, cp.length);
      i += cp.length;
    }
  }
  return out;
}

std::string safe_path_component(const std::string& name) {
  if (name.empty()) return "%";  // '%' alone is no escape: no other name maps to it
  // Encoded unit by unit (a character or its escape), so that a shortened result never ends
  // inside an escape or a multi-byte character.
  std::vector<std::string> units;
  size_t total = 0;
  for (size_t i = 0; i < name.size();) {
    const CodePoint cp = decode_at(name, i);
    std::string unit;
    const size_t length = cp.length == 0 ? 1 : cp.length;
    if (cp.length == 0 || cp.value == '/' || cp.value == '%' || is_control(cp.value) ||
        (i == 0 && cp.value == '.')) {
      for (size_t k = 0; k < length; ++k) {
        unit += hex_byte(static_cast<unsigned char>(name[i + k]), "%");
      }
    } else {
      unit = name.substr(i, length);
    }
    total += unit.size();
    units.push_back(std::move(unit));
    i += length;
  }
  std::string out;
  if (total <= kMaxPathComponentBytes) {
    for (const auto& u : units) out += u;
    return out;
  }
  char hash[24];
  std::snprintf(hash, sizeof hash, "~%016llx", static_cast<unsigned long long>(fnv1a(name)));
  const size_t room = kMaxPathComponentBytes - std::string(hash).size();
  for (const auto& u : units) {
    if (out.size() + u.size() > room) break;
    out += u;
  }
  return out + hash;
}

}  // namespace siamese
