#include "printable.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace classroom::text {

size_t utf8_sequence(std::string_view s, uint32_t& cp) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n = 0;
  uint32_t min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0;  // a continuation byte, an overlong lead (c0, c1) or past U+10FFFF
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

namespace {

// Code points shown as \uHHHH although they are well-formed.
bool hidden(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// The escape (or copy) of the character at the start of `in`: writes it into
// `unit` (at most 8 bytes) and returns its length; `used` is the input taken.
size_t next_unit(std::string_view in, char (&unit)[8], size_t& used, bool& escaped,
                 bool escape_backslash) {
  uint32_t cp = 0;
  const unsigned char c = static_cast<unsigned char>(in[0]);
  size_t n = utf8_sequence(in, cp);
  escaped = true;
  if (n == 0) {
    used = 1;
    return static_cast<size_t>(std::snprintf(unit, sizeof unit, "\\x%02x", c));
  }
  used = n;
  if (n == 1) {
    switch (c) {
      case '\n':
        unit[0] = '\\', unit[1] = 'n';
        return 2;
      case '\r':
        unit[0] = '\\', unit[1] = 'r';
        return 2;
      case '\t':
        unit[0] = '\\', unit[1] = 't';
        return 2;
      case '\\':
        escaped = false;  // not a reason to call the text unprintable
        unit[0] = '\\', unit[1] = '\\';
        return escape_backslash ? 2 : 1;
      default:
        if (c < 0x20 || c == 0x7f)
          return static_cast<size_t>(std::snprintf(unit, sizeof unit, "\\x%02x", c));
        unit[0] = static_cast<char>(c);
        escaped = false;
        return 1;
    }
  }
  if (hidden(cp))
    return static_cast<size_t>(
        std::snprintf(unit, sizeof unit, "\\u%04x", static_cast<unsigned>(cp)));
  for (size_t i = 0; i < n; ++i) unit[i] = in[i];
  escaped = false;
  return n;
}

}  // namespace

size_t escape_into(std::string_view in, char* out, size_t cap, size_t& consumed,
                   bool escape_backslash) {
  size_t written = 0;
  consumed = 0;
  while (consumed < in.size()) {
    char unit[8];
    size_t used = 0;
    bool escaped = false;
    const size_t len = next_unit(in.substr(consumed), unit, used, escaped, escape_backslash);
    if (written + len > cap) break;
    for (size_t i = 0; i < len; ++i) out[written + i] = unit[i];
    written += len;
    consumed += used;
  }
  return written;
}

std::string printable(std::string_view in, size_t max_bytes, bool escape_backslash) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes) + 16);
  size_t at = 0;
  while (at < in.size()) {
    char unit[8];
    size_t used = 0;
    bool escaped = false;
    const size_t len = next_unit(in.substr(at), unit, used, escaped, escape_backslash);
    if (at + used > max_bytes) break;
    out.append(unit, len);
    at += used;
  }
  if (at < in.size()) out += "... (" + std::to_string(in.size()) + " bytes)";
  return out;
}

std::string printable(std::string_view in, size_t max_bytes, Policy policy) {
  switch (policy) {
    case Policy::log:
      return printable(in, max_bytes, false);
    case Policy::terminal:
      return printable(in, max_bytes, true);
    case Policy::metric_text: {
      std::string out;
      out.reserve(std::min(in.size(), max_bytes));
      for (size_t at = 0; at < in.size();) {
        char unit[8];
        size_t used = 0;
        bool escaped = false;
        const size_t len = next_unit(in.substr(at), unit, used, escaped, false);
        if (out.size() + (escaped ? 1 : len) > max_bytes) break;
        if (escaped)
          out += '?';
        else
          out.append(unit, len);
        at += used;
      }
      return out;
    }
    case Policy::metric_name: {
      std::string out(in.substr(0, max_bytes));
      for (char& c : out)
        if (c < 0x21 || c > 0x7e || c == '/') c = '?';
      return out;
    }
  }
  return {};
}

bool valid_utf8(std::string_view in) {
  for (size_t at = 0; at < in.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_sequence(in.substr(at), cp);
    if (n == 0) return false;
    at += n;
  }
  return true;
}

bool has_unprintable(std::string_view in) {
  for (size_t at = 0; at < in.size();) {
    char unit[8];
    size_t used = 0;
    bool escaped = false;
    next_unit(in.substr(at), unit, used, escaped, false);
    if (escaped) return true;
    at += used;
  }
  return false;
}

}  // namespace classroom::text
