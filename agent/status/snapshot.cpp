#include "status/snapshot.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "printable.hpp"

namespace classroom::status {
namespace {

// Outside text (errors from a broker, a file, SNMP; names from the config)
// is shown escaped and bounded, as in the log.
constexpr size_t kShown = 200;
std::string shown(const std::string& s) {
  return text::printable(s, kShown);
}
// An error or warning as its producer worded it for the log, escaped there
// already: shown as the log shows it (a backslash is not escaped again).
std::string said(const std::string& s) {
  return text::printable(s, kShown, false);
}

const char* state_word(const Snapshot& s, int64_t now_ms) {
  if (s.as_of_ms == 0) return "starting";
  return problems(s, now_ms).empty() ? "ok" : "degraded";
}

std::string ago(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) return "never";
  if (now_ms - then_ms < 1000) return "just now";
  return span(now_ms - then_ms) + " ago";
}

std::string size_text(uint64_t bytes) {
  char buf[32];
  if (bytes < 10 * 1024)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  else if (bytes < 10ull * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " KiB", bytes >> 10);
  else
    std::snprintf(buf, sizeof buf, "%" PRIu64 " MiB", bytes >> 20);
  return buf;
}

std::string number(double v) {
  char buf[32];
  if (std::fabs(v) >= 100 || v == std::floor(v))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---- JSON ----
// printable() leaves no control character and no byte that is not UTF-8;
// what is left to escape for JSON is the quote and the backslash.
void json_quoted(std::string& out, const std::string& safe) {
  out += '"';
  for (char c : safe) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}
// `escaped`: text escaped already (an error, a problem phrase), shown as
// said() shows it, so that a script reads what the log and the text say.
void json_string(std::string& out, const std::string& s, bool escaped = false) {
  json_quoted(out, escaped ? said(s) : shown(s));
}
// A problem phrase: made of parts shown (escaped, bounded) already, so only
// bounded as a whole, more loosely than one part.
void json_problem(std::string& out, const std::string& s) {
  json_quoted(out, text::printable(s, 4 * kShown, false));
}
void json_time(std::string& out, int64_t ms) {
  if (ms <= 0) {
    out += "null";
    return;
  }
  out += '"' + utc(ms) + '"';
}
void json_age(std::string& out, int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) {
    out += "null";
    return;
  }
  out += std::to_string(std::max<int64_t>(0, now_ms - then_ms) / 1000);
}
void json_opt_string(std::string& out, const std::string& s, bool escaped = false) {
  if (s.empty())
    out += "null";
  else
    json_string(out, s, escaped);
}
struct Obj {
  std::string& out;
  bool first = true;
  explicit Obj(std::string& o) : out(o) { out += '{'; }
  ~Obj() { out += '}'; }
  std::string& key(const char* k) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += k;
    out += "\":";
    return out;
  }
};

const char* broker_word(BrokerState b) {
  switch (b) {
    case BrokerState::online:
      return "online";
    case BrokerState::unreachable:
      return "unreachable";
    case BrokerState::waiting_host:
      return "waiting for primary host";
    case BrokerState::connecting:
      break;
  }
  return "connecting";
}

}  // namespace

std::string utc(int64_t wall_ms) {
  const time_t secs = static_cast<time_t>(wall_ms / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

std::string span(int64_t ms) {
  const int64_t s = std::max<int64_t>(0, ms) / 1000;
  char buf[48];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%" PRId64 " s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%" PRId64 " min", s / 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%" PRId64 " h %" PRId64 " min", s / 3600, s % 3600 / 60);
  else
    std::snprintf(buf, sizeof buf, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
  return buf;
}

namespace {

// How old the snapshot may be while the loop still turns: it wakes at least
// once per source interval.
int64_t loop_stall_limit(const Snapshot& s) {
  int64_t shortest = 0;
  for (const SourceStatus& src : s.sources)
    if (src.interval_ms > 0 && (shortest == 0 || src.interval_ms < shortest))
      shortest = src.interval_ms;
  return std::max(kLoopStalledMs, 3 * shortest);
}

std::string birth_refused(const std::string& owner, uint64_t size, const Snapshot& s) {
  return owner + " NOT PUBLISHED: its birth is " + std::to_string(size) + " bytes, over the " +
         std::to_string(s.packet_limit) + " bytes the broker takes (" +
         shown(s.packet_limit_source) + ")";
}

// Batches not sent for the broker's packet limit: how many, why, the limit
// and what to do, in one phrase ("" when none were refused).
std::string refused_text(const Snapshot& s) {
  if (s.refused_batches == 0) return {};
  const uint64_t data = std::min(s.refused_data, s.refused_batches);
  const uint64_t unborn = s.refused_batches - data;
  const std::string limit = "the broker's limit of " + std::to_string(s.packet_limit) + " bytes (" +
                            shown(s.packet_limit_source) + ")";
  std::string t = plural(s.refused_batches, "batch", "batches") + " not sent: ";
  if (data > 0 && unborn > 0)
    t += std::to_string(data) + " over " + limit + ", " + std::to_string(unborn) +
         " of a device whose birth is over it";
  else if (data > 0)
    t += "over " + limit;
  else
    t += "of a device whose birth is over " + limit;
  t += data > 0 ? "; publish fewer metrics at once (fewer sources, probes, interfaces or profiles)"
                : "; publish fewer of its interfaces (include/exclude) or profiles";
  const bool ours = s.packet_limit_source.rfind("the broker states no limit", 0) == 0;
  t += ours ? ", or raise [broker] max_packet_size if the broker takes more"
            : ", or raise the broker's limit";
  return t;
}

}  // namespace

std::vector<std::string> problems(const Snapshot& s, int64_t now_ms) {
  std::vector<std::string> out;
  if (s.as_of_ms == 0) return out;
  if (now_ms - s.as_of_ms > loop_stall_limit(s))
    out.push_back("the agent's loop has not run for " + span(now_ms - s.as_of_ms));
  if (s.broker == BrokerState::unreachable) out.push_back("broker unreachable");
  // Nothing is delivered while the node waits: not OK, whoever is to blame.
  if (s.broker == BrokerState::waiting_host)
    out.push_back("waiting for primary host " + shown(s.primary_host));
  if (s.broker == BrokerState::online && s.unconfirmed_since_ms > 0 &&
      now_ms - s.unconfirmed_since_ms > kUnconfirmedMs)
    out.push_back("nothing confirmed by the broker for " + span(now_ms - s.unconfirmed_since_ms));
  if (s.commands_unavailable) out.push_back("commands unavailable");
  if (s.node_birth_refused_size > 0) out.push_back("node not published: its NBIRTH is too big");
  for (const DeviceStatus& d : s.devices)
    if (d.birth_refused_size > 0)
      out.push_back("device " + shown(d.name) + " not published: its DBIRTH is too big");
  for (const SourceStatus& src : s.sources)
    if (src.failures > 0) out.push_back("source " + shown(src.name) + " failing");
  for (const DeviceStatus& d : s.devices)
    if (d.polled && !d.online) out.push_back("device " + shown(d.name) + " offline");
  if (s.last_refused_ms > 0 && now_ms - s.last_refused_ms < kRecentMs)
    out.push_back(refused_text(s));
  if (!s.spool_open) out.push_back("spool cannot be opened");
  if (s.last_drop_ms > 0 && now_ms - s.last_drop_ms < kRecentMs)
    out.push_back("spool dropping batches");
  if (s.last_write_error_ms > 0 && now_ms - s.last_write_error_ms < kRecentMs)
    out.push_back("spool cannot store");
  return out;
}

namespace {

// The text report, one labelled line at a time ("Broker    online to ...").
struct TextReport {
  std::string& out;
  const Snapshot& s;
  int64_t now_ms;
  void line(const char* label, const std::string& text) {
    char pad[16];
    std::snprintf(pad, sizeof pad, "%-10s", label);
    out += pad;
    out += text;
    out += '\n';
  }
  // "in 4 s to tcp://b:1883" or "now to ...": the next connection attempt.
  std::string next_attempt() const {
    return (s.next_attempt_ms > now_ms ? "in " + span(s.next_attempt_ms - now_ms + 999)
                                       : std::string("now")) +
           " to " + shown(s.next_server);
  }

  void headline();
  void broker();
  void broker_waiting_host();
  void broker_notes();
  void delivery();
  void spool();
  void sources();
  void devices();
  void probes();
  void clock();
};

// Who answers, and OK or what is wrong.
void TextReport::headline() {
  out += "classroom-agent " + shown(s.version) + ", " + shown(s.group) + "/" + shown(s.node) +
         " (pid " + std::to_string(s.pid) + "), up " + span(now_ms - s.started_ms) + "\n";
  const auto trouble = problems(s, now_ms);
  if (trouble.empty()) {
    line("Status", "OK");
  } else {
    std::string t = "DEGRADED: ";
    for (size_t i = 0; i < trouble.size(); ++i) t += (i ? "; " : "") + trouble[i];
    line("Status", t);
  }
  if (now_ms - s.as_of_ms >= 2000) line("", "(as of " + ago(s.as_of_ms, now_ms) + ")");
}

void TextReport::broker() {
  switch (s.broker) {
    case BrokerState::online:
      line("Broker", "online to " + shown(s.server) + " since " + utc(s.broker_since_ms) + " (" +
                         span(now_ms - s.broker_since_ms) + "), bdSeq " + std::to_string(s.bdseq));
      break;
    case BrokerState::connecting:
      line("Broker", "connecting to " + shown(s.server) + " (first attempt)");
      break;
    case BrokerState::waiting_host:
      broker_waiting_host();
      break;
    case BrokerState::unreachable: {
      line("Broker", "UNREACHABLE since " + utc(s.broker_since_ms) + " (" +
                         span(now_ms - s.broker_since_ms) + "): " + shown(s.server) + ": " +
                         said(s.broker_error));
      std::string next =
          plural(static_cast<uint64_t>(s.failed_attempts), "failed attempt", "failed attempts");
      if (s.next_attempt_ms > 0)
        next += "; next attempt " + next_attempt();
      else
        next += "; trying " + shown(s.next_server) + " now";
      line("", next);
      break;
    }
  }
  broker_notes();
}

void TextReport::broker_waiting_host() {
  const std::string waiting = "WAITING FOR PRIMARY HOST " + shown(s.primary_host) +
                              ": offline since " + utc(s.broker_since_ms) + " (" +
                              span(now_ms - s.broker_since_ms) + ")";
  if (s.host_connected)
    line("Broker", "connected to " + shown(s.server) + ", bdSeq " + std::to_string(s.bdseq) + "; " +
                       waiting + ", " + shown(s.host_state));
  else if (s.next_attempt_ms > 0)
    line("Broker", waiting + "; left " + shown(s.server) + ": " + said(s.broker_error) +
                       "; next attempt " + next_attempt());
  else
    line("Broker", waiting + "; connecting to " + shown(s.server));
  line("", "no birth and no data until its STATE says online; samples wait in the spool");
}

// The packet limit, bdSeq trouble, commands.
void TextReport::broker_notes() {
  if (s.broker == BrokerState::online && s.packet_limit > 0)
    line("", "takes packets of up to " + std::to_string(s.packet_limit) + " bytes (" +
                 shown(s.packet_limit_source) + ")");
  if (!s.bdseq_error.empty())
    line("", "bdSeq " + std::to_string(s.bdseq) + ": " + said(s.bdseq_error) +
                 "; a restart may reuse a bdSeq");
  if (s.commands_unavailable)
    line("", "COMMANDS UNAVAILABLE: " + said(s.commands_problem) +
                 "; births and data go out, the subscription is asked again");
  else if (!s.commands_problem.empty())
    line("", "commands: " + said(s.commands_problem));
}

void TextReport::delivery() {
  std::string delivery = "last publish " + ago(s.last_publish_ms, now_ms);
  if (s.last_confirmed_ms > 0)
    delivery += ", last confirmed by the broker " + ago(s.last_confirmed_ms, now_ms);
  if (s.broker == BrokerState::online && s.unconfirmed_since_ms > 0 &&
      now_ms - s.unconfirmed_since_ms > kUnconfirmedMs)
    delivery += "; NOTHING CONFIRMED for " + span(now_ms - s.unconfirmed_since_ms);
  if (s.refused_batches > 0) {
    std::string refused = refused_text(s);
    for (size_t i = 0; i < refused.find(':'); ++i)  // "12 BATCHES NOT SENT: ..."
      refused[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(refused[i])));
    delivery += "; " + refused + " (last " + ago(s.last_refused_ms, now_ms) + ")";
  }
  line("Delivery", delivery);
  if (s.node_birth_refused_size > 0)
    line("Birth", birth_refused("node " + shown(s.node), s.node_birth_refused_size, s) +
                      ": publish fewer metrics (fewer sources, probes or interfaces)");
}

void TextReport::spool() {
  if (!s.spool_open) {
    line("Spool", "CANNOT BE OPENED (see the log); batches are published directly when online");
  } else {
    // Waiting: not on its way (Uplink::waiting). Those sent and not yet
    // confirmed are on their way while confirmations come.
    std::string spool =
        plural(s.pending - std::min(s.pending, s.sent_unconfirmed), "batch", "batches") +
        " waiting";
    if (s.sent_unconfirmed > 0)
      spool += " (" + std::to_string(s.sent_unconfirmed) + " sent, not yet confirmed)";
    spool += ", ";
    spool += size_text(s.spool_bytes) + " on disk";
    if (s.pending > 0) spool += ", oldest " + span(static_cast<int64_t>(s.oldest_age_s) * 1000);
    spool += ", " + std::to_string(s.dropped) + " dropped";
    if (s.last_drop_ms > 0) spool += " (last " + ago(s.last_drop_ms, now_ms) + ")";
    if (s.lost > 0) spool += ", " + std::to_string(s.lost) + " lost to damage";
    if (s.write_errors > 0)
      spool += ", " + plural(s.write_errors, "failed write", "failed writes") + " (last " +
               ago(s.last_write_error_ms, now_ms) + ")";
    line("Spool", spool);
  }
}

void TextReport::sources() {
  size_t width = 0;
  for (const SourceStatus& src : s.sources) width = std::max(width, shown(src.name).size());
  const char* label = "Sources";
  if (s.sources.empty()) line(label, "none");
  for (const SourceStatus& src : s.sources) {
    std::string name = shown(src.name);
    name.resize(width + 2, ' ');
    std::string t;
    if (src.failures > 0) {
      t = "FAILING since " + utc(src.failing_since_ms) + " (" +
          plural(static_cast<uint64_t>(src.failures), "run", "runs") + "): " + said(src.error) +
          "; last success " + ago(src.last_success_ms, now_ms);
    } else if (src.last_success_ms == 0) {
      t = "not run yet";
    } else {
      t = "ok, last run " + ago(src.last_success_ms, now_ms);
      if (!src.warning.empty()) t += "; " + said(src.warning);
    }
    line(label, name + t);
    label = "";
  }
}

void TextReport::devices() {
  if (!s.devices.empty()) {
    size_t online = 0, offline = 0;
    for (const DeviceStatus& d : s.devices) {
      if (d.online) ++online;
      if (d.polled && !d.online) ++offline;
    }
    line("Devices", std::to_string(online) + " online, " + std::to_string(offline) + " offline");
    for (const DeviceStatus& d : s.devices) {
      std::string t = shown(d.name) + " at " + shown(d.address) + ": ";
      if (d.online)
        t += "online";
      else if (!d.polled)
        t += "not polled yet";
      else
        t += "OFFLINE" + (d.problem.empty() ? std::string() : ": " + said(d.problem));
      if (d.online && !d.problem.empty()) t += " (last poll: " + said(d.problem) + ")";
      if (d.birth_refused_size > 0)
        t += "; " + birth_refused("device", d.birth_refused_size, s) +
             ": publish fewer interfaces (its include/exclude) or fewer profiles";
      line("", t);
    }
  }
}

void TextReport::probes() {
  if (!s.probes.empty()) {
    const char* label = "Probes";
    for (const ProbeStatus& p : s.probes) {
      std::string t = shown(p.name) + " (" + p.kind + "): ";
      if (p.last_run_ms == 0) {
        t += "no result yet";
      } else {
        t += (p.ok ? "ok" : "FAILED");
        if (!p.ok && !p.error.empty()) t += " (" + said(p.error) + ")";
        if (p.has_value)
          t += ", " + p.measure + " " + number(p.value) + (p.unit.empty() ? "" : " " + p.unit);
        t += ", " + ago(p.last_run_ms, now_ms);
      }
      line(label, t);
      label = "";
    }
  }
}

void TextReport::clock() {
  switch (s.clock) {
    case ClockState::synchronized:
      line("Clock", "synchronized");
      break;
    case ClockState::unsynchronized:
      line("Clock", "NOT synchronized (timestamps may be wrong; check NTP)");
      break;
    case ClockState::unknown:
      line("Clock", "unknown (the system source has not measured it)");
      break;
  }
}

}  // namespace

std::string render_text(const Snapshot& s, int64_t now_ms) {
  std::string out;
  out.reserve(2048);
  if (s.as_of_ms == 0) {
    out += "classroom-agent is starting: ask again in a moment.\n";
    return out;
  }
  TextReport r{out, s, now_ms};
  r.headline();
  r.broker();
  r.delivery();
  r.spool();
  r.sources();
  r.devices();
  r.probes();
  r.clock();
  return out;
}

namespace {

void json_agent(std::string& out, const Snapshot& s, int64_t now_ms) {
  Obj a(out);
  json_string(a.key("group"), s.group);
  json_string(a.key("node"), s.node);
  json_string(a.key("version"), s.version);
  a.key("pid") += std::to_string(s.pid);
  json_time(a.key("started"), s.started_ms);
  json_age(a.key("uptime_s"), s.started_ms, now_ms);
}

void json_primary_host(std::string& out, const Snapshot& s) {
  if (s.primary_host.empty()) {
    out += "null";
  } else {
    Obj h(out);
    json_string(h.key("id"), s.primary_host);
    // Known only from a session: online once born, offline while waiting.
    h.key("online") += s.broker == BrokerState::online         ? "true"
                       : s.broker == BrokerState::waiting_host ? "false"
                                                               : "null";
    json_time(h.key("offline_since"), s.host_offline_since_ms);
    json_string(h.key("state"), s.host_state);
  }
}

void json_broker(std::string& out, const Snapshot& s, int64_t now_ms) {
  Obj b(out);
  b.key("state") += std::string("\"") + broker_word(s.broker) + "\"";
  json_string(b.key("server"), s.server);
  json_time(b.key("since"), s.broker_since_ms);
  json_opt_string(b.key("error"),
                  s.broker == BrokerState::online || s.broker == BrokerState::waiting_host
                      ? ""
                      : s.broker_error,
                  true);
  b.key("failed_attempts") += std::to_string(s.failed_attempts);
  b.key("next_attempt_in_s");
  if (s.broker == BrokerState::unreachable && s.next_attempt_ms > 0)
    out += std::to_string(std::max<int64_t>(0, s.next_attempt_ms - now_ms + 999) / 1000);
  else
    out += "null";
  json_opt_string(b.key("next_server"), s.broker == BrokerState::unreachable ? s.next_server : "");
  b.key("bdseq") += std::to_string(s.bdseq);
  json_opt_string(b.key("bdseq_error"), s.bdseq_error, true);
  b.key("commands_available") += s.commands_unavailable ? "false" : "true";
  json_opt_string(b.key("commands_problem"), s.commands_problem, true);
  json_primary_host(b.key("primary_host"), s);
}

void json_spool(std::string& out, const Snapshot& s) {
  Obj sp(out);
  sp.key("open") += s.spool_open ? "true" : "false";
  sp.key("pending") += std::to_string(s.pending);
  sp.key("sent_unconfirmed") += std::to_string(s.sent_unconfirmed);
  sp.key("bytes") += std::to_string(s.spool_bytes);
  sp.key("oldest_age_s") += std::to_string(s.oldest_age_s);
  sp.key("dropped") += std::to_string(s.dropped);
  json_time(sp.key("last_drop"), s.last_drop_ms);
  sp.key("lost") += std::to_string(s.lost);
  sp.key("write_errors") += std::to_string(s.write_errors);
}

void json_delivery(std::string& out, const Snapshot& s, int64_t now_ms) {
  Obj d(out);
  json_time(d.key("last_publish"), s.last_publish_ms);
  json_age(d.key("last_publish_age_s"), s.last_publish_ms, now_ms);
  json_time(d.key("last_confirmed"), s.last_confirmed_ms);
  json_time(d.key("unconfirmed_since"), s.unconfirmed_since_ms);
  d.key("packet_limit") += std::to_string(s.packet_limit);
  d.key("node_birth_refused_size") += std::to_string(s.node_birth_refused_size);
  json_opt_string(d.key("packet_limit_source"), s.packet_limit_source);
  d.key("refused_batches") += std::to_string(s.refused_batches);
  d.key("refused_data") += std::to_string(s.refused_data);
  json_time(d.key("last_refused"), s.last_refused_ms);
  json_spool(d.key("spool"), s);
}

void json_sources(std::string& out, const Snapshot& s, int64_t now_ms) {
  out += '[';
  for (size_t i = 0; i < s.sources.size(); ++i) {
    const SourceStatus& src = s.sources[i];
    if (i) out += ',';
    Obj j(out);
    json_string(j.key("name"), src.name);
    j.key("state") += src.failures > 0           ? "\"failing\""
                      : src.last_success_ms == 0 ? "\"not run yet\""
                                                 : "\"ok\"";
    j.key("interval_s") += number(static_cast<double>(src.interval_ms) / 1000.0);
    json_time(j.key("last_success"), src.last_success_ms);
    json_age(j.key("last_success_age_s"), src.last_success_ms, now_ms);
    json_time(j.key("failing_since"), src.failing_since_ms);
    j.key("failures") += std::to_string(src.failures);
    json_opt_string(j.key("error"), src.failures > 0 ? src.error : "", true);
    json_opt_string(j.key("warning"), src.warning, true);
  }
  out += ']';
}

void json_devices(std::string& out, const Snapshot& s) {
  out += '[';
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const DeviceStatus& d = s.devices[i];
    if (i) out += ',';
    Obj j(out);
    json_string(j.key("name"), d.name);
    json_string(j.key("address"), d.address);
    j.key("state") += d.online ? "\"online\"" : d.polled ? "\"offline\"" : "\"not polled yet\"";
    json_opt_string(j.key("problem"), d.problem, true);
    j.key("birth_refused_size") += std::to_string(d.birth_refused_size);
  }
  out += ']';
}

void json_probes(std::string& out, const Snapshot& s) {
  out += '[';
  for (size_t i = 0; i < s.probes.size(); ++i) {
    const ProbeStatus& p = s.probes[i];
    if (i) out += ',';
    Obj j(out);
    json_string(j.key("name"), p.name);
    json_string(j.key("kind"), p.kind);
    j.key("state") += p.last_run_ms == 0 ? "\"no result yet\"" : p.ok ? "\"ok\"" : "\"failed\"";
    json_time(j.key("last_run"), p.last_run_ms);
    json_opt_string(j.key("measure"), p.has_value ? p.measure : "");
    j.key("value") += p.has_value && std::isfinite(p.value) ? number(p.value) : "null";
    json_opt_string(j.key("unit"), p.has_value ? p.unit : "");
    json_opt_string(j.key("error"), p.error, true);
  }
  out += ']';
}

}  // namespace

std::string render_json(const Snapshot& s, int64_t now_ms) {
  std::string out;
  out.reserve(2048);
  {
    Obj o(out);
    o.key("state") += std::string("\"") + state_word(s, now_ms) + "\"";
    o.key("problems") += '[';
    const auto trouble = problems(s, now_ms);
    for (size_t i = 0; i < trouble.size(); ++i) {
      if (i) out += ',';
      json_problem(out, trouble[i]);
    }
    out += ']';
    o.key("as_of");
    json_time(out, s.as_of_ms);
    json_agent(o.key("agent"), s, now_ms);
    json_broker(o.key("broker"), s, now_ms);
    json_delivery(o.key("delivery"), s, now_ms);
    json_sources(o.key("sources"), s, now_ms);
    json_devices(o.key("devices"), s);
    json_probes(o.key("probes"), s);
    o.key("clock_synchronized") += s.clock == ClockState::synchronized     ? "true"
                                   : s.clock == ClockState::unsynchronized ? "false"
                                                                           : "null";
  }
  out += '\n';
  return out;
}

}  // namespace classroom::status
