// [sources.wifi] and [sources.lan]: defaults, every key, and the inventory's
// site secret checks (missing, too short, open to others) with the fix named.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../temp_dir.hpp"
#include "config.hpp"
#include "config_text.hpp"
#include "lan/lan_config.hpp"
#include "wifi/wifi_config.hpp"

using namespace classroom::config;
using LanSettings = classroom::drivers::lan::Settings;
using WifiSettings = classroom::drivers::wifi::Settings;
using classroom::drivers::lan::LeaseFormat;

namespace {

const Source& source(const LoadResult& r, std::string_view name) {
  REQUIRE(r.config);
  const Source* s = r.config->source(name);
  REQUIRE(s);
  return *s;
}

LoadResult load(const std::string& extra) {
  return testing::load_with(extra, "/etc/classroom-agent/agent.toml");
}

std::string errors_of(const LoadResult& r) {
  return testing::errors_text(r);
}

}  // namespace

TEST_CASE("wifi and lan are off without their tables, on with them", "[config]") {
  LoadResult r = load("");
  REQUIRE(r.config);
  CHECK_FALSE(source(r, "wifi").enabled);
  CHECK_FALSE(source(r, "lan").enabled);

  // The issue's minimal config.
  r = load(
      "[sources.lan]\ninterval = \"30s\"\ninterfaces = [\"br-lan\"]\n[sources.wifi]\n"
      "interval = \"30s\"\n");
  INFO(errors_of(r));
  REQUIRE(r.config);
  CHECK(source(r, "wifi").enabled);
  CHECK(source(r, "wifi").interval == milliseconds(30'000));
  const WifiSettings& wifi = source(r, "wifi").settings_as<WifiSettings>();
  CHECK(wifi.interfaces.empty());
  CHECK(wifi.weak_signal == -75);
  CHECK(source(r, "lan").enabled);
  const LanSettings& lan = source(r, "lan").settings_as<LanSettings>();
  CHECK(lan.interfaces == std::vector<std::string>{"br-lan"});
  CHECK_FALSE(lan.inventory);
  CHECK(lan.dhcp.empty());

  r = load("[sources.wifi]\nenabled = false\n[sources.lan]\nenabled = false\n");
  CHECK_FALSE(source(r, "wifi").enabled);
  CHECK_FALSE(source(r, "lan").enabled);
}

TEST_CASE("every wifi and lan key is read", "[config]") {
  LoadResult r = load(R"(
[sources.wifi]
interval = "1m"
interfaces = ["wlan0", "wlan1"]
weak_signal = -70
[sources.lan]
interval = "10s"
interfaces = ["br-lan"]
[[sources.lan.dhcp]]
name = "classroom"
file = "leases/dnsmasq.leases"
format = "dnsmasq"
pool_size = 100
[[sources.lan.dhcp]]
name = "staff"
file = "/var/lib/kea/kea-leases4.csv"
format = "kea"
)");
  INFO(errors_of(r));
  REQUIRE(r.config);
  CHECK(source(r, "wifi").interval == milliseconds(60'000));
  const WifiSettings& wifi = source(r, "wifi").settings_as<WifiSettings>();
  CHECK(wifi.interfaces.size() == 2);
  CHECK(wifi.weak_signal == -70);
  const LanSettings& lan = source(r, "lan").settings_as<LanSettings>();
  REQUIRE(lan.dhcp.size() == 2);
  CHECK(lan.dhcp[0].name == "classroom");
  CHECK(lan.dhcp[0].file ==
        "/etc/classroom-agent/leases/dnsmasq.leases");  // relative to the config
  CHECK(lan.dhcp[0].format == LeaseFormat::dnsmasq);
  CHECK(lan.dhcp[0].pool_size == 100);
  CHECK(lan.dhcp[1].format == LeaseFormat::kea);
  CHECK(lan.dhcp[1].pool_size == 0);
}

TEST_CASE("wifi and lan mistakes are explained", "[config]") {
  auto one = [](const std::string& extra) {
    LoadResult r = load(extra);
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    return r.errors.front().to_string();
  };
  CHECK_THAT(one("[sources.wifi]\nweak_signal = 10\n"),
             Catch::Contains("sources.wifi.weak_signal: 10 is out of range; allowed -120 to 0"));
  CHECK_THAT(one("[sources.wifi]\nweak_signal = \"-75\"\n"),
             Catch::Contains("expected a whole number"));
  CHECK_THAT(one("[sources.lan]\ninterfaces = [\"br/lan\"]\n"),
             Catch::Contains("sources.lan.interfaces[0]: \"br/lan\" is not an interface name"));
  CHECK_THAT(one("[sources.lan]\ninterface = [\"br-lan\"]\n"),
             Catch::Contains("sources.lan.interface: unknown key"));
  CHECK_THAT(one("[[sources.lan.dhcp]]\nname = \"a\"\nfile = \"/x\"\nformat = \"udhcpd\"\n"),
             Catch::Contains("sources.lan.dhcp[0].format: \"udhcpd\" is not a lease file format"));
  CHECK_THAT(one("[[sources.lan.dhcp]]\nname = \"a\"\nformat = \"isc\"\n"),
             Catch::Contains("sources.lan.dhcp[0].file: missing"));
  CHECK_THAT(one("[[sources.lan.dhcp]]\nname = \"a\"\nfile = \"/x\"\nformat = \"isc\"\n"
                 "pool_size = 0\n"),
             Catch::Contains("sources.lan.dhcp[0].pool_size: 0 is out of range"));
  CHECK_THAT(one("[[sources.lan.dhcp]]\nname = \"a\"\nfile = \"/x\"\nformat = \"isc\"\n"
                 "[[sources.lan.dhcp]]\nname = \"a\"\nfile = \"/y\"\nformat = \"isc\"\n"),
             Catch::Contains("\"a\" is used twice"));
  CHECK_THAT(one("[sources.lan]\ndhcp = \"x\"\n"),
             Catch::Contains("expected [[sources.lan.dhcp]]"));
}

TEST_CASE("the inventory needs a private site secret", "[config]") {
  TempDir dir;
  const std::string secret = dir / "site.secret";
  const std::string lan =
      "[sources.lan]\ninventory = true\ninventory_secret_file = \"" + secret + "\"\n";
  auto write = [&](const std::string& text, mode_t mode) {
    std::ofstream(secret) << text;
    REQUIRE(::chmod(secret.c_str(), mode) == 0);
  };

  SECTION("none named") {
    LoadResult r = load("[sources.lan]\ninventory = true\n");
    REQUIRE_FALSE(r.config);
    CHECK_THAT(errors_of(r), Catch::Contains("sources.lan.inventory: needs inventory_secret_file"));
    CHECK_THAT(errors_of(r), Catch::Contains("chmod 600"));
  }
  SECTION("missing") {
    LoadResult r = load(lan);
    REQUIRE_FALSE(r.config);
    CHECK_THAT(errors_of(r), Catch::Contains("sources.lan.inventory_secret_file: cannot read " +
                                             secret + " (No such file or directory)"));
    CHECK_THAT(errors_of(r), Catch::Contains("chmod 600 " + secret));
  }
  SECTION("readable by others") {
    write("0123456789abcdef0123456789abcdef\n", 0644);
    LoadResult r = load(lan);
    REQUIRE_FALSE(r.config);
    CHECK_THAT(errors_of(r), Catch::Contains(secret + " is open to group or others (mode 0644)"));
    CHECK_THAT(errors_of(r), Catch::Contains("fix it with `chmod 600 " + secret + "`"));
  }
  SECTION("readable by the group") {
    write("0123456789abcdef0123456789abcdef\n", 0640);
    CHECK_THAT(errors_of(load(lan)), Catch::Contains("chmod 600 " + secret));
  }
  SECTION("too short") {
    write("short\n", 0600);
    LoadResult r = load(lan);
    REQUIRE_FALSE(r.config);
    CHECK_THAT(errors_of(r), Catch::Contains(secret + " holds 5 bytes; at least 16 are needed"));
  }
  SECTION("good; the trailing newline is not part of it") {
    write("0123456789abcdef0123456789abcdef\n", 0600);
    LoadResult r = load(lan);
    INFO(errors_of(r));
    REQUIRE(r.config);
    std::string value;
    CHECK(read_secret_file(secret, &value, kMinSiteSecretBytes).empty());
    CHECK(value == "0123456789abcdef0123456789abcdef");
  }
  SECTION("not checked while inventory is off") {
    LoadResult r = load("[sources.lan]\ninventory_secret_file = \"" + secret + "\"\n");
    CHECK(r.config);
  }
}
