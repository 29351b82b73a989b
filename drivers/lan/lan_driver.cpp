#include "lan/lan_driver.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "lan/neighbours.hpp"
#include "printable.hpp"

namespace classroom::drivers::lan {
namespace {

constexpr const char* kRankNames[] = {"stale", "probe", "delay", "reachable"};

uint8_t rank_of(uint16_t state) {
  if (state & NUD_REACHABLE) return 3;
  if (state & NUD_DELAY) return 2;
  if (state & NUD_PROBE) return 1;
  return 0;
}

bool same_device(const auto& a, const auto& b) {
  return a.ifindex == b.ifindex && a.length == b.length &&
         std::equal(a.lladdr.begin(), a.lladdr.begin() + a.length, b.lladdr.begin());
}

}  // namespace

std::string device_key(const HmacSha256& hmac, const uint8_t* lladdr, size_t length) {
  static constexpr char hex[] = "0123456789abcdef";
  char text[3 * 20];
  size_t n = 0;
  for (size_t i = 0; i < length && i < 20; ++i) {
    if (i) text[n++] = ':';
    text[n++] = hex[lladdr[i] >> 4];
    text[n++] = hex[lladdr[i] & 15];
  }
  const Digest d = hmac(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text), n));
  std::string key(16, '0');
  for (size_t i = 0; i < 8; ++i) {
    key[2 * i] = hex[d[i] >> 4];
    key[2 * i + 1] = hex[d[i] & 15];
  }
  return key;
}

LanDriver::LanDriver(Options options, std::unique_ptr<netlink::Transport> transport)
    : options_(std::move(options)), buffer_(64 * 1024, options_.max_lease_file) {
  if (!options_.now) options_.now = [] { return static_cast<int64_t>(::time(nullptr)); };
  if (!options_.index_of) options_.index_of = ::if_nametoindex;
  if (!options_.name_of) options_.name_of = ::if_indextoname;
  if (!transport) {
    auto socket = std::make_unique<netlink::SocketTransport>();
    open_error_ = socket->open(NETLINK_ROUTE);
    transport = std::move(socket);
  }
  client_ = std::make_unique<netlink::Client>(std::move(transport));
  if (options_.inventory) {
    hmac_ = std::make_unique<HmacSha256>(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(options_.secret.data()), options_.secret.size()));
    std::fill(options_.secret.begin(), options_.secret.end(), '\0');
    keyed_.reserve(1024);
    inventory_text_.reserve(32 * 1024);
  }
  entries_.reserve(2048);
  uplinks_.reserve(16);
  problems_.reserve(512);
}

void LanDriver::note(std::string_view what) {
  if (!problems_.empty()) problems_ += "; ";
  problems_ += what;
}

LanDriver::Iface& LanDriver::declare_iface(const std::string& name, MetricSink& sink) {
  auto i = std::make_unique<Iface>();
  i->name = name;
  const std::string base = "LAN/" + name + "/";
  i->devices = sink.declare(base + "Devices", DataType::UInt64, "");
  i->reachable = sink.declare(base + "Devices Reachable", DataType::UInt64, "");
  if (options_.inventory) i->inventory = sink.declare(base + "Inventory", DataType::String, "");
  ifaces_.push_back(std::move(i));
  return *ifaces_.back();
}

bool LanDriver::dump_neighbours() {
  entries_.clear();
  neighbour_truncated_ = false;
  netlink::Request request(RTM_GETNEIGH, NLM_F_DUMP);
  ndmsg h{};
  h.ndm_family = AF_UNSPEC;  // IPv4 and IPv6
  request.header(h);
  auto on_message = [&](const netlink::Message& m) {
    auto n = parse_neighbour(m);
    if (!n) return;
    neighbour_truncated_ = neighbour_truncated_ || n->truncated;
    if (!counts_as_device(n->state)) return;
    entries_.push_back(Entry{n->ifindex, n->lladdr_len, n->lladdr, rank_of(n->state)});
  };
  netlink::Result r = client_->request(request, on_message);
  neighbour_error_ = r.error;
  neighbour_truncated_ = neighbour_truncated_ || r.truncated;
  if (r.error) return false;
  // By interface, then address: each device's entries (IPv4 and IPv6) side by side.
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.ifindex != b.ifindex) return a.ifindex < b.ifindex;
    if (a.length != b.length) return a.length < b.length;
    return std::lexicographical_compare(a.lladdr.begin(), a.lladdr.begin() + a.length,
                                        b.lladdr.begin(), b.lladdr.begin() + b.length);
  });
  return true;
}

void LanDriver::find_auto_interfaces(MetricSink& sink) {
  // The uplink is where the default route points: not the classroom.
  uplinks_.clear();
  netlink::Request request(RTM_GETROUTE, NLM_F_DUMP);
  rtmsg h{};
  h.rtm_family = AF_UNSPEC;
  request.header(h);
  auto on_route = [&](const netlink::Message& m) {
    if (auto oif = parse_default_route(m); oif && uplinks_.size() < uplinks_.capacity())
      uplinks_.push_back(*oif);
  };
  if (netlink::Result r = client_->request(request, on_route); r.error)
    note("the route table (to tell the uplink apart)");

  char name[IF_NAMESIZE + 1] = {};
  for (auto& i : ifaces_) {
    // Gone or renamed: it is not that interface any more.
    if (i->ifindex && (!options_.name_of(i->ifindex, name) || i->name != name)) i->ifindex = 0;
    if (std::find(uplinks_.begin(), uplinks_.end(), i->ifindex) != uplinks_.end()) i->ifindex = 0;
  }
  for (size_t k = 0; k < entries_.size(); ++k) {
    const uint32_t ifindex = entries_[k].ifindex;
    if (k > 0 && entries_[k - 1].ifindex == ifindex) continue;
    if (std::find(uplinks_.begin(), uplinks_.end(), ifindex) != uplinks_.end()) continue;
    if (std::any_of(ifaces_.begin(), ifaces_.end(),
                    [&](const auto& i) { return i->ifindex == ifindex; }))
      continue;
    if (!options_.name_of(ifindex, name) || std::strcmp(name, "lo") == 0) continue;
    const std::string safe = text::printable(name, 64, text::Policy::metric_name);
    Iface* iface = nullptr;
    for (auto& i : ifaces_)
      if (i->name == safe) iface = i.get();
    if (!iface) {
      iface = &declare_iface(safe, sink);
      if (!started_.empty()) started_ += ", ";
      started_ += safe;
    }
    iface->ifindex = ifindex;
  }
}

void LanDriver::publish_iface(Iface& iface, MetricSink& sink) {
  uint64_t devices = 0, reachable = 0;
  keyed_.clear();
  auto first = std::lower_bound(entries_.begin(), entries_.end(), iface.ifindex,
                                [](const Entry& e, uint32_t i) { return e.ifindex < i; });
  for (auto it = first; it != entries_.end() && it->ifindex == iface.ifindex;) {
    // One device: every entry (IPv4, IPv6) with this link-layer address.
    uint8_t best = it->rank;
    auto next = it + 1;
    while (next != entries_.end() && same_device(*next, *it)) best = std::max(best, (next++)->rank);
    ++devices;
    if (best == 3) ++reachable;
    if (hmac_) {
      Keyed k;
      const std::string key = device_key(*hmac_, it->lladdr.data(), it->length);
      std::copy(key.begin(), key.end(), k.key.begin());
      k.rank = best;
      keyed_.push_back(k);
    }
    it = next;
  }
  sink.put(iface.devices, devices);
  sink.put(iface.reachable, reachable);
  if (hmac_) {
    std::sort(keyed_.begin(), keyed_.end(),
              [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
    inventory_text_.clear();
    for (const Keyed& k : keyed_) {
      if (!inventory_text_.empty()) inventory_text_ += ' ';
      inventory_text_.append(k.key.data(), k.key.size());
      inventory_text_ += ':';
      inventory_text_ += kRankNames[k.rank];
    }
    sink.put(iface.inventory, inventory_text_);
  }
}

bool LanDriver::read_file(const std::string& path) {
  // Size-bounded and regular files only: a lease file is outside input, and
  // may grow while we read.
  switch (buffer_.read(path.c_str(), /*regular_only=*/true)) {
    case FileBuffer::Status::ok:
      return true;
    case FileBuffer::Status::cannot_open:
    case FileBuffer::Status::read_error:
      note("cannot read " + path + " (" + std::strerror(buffer_.error()) + ")");
      return false;
    case FileBuffer::Status::not_regular:
      note(path + " is not a regular file");
      return false;
    case FileBuffer::Status::too_big: {
      const size_t limit = options_.max_lease_file;
      note(path + " is larger than " +
           (limit % (1u << 20) ? std::to_string(limit) + " bytes"
                               : std::to_string(limit >> 20) + " MiB") +
           "; not read");
      return false;
    }
  }
  return false;
}

bool LanDriver::read_leases(Dhcp& d, MetricSink& sink) {
  if (!read_file(d.options.file)) return false;
  const LeaseCount c = leases_.count(d.options.format, buffer_.view(), options_.now());
  sink.put(d.active, c.active);
  if (d.options.pool_size)
    sink.put(d.pool_used, static_cast<float>(100.0 * static_cast<double>(c.active) /
                                             static_cast<double>(d.options.pool_size)));
  sink.put(d.garbled, c.garbled);
  if (c.garbled)
    // Where, never what: the line may hold a client's address or name.
    note(std::to_string(c.garbled) + " unreadable " +
         (d.options.format == LeaseFormat::isc ? "lease block" : "line") +
         (c.garbled == 1 ? "" : "s") + " skipped in " + d.options.file + " (first at line " +
         std::to_string(c.first_garbled_line) + ")");
  return true;
}

CollectResult LanDriver::collect(MetricSink& sink) {
  if (!declared_) {
    for (const std::string& name : options_.interfaces) declare_iface(name, sink);
    for (const DhcpOptions& o : options_.dhcp) {
      const std::string base = "DHCP/" + o.name + "/";
      Dhcp d{o, sink.declare(base + "Active Leases", DataType::UInt64, ""), 0,
             sink.declare(base + "Garbled Lines", DataType::UInt64, "")};
      if (o.pool_size) d.pool_used = sink.declare(base + "Pool Used", DataType::Float, "%");
      dhcp_.push_back(std::move(d));
    }
    declared_ = true;
  }
  problems_.clear();
  started_.clear();
  if (!options_.inventory_off.empty()) note("inventory off: " + options_.inventory_off);
  bool neighbours_ok = false, none = false;
  if (open_error_) {
    note(std::string("cannot open an rtnetlink socket (") + std::strerror(open_error_) + ")");
  } else if (!dump_neighbours()) {
    note(std::string("cannot read the neighbour table (") + std::strerror(neighbour_error_) + ")");
  } else {
    neighbours_ok = true;
    if (neighbour_truncated_) note("a cut-short neighbour reply (the entries before it count)");
    if (options_.interfaces.empty()) {
      find_auto_interfaces(sink);
    } else {
      for (auto& i : ifaces_) {
        i->ifindex = options_.index_of(i->name.c_str());
        if (!i->ifindex) note("interface " + i->name + " not found");
      }
    }
    bool any = false;
    for (auto& i : ifaces_) {
      if (!i->ifindex) continue;
      publish_iface(*i, sink);
      any = true;
    }
    none = !any && options_.interfaces.empty();
  }
  int leases_ok = 0;
  for (Dhcp& d : dhcp_)
    if (read_leases(d, sink)) ++leases_ok;
  if (!neighbours_ok && leases_ok == 0)
    return CollectResult::failure(problems_.empty() ? "nothing to read" : problems_);
  CollectResult r;
  if (!problems_.empty()) r.warning = problems_;
  if (none)
    r.note =
        "no classroom-side interface with devices yet (every interface without a default route "
        "counts; list them in [sources.lan] interfaces to be sure)";
  else if (!started_.empty())  // said in the one collection that starts counting
    r.note = "counting devices on " + started_ + " (no default route through it)";
  return r;
}

}  // namespace classroom::drivers::lan
