// [[devices.snmp]]: what a valid device looks like, and every mistake named.
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <fstream>

#include "../temp_dir.hpp"
#include "config.hpp"
#include "config_text.hpp"

using namespace classroom::config;

namespace {

std::string base(const std::string& dir) {
  return "[identity]\ngroup = \"g\"\nnode = \"n\"\n[broker]\nservers = [\"tcp://127.0.0.1:1883\"]\n"
         "[state]\ndir = \"" +
         dir + "\"\n";
}

void secret(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string errors(const LoadResult& r) {
  std::string s;
  for (const Error& e : r.errors) s += e.to_string() + "\n";
  return s;
}

}  // namespace

TEST_CASE("devices config: the issue's minimal config loads, secrets from files") {
  TempDir dir;
  secret(dir / "community", "public-6a\n", 0600);
  secret(dir / "auth", "auth-pass-6a\n", 0400);
  secret(dir / "priv", "priv-pass-6a", 0600);
  const std::string text = base(dir.path) +
                           "[[devices.snmp]]\nname = \"switch-6a\"\naddress = \"10.0.6.2\"\n"
                           "version = \"2c\"\ncommunity_file = \"community\"\ninterval = \"30s\"\n"
                           "profiles = [\"system\", \"interfaces\", \"ups\"]\n"
                           "[[devices.snmp]]\nname = \"ap-6a\"\naddress = \"[fd00::3]:1161\"\n"
                           "version = \"3\"\nuser = \"monitor\"\nauth_protocol = \"SHA-256\"\n"
                           "auth_password_file = \"auth\"\npriv_protocol = \"AES\"\n"
                           "priv_password_file = \"priv\"\ninterval = \"30s\"\n"
                           "profiles = [\"system\", \"interfaces\"]\nmax_interfaces = 200\n";
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  INFO(errors(r));
  REQUIRE(r.config);
  const auto& d = r.config->devices.snmp;
  REQUIRE(d.size() == 2);
  CHECK(d[0].name == "switch-6a");
  CHECK(d[0].community == "public-6a");
  CHECK(d[0].ups);
  CHECK_FALSE(d[0].host);
  CHECK(d[0].interval.count() == 30'000);
  CHECK(d[0].retries == 2);
  CHECK(d[0].max_interfaces == 64);
  CHECK(d[1].max_interfaces == 200);
  CHECK(d[1].version == SnmpDevice::Version::v3);
  CHECK(d[1].auth == SnmpDevice::Auth::sha256);
  CHECK(d[1].auth_password == "auth-pass-6a");
  CHECK(d[1].priv);
  CHECK(d[1].priv_password == "priv-pass-6a");
  std::string host;
  int port = 0;
  REQUIRE(split_snmp_address(d[1].address, host, port));
  CHECK(host == "fd00::3");
  CHECK(port == 1161);
}

TEST_CASE("devices config: a secret others can read is refused with the chmod that fixes it") {
  TempDir dir;
  secret(dir / "community", "public", 0644);
  LoadResult r = testing::load_text(base(dir.path) +
                                        "[[devices.snmp]]\nname = \"sw\"\naddress = \"h\"\n"
                                        "community_file = \"community\"\n",
                                    dir / "agent.toml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].key == "devices.snmp[0].community_file");
  CHECK_THAT(r.errors[0].message, Catch::Contains("mode 0644"));
  CHECK_THAT(r.errors[0].message, Catch::Contains("chmod 600 " + (dir / "community")));
  CHECK_THAT(r.errors[0].message, !Catch::Contains("public"));
}

TEST_CASE("devices config: every mistake is named") {
  TempDir dir;
  secret(dir / "c", "x", 0600);
  secret(dir / "short", "short", 0600);
  secret(dir / "empty", "", 0600);
  const std::string text =
      base(dir.path) +
      "[[devices.snmp]]\nname = \"a/b\"\naddress = \"fd00::1\"\nversion = \"1\"\n"
      "[[devices.snmp]]\nname = \"ok\"\naddress = \"h:99999\"\ncommunity_file = \"missing\"\n"
      "profiles = [\"system\", \"wifi\"]\nretries = 11\ntimeout = \"1m\"\ninterval = \"10s\"\n"
      "max_interfaces = 0\n"
      "[[devices.snmp]]\nname = \"ok\"\naddress = \"h\"\ncommunity_file = \"c\"\nuser = \"u\"\n"
      "[[devices.snmp]]\nname = \"v3\"\naddress = \"h\"\nversion = \"3\"\n"
      "auth_protocol = \"MD5\"\nauth_password_file = \"short\"\npriv_protocol = \"DES\"\n"
      "[[devices.snmp]]\nname = \"e\"\naddress = \"h\"\ncommunity_file = \"empty\"\n"
      "community = \"inline\"\n";
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  const std::string all = errors(r);
  INFO(all);
  CHECK_FALSE(r.config);
  CHECK_THAT(all, Catch::Contains("devices.snmp[0].name: \"a/b\" is not a valid Sparkplug id"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[0].address: \"fd00::1\" is not an address"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[0].version: \"1\" is not supported"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[0].community_file: missing"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].address: \"h:99999\" is not an address"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].community_file: cannot read"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].profiles[1]: \"wifi\" is not a profile"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].retries: expected a whole number from 0 to 10"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].timeout: must be shorter than the interval"));
  CHECK_THAT(all, Catch::Contains(
                      "devices.snmp[1].max_interfaces: expected a whole number from 1 to 1024"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[2].name: \"ok\" names another device already"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[2].user: only for version = \"3\""));
  CHECK_THAT(all, Catch::Contains("devices.snmp[3].user: missing"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[3].auth_protocol: \"MD5\" is not supported"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[3].auth_password_file: the password in the file "
                                  "is shorter than 8 characters"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[3].priv_protocol: \"DES\" is not supported"));
  CHECK_THAT(all,
             Catch::Contains("devices.snmp[4].community_file: " + (dir / "empty") + " is empty"));
  // Secrets are never inline: the key does not exist.
  CHECK_THAT(all, Catch::Contains("devices.snmp[4].community: unknown key"));
}

TEST_CASE("devices config: SNMP addresses") {
  std::string host;
  int port = 0;
  CHECK(split_snmp_address("10.0.6.2", host, port));
  CHECK((host == "10.0.6.2" && port == 161));
  CHECK(split_snmp_address("switch-6a.school:1161", host, port));
  CHECK((host == "switch-6a.school" && port == 1161));
  CHECK(split_snmp_address("[::1]", host, port));
  CHECK((host == "::1" && port == 161));
  for (const char* bad : {"", ":161", "h:", "h:0", "h:65536", "::1", "[::1", "[]:1", "[::1]x",
                          "h h", "h/x", "[::1]:"})
    CHECK_FALSE(split_snmp_address(bad, host, port));
}
