// The command line as a user meets it.
#include <catch2/catch.hpp>
#include <cstdio>

#include "harness.hpp"

using namespace harness;

namespace {
// Runs a command, returns its exit code and output (stdout and stderr).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WEXITSTATUS(st), out};
}
const std::string kAgent = AGENT_BINARY;
}  // namespace

TEST_CASE("cli: version") {
  auto [rc, out] = run(kAgent + " version");
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::StartsWith("classroom-agent "));
}

TEST_CASE("cli: check-config accepts the shipped config and explains a broken one") {
  auto [rc, out] = run(kAgent + " check-config -c " SOURCE_DIR "/config/agent.toml");
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("OK"));

  TempDir dir;
  write_file(dir.path + "/bad.toml",
             "[identity]\ngroup = \"a\"\nnode = \"room/1\"\n[broker]\nservers = [\"tcp://h:1\"]\n"
             "[state]\ndir = \"/tmp/x\"\n[sources.system]\ninterval = \"fast\"\n");
  auto [rc2, out2] = run(kAgent + " check-config -c " + dir.path + "/bad.toml");
  CHECK(rc2 != 0);
  CHECK_THAT(out2, Catch::Contains(dir.path + "/bad.toml:3:8: identity.node:"));
  CHECK_THAT(out2, Catch::Contains(dir.path + "/bad.toml:9:12: sources.system.interval:"));
}

TEST_CASE("cli: run refuses a bad config without starting") {
  TempDir dir;
  write_file(dir.path + "/bad.toml", "[identity]\n");
  auto [rc, out] = run(kAgent + " run -c " + dir.path + "/bad.toml");
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains("nothing was started"));
}

TEST_CASE("cli: once prints every metric with its unit, no broker needed") {
  auto [rc, out] = run(kAgent + " once -c " SOURCE_DIR "/config/agent.toml");
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("System/Memory/Total = "));
  CHECK_THAT(out, Catch::Contains(" B\n"));
  CHECK_THAT(out, Catch::Contains("System/CPU/Usage = "));
  CHECK_THAT(out, Catch::Contains("Disk/Root/Used = "));
  CHECK_THAT(out, !Catch::Contains("System/CPU/Usage = (null)"));
  CHECK_THAT(out, Catch::Contains("# Agent/Spool/... metrics come from the running agent"));
}

TEST_CASE("cli: once on captured fixtures shows the sensors") {
  TempDir dir;
  write_file(dir.path + "/fx.toml",
             "[identity]\ngroup = \"a\"\nnode = \"b\"\n[broker]\nservers = [\"tcp://h:1\"]\n"
             "[state]\ndir = \"/tmp/x\"\n[host]\nproc = \"" FIXTURES_DIR
             "/proc-rpi\"\nsys = \"" FIXTURES_DIR "/sys-sensors\"\n");
  auto [rc, out] = run(kAgent + " once -c " + dir.path + "/fx.toml");
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("System/Temperature/coretemp Core 0 = 44.00 °C"));
  CHECK_THAT(out, Catch::Contains("System/Load/1m = 0.52"));
}

TEST_CASE("cli: a usage mistake exits non-zero with help") {
  auto [rc, out] = run(kAgent + " frobnicate");
  CHECK(rc != 0);
  auto [rc2, out2] = run(kAgent);
  CHECK(rc2 != 0);
}
