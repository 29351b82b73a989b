// "No allocation per sample in the hot path", checked: once warm, a whole
// sampling cycle (system driver on the live /proc, catalog, batch encoding,
// spool append) performs no heap allocation. This binary replaces the global
// operator new with a counting one, so it stands apart from the unit tests.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "../temp_dir.hpp"
#include "catalog/catalog.hpp"
#include "session/sparkplug.hpp"
#include "spool/spool.hpp"
#include "system/system_driver.hpp"
// network gateway case
#include <fcntl.h>
#include <unistd.h>
#include <cstdio>
#include "nat/nat_driver.hpp"
#include "network/network_driver.hpp"

#include <cstring>
#include <fstream>

#include "../netlink_replay.hpp"
#include "lan/lan_driver.hpp"
#include "wifi/wifi_driver.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

// GCC sees free() on memory from "operator new" and cannot tell that this
// operator new is malloc itself.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

using namespace classroom;

TEST_CASE("a warm sampling cycle allocates nothing") {
  TempDir dir;
  FakeClock clock;
  drivers::system::Options o;
  o.proc_root = "/proc";  // live values: they change every cycle, as in production
  o.sys_root = std::string(FIXTURES_DIR) + "/sys-synthetic-sensors";
  o.mounts = {"/"};
  drivers::system::SystemDriver driver(o);
  Catalog catalog;
  Spool spool(SpoolOptions{dir / "spool", 64u << 20, 0, false, 1000}, clock);
  REQUIRE(spool.open().empty());
  sparkplug::Payload payload;
  std::string bytes;

  auto cycle = [&] {
    const int64_t now = clock.wall_ms();
    catalog.set_time(now);
    driver.collect(catalog);
    sparkplug::build_record(payload, catalog, catalog.changed(), now);
    catalog.clear_changed();
    payload.SerializeToString(&bytes);
    REQUIRE(spool.append(bytes, now) != 0);
    spool.maintain();
    clock.advance(10'000);
  };
  for (int i = 0; i < 5; ++i) cycle();  // declarations, first buffers
  const long before = g_allocations.load();
  for (int i = 0; i < 300; ++i) cycle();
  const long during = g_allocations.load() - before;
  INFO(during << " allocations in 300 cycles");
  CHECK(during == 0);
  CHECK(spool.stats().pending == 305);
}

// A gateway with 20 interfaces (the net-gateway fixture, lo excluded) whose
// counters grow every cycle, plus NAT: the network and nat drivers, catalog,
// encoding and spool append allocate nothing once warm.
TEST_CASE("a warm network cycle on a 20-interface gateway allocates nothing") {
  TempDir dir;
  std::filesystem::copy(std::string(FIXTURES_DIR) + "/net-gateway", dir / "gw",
                        std::filesystem::copy_options::recursive);
  const std::string dev_path = dir / "gw/proc/net/dev";
  // The interface names of the fixture, in its order.
  static const char* const kNames[] = {
      "lo",       "eth0",      "eth1",      "wwan0",  "br-lan", "wlan0", "wlan1",
      "eth1.10",  "eth1.20",   "eth1.30",   "wg0",    "tun0",   "eth2",  "eth3",
      "br-guest", "veth-cam0", "veth-cam1", "dummy0", "ifb0",   "usb0",  "ppp0"};
  static char text[8192];
  // Rewrites net/dev as the kernel prints it, every counter moved by `step`.
  auto write_dev = [&](unsigned long long step) {
    int n = std::snprintf(text, sizeof text,
                          "Inter-|   Receive                                                |  "
                          "Transmit\n face |bytes    packets errs drop fifo frame compressed "
                          "multicast|bytes    packets errs drop fifo colls carrier compressed\n");
    for (const char* name : kNames)
      n += std::snprintf(text + n, sizeof text - n,
                         "%6s:%8llu %7llu %4llu %4llu    0     0          0         0 %8llu %7llu "
                         "%4llu %4llu    0     0       0          0\n",
                         name, 1000000 + step * 1500, 1000 + step, step / 100, step / 50,
                         2000000 + step * 700, 2000 + step, step / 200, step / 300);
    int fd = ::open(dev_path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text, static_cast<size_t>(n)) == n);
    ::close(fd);
  };

  FakeClock clock;
  int64_t mono_ns = 0;
  drivers::network::Options no;
  no.proc_root = dir / "gw/proc";
  no.sys_root = dir / "gw/sys";
  no.monotonic_ns = [&mono_ns] { return mono_ns; };
  drivers::network::NetworkDriver network(no);
  drivers::nat::Options nato;
  nato.proc_root = dir / "gw/proc";
  drivers::nat::NatDriver nat(nato);
  Catalog catalog;
  Spool spool(SpoolOptions{dir / "spool", 64u << 20, 0, false, 1000}, clock);
  REQUIRE(spool.open().empty());
  sparkplug::Payload payload;
  std::string bytes;

  unsigned long long step = 0;
  size_t changed = 0;
  auto cycle = [&] {
    write_dev(++step);
    mono_ns += 10'000'000'000;
    const int64_t now = clock.wall_ms();
    catalog.set_time(now);
    REQUIRE(network.collect(catalog).ok);
    REQUIRE(nat.collect(catalog).ok);
    changed = catalog.changed().size();
    sparkplug::build_record(payload, catalog, catalog.changed(), now);
    catalog.clear_changed();
    payload.SerializeToString(&bytes);
    REQUIRE(spool.append(bytes, now) != 0);
    spool.maintain();
    clock.advance(10'000);
  };
  for (int i = 0; i < 5; ++i) cycle();  // declarations, first buffers
  REQUIRE(catalog.size() == 20 * 12 + 2 + 3);
  const long before = g_allocations.load();
  for (int i = 0; i < 300; ++i) cycle();
  const long during = g_allocations.load() - before;
  INFO(during << " allocations in 300 cycles");
  CHECK(during == 0);
  // Every cycle moved the bytes and packets of every interface: the batch
  // carried them (errors and drops move every 50 to 300 cycles, the rates
  // only when they change).
  CHECK(changed >= 20 * 4);
}

namespace {
unsigned lan_index(const char* name) {
  return std::string_view(name) == "br-lan" ? 5 : 0;
}
char* lan_name(unsigned index, char* out) {
  if (index != 5) return nullptr;
  std::strcpy(out, "br-lan");
  return out;
}
}  // namespace

TEST_CASE("a warm LAN and Wi-Fi cycle with 500 neighbours allocates nothing") {
  TempDir dir;
  {
    std::ofstream leases(dir / "dnsmasq.leases");
    for (int i = 0; i < 500; ++i)
      leases << "0 02:ca:00:00:" << std::hex << (i >> 8) << ":" << (i & 255) << std::dec << " 10.1."
             << (i >> 8) << "." << (i & 255) << " tablet *\n";
  }
  auto lan_transport = std::make_unique<ReplayTransport>();
  lan_transport->script = {neighbour_dump(500, 5)};
  drivers::lan::Options lo;
  lo.interfaces = {"br-lan"};
  lo.index_of = lan_index;
  lo.name_of = lan_name;
  lo.dhcp = {{"classroom", dir / "dnsmasq.leases", drivers::lan::LeaseFormat::dnsmasq, 600}};
  drivers::lan::LanDriver lan(lo, std::move(lan_transport));

  auto wifi_transport = std::make_unique<ReplayTransport>();
  ReplayTransport& wt = *wifi_transport;
  wt.script = {read_fixture("ctrl-nl80211.bin"), read_fixture("nl80211-interfaces.bin"),
               read_fixture("nl80211-stations.bin"), read_fixture("nl80211-survey.bin")};
  wt.restart_at = 1;  // the family is looked up once
  drivers::wifi::Options wo;
  wo.interfaces = {"wlan0"};
  drivers::wifi::WifiDriver wifi(wo, std::move(wifi_transport));

  Catalog catalog;
  auto cycle = [&] {
    REQUIRE(lan.collect(catalog).ok);
    REQUIRE(wifi.collect(catalog).ok);
    catalog.clear_changed();
  };
  for (int i = 0; i < 5; ++i) cycle();  // declarations, first buffers
  const long before = g_allocations.load();
  for (int i = 0; i < 300; ++i) cycle();
  const long during = g_allocations.load() - before;
  INFO(during << " allocations in 300 cycles");
  CHECK(during == 0);
  const auto devices = catalog.find("LAN/br-lan/Devices");
  REQUIRE(devices);
  CHECK(std::get<uint64_t>(catalog.at(*devices).value) == 500);
  CHECK(std::get<uint64_t>(catalog.at(*catalog.find("DHCP/classroom/Active Leases")).value) == 500);
  CHECK(std::get<uint64_t>(catalog.at(*catalog.find("WiFi/wlan0/Stations")).value) == 6);
}

// ---- the status snapshot, filled on the loop ----
#include "../../support/fake_mqtt_client.hpp"
#include "devices/device_runner.hpp"
#include "scheduler/scheduler.hpp"
#include "session/uplink.hpp"
#include "status/status_server.hpp"

// The loop's part of `classroom-agent status`: filling the snapshot from the
// uplink (here unreachable, with its error), spool, scheduler (one source
// failing) and catalog, and handing it over, allocates nothing once warm.
TEST_CASE("a warm status snapshot fill allocates nothing") {
  TempDir dir;
  FakeClock clock;
  test_support::FakeClient client;
  client.record = false;  // allocates nothing
  Catalog catalog;
  Spool spool(SpoolOptions{dir / "spool", 64u << 20, 0, false, 1000}, clock);
  REQUIRE(spool.open().empty());
  UplinkOptions uo;
  uo.group = "school";
  uo.node = "room";
  uo.servers = {"tcp://a:1883"};
  uo.client_id = "school-room";
  uo.receipt_topic = "r";
  uo.bdseq_path = dir / "bdseq";
  Uplink uplink(uo, client, catalog, spool, clock);
  Scheduler scheduler(clock);
  scheduler.add("system", 1000, [](int64_t) { return drivers::CollectResult{}; });
  scheduler.add("lan", 1000, [](int64_t) {
    static const std::string why = "cannot read /proc/net/arp: No such file or directory";
    drivers::CollectResult r;
    r.ok = false;
    r.error = why;
    return r;
  });
  std::vector<config::SnmpDevice> none;
  DeviceRunner devices(none, catalog, [] {});
  config::Config cfg;
  cfg.identity = {"school", "room"};
  cfg.status.socket = dir / "status.sock";
  status::Server server(cfg, clock);
  REQUIRE(server.serving());
  uplink.poll();
  uplink.handle({mqtt::Event::Kind::connect_failed, "Connection refused", 1, {}, {}});
  std::string record = "x";
  long during = 0;  // in update() only: a failing job's error string is the job's own
  auto cycle = [&] {
    scheduler.run_due();
    spool.append(record, clock.wall_ms());
    const long before = g_allocations.load();
    server.update({uplink, spool, scheduler, devices, catalog, 0, std::nullopt});
    during += g_allocations.load() - before;
    clock.advance(1000);
  };
  for (int i = 0; i < 5; ++i) cycle();
  during = 0;
  for (int i = 0; i < 300; ++i) cycle();
  INFO(during << " allocations in 300 fills");
  CHECK(during == 0);
  CHECK(server.filled().sources.size() == 2);
  CHECK(server.filled().sources[1].failures > 0);
  CHECK(server.filled().pending == 305);
}

// The same with a primary host whose STATE said online,
// the uplink online (what every gateway with `primary_host` shows all day).
TEST_CASE("a warm status snapshot fill with a primary host online allocates nothing") {
  TempDir dir;
  FakeClock clock;
  test_support::FakeClient client;
  client.record = false;  // allocates nothing
  Catalog catalog;
  Spool spool(SpoolOptions{dir / "spool", 64u << 20, 0, false, 1000}, clock);
  REQUIRE(spool.open().empty());
  UplinkOptions uo;
  uo.group = "school";
  uo.node = "room";
  uo.servers = {"tcp://a:1883"};
  uo.client_id = "school-room";
  uo.receipt_topic = "r";
  uo.bdseq_path = dir / "bdseq";
  uo.primary_host = "scada";
  Uplink uplink(uo, client, catalog, spool, clock);
  Scheduler scheduler(clock);
  scheduler.add("system", 1000, [](int64_t) { return drivers::CollectResult{}; });
  std::vector<config::SnmpDevice> none;
  DeviceRunner devices(none, catalog, [] {});
  config::Config cfg;
  cfg.identity = {"school", "room"};
  cfg.status.socket = dir / "status.sock";
  status::Server server(cfg, clock);
  REQUIRE(server.serving());
  uplink.poll();
  using K = mqtt::Event::Kind;
  uplink.handle({K::connected, {}, 1, {}, {}});
  for (int ack = 0; ack < 3; ++ack)  // SUBACKs of NCMD, DCMD and the STATE
    uplink.handle({K::subscribed, {}, 0, {}, {}});
  uplink.handle(
      {K::message, {}, 0, "spBv1.0/STATE/scada", R"({"online":true,"timestamp":1700000000000})"});
  REQUIRE(uplink.online());
  long during = 0;
  auto cycle = [&] {
    scheduler.run_due();
    const long before = g_allocations.load();
    server.update({uplink, spool, scheduler, devices, catalog, 0, std::nullopt});
    during += g_allocations.load() - before;
    clock.advance(1000);
  };
  for (int i = 0; i < 5; ++i) cycle();
  during = 0;
  for (int i = 0; i < 300; ++i) cycle();
  INFO(during << " allocations in 300 fills");
  CHECK(during == 0);
  CHECK(server.filled().host_state == "online (STATE timestamp 1700000000000)");
}

#include "../../support/uplink_rig.hpp"

// The uplink's part of every sample: the batch read from the spool, its NDATA
// encoded and published, the receipt sent and its acknowledgement taken (the
// spool committing), once warm, allocates nothing.
TEST_CASE("a warm NDATA send with its receipt allocates nothing") {
  test_support::Rig rig;
  rig.come_online();
  rig.client.record = false;  // allocates nothing
  long during = 0;
  auto cycle = [&] {
    rig.sample();  // encoding the record is the sampling cycle's, above
    const uint64_t sent = rig.client.publishes;
    const long before = g_allocations.load();
    rig.uplink.poll();
    rig.uplink.handle({mqtt::Event::Kind::delivered, {}, rig.client.last_tag, {}, {}});
    during += g_allocations.load() - before;
    return rig.client.publishes - sent;
    rig.clock.advance(1000);
  };
  for (int i = 0; i < 5; ++i) cycle();  // the birth, first buffers
  during = 0;
  for (int i = 0; i < 300; ++i) REQUIRE(cycle() == 2);  // the NDATA and its receipt
  INFO(during << " allocations in 300 sends");
  CHECK(during == 0);
  CHECK(rig.spool.stats().pending == 0);
  CHECK(rig.uplink.waiting(15'000) == 0);
}

// The same for a device's data (DDATA), batched by the real Batcher.
TEST_CASE("a warm DDATA send with its receipt allocates nothing") {
  test_support::DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId rx = rig.metric(sw, "Interfaces/1/Rx Bytes");
  rig.batcher.presence(sw, true);
  rig.come_online();
  rig.client.record = false;  // allocates nothing
  long during = 0;
  uint64_t value = 0;
  auto cycle = [&] {
    rig.put(rx, ++value);
    rig.flush();   // the device's record into the spool: the sampling's side
    rig.sample();  // and the node's, as every interval has
    const uint64_t sent = rig.client.publishes;
    const long before = g_allocations.load();
    rig.uplink.poll();
    rig.uplink.handle({mqtt::Event::Kind::delivered, {}, rig.client.last_tag, {}, {}});
    during += g_allocations.load() - before;
    rig.clock.advance(1000);
    return rig.client.publishes - sent;
  };
  for (int i = 0; i < 5; ++i) cycle();  // the births, first buffers
  during = 0;
  for (int i = 0; i < 300; ++i) REQUIRE(cycle() == 3);  // the DDATA, the NDATA, the receipt
  INFO(during << " allocations in 300 sends");
  CHECK(during == 0);
  CHECK(rig.spool.stats().pending == 0);
}
