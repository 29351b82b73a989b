#include "console/format.hpp"

#include <fnmatch.h>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "printable.hpp"

namespace classroom::console {
namespace {

// How much of each outside string a line shows.
constexpr size_t kMaxPathShown = 200;
constexpr size_t kMaxNameShown = 160;
constexpr size_t kMaxValueShown = 200;
constexpr size_t kMaxUnitShown = 32;
constexpr size_t kMaxStateShown = 300;

bool any_matches(const std::vector<std::string>& globs, std::string_view text) {
  if (globs.empty()) return true;
  for (const std::string& g : globs)
    if (glob_matches(g, text)) return true;
  return false;
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
std::string number(float v) {
  if (std::isnan(v) || std::isinf(v)) return number(static_cast<double>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void append_json_value(std::string& out, const DecodedMetric& m) {
  if (m.is_null || std::holds_alternative<std::monostate>(m.value)) {
    out += "null";
    return;
  }
  if (const bool* b = std::get_if<bool>(&m.value)) {
    out += *b ? "true" : "false";
  } else if (const int64_t* i = std::get_if<int64_t>(&m.value)) {
    out += std::to_string(*i);
  } else if (const uint64_t* u = std::get_if<uint64_t>(&m.value)) {
    out += std::to_string(*u);
  } else if (const float* f = std::get_if<float>(&m.value)) {
    // JSON has no NaN or infinity: they are sent as the strings "nan", "inf".
    if (std::isfinite(*f))
      out += number(*f);
    else
      append_json_string(out, number(*f));
  } else if (const double* d = std::get_if<double>(&m.value)) {
    if (std::isfinite(*d))
      out += number(*d);
    else
      append_json_string(out, number(*d));
  } else if (const std::string* s = std::get_if<std::string>(&m.value)) {
    append_json_string(out, *s);
  }
}

void line_head(const Decoded& d, int64_t received_ms, bool with_time, std::string& out) {
  if (with_time) out += iso_time(received_ms) + " ";
  if (d.topic.type == MessageType::state) {
    out += "STATE ";
    out += text::printable(d.topic.node, kMaxPathShown);
    return;
  }
  out += text::printable(d.topic.path(), kMaxPathShown);
  out += ' ';
  out += to_string(d.topic.type);
  if (d.has_seq) out += " seq " + std::to_string(d.seq);
}

}  // namespace

bool glob_matches(std::string_view glob, std::string_view text) {
  if (glob == "*") return true;
  if (text.find('\0') != std::string_view::npos) return false;
  const std::string g(glob), t(text);
  return ::fnmatch(g.c_str(), t.c_str(), 0) == 0;
}

bool Filter::topic_passes(const Topic& t) const {
  if (t.type == MessageType::state) return groups.empty() && nodes.empty() && devices.empty();
  if (!any_matches(groups, t.group) || !any_matches(nodes, t.node)) return false;
  if (devices.empty()) return true;
  return t.is_device() && any_matches(devices, t.device);
}

bool Filter::node_passes(const Topic& t) const {
  if (t.type == MessageType::state) return groups.empty() && nodes.empty();
  return any_matches(groups, t.group) && any_matches(nodes, t.node);
}

bool Filter::metric_passes(std::string_view name) const {
  if (metrics.empty()) return true;
  if (name.empty()) return false;
  return any_matches(metrics, name);
}

std::string Filter::subscription() const {
  if (groups.size() == 1) {
    const std::string& g = groups[0];
    if (!g.empty() && g.size() <= kMaxIdBytes && g.find_first_of("*?[\\+#/") == std::string::npos &&
        g.find('\0') == std::string::npos)
      return "spBv1.0/" + g + "/#";
  }
  return "spBv1.0/#";
}

std::string iso_time(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000 < 0 ? 0 : ms % 1000));
  return buf;
}

std::string value_text(const DecodedMetric& m) {
  if (m.is_null) return "null";
  if (!m.placeholder.empty()) return "(" + m.placeholder + ")";
  if (const bool* b = std::get_if<bool>(&m.value)) return *b ? "true" : "false";
  if (const int64_t* i = std::get_if<int64_t>(&m.value)) return std::to_string(*i);
  if (const uint64_t* u = std::get_if<uint64_t>(&m.value)) return std::to_string(*u);
  if (const float* f = std::get_if<float>(&m.value)) return number(*f);
  if (const double* d = std::get_if<double>(&m.value)) return number(*d);
  if (const std::string* s = std::get_if<std::string>(&m.value))
    return text::printable(*s, kMaxValueShown);
  return "null";
}

size_t format_lines(const Decoded& d, const Filter& filter, int64_t received_ms, bool with_time,
                    std::string& out) {
  if (!filter.topic_passes(d.topic)) return 0;
  std::string head;
  line_head(d, received_ms, with_time, head);
  if (d.topic.type == MessageType::state) {
    if (!filter.metrics.empty()) return 0;
    out += head + "  " + text::printable(d.state_text, kMaxStateShown) + "\n";
    return 1;
  }
  if (!d.error.empty()) {
    if (!filter.metrics.empty()) return 0;
    out += head + "  " + d.error + "\n";
    return 1;
  }
  size_t lines = 0;
  for (const DecodedMetric& m : d.metrics) {
    if (!filter.metric_passes(m.name)) continue;
    out += head;
    out += "  ";
    if (!m.name.empty())
      out += text::printable(m.name, kMaxNameShown);
    else
      out += "alias " + std::to_string(m.alias);
    out += " = ";
    out += value_text(m);
    if (!m.unit.empty() && !m.is_null) out += " " + text::printable(m.unit, kMaxUnitShown);
    if (m.name.empty()) out += " (name unknown: birth not seen)";
    if (m.historical) out += " [historical, " + iso_time(static_cast<int64_t>(m.timestamp)) + "]";
    out += '\n';
    ++lines;
  }
  if (d.metrics_cut > 0 && filter.metrics.empty()) {
    out += head + "  ... and " + std::to_string(d.metrics_cut) + " more metrics not shown\n";
    ++lines;
  }
  if (lines == 0 && filter.metrics.empty()) {
    out += head + "\n";
    ++lines;
  }
  return lines;
}

bool format_json(const Decoded& d, const Filter& filter, int64_t received_ms, std::string& out) {
  if (!filter.topic_passes(d.topic)) return false;
  const bool state = d.topic.type == MessageType::state;
  if ((state || !d.error.empty()) && !filter.metrics.empty()) return false;
  std::string metrics;
  size_t passed = 0;
  for (const DecodedMetric& m : d.metrics) {
    if (!filter.metric_passes(m.name)) continue;
    metrics += passed++ ? ",{" : "{";
    metrics += "\"name\":";
    if (m.name.empty())
      metrics += "null";
    else
      append_json_string(metrics, m.name);
    if (m.has_alias) metrics += ",\"alias\":" + std::to_string(m.alias);
    metrics += ",\"datatype\":";
    append_json_string(metrics, datatype_name(m.datatype));
    metrics += ",\"value\":";
    append_json_value(metrics, m);
    if (!m.placeholder.empty()) {
      metrics += ",\"kind\":";
      append_json_string(metrics, m.placeholder);
    }
    if (!m.unit.empty()) {
      metrics += ",\"unit\":";
      append_json_string(metrics, m.unit);
    }
    if (m.timestamp) metrics += ",\"timestamp\":" + std::to_string(m.timestamp);
    if (m.historical) metrics += ",\"historical\":true";
    metrics += '}';
  }
  if (!filter.metrics.empty() && passed == 0) return false;

  out += "{\"received\":";
  append_json_string(out, iso_time(received_ms));
  out += ",\"type\":";
  append_json_string(out, to_string(d.topic.type));
  if (state) {
    out += ",\"host\":";
    append_json_string(out, d.topic.node);
    out += ",\"state\":";
    append_json_string(out, d.state_text);
    out += "}\n";
    return true;
  }
  out += ",\"group\":";
  append_json_string(out, d.topic.group);
  out += ",\"node\":";
  append_json_string(out, d.topic.node);
  if (d.topic.is_device()) {
    out += ",\"device\":";
    append_json_string(out, d.topic.device);
  }
  if (!d.error.empty()) {
    out += ",\"error\":";
    append_json_string(out, d.error);
    out += "}\n";
    return true;
  }
  if (d.has_seq) out += ",\"seq\":" + std::to_string(d.seq);
  if (d.timestamp) out += ",\"timestamp\":" + std::to_string(d.timestamp);
  if (d.birth_missing) out += ",\"birth_missing\":true";
  if (d.metrics_cut) out += ",\"metrics_not_shown\":" + std::to_string(d.metrics_cut);
  out += ",\"metrics\":[" + metrics + "]}\n";
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  char esc[16];
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t n = text::utf8_sequence(s.substr(i), cp);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n == 1) {
      const char c = s[i];
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
        out += esc;
      } else {
        out += c;
      }
    } else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
               (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(cp));
      out += esc;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
}

}  // namespace classroom::console
