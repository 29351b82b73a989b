// [[probes.<kind>]] tables: the issue's minimal config, defaults, and the
// mistakes an operator makes, each named with its line.
#include <catch2/catch.hpp>

#include "config.hpp"
#include "config_text.hpp"

using namespace classroom::config;
using namespace std::chrono_literals;

namespace {

LoadResult load(const std::string& extra) {
  return testing::load_with(extra, "agent.toml");
}

std::string errors(const LoadResult& r) {
  return testing::errors_text(r);
}

}  // namespace

TEST_CASE("the issue's minimal probe config works and fills defaults", "[probes]") {
  LoadResult r = load(R"(
[[probes.icmp]]
name = "Gateway"
target = "192.0.2.1"
interval = "30s"
[[probes.http]]
name = "Learning Portal"
url = "https://example.org/"
interval = "60s"
)");
  INFO(errors(r));
  REQUIRE(r.config);
  const Probes& p = r.config->probes;
  CHECK(p.concurrency == 4);
  REQUIRE(p.icmp.size() == 1);
  CHECK(p.icmp[0].name == "Gateway");
  CHECK(p.icmp[0].target == "192.0.2.1");
  CHECK(p.icmp[0].count == 5);
  CHECK(p.icmp[0].spacing == 200ms);
  CHECK(p.icmp[0].timeout == 1000ms);
  CHECK(p.icmp[0].interval == 30s);
  REQUIRE(p.http.size() == 1);
  CHECK(p.http[0].timeout == 10s);
  CHECK(p.http[0].expected_status == 0);
  CHECK_FALSE(p.http[0].insecure);
  CHECK(p.any());
  CHECK(p.needs_curl());
}

TEST_CASE("no probes: nothing to run and no libcurl", "[probes]") {
  LoadResult r = load("");
  REQUIRE(r.config);
  CHECK_FALSE(r.config->probes.any());
  CHECK_FALSE(r.config->probes.needs_curl());
}

TEST_CASE("every probe kind with every key", "[probes]") {
  LoadResult r = load(R"(
[probes]
concurrency = 2
[[probes.dns]]
name = "Resolver"
query = "example.org"
server = "192.0.2.53:5353"
type = "AAAA"
timeout = "1s"
interval = "30s"
[[probes.tcp]]
name = "LMS 443"
target = "[2001:db8::1]:443"
[[probes.http]]
name = "Portal"
url = "http://192.0.2.10:8080/health"
expected_status = 204
proxy = "http://proxy:3128"
ca_file = "/etc/ssl/school.pem"
insecure = true
[[probes.throughput]]
name = "Uplink"
url = "https://192.0.2.20/10MB.bin"
upload_url = "https://192.0.2.20/upload"
max_bytes = "5MiB"
max_time = "8s"
windows = ["Mon-Fri 07:30-11:30", "Sat 08:00-10:00"]
per_day = 2
monthly_budget = "500MiB"
)");
  INFO(errors(r));
  REQUIRE(r.config);
  const Probes& p = r.config->probes;
  CHECK(p.concurrency == 2);
  CHECK(p.dns[0].aaaa);
  CHECK(p.dns[0].server == "192.0.2.53:5353");
  CHECK(p.tcp[0].host == "2001:db8::1");
  CHECK(p.tcp[0].port == 443);
  CHECK(p.http[0].expected_status == 204);
  CHECK(p.http[0].insecure);
  const ThroughputProbe& t = p.throughput[0];
  CHECK(t.max_bytes == 5u << 20);
  CHECK(t.per_day == 2);
  CHECK(t.monthly_budget == 500u << 20);
  REQUIRE(t.windows.size() == 2);
  CHECK(t.windows[0].days == 0b0011111);
  CHECK(t.windows[0].start_min == 7 * 60 + 30);
  CHECK(t.windows[0].end_min == 11 * 60 + 30);
  CHECK(t.windows[1].days == 0b0100000);
}

TEST_CASE("probe names that cannot be part of a metric name are refused", "[probes]") {
  for (const char* bad : {"a/b", "a+b", "a#b", "", "tab\\there", " lead"}) {
    INFO(bad);
    LoadResult r =
        load(std::string("[[probes.tcp]]\nname = \"") + bad + "\"\ntarget = \"127.0.0.1:80\"\n");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].key == "probes.tcp[0].name");
  }
  LoadResult dup = load(R"(
[[probes.tcp]]
name = "Same"
target = "127.0.0.1:80"
[[probes.icmp]]
name = "Same"
target = "127.0.0.1"
)");
  REQUIRE(dup.errors.size() == 1);
  CHECK(dup.errors[0].message.find("unique") != std::string::npos);
  CHECK(dup.errors[0].line == 11);  // kinds are read icmp, dns, tcp, http, throughput
}

TEST_CASE("probe mistakes are named with their key and line", "[probes]") {
  LoadResult r = load(R"(
[[probes.tcp]]
name = "NoPort"
target = "192.0.2.1"
[[probes.http]]
name = "Ftp"
url = "ftp://192.0.2.1/"
[[probes.dns]]
name = "Type"
query = "example.org"
type = "MX"
[[probes.icmp]]
name = "Long run"
target = "192.0.2.1"
count = 10
spacing = "1s"
interval = "5s"
[[probes.throughput]]
name = "Window"
url = "http://192.0.2.1/f"
windows = ["Monday 07:30-11:30"]
[[probes.http]]
name = "Typo"
url = "http://192.0.2.1/"
timout = "1s"
)");
  REQUIRE_FALSE(r.config);
  std::string all = errors(r);
  INFO(all);
  REQUIRE(r.errors.size() == 6);
  CHECK(r.errors[0].key == "probes.tcp[0].target");
  CHECK(r.errors[1].key == "probes.http[0].url");
  CHECK(r.errors[2].key == "probes.dns[0].type");
  CHECK(r.errors[3].key == "probes.icmp[0].interval");
  CHECK(r.errors[4].key == "probes.throughput[0].windows[0]");
  CHECK(r.errors[5].key == "probes.http[1].timout");
}

TEST_CASE("a throughput probe needs windows and a budget larger than one run", "[probes]") {
  LoadResult r = load(R"(
[[probes.throughput]]
name = "Uplink"
url = "http://192.0.2.1/f"
max_bytes = "10MiB"
monthly_budget = "1MiB"
)");
  INFO(errors(r));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].key == "probes.throughput[0].windows");
  CHECK(r.errors[1].key == "probes.throughput[0].monthly_budget");
}

TEST_CASE("school-hours windows", "[probes]") {
  auto w = parse_window("Mon-Fri 07:30-11:30");
  REQUIRE(w);
  CHECK(w->days == 0b11111);
  w = parse_window("Fri-Mon 00:00-24:00");  // wraps over the weekend
  REQUIRE(w);
  CHECK(w->days == 0b1110001);
  CHECK(w->end_min == 24 * 60);
  w = parse_window("Mon,Wed 13:00-15:00");
  REQUIRE(w);
  CHECK(w->days == 0b101);
  for (const char* bad : {"Mon-Fri", "Mon-Fri 11:30-07:30", "Mon-Fri 7:30-11:30", "mon 07:00-08:00",
                          "Mon- 07:00-08:00", "Mon, 07:00-08:00", "Mon 07:00-25:00",
                          "Mon 07:60-08:00", "Mon 07:00-07:00", ""})
    CHECK_FALSE(parse_window(bad));
}
