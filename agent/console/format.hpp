// What `classroom-agent tail` prints: filters over decoded messages, lines a
// person reads and one JSON object per message for scripts. Every piece of
// outside text is escaped here (text::printable for lines, JSON escapes for
// JSON), so nothing from a broker can end a line or reach the terminal as a
// control sequence.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "console/decoder.hpp"

namespace classroom::console {

// Shell globs (fnmatch, `*` also crosses `/`); a list passes when any of its
// globs matches, an empty list passes everything.
struct Filter {
  std::vector<std::string> groups, nodes, devices, metrics;

  // Group, node and device. A device filter passes device messages only; any
  // filter drops STATE messages (they belong to no group).
  bool topic_passes(const Topic& topic) const;
  // Group and node only: whether anything of this node (itself or a device)
  // can pass. STATE messages pass only when neither is filtered.
  bool node_passes(const Topic& topic) const;
  // A metric by its (resolved) name; a metric whose name is unknown passes only
  // an empty metric filter.
  bool metric_passes(std::string_view name) const;
  // The narrowest subscription that still sees everything that passes:
  // spBv1.0/<group>/# for one group without wildcards, else spBv1.0/#.
  std::string subscription() const;
};

// True when `glob` matches `text` (fnmatch without FNM_PATHNAME). A text
// holding a NUL byte matches only "*".
bool glob_matches(std::string_view glob, std::string_view text);

// "2026-11-29T15:50:01.123Z"
std::string iso_time(int64_t ms);

// A metric's value for a person: 12.5, true, eth0 (escaped), null, (17 bytes).
std::string value_text(const DecodedMetric& metric);

// The lines of one message, each ending in '\n', appended to `out`:
//   school-a/room-6a NDATA seq 12  System/CPU/Usage = 12.5 %
// one line per metric that passes the filter (a message without metrics: one
// line without one). `with_time` prefixes the time it was received. Returns
// the number of lines appended (0: the filter dropped it).
size_t format_lines(const Decoded& message, const Filter& filter, int64_t received_ms,
                    bool with_time, std::string& out);

// One JSON object on one line for the message, or nothing (false) when the
// filter drops it.
bool format_json(const Decoded& message, const Filter& filter, int64_t received_ms,
                 std::string& out);

// `text` as a JSON string, quotes included: valid UTF-8 is kept, controls,
// C1 controls, line separators and bidi overrides become \uXXXX, bytes that
// are not UTF-8 become U+FFFD.
void append_json_string(std::string& out, std::string_view text);

}  // namespace classroom::console
