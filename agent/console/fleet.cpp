#include "console/fleet.hpp"

#include <algorithm>
#include <cstdio>

#include "console/format.hpp"
#include "printable.hpp"
#include "session/host_state.hpp"

namespace classroom::console {
namespace {

constexpr size_t kMaxInterfaces = 16;  // Wi-Fi interfaces summed per node
constexpr size_t kMaxNameColumn = 48;  // widest NODE column

std::optional<double> as_double(const DecodedMetric& m) {
  if (m.is_null) return std::nullopt;
  if (const float* f = std::get_if<float>(&m.value)) return *f;
  if (const double* d = std::get_if<double>(&m.value)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&m.value)) return static_cast<double>(*i);
  if (const uint64_t* u = std::get_if<uint64_t>(&m.value)) return static_cast<double>(*u);
  return std::nullopt;
}

// "Connectivity/<probe>/<measure>": the probe's name, or empty.
std::string_view probe_of(std::string_view name, std::string_view measure) {
  constexpr std::string_view prefix = "Connectivity/";
  if (name.size() <= prefix.size() + measure.size() + 1 || name.substr(0, prefix.size()) != prefix)
    return {};
  if (name.substr(name.size() - measure.size()) != measure) return {};
  std::string_view probe = name.substr(prefix.size(), name.size() - prefix.size() - measure.size());
  if (probe.empty() || probe.back() != '/') return {};
  probe.remove_suffix(1);
  return probe;
}

// The key metrics of a node (and the CPU of a device) from its births and
// data. Historical values (a backlog replayed after an outage) are the past:
// they never stand for what a node is doing now.
void take_metrics(FleetRow& row, const Decoded& d) {
  for (const DecodedMetric& m : d.metrics) {
    const std::string& n = m.name;
    if (n.empty() || m.historical) continue;
    if (n == (row.device.empty() ? "System/CPU/Usage" : "CPU/Usage")) {
      row.cpu = as_double(m);
    } else if (n == "Agent/Spool/Pending Batches") {
      auto v = as_double(m);
      if (v)
        row.spool = static_cast<uint64_t>(*v);
      else
        row.spool.reset();
    } else if (n.rfind("WiFi/", 0) == 0 && glob_matches("WiFi/*/Stations", n)) {
      const std::string iface = n.substr(5, n.size() - 5 - 9);
      auto v = as_double(m);
      if (!v)
        row.stations.erase(iface);
      else if (row.stations.size() < kMaxInterfaces || row.stations.count(iface))
        row.stations[iface] = static_cast<uint64_t>(*v);
    } else if (auto probe = probe_of(n, "RTT Avg"); !probe.empty()) {
      // The first probe seen is the one shown (births list them in order).
      if (row.probe.empty()) row.probe = std::string(probe);
      if (probe == row.probe) row.rtt = as_double(m);
    } else if (auto lp = probe_of(n, "Loss"); !lp.empty()) {
      if (row.probe.empty()) row.probe = std::string(lp);
      if (lp == row.probe) row.loss = as_double(m);
    }
  }
}

int state_rank(const FleetRow& r, int64_t now_ms, int64_t stale_ms) {
  if (r.state == NodeState::offline) return 0;
  if (Fleet::silent(r, now_ms, stale_ms)) return 1;
  if (r.state == NodeState::unborn) return 2;
  return 3;
}

std::string state_text(const FleetRow& r, int64_t now_ms, int64_t stale_ms) {
  if (r.state == NodeState::offline) return "OFFLINE";
  if (Fleet::silent(r, now_ms, stale_ms)) return "SILENT";
  if (r.state == NodeState::unborn) return "online?";
  return "online";
}

std::string fixed(std::optional<double> v, int decimals) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *v);
  return buf;
}

// Cuts `s` to at most `width` bytes at a character boundary.
void cut_to(std::string& s, size_t width) {
  if (width == 0 || s.size() <= width) return;
  size_t at = width;
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xc0) == 0x80) --at;
  s.resize(at);
}

std::string pad(std::string s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

constexpr size_t kHostsShown = 3;

// "; host scada online 5m02s, host backup OFFLINE 12s": the host
// applications whose STATE was seen, and for how long they have been so.
std::string hosts_text(const Fleet& fleet, int64_t now_ms) {
  std::string out;
  size_t shown = 0;
  for (const auto& [id, h] : fleet.hosts()) {
    if (shown++ == kHostsShown) break;
    out += (shown == 1 ? "; host " : ", host ") + text::printable(id, kMaxNameColumn) + " " +
           (!h.known   ? "state unreadable"
            : h.online ? "online"
                       : "OFFLINE") +
           " " + age_text(now_ms - h.since_ms);
  }
  if (fleet.hosts().size() > kHostsShown)
    out += " (+" + std::to_string(fleet.hosts().size() - kHostsShown) + " hosts)";
  return out;
}

// The table's first line: the time, how many nodes are in which state, the
// sort, the connection, and the host applications.
std::string summary_line(const Fleet& fleet, const RenderOptions& o) {
  const auto c = fleet.counts(o.now_ms, o.stale_ms);
  const char* sort_name = o.sort == Fleet::Sort::name    ? "name"
                          : o.sort == Fleet::Sort::state ? "state"
                                                         : "age";
  std::string summary = iso_time(o.now_ms).substr(11, 8) + "Z  " + std::to_string(c.nodes) +
                        (c.nodes == 1 ? " node: " : " nodes: ") + std::to_string(c.online) +
                        " online, " + std::to_string(c.offline) + " offline, " +
                        std::to_string(c.silent) + " silent, " + std::to_string(c.unborn) +
                        " without birth";
  if (c.devices)
    summary += "; " + std::to_string(c.devices) + (c.devices == 1 ? " device, " : " devices, ") +
               std::to_string(c.devices_online) + " online";
  summary += "; sorted by " + std::string(sort_name);
  if (!o.source.empty()) summary += "  [" + o.source + "]";
  if (fleet.not_tracked()) summary += "; " + std::to_string(fleet.not_tracked()) + " not tracked";
  summary += hosts_text(fleet, o.now_ms);
  return summary;
}

}  // namespace

std::string age_text(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[32];
  const int64_t s = ms / 1000;
  if (ms < 10'000)
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

bool Fleet::shows_metric(std::string_view n) {
  return n == "System/CPU/Usage" || n == "CPU/Usage" || n == "Agent/Spool/Pending Batches" ||
         (n.rfind("WiFi/", 0) == 0 && glob_matches("WiFi/*/Stations", n)) ||
         !probe_of(n, "RTT Avg").empty() || !probe_of(n, "Loss").empty();
}

bool Fleet::silent(const FleetRow& r, int64_t now_ms, int64_t stale_ms) {
  return r.state != NodeState::offline && now_ms - r.last_ms > stale_ms;
}

FleetRow* Fleet::row_for(const Topic& t, int64_t now_ms) {
  const std::string key = t.group + "/" + t.node;
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    if (nodes_.size() >= max_nodes_) {
      ++not_tracked_;
      return nullptr;
    }
    it = nodes_.emplace(key, Entry{}).first;
    FleetRow& r = it->second.row;
    r.group = t.group;
    r.node = t.node;
    r.since_ms = now_ms;
  }
  Entry& e = it->second;
  e.row.last_ms = now_ms;  // a device's message is a sign of its node's life too
  if (!t.is_device()) return &e.row;
  auto dev = e.devices.find(t.device);
  if (dev == e.devices.end()) {
    if (e.devices.size() >= max_devices_) {
      ++not_tracked_;
      return nullptr;
    }
    dev = e.devices.emplace(t.device, FleetRow{}).first;
    FleetRow& r = dev->second;
    r.group = t.group;
    r.node = t.node;
    r.device = t.device;
    r.since_ms = now_ms;
  }
  return &dev->second;
}

void Fleet::observe_host(const Decoded& d, int64_t now_ms) {
  auto it = hosts_.find(d.topic.node);
  if (it == hosts_.end()) {
    if (hosts_.size() >= kMaxHosts) {
      ++not_tracked_;
      return;
    }
    it = hosts_.emplace(d.topic.node, HostRow{}).first;
    it->second.id = d.topic.node;
    it->second.since_ms = now_ms;
  }
  HostRow& h = it->second;
  const auto state = sparkplug::parse_host_state(d.state_text);
  if (!state) {
    if (h.known) return;  // keep the last state understood
    h.since_ms = now_ms;
    return;
  }
  std::optional<sparkplug::HostState> current;
  if (h.known) current = sparkplug::HostState{h.online, h.timestamp};
  if (!sparkplug::supersedes(*state, current)) return;  // a stale Will
  if (!h.known || h.online != state->online) h.since_ms = now_ms;
  h.known = true;
  h.online = state->online;
  h.timestamp = state->timestamp;
}

void Fleet::observe(const Decoded& d, int64_t now_ms) {
  const Topic& t = d.topic;
  if (t.type == MessageType::state) return observe_host(d, now_ms);
  if (t.type == MessageType::ncmd || t.type == MessageType::dcmd || t.group.empty())
    return;  // commands say nothing of a node's health
  FleetRow* row = row_for(t, now_ms);
  if (!row) return;
  row->last_ms = now_ms;
  if (!d.error.empty()) return;
  auto become = [&](FleetRow& r, NodeState s) {
    if (r.state != s) r.since_ms = now_ms;
    r.state = s;
  };
  switch (t.type) {
    case MessageType::nbirth:
      become(*row, NodeState::online);
      row->since_ms = now_ms;  // a rebirth is a new start too
      row->bdseq = d.bdseq;
      row->probe.clear();
      row->stations.clear();
      take_metrics(*row, d);
      break;
    case MessageType::ndeath: {
      // The Will holds the bdSeq of the session it ends; an NDEATH of another
      // session (a late Will after a reconnect) says nothing of this one.
      if (row->bdseq && d.bdseq && *row->bdseq != *d.bdseq) {
        ++row->deaths_ignored;
        break;
      }
      become(*row, NodeState::offline);
      if (!row->bdseq) row->bdseq = d.bdseq;
      auto& devices = nodes_.find(t.group + "/" + t.node)->second.devices;
      for (auto& [name, dev] : devices)
        if (dev.state != NodeState::offline) become(dev, NodeState::offline);
      break;
    }
    case MessageType::dbirth:
      become(*row, NodeState::online);
      row->since_ms = now_ms;
      take_metrics(*row, d);
      break;
    case MessageType::ddeath:
      become(*row, NodeState::offline);
      break;
    case MessageType::ndata:
    case MessageType::ddata:
      if (row->state == NodeState::offline) become(*row, NodeState::unborn);
      take_metrics(*row, d);
      break;
    default:
      break;
  }
}

const FleetRow* Fleet::find(const std::string& group, const std::string& node,
                            const std::string& device) const {
  auto it = nodes_.find(group + "/" + node);
  if (it == nodes_.end()) return nullptr;
  if (device.empty()) return &it->second.row;
  auto dev = it->second.devices.find(device);
  return dev == it->second.devices.end() ? nullptr : &dev->second;
}

std::vector<const FleetRow*> Fleet::rows(Sort sort, int64_t now_ms, int64_t stale_ms) const {
  std::vector<const Entry*> entries;
  entries.reserve(nodes_.size());
  for (const auto& [key, e] : nodes_) entries.push_back(&e);  // by name already
  if (sort == Sort::state) {
    std::stable_sort(entries.begin(), entries.end(), [&](const Entry* a, const Entry* b) {
      return state_rank(a->row, now_ms, stale_ms) < state_rank(b->row, now_ms, stale_ms);
    });
  } else if (sort == Sort::age) {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
      return a->row.last_ms < b->row.last_ms;
    });
  }
  std::vector<const FleetRow*> out;
  for (const Entry* e : entries) {
    out.push_back(&e->row);
    for (const auto& [name, dev] : e->devices) out.push_back(&dev);
  }
  return out;
}

Fleet::Counts Fleet::counts(int64_t now_ms, int64_t stale_ms) const {
  Counts c;
  for (const auto& [key, e] : nodes_) {
    ++c.nodes;
    if (e.row.state == NodeState::offline)
      ++c.offline;
    else if (silent(e.row, now_ms, stale_ms))
      ++c.silent;
    else if (e.row.state == NodeState::unborn)
      ++c.unborn;
    else
      ++c.online;
    for (const auto& [name, dev] : e.devices) {
      ++c.devices;
      if (dev.state == NodeState::online) ++c.devices_online;
    }
  }
  return c;
}

std::vector<std::string> render(const Fleet& fleet, const RenderOptions& o) {
  std::vector<std::string> lines;
  lines.push_back(summary_line(fleet, o));

  const auto rows = fleet.rows(o.sort, o.now_ms, o.stale_ms);
  const size_t room = o.max_lines == 0 ? rows.size() : o.max_lines > 3 ? o.max_lines - 3 : 0;
  const size_t shown = std::min(rows.size(), room);
  // Only the rows shown are rendered: a terminal shows 40 of 50,000 nodes.
  std::vector<std::string> names;
  names.reserve(shown);
  size_t name_width = 4;
  for (size_t i = 0; i < shown; ++i) {
    const FleetRow* r = rows[i];
    std::string n = r->device.empty() ? text::printable(r->group + "/" + r->node, kMaxNameColumn)
                                      : "  " + text::printable(r->device, kMaxNameColumn - 2);
    cut_to(n, kMaxNameColumn);
    name_width = std::max(name_width, n.size());
    names.push_back(std::move(n));
  }
  auto line = [&](std::string name, std::string state, std::string since, std::string bdseq,
                  std::string last, std::string cpu, std::string rtt, std::string loss,
                  std::string wifi, std::string spool) {
    return pad(std::move(name), name_width) + "  " + pad(std::move(state), 8) + " " +
           pad(std::move(since), 7, true) + " " + pad(std::move(bdseq), 5, true) + " " +
           pad(std::move(last), 7, true) + " " + pad(std::move(cpu), 6, true) + " " +
           pad(std::move(rtt), 8, true) + " " + pad(std::move(loss), 6, true) + " " +
           pad(std::move(wifi), 5, true) + " " + pad(std::move(spool), 7, true);
  };
  lines.push_back(line("NODE", "STATE", "SINCE", "BDSEQ", "LAST", "CPU %", "RTT ms", "LOSS %",
                       "WIFI", "SPOOL"));
  for (size_t i = 0; i < shown; ++i) {
    const FleetRow& r = *rows[i];
    std::string wifi = "-";
    if (!r.stations.empty()) {
      uint64_t sum = 0;
      for (const auto& [iface, n] : r.stations) sum += n;
      wifi = std::to_string(sum);
    }
    const std::string state = state_text(r, o.now_ms, o.stale_ms);
    std::string l = line(names[i], state, age_text(o.now_ms - r.since_ms),
                         r.bdseq ? std::to_string(*r.bdseq) : "-", age_text(o.now_ms - r.last_ms),
                         fixed(r.cpu, 1), fixed(r.rtt, 1), fixed(r.loss, 1), wifi,
                         r.spool ? std::to_string(*r.spool) : "-");
    cut_to(l, o.width);
    const size_t at = name_width + 2;
    if (o.color && state != "online" && l.size() >= at + state.size()) {
      const char* colour = state == "OFFLINE" ? "\x1b[1;31m" : "\x1b[33m";
      l = l.substr(0, at) + colour + state + "\x1b[0m" + l.substr(at + state.size());
    }
    lines.push_back(std::move(l));
  }
  if (shown < rows.size())
    lines.push_back("... " + std::to_string(rows.size() - shown) +
                    " more rows below (a taller window shows more; --sort state puts problems "
                    "first)");
  if (o.width)
    for (size_t i = 0; i < 2; ++i) cut_to(lines[i], o.width);
  return lines;
}

}  // namespace classroom::console
