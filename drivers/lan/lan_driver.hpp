// The classroom LAN: how many devices are on each classroom-side interface
// (the kernel's IPv4 and IPv6 neighbour tables over rtnetlink) and how full the
// DHCP pools are (the servers' lease files). Publishes counts only; with the
// opt-in inventory, devices keyed by HMAC-SHA256 of their MAC with a site
// secret. No MAC, IP or host name of a client is published or logged.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "driver.hpp"
#include "file_buffer.hpp"
#include "lan/leases.hpp"
#include "lan/sha256.hpp"
#include "netlink/netlink.hpp"

namespace classroom::drivers::lan {

struct DhcpOptions {
  std::string name;  // DHCP/<name>/...
  std::string file;
  LeaseFormat format = LeaseFormat::dnsmasq;
  uint64_t pool_size = 0;  // 0: no Pool Used
  bool operator==(const DhcpOptions&) const = default;
};

// What [sources.lan] sets (read in lan_config.cpp).
struct Settings {
  std::vector<std::string> interfaces;  // empty: every interface without a default route
  bool inventory = false;               // publish HMAC-keyed devices
  std::string inventory_secret_file;    // absolute (a relative one is made so)
  std::vector<DhcpOptions> dhcp;        // [[sources.lan.dhcp]]; files made absolute
  bool operator==(const Settings&) const = default;
};

// The settings, and what make() adds: the secret read from
// inventory_secret_file, or why the inventory is off.
struct Options : WithSettings<Settings> {
  using WithSettings::WithSettings;
  std::string secret;  // the HMAC key, when inventory is on
  // Why an inventory the config asked for is off (its secret could not be read).
  std::string inventory_off;
  size_t max_lease_file = 16u << 20;  // a bigger lease file is not read
  std::function<int64_t()> now;       // seconds since the epoch; default time()
  // The kernel's interface names (if_nametoindex/if_indextoname); tests map their own.
  unsigned (*index_of)(const char* name) = nullptr;
  char* (*name_of)(unsigned index, char* name) = nullptr;
};

// "LAN/<if>/Inventory": the HMAC of a MAC as published, 16 hex digits (the
// first 64 bits of HMAC-SHA256(secret, "aa:bb:cc:dd:ee:ff")).
std::string device_key(const HmacSha256& hmac, const uint8_t* lladdr, size_t length);

class LanDriver final : public Driver {
 public:
  // `transport`: the rtnetlink socket; nullptr opens the kernel's.
  explicit LanDriver(Options options, std::unique_ptr<netlink::Transport> transport = nullptr);
  CollectResult collect(MetricSink& sink) override;

 private:
  struct Entry {
    uint32_t ifindex;
    uint8_t length;
    std::array<uint8_t, 20> lladdr;
    uint8_t rank;  // 3 reachable, 2 delay, 1 probe, 0 stale
  };
  struct Iface {
    std::string name;
    uint32_t ifindex = 0;  // 0: not present now
    MetricId devices = 0, reachable = 0, inventory = 0;
  };
  struct Dhcp {
    DhcpOptions options;
    MetricId active = 0, pool_used = 0, garbled = 0;
  };
  struct Keyed {
    std::array<char, 16> key;
    uint8_t rank;
  };

  Iface& declare_iface(const std::string& name, MetricSink& sink);
  bool dump_neighbours();
  void find_auto_interfaces(MetricSink& sink);
  void publish_iface(Iface& iface, MetricSink& sink);
  bool read_leases(Dhcp& dhcp, MetricSink& sink);  // false: the file could not be read
  bool read_file(const std::string& path);
  void note(std::string_view what);

  Options options_;
  std::unique_ptr<netlink::Client> client_;
  int open_error_ = 0;
  std::unique_ptr<HmacSha256> hmac_;
  std::vector<std::unique_ptr<Iface>> ifaces_;
  std::vector<Dhcp> dhcp_;
  bool declared_ = false;
  // Reused every cycle: no allocation once warm.
  std::vector<Entry> entries_;
  std::vector<uint32_t> uplinks_;
  std::vector<Keyed> keyed_;
  std::string inventory_text_;
  FileBuffer buffer_;  // the lease file being counted
  std::string problems_;
  std::string started_;  // interfaces first counted in this collection
  LeaseParser leases_;
  int neighbour_error_ = 0;
  bool neighbour_truncated_ = false;
};

}  // namespace classroom::drivers::lan
