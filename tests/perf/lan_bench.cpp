// The cost of one sampling cycle of the LAN driver with 500 devices (each
// with an IPv4 entry, every other one with an IPv6 entry too: 750 neighbour
// entries) and a 500-lease dnsmasq file, with and without the HMAC inventory,
// and of the Wi-Fi driver on the nl80211 fixtures. The netlink replies are
// replayed from memory, so this measures the agent's parsing and counting,
// not the kernel. Run: build/tests/lan_bench
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "../unit/netlink_replay.hpp"
#include "catalog/catalog.hpp"
#include "lan/lan_driver.hpp"
#include "wifi/wifi_driver.hpp"

using namespace classroom;

namespace {
unsigned lan_index(const char* name) {
  return std::strcmp(name, "br-lan") == 0 ? 5 : 0;
}
char* lan_name(unsigned index, char* out) {
  if (index != 5) return nullptr;
  std::strcpy(out, "br-lan");
  return out;
}

template <typename F>
double micros_per_cycle(int cycles, F cycle) {
  for (int i = 0; i < 20; ++i) cycle();  // warm
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < cycles; ++i) cycle();
  const auto took = std::chrono::steady_clock::now() - start;
  return std::chrono::duration<double, std::micro>(took).count() / cycles;
}
}  // namespace

int main() {
  const std::string leases = (std::filesystem::temp_directory_path() /
                              ("lan_bench-" + std::to_string(::getpid()) + ".leases"))
                                 .string();
  {
    std::ofstream out(leases);
    for (int i = 0; i < 500; ++i)
      out << "1999999999 02:ca:00:00:" << std::hex << (i >> 8) << ":" << (i & 255) << std::dec
          << " 10.1." << (i >> 8) << "." << (i & 255) << " tablet-" << i << " *\n";
  }
  for (bool inventory : {false, true}) {
    auto transport = std::make_unique<ReplayTransport>();
    transport->script = {neighbour_dump(500, 5)};
    drivers::lan::Options o;
    o.interfaces = {"br-lan"};
    o.index_of = lan_index;
    o.name_of = lan_name;
    o.inventory = inventory;
    o.secret = "a-site-secret-of-32-characters!!";
    o.dhcp = {{"classroom", leases, drivers::lan::LeaseFormat::dnsmasq, 600}};
    drivers::lan::LanDriver lan(o, std::move(transport));
    Catalog catalog;
    const double us = micros_per_cycle(2000, [&] {
      lan.collect(catalog);
      catalog.clear_changed();
    });
    std::printf(
        "lan: 500 devices (750 neighbour entries) + 500 dnsmasq leases%s: %.1f us per cycle\n",
        inventory ? ", inventory on" : "", us);
  }
  std::filesystem::remove(leases);

  auto transport = std::make_unique<ReplayTransport>();
  transport->script = {read_fixture("ctrl-nl80211.bin"), read_fixture("nl80211-interfaces.bin"),
                       read_fixture("nl80211-stations.bin"), read_fixture("nl80211-survey.bin")};
  transport->restart_at = 1;
  drivers::wifi::WifiDriver wifi(drivers::wifi::Options{{"wlan0"}, -75}, std::move(transport));
  Catalog catalog;
  const double us = micros_per_cycle(20000, [&] {
    wifi.collect(catalog);
    catalog.clear_changed();
  });
  std::printf("wifi: one interface, 6 stations, 3 survey channels: %.1f us per cycle\n", us);
  return 0;
}
