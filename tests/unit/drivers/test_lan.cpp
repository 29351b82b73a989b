// The LAN driver: neighbour and route replies (synthetic rtnetlink fixtures),
// lease files of dnsmasq, ISC dhcpd and Kea (good and garbled), the
// self-contained HMAC-SHA256, and the privacy of what it publishes.
#include <catch2/catch.hpp>
#include <concepts>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "../map_sink.hpp"
#include "../netlink_replay.hpp"
#include "../temp_dir.hpp"
#include "lan/lan_driver.hpp"
#include "lan/leases.hpp"
#include "lan/neighbours.hpp"
#include "lan/sha256.hpp"

using namespace classroom::drivers;
using namespace classroom::drivers::lan;

// A key added to Settings reaches the driver without make() copying it.
static_assert(std::is_base_of_v<Settings, Options>);
// Made from Settings only when asked, and never compared as if it were them.
static_assert(!std::is_convertible_v<Settings, Options>);
static_assert(!std::equality_comparable<Options>);

namespace {

constexpr int64_t kNow = 1704110400;  // 2024-01-01 12:00:00 UTC

std::string lease_file(const std::string& name) {
  std::ifstream in(std::string(FIXTURES_DIR) + "/leases/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hex(const Digest& d, size_t bytes = 32) {
  static const char* x = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    out += x[d[i] >> 4];
    out += x[d[i] & 15];
  }
  return out;
}
std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The fixtures' interfaces: 5 is the classroom, 2 the uplink, 6 a guest net.
unsigned fake_index(const char* name) {
  if (std::strcmp(name, "br-lan") == 0) return 5;
  if (std::strcmp(name, "wan0") == 0) return 2;
  return 0;
}
char* fake_name(unsigned index, char* out) {
  const char* name = index == 5 ? "br-lan" : index == 2 ? "wan0" : nullptr;
  if (!name) return nullptr;
  std::strcpy(out, name);
  return out;
}

struct Rig {
  ReplayTransport* t = nullptr;
  std::unique_ptr<LanDriver> driver;
  MapSink sink;
  explicit Rig(Options o) {
    auto transport = std::make_unique<ReplayTransport>();
    t = transport.get();
    o.index_of = fake_index;
    o.name_of = fake_name;
    o.now = [] { return kNow; };
    driver = std::make_unique<LanDriver>(std::move(o), std::move(transport));
  }
};

}  // namespace

TEST_CASE("lan: SHA-256 matches the FIPS 180-2 examples", "[lan]") {
  CHECK(hex(sha256(bytes(""))) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(sha256(bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(sha256(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(bytes(chunk));
  CHECK(hex(million.finish()) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Lengths around the padding boundary, fed in odd pieces: same as in one go.
  for (size_t n : {55u, 56u, 63u, 64u, 65u, 119u, 120u}) {
    const std::string s(n, 'x');
    Sha256 pieces;
    for (size_t i = 0; i < n; i += 7) pieces.update(bytes(std::string_view(s).substr(i, 7)));
    CHECK(pieces.finish() == sha256(bytes(s)));
  }
}

TEST_CASE("lan: HMAC-SHA256 matches the RFC 4231 test vectors", "[lan]") {
  auto hmac = [](std::string key, std::string data) {
    return hex(HmacSha256(bytes(key))(bytes(data)));
  };
  // Test case 1
  CHECK(hmac(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // 2
  CHECK(hmac("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // 3
  CHECK(hmac(std::string(20, '\xaa'), std::string(50, '\xdd')) ==
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  // 4
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4 += static_cast<char>(i);
  CHECK(hmac(key4, std::string(50, '\xcd')) ==
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // 5: truncated to 128 bits
  CHECK(hmac(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32) ==
        "a3b6167473100ee06e0c796c2955552b");
  // 6: a key longer than a block
  CHECK(hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // 7
  CHECK(hmac(std::string(131, '\xaa'),
             "This is a test using a larger than block-size key and a larger than block-size "
             "data. The key needs to be hashed before being used by the HMAC algorithm.") ==
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_CASE("lan: neighbour entries from an rtnetlink dump", "[lan]") {
  std::vector<uint8_t> b = read_fixture("rtnl-neighbours.bin");
  netlink::MessageReader reader(b);
  netlink::Message m;
  int parsed = 0, devices = 0, reachable = 0;
  while (reader.next(m)) {
    auto n = parse_neighbour(m);
    if (!n) continue;
    ++parsed;
    CHECK(n->lladdr_len == 6);
    CHECK_FALSE(n->truncated);
    if (n->ifindex == 5 && counts_as_device(n->state)) ++devices;
    if (n->ifindex == 5 && is_reachable(n->state)) ++reachable;
  }
  CHECK(parsed == 9);   // 11 entries: one without lladdr, one proxy
  CHECK(devices == 5);  // entries, not yet devices: aa:01 has two
  CHECK(reachable == 1);
  CHECK_FALSE(reader.truncated());
}

TEST_CASE("lan: the default route's interface", "[lan]") {
  std::vector<uint8_t> b = read_fixture("rtnl-routes.bin");
  netlink::MessageReader reader(b);
  netlink::Message m;
  std::vector<uint32_t> oifs;
  while (reader.next(m))
    if (auto oif = parse_default_route(m)) oifs.push_back(*oif);
  CHECK(oifs == std::vector<uint32_t>{2, 2});  // IPv4 and IPv6; not table 1000's
}

TEST_CASE("lan: devices on a listed interface, IPv4 and IPv6 together", "[lan]") {
  Options o;
  o.interfaces = {"br-lan"};
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(r.warning.empty());
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices") == 4);
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices Reachable") == 1);
  CHECK_FALSE(rig.sink.has("LAN/wan0/Devices"));
  CHECK_FALSE(rig.sink.has("LAN/br-lan/Inventory"));  // opt-in only
}

TEST_CASE("lan: without a list, every interface but the uplink", "[lan]") {
  Rig rig(Options{});
  rig.t->script = {read_fixture("rtnl-neighbours.bin"), read_fixture("rtnl-routes.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices") == 4);
  CHECK_FALSE(rig.sink.has("LAN/wan0/Devices"));  // the default route goes there
  // Said in the collection that starts counting, for the scheduler to log once.
  CHECK(r.note == "counting devices on br-lan (no default route through it)");
}

TEST_CASE("lan: a listed interface that is missing is a warning", "[lan]") {
  Options o;
  o.interfaces = {"br-lan", "br-guest"};
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("interface br-guest not found"));
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices") == 4);
  CHECK_FALSE(rig.sink.measured("LAN/br-guest/Devices"));
}

TEST_CASE("lan: a truncated neighbour dump counts what came before the cut", "[lan]") {
  Options o;
  o.interfaces = {"br-lan"};
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours-truncated.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("cut-short neighbour reply"));
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices") == 3);
  CHECK(rig.sink.get<uint64_t>("LAN/br-lan/Devices Reachable") == 1);
}

TEST_CASE("lan: the opt-in inventory publishes HMACs, never addresses", "[lan]") {
  Options o;
  o.interfaces = {"br-lan"};
  o.inventory = true;
  o.secret = "classroom-site-secret-0001";
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours.bin")};
  CHECK(rig.driver->collect(rig.sink).ok);
  // Computed independently: python3 hmac.new(secret, b"02:ca:00:00:aa:01", sha256).
  CHECK(rig.sink.get<std::string>("LAN/br-lan/Inventory") ==
        "82e198e14c08de56:reachable 9b7244f6cdfa7f1b:delay bffb56f9a9adbda4:stale "
        "ee34fd07bea207c8:probe");
  for (const auto& e : rig.sink.entries) {
    const std::string text = classroom::format_value(e.value);
    CHECK_THAT(text, !Catch::Contains("02:ca"));
    CHECK_THAT(text, !Catch::Contains("10.1.0"));
    CHECK_THAT(e.name, !Catch::Contains("02:ca"));
  }
}

TEST_CASE("lan: dnsmasq leases", "[lan][leases]") {
  LeaseParser p;
  LeaseCount c = p.count(LeaseFormat::dnsmasq, lease_file("dnsmasq.leases"), kNow);
  CHECK(c.active == 4);  // one expired; 0 is infinite; the IPv6 lease counts
  CHECK(c.garbled == 0);
  c = p.count(LeaseFormat::dnsmasq, lease_file("dnsmasq-garbled.leases"), kNow);
  CHECK(c.active == 4);
  CHECK(c.garbled == 3);
  CHECK(c.first_garbled_line == 3);
  CHECK(p.count(LeaseFormat::dnsmasq, lease_file("dnsmasq.leases"), 0).active == 5);
}

TEST_CASE("lan: ISC dhcpd leases", "[lan][leases]") {
  LeaseParser p;
  const std::string text = lease_file("dhcpd.leases");
  LeaseCount c = p.count(LeaseFormat::isc, text, kNow);
  // .50 active, .51 expired, .52 never ends, .53 free then renewed (the last
  // block wins), .54 by epoch; host, failover and ia-na blocks are not leases.
  CHECK(c.active == 4);
  CHECK(c.garbled == 0);
  c = p.count(LeaseFormat::isc, lease_file("dhcpd-garbled.leases"), kNow);
  CHECK(c.active == 4);
  CHECK(c.garbled == 3);  // a bad address, a bad date, a block cut off at the end
  CHECK(c.first_garbled_line ==
        static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n') + 1));
  CHECK(p.count(LeaseFormat::isc, text, kNow + 3 * 3600).active == 1);  // only "never"

  int64_t t = 0;
  CHECK(parse_isc_time("2024/01/01", "12:00:00", t));
  CHECK(t == kNow);
  CHECK(parse_isc_time("2024/02/29", "00:00:00", t));
  CHECK(t == 1709164800);
  CHECK_FALSE(parse_isc_time("2024/13/01", "00:00:00", t));
  CHECK_FALSE(parse_isc_time("2024-01-01", "00:00:00", t));
}

TEST_CASE("lan: Kea memfile leases", "[lan][leases]") {
  LeaseParser p;
  LeaseCount c = p.count(LeaseFormat::kea, lease_file("kea-leases4.csv"), kNow);
  // .150 and .153 active, .151 expired then renewed, .152 declined, .154 deleted.
  CHECK(c.active == 3);
  CHECK(c.garbled == 0);
  c = p.count(LeaseFormat::kea, lease_file("kea-leases4-garbled.csv"), kNow);
  CHECK(c.active == 4);
  CHECK(c.garbled == 3);
  CHECK(c.first_garbled_line == 9);
  c = p.count(LeaseFormat::kea, lease_file("kea-leases6.csv"), kNow);
  CHECK(c.active == 1);
  // No header: nothing can be read.
  c = p.count(LeaseFormat::kea, "10.1.0.1,aa,,3600,1704114000,1,0,0,,0,,0\n", kNow);
  CHECK(c.active == 0);
  CHECK(c.garbled == 1);
}

TEST_CASE("lan: lease metrics per DHCP server, a garbled line is a warning without its content",
          "[lan][leases]") {
  TempDir dir;
  const std::string path = dir / "dhcpd.leases";
  {
    std::ofstream out(path);
    out << lease_file("dhcpd-garbled.leases");
  }
  Options o;
  o.interfaces = {"br-lan"};
  o.dhcp = {{"classroom", path, LeaseFormat::isc, 50},
            {"guests", dir / "missing.leases", LeaseFormat::dnsmasq, 0}};
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(rig.sink.get<uint64_t>("DHCP/classroom/Active Leases") == 4);
  CHECK(rig.sink.get<float>("DHCP/classroom/Pool Used") == Approx(8.0));
  CHECK(rig.sink.get<uint64_t>("DHCP/classroom/Garbled Lines") == 3);
  CHECK_FALSE(rig.sink.has("DHCP/guests/Pool Used"));  // no pool size
  CHECK_FALSE(rig.sink.measured("DHCP/guests/Active Leases"));
  CHECK_THAT(r.warning, Catch::Contains("3 unreadable lease blocks skipped in " + path));
  CHECK_THAT(r.warning, Catch::Contains("cannot read " + dir / "missing.leases"));
  CHECK_THAT(r.warning, !Catch::Contains("10.1.0"));
  CHECK_THAT(r.warning, !Catch::Contains("02:ca"));
}

TEST_CASE("lan: a lease file over the size bound is not read", "[lan][leases]") {
  TempDir dir;
  const std::string path = dir / "big.leases";
  {
    std::ofstream out(path);
    for (int i = 0; i < 2000; ++i) out << "0 02:ca:00:00:00:01 10.1.0.1 x *\n";
  }
  Options o;
  o.interfaces = {"br-lan"};
  o.max_lease_file = 4096;
  o.dhcp = {{"big", path, LeaseFormat::dnsmasq, 0}};
  Rig rig(o);
  rig.t->script = {read_fixture("rtnl-neighbours.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("is larger than"));
  CHECK_FALSE(rig.sink.measured("DHCP/big/Active Leases"));
}
