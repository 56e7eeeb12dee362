// Text that comes from files other people write (identity names, file paths, model facts) made
// safe to use: identity names checked before they are stored, any text escaped before it is
// printed on a terminal or a log line, names turned into single path components, invalid UTF-8
// replaced before it goes into JSON. No dependencies beyond the standard library (the samples
// compile this file into programs that do not link the core). Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>

namespace siamese {

/// The longest identity name accepted, in bytes of UTF-8.
constexpr size_t kMaxIdentityNameBytes = 256;
/// The longest path component safe_path_component() returns, in bytes (Linux NAME_MAX).
constexpr size_t kMaxPathComponentBytes = 255;

/// True when text is well-formed UTF-8 (no stray continuation bytes, overlong forms,
/// surrogates, or code points above U+10FFFF).
bool is_valid_utf8(const std::string& text);

/// Throws InputError (naming the name, escaped) unless name is usable as an identity: not
/// empty, at most kMaxIdentityNameBytes bytes of valid UTF-8, no control characters (C0, DEL,
/// C1), no line or paragraph separators and no bidirectional overrides or isolates (they make a
/// printed line show other text than it holds).
void check_identity_name(const std::string& name);

/// text as one line for a terminal or a log: \n, \r and \t as those escapes, other control
/// bytes, invalid UTF-8 bytes and C1 controls as \xNN per byte, line separators and
/// bidirectional controls as \u{NNNN}; printable UTF-8 (a backslash too) is kept as it is, so
/// escaping twice changes nothing (a message that quotes an escaped name can be escaped whole).
std::string escape_for_display(const std::string& text);

/// text with every invalid UTF-8 byte replaced by U+FFFD: safe to put into JSON.
std::string to_valid_utf8(const std::string& text);

/// name as ONE file-name component that stays inside the folder it is joined to, and differs
/// for different names: '/', '%', NUL and other control bytes, invalid UTF-8 bytes and a leading
/// '.' become %XX; "" becomes "%". A result over kMaxPathComponentBytes keeps a prefix and ends
/// in "~" plus 16 hex digits of a hash of the whole name. Never throws.
std::string safe_path_component(const std::string& name);

}  // namespace siamese
