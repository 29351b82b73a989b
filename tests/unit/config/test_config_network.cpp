// [sources.network] and [sources.nat]: defaults, the issue's minimal config,
// and every mistake named with its line.
#include <catch2/catch.hpp>

#include "config.hpp"
#include "config_text.hpp"
#include "network/network_config.hpp"

using namespace classroom::config;
using namespace std::chrono_literals;
using NetworkSettings = classroom::drivers::network::Settings;

namespace {

const Source& source(const LoadResult& r, std::string_view name) {
  REQUIRE(r.config);
  const Source* s = r.config->source(name);
  REQUIRE(s);
  return *s;
}

const NetworkSettings& network(const LoadResult& r) {
  return source(r, "network").settings_as<NetworkSettings>();
}

const std::string kBase = R"(
[identity]
group = "school-giangvo"
node  = "room-6a"
[broker]
servers = ["tcp://127.0.0.1:1883"]
[state]
dir = "/var/lib/classroom-agent"
)";

Error only_error(const std::string& text) {
  LoadResult r = testing::load_text(text, "agent.toml");
  REQUIRE_FALSE(r.config);
  INFO(r.errors.front().to_string());
  REQUIRE(r.errors.size() == 1);
  return r.errors.front();
}

}  // namespace

TEST_CASE("network and nat are off without their tables") {
  LoadResult r = testing::load_text(kBase, "agent.toml");
  REQUIRE(r.config);
  CHECK_FALSE(source(r, "network").enabled);
  CHECK_FALSE(source(r, "nat").enabled);
  CHECK(source(r, "network").interval == 10s);
  CHECK(network(r).include == std::vector<std::string>{"*"});
  CHECK(network(r).exclude == std::vector<std::string>{"lo"});
  CHECK(network(r).max_interfaces == 64);
  CHECK(source(r, "nat").interval == 30s);
}

TEST_CASE("the issue's minimal network and nat tables turn them on with defaults") {
  LoadResult r = testing::load_text(kBase +
                                        "[sources.network]\ninterval = \"10s\"\n"
                                        "[sources.nat]\ninterval = \"30s\"\n",
                                    "agent.toml");
  REQUIRE(r.errors.empty());
  CHECK(source(r, "network").enabled);
  CHECK(source(r, "nat").enabled);
  CHECK(network(r).exclude == std::vector<std::string>{"lo"});
  CHECK(source(r, "system").enabled);  // untouched
}

TEST_CASE("network: include, exclude, max_interfaces, enabled") {
  LoadResult r = testing::load_text(kBase + R"([sources.network]
enabled = false
interval = "5s"
include = ["eth*", "wwan[0-9]", "br-lan"]
exclude = []
max_interfaces = 8
[sources.nat]
enabled = false
)",
                                    "agent.toml");
  REQUIRE(r.errors.empty());
  CHECK_FALSE(source(r, "network").enabled);
  CHECK(source(r, "network").interval == 5s);
  const NetworkSettings& n = network(r);
  CHECK(n.include == std::vector<std::string>{"eth*", "wwan[0-9]", "br-lan"});
  CHECK(n.exclude.empty());
  CHECK(n.max_interfaces == 8);
  CHECK_FALSE(source(r, "nat").enabled);
}

TEST_CASE("network: bad patterns and numbers are named with their line") {
  Error e = only_error(kBase + "[sources.network]\ninclude = [\"eth0\", \"br/lan\"]\n");
  CHECK(e.key == "sources.network.include[1]");
  CHECK(e.line == 10);
  CHECK_THAT(e.message, Catch::Contains("not an interface name pattern"));

  e = only_error(kBase + "[sources.network]\nexclude = [\"\"]\n");
  CHECK(e.key == "sources.network.exclude[0]");

  e = only_error(kBase + "[sources.network]\nexclude = \"lo\"\n");
  CHECK_THAT(e.message, Catch::Contains("expected an array of strings"));

  e = only_error(kBase + "[sources.network]\nmax_interfaces = 0\n");
  CHECK(e.key == "sources.network.max_interfaces");
  CHECK_THAT(e.message, Catch::Contains("1 to 1024"));

  e = only_error(kBase + "[sources.network]\ninterval = \"10\"\n");
  CHECK(e.key == "sources.network.interval");

  e = only_error(kBase + "[sources.network]\ninterfaces = [\"eth0\"]\n");
  CHECK(e.key == "sources.network.interfaces");
  CHECK_THAT(e.message, Catch::Contains("known keys here: enabled, interval, include"));

  e = only_error(kBase + "[sources.nat]\ninterval = \"1ms\"\n");
  CHECK(e.key == "sources.nat.interval");
  CHECK_THAT(e.message, Catch::Contains("out of range"));

  e = only_error(kBase + "[sources.nat]\nmax = 5\n");
  CHECK(e.key == "sources.nat.max");
}
