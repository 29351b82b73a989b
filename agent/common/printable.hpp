// Text from outside (a broker, a config file, a file on disk) made safe to
// show on one log line or terminal line: it can neither start a line of its
// own, nor carry a journald priority, nor a terminal escape.
//
// Escapes, in order of the input:
//   \n \r \t             newline, carriage return, tab
//   \\                   a backslash, so every escape is unambiguous (printable()
//                        only: the logger leaves backslashes as they are, so
//                        that text printable() escaped is not escaped twice)
//   \xHH                 any other C0 control, DEL, and every byte that is not
//                        part of well-formed UTF-8 (overlong, surrogate, cut)
//   \uHHHH               C1 controls (U+0080-U+009F), the Unicode line and
//                        paragraph separators (U+2028, U+2029) and the
//                        bidirectional overrides (U+202A-U+202E, U+2066-U+2069)
// Everything else, every script included, is copied as it is.
//
// This is the project's one escaper. Where a use needs other rules, it names a
// Policy rather than writing its own: the published text policies replace what
// the log would escape with '?' instead of an escape, because a metric's name or
// value is not read back as an escaped string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace classroom::text {

// Escapes as much of `in` as fits in `out` (`cap` bytes, no terminator
// written), never splitting a character or an escape. Returns the bytes
// written; `consumed` says how much of `in` they stand for. No allocation.
size_t escape_into(std::string_view in, char* out, size_t cap, size_t& consumed,
                   bool escape_backslash = false);

// `in` escaped; at most `max_bytes` of it are shown, cut at a character, and
// then "... (N bytes)" says how long it was. `escape_backslash` false: text
// that was escaped once already (an error for the log) is shown as the log
// shows it, its escapes not escaped again.
std::string printable(std::string_view in, size_t max_bytes = 80, bool escape_backslash = true);

// The rules for one use of outside text.
enum class Policy {
  // A log line: the escapes above; a backslash stays as it is, so that text
  // escaped once already (an error message) is not escaped twice. At most
  // `max_bytes` of the input, then "... (N bytes)".
  log,
  // A terminal or an error message: as `log`, and a backslash is "\\", so that
  // every escape is unambiguous. What printable(in, max_bytes) does.
  terminal,
  // A value to publish (a device's sysName, an answer to show): well-formed
  // UTF-8 kept; each character `log` would escape (a control, a separator, an
  // override, a byte that is not UTF-8) becomes one '?'. At most `max_bytes`
  // of output, never cutting a character; nothing appended.
  metric_text,
  // A metric name component (an interface name from the kernel): printable
  // ASCII is kept but ' ' and '/' (the name's separator); every other byte
  // becomes '?'. At most `max_bytes` of output; nothing appended.
  metric_name,
};

// `in` made fit for `policy`'s use, bounded as the policy says. No allocation
// beyond the returned string.
std::string printable(std::string_view in, size_t max_bytes, Policy policy);

// True when `in` is well-formed UTF-8 (no overlong forms, no surrogates).
bool valid_utf8(std::string_view in);

// The length of the well-formed UTF-8 sequence at the start of `s`, with its
// code point in `cp`; 0 when the first byte does not start one (a
// continuation byte, an overlong form, a surrogate, past U+10FFFF).
size_t utf8_sequence(std::string_view s, uint32_t& cp);

// True when `in` holds something escape_into() would escape (other than a
// backslash): a control character, a separator, an override, bad UTF-8.
bool has_unprintable(std::string_view in);

}  // namespace classroom::text
