#include "network/network_driver.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

namespace classroom::drivers::network {
namespace {

int64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double bits_per_second(uint64_t bytes, int64_t ns) {
  return static_cast<double>(bytes) * 8.0 * 1e9 / static_cast<double>(ns);
}

}  // namespace

bool selected(const Options& options, std::string_view name) {
  bool included = false;
  for (const std::string& pattern : options.include) {
    if (glob_match(pattern, name)) {
      included = true;
      break;
    }
  }
  if (!included) return false;
  for (const std::string& pattern : options.exclude) {
    if (glob_match(pattern, name)) return false;
  }
  return true;
}

NetworkDriver::NetworkDriver(Options options) : options_(std::move(options)) {
  if (!options_.monotonic_ns) options_.monotonic_ns = monotonic_now_ns;
  path_dev_ = options_.proc_root + "/net/dev";
  path_route_ = options_.proc_root + "/net/route";
  path_ipv6_route_ = options_.proc_root + "/net/ipv6_route";
  problems_.reserve(256);
  uplink_name_.reserve(32);
  lines_.reserve(64);
  line_ifindex_.reserve(64);
  interfaces_.reserve(std::min<size_t>(options_.max_interfaces, 32));
}

bool NetworkDriver::read_small(const std::string& path) {
  small_len_ = 0;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n;
  do {
    n = ::read(fd, small_, sizeof small_);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return false;
  small_len_ = static_cast<size_t>(n);
  return true;
}

void NetworkDriver::problem(const char* what, size_t count) {
  if (!problems_.empty()) problems_ += "; ";
  if (count > 0) {
    char number[24];
    std::snprintf(number, sizeof number, "%zu ", count);
    problems_ += number;
  }
  problems_ += what;
}

NetworkDriver::Interface& NetworkDriver::add_interface(MetricSink& sink, std::string_view name) {
  Interface& i = interfaces_.emplace_back();
  i.name = std::string(name);
  const std::string dir = options_.sys_root + "/class/net/" + i.name + "/";
  i.path_ifindex = dir + "ifindex";
  i.path_operstate = dir + "operstate";
  i.path_carrier = dir + "carrier";
  i.path_speed = dir + "speed";
  const std::string base = "Network/" + i.name + "/";
  i.rx_bytes = sink.declare(base + "Rx Bytes", DataType::UInt64, "B");
  i.tx_bytes = sink.declare(base + "Tx Bytes", DataType::UInt64, "B");
  i.rx_packets = sink.declare(base + "Rx Packets", DataType::UInt64, "");
  i.tx_packets = sink.declare(base + "Tx Packets", DataType::UInt64, "");
  i.rx_errors = sink.declare(base + "Rx Errors", DataType::UInt64, "");
  i.tx_errors = sink.declare(base + "Tx Errors", DataType::UInt64, "");
  i.rx_dropped = sink.declare(base + "Rx Dropped", DataType::UInt64, "");
  i.tx_dropped = sink.declare(base + "Tx Dropped", DataType::UInt64, "");
  i.rx_rate = sink.declare(base + "Rx Rate", DataType::Double, "bit/s");
  i.tx_rate = sink.declare(base + "Tx Rate", DataType::Double, "bit/s");
  i.link_up = sink.declare(base + "Link Up", DataType::Boolean, "");
  i.speed = sink.declare(base + "Speed", DataType::UInt64, "Mbit/s");
  return i;
}

void NetworkDriver::sample(MetricSink& sink, Interface& i, const LinkCounters& c, int64_t now_ns) {
  sink.put(i.rx_bytes, c.rx_bytes);
  sink.put(i.tx_bytes, c.tx_bytes);
  sink.put(i.rx_packets, c.rx_packets);
  sink.put(i.tx_packets, c.tx_packets);
  sink.put(i.rx_errors, c.rx_errors);
  sink.put(i.tx_errors, c.tx_errors);
  sink.put(i.rx_dropped, c.rx_dropped);
  sink.put(i.tx_dropped, c.tx_dropped);

  if (i.have_last && now_ns > i.last_ns) {
    const int64_t dt = now_ns - i.last_ns;
    // A reset (the counters went back to zero) gives no rate this time: the
    // next sample has one again, from this reading.
    if (auto rx = traffic_delta(i.last.rx_bytes, i.last.rx_packets, c.rx_bytes, c.rx_packets))
      sink.put(i.rx_rate, bits_per_second(*rx, dt));
    if (auto tx = traffic_delta(i.last.tx_bytes, i.last.tx_packets, c.tx_bytes, c.tx_packets))
      sink.put(i.tx_rate, bits_per_second(*tx, dt));
  }
  i.last = c;
  i.last_ns = now_ns;
  i.have_last = true;

  // Each sysfs file costs an open: carrier is read only where operstate
  // leaves the answer open, speed only on a link that is up (a link that is
  // down has none; the kernel says -1 or refuses the read).
  bool up = false;
  if (read_small(i.path_operstate)) {
    const std::string_view operstate = first_line(std::string_view(small_, small_len_));
    if (operstate == "up" || operstate == "unknown") {
      char state[sizeof small_];
      const size_t state_len = operstate.size();
      std::copy(operstate.begin(), operstate.end(), state);
      // carrier cannot be read while the interface is administratively down.
      const bool carrier = read_small(i.path_carrier);
      up = link_up(std::string_view(state, state_len),
                   carrier ? std::string_view(small_, small_len_) : "");
    }
    sink.put(i.link_up, up);
  }
  if (up && read_small(i.path_speed)) {
    if (auto mbits = parse_speed(std::string_view(small_, small_len_)))
      sink.put(i.speed, uint64_t{*mbits});
  }
}

void NetworkDriver::sample_uplink(MetricSink& sink) {
  RouteScan v4, v6;
  const bool have_v4 = read(path_route_);
  if (have_v4) {
    v4 = parse_ipv4_routes(buffer_.view());
    if (v4.skipped) problem("unreadable lines in net/route", v4.skipped);
  } else {
    problem("cannot read net/route");
  }
  // The IPv6 table is only needed without an IPv4 default route (and it is
  // the costlier read: the whole FIB6 with its cache).
  bool have_v6 = false;
  if (!v4.best) {
    have_v6 = read(path_ipv6_route_);
    if (have_v6) {
      v6 = parse_ipv6_routes(buffer_.view());
      if (v6.skipped) problem("unreadable lines in net/ipv6_route", v6.skipped);
    } else if (buffer_.error() != ENOENT) {  // absent: IPv6 disabled in the kernel, no fault
      problem("cannot read net/ipv6_route");
    }
  }
  if (!have_v4 && !have_v6) return;

  const std::string_view name = uplink_interface(v4, v6);
  if (!have_uplink_) {
    have_uplink_ = true;
  } else if (name != uplink_name_) {
    ++changes_;
  }
  uplink_name_.assign(name);
  // At most 15 characters: the string stays in place (no allocation).
  sink.put(uplink_, std::string(name));
  sink.put(uplink_changes_, changes_);
}

CollectResult NetworkDriver::collect(MetricSink& sink) {
  if (!declared_) {
    uplink_ = sink.declare("Network/Uplink/Interface", DataType::String, "");
    uplink_changes_ = sink.declare("Network/Uplink/Changes", DataType::UInt64, "");
    declared_ = true;
  }
  problems_.clear();
  if (!read(path_dev_) || buffer_.view().empty())
    return CollectResult::failure("cannot read " + path_dev_);
  const int64_t now_ns = options_.monotonic_ns();
  if (size_t skipped = parse_net_dev(buffer_.view(), lines_))
    problem("malformed lines in net/dev", skipped);

  identify_lines(sink);
  sample_lines(sink, now_ns);
  leave_gone(sink);
  sample_uplink(sink);

  CollectResult r;
  if (!problems_.empty()) r.warning = "skipped " + problems_;
  return r;
}

NetworkDriver::Interface* NetworkDriver::find_interface(std::string_view name) {
  for (Interface& i : interfaces_)
    if (i.name == name) return &i;
  return nullptr;
}

// Pass 1: which interface each line is, and its ifindex (its identity).
void NetworkDriver::identify_lines(MetricSink& sink) {
  for (Interface& i : interfaces_) i.seen = false;
  line_ifindex_.assign(lines_.size(), 0);
  size_t over_cap = 0;
  for (size_t k = 0; k < lines_.size(); ++k) {
    const std::string_view name = lines_[k].name;
    Interface* iface = find_interface(name);
    if (!iface) {
      if (!selected(options_, name)) continue;
      if (interfaces_.size() >= options_.max_interfaces) {
        ++over_cap;
        continue;
      }
      iface = &add_interface(sink, name);
    }
    // An interface gone between the two reads is simply not sampled this time.
    if (!read_small(iface->path_ifindex)) continue;
    const auto index = parse_ifindex(std::string_view(small_, small_len_));
    if (!index) continue;
    line_ifindex_[k] = *index;
    iface->seen = true;
  }
  if (over_cap) problem("interfaces over max_interfaces not published", over_cap);
}

// Pass 2: sample. A name now held by another device (a different ifindex)
// starts over; a device that was renamed keeps its previous reading.
void NetworkDriver::sample_lines(MetricSink& sink, int64_t now_ns) {
  for (size_t k = 0; k < lines_.size(); ++k) {
    if (line_ifindex_[k] == 0) continue;
    Interface* iface = find_interface(lines_[k].name);
    if (!iface) continue;
    const uint32_t index = line_ifindex_[k];
    if (iface->have_last && iface->ifindex != index) iface->have_last = false;
    if (!iface->have_last) {
      for (const Interface& old : interfaces_) {
        if (&old != iface && old.present && !old.seen && old.have_last && old.ifindex == index) {
          iface->last = old.last;
          iface->last_ns = old.last_ns;
          iface->have_last = true;
          break;
        }
      }
    }
    iface->ifindex = index;
    sample(sink, *iface, lines_[k].counters, now_ns);
  }
}

// Pass 3: an interface that is gone says its link is down and has no rate;
// then it is not sent again until it comes back.
void NetworkDriver::leave_gone(MetricSink& sink) {
  for (Interface& i : interfaces_) {
    if (i.seen) {
      i.present = true;
      continue;
    }
    if (i.present) {
      sink.put(i.link_up, false);
      sink.put(i.rx_rate, Value{});
      sink.put(i.tx_rate, Value{});
    }
    i.present = false;
    i.have_last = false;
  }
}

}  // namespace classroom::drivers::network
