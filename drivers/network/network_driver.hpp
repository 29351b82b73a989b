// Interfaces and the uplink: per-interface traffic counters, rates, link state
// and speed, and which interface carries the default route.
//
// Read from <proc>/net/dev (64-bit counters, rtnl_link_stats64, on every
// architecture), <sys>/class/net/<if>/{ifindex,operstate,carrier,speed} and
// <proc>/net/route, <proc>/net/ipv6_route. Text files below configurable roots
// rather than rtnetlink, so every parser is a pure function tested on fixture
// trees, and `once` can be pointed at a captured gateway.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "file_buffer.hpp"
#include "network/netfs.hpp"

namespace classroom::drivers::network {

// What [sources.network] sets (read in network_config.cpp).
struct Settings {
  std::vector<std::string> include{"*"};  // glob patterns of interface names
  std::vector<std::string> exclude{"lo"};
  uint64_t max_interfaces = 64;  // published interfaces (present or gone) at most
  bool operator==(const Settings&) const = default;
};

// The settings, and what make() adds from [host].
struct Options : WithSettings<Settings> {
  using WithSettings::WithSettings;
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  // Monotonic time in nanoseconds; tests inject a fake one.
  std::function<int64_t()> monotonic_ns;
};

// True when `name` matches an include pattern and no exclude pattern.
bool selected(const Options& options, std::string_view name);

class NetworkDriver final : public Driver {
 public:
  explicit NetworkDriver(Options options);
  CollectResult collect(MetricSink& sink) override;

 private:
  struct Interface {
    std::string name;
    std::string path_ifindex, path_operstate, path_carrier, path_speed;
    MetricId rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0, rx_errors = 0,
             tx_errors = 0, rx_dropped = 0, tx_dropped = 0, rx_rate = 0, tx_rate = 0, link_up = 0,
             speed = 0;
    uint32_t ifindex = 0;
    bool seen = false;     // in this collection's /proc/net/dev
    bool present = false;  // published in the previous collection
    bool have_last = false;
    LinkCounters last;  // the previous reading, for rates
    int64_t last_ns = 0;
  };

  Interface& add_interface(MetricSink& sink, std::string_view name);
  // The steps of collect(): which interface each line of net/dev is, a sample
  // of each, and the interfaces that are gone.
  Interface* find_interface(std::string_view name);
  void identify_lines(MetricSink& sink);
  void sample_lines(MetricSink& sink, int64_t now_ns);
  void leave_gone(MetricSink& sink);
  void sample(MetricSink& sink, Interface& iface, const LinkCounters& now, int64_t now_ns);
  void sample_uplink(MetricSink& sink);
  // Reads a small file into `small_` (no allocation); false when unreadable.
  bool read_small(const std::string& path);
  // Reads `path` into buffer_ (a table longer than 4 MiB is cut at its last
  // whole line within that: a gateway with thousands of interfaces is not a
  // classroom's).
  bool read(const std::string& path) {
    const FileBuffer::Status s = buffer_.read(path.c_str());
    return s == FileBuffer::Status::ok || s == FileBuffer::Status::too_big;
  }
  void problem(const char* what, size_t count = 0);

  Options options_;
  std::string path_dev_, path_route_, path_ipv6_route_;
  FileBuffer buffer_{16 * 1024, 4 << 20};  // reused: no allocation per sample
  char small_[64];
  size_t small_len_ = 0;
  std::vector<NetDevLine> lines_;
  std::vector<uint32_t> line_ifindex_;
  std::vector<Interface> interfaces_;  // every interface ever published
  std::string problems_;
  bool declared_ = false;

  MetricId uplink_ = 0, uplink_changes_ = 0;
  std::string uplink_name_;
  bool have_uplink_ = false;
  uint64_t changes_ = 0;
};

}  // namespace classroom::drivers::network
