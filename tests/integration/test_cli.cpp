// The command line as a user meets it.
#include <catch2/catch.hpp>
#include <cstdio>

#include "harness.hpp"

using namespace harness;

namespace {
std::pair<int, std::string> run(const std::string& cmd) {
  return run_shell(cmd);
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

TEST_CASE("cli: under journald, why a config is refused is logged at priority err") {
  // systemd sets JOURNAL_STREAM when stdout and stderr go to the journal, as
  // for ExecReload's check-config and for `run`: `journalctl -p warning` must
  // show every mistake, not only "Failed to start".
  TempDir dir;
  write_file(dir.path + "/bad.toml",
             "[identity]\ngroup = \"a\"\nnode = \"room/1\"\n[broker]\nservers = [\"tcp://h:1\"]\n"
             "[state]\ndir = \"/tmp/x\"\n");
  for (const char* command : {"check-config", "run"}) {
    auto [rc, out] =
        run("JOURNAL_STREAM=8:1234 " + kAgent + " " + command + " -c " + dir.path + "/bad.toml");
    INFO(command << ": " << out);
    CHECK(rc == 2);
    CHECK_THAT(out, Catch::Contains("<3>" + dir.path + "/bad.toml:3:8: identity.node:"));
    CHECK_THAT(out,
               Catch::Contains("<3>" + dir.path + "/bad.toml: 1 problem; nothing was started"));
  }
}

TEST_CASE("cli: check-config refuses what would break the wire, exit 2") {
  TempDir dir;
  write_file(dir.path + "/wire.toml",
             "[identity]\ngroup = \"THPT\\u0000Nguyen\"\nnode = \" room-1\"\n[broker]\n"
             "servers = [\"tcp://[::1]:1883\"]\nretry_min = \"5m\"\n[state]\n"
             "dir = \"/dev/null/state\"\n[host]\nproc = \"\"\n");
  auto [rc, out] = run(kAgent + " check-config -c " + dir.path + "/wire.toml");
  INFO(out);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains(":2:9: identity.group: \"THPT\\x00Nguyen\" is not a valid"));
  CHECK_THAT(out, Catch::Contains(":3:8: identity.node: \" room-1\" is not a valid"));
  CHECK_THAT(out, !Catch::Contains("servers"));  // the IPv6 literal is fine
  CHECK_THAT(out, Catch::Contains(":6:13: broker.retry_min: retry_min (300s) is greater than "
                                  "retry_max (60s, the default)"));
  CHECK_THAT(out, Catch::Contains(":8:7: state.dir: \"/dev/null\" is not a directory"));
  CHECK_THAT(out, Catch::Contains(":10:8: host.proc: must not be empty"));
  CHECK_THAT(out, Catch::Contains("5 problems; nothing was started"));
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
             "/proc-synthetic-4cpu\"\nsys = \"" FIXTURES_DIR "/sys-synthetic-sensors\"\n");
  auto [rc, out] = run(kAgent + " once -c " + dir.path + "/fx.toml");
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("System/Temperature/coretemp Core 0 = 44.00 °C"));
  CHECK_THAT(out, Catch::Contains("System/Load/1m = 0.52"));
}

TEST_CASE("cli: a usage mistake exits 64 (EX_USAGE), says what is wrong, and shows the usage") {
  struct Case {
    std::string args, says;
  };
  for (const Case& c :
       {Case{" frobnicate", "frobnicate"}, Case{"", "subcommand"}, Case{" run -c", "-c"},
        Case{" run --bogus", "--bogus"}, Case{" check-config -c a.toml -c b.toml", "-c"},
        Case{" version extra", "extra"}}) {
    INFO("classroom-agent" + c.args);
    auto [rc, out] = run(kAgent + c.args);
    INFO(out);
    CHECK(rc == 64);
    CHECK_THAT(out, Catch::Contains(c.says));
    // The usage follows: every command, and where to read more.
    CHECK_THAT(out, Catch::Contains("Usage:") || Catch::Contains("usage:"));
    CHECK_THAT(out, Catch::Contains("check-config"));
    CHECK_THAT(out, Catch::Contains("--help"));
  }
}

TEST_CASE("cli: --help lists every command and exits 0") {
  for (const std::string args : {" run --help", " check-config -h", " once --help"}) {
    INFO("classroom-agent" + args);
    auto [rc, out] = run(kAgent + args);
    INFO(out);
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains("-c,--config TEXT=/etc/classroom-agent/agent.toml"));
  }
  auto [rc, out] = run(kAgent + " --help");
  INFO(out);
  CHECK(rc == 0);
  for (const char* command : {"run", "once", "check-config", "version"})
    CHECK_THAT(out, Catch::Contains(std::string("  ") + command));
  CHECK_THAT(out, Catch::Contains("Exit status: 0 ") && Catch::Contains("; 2 the config") &&
                      Catch::Contains("; 64 a usage mistake"));
}

TEST_CASE("cli: a directory given as the config is named as one, exit 2") {
  TempDir dir;
  auto [rc, out] = run(kAgent + " check-config -c " + dir.path);
  INFO(out);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains(dir.path + ": is a directory, not a config file"));
  CHECK_THAT(out, !Catch::Contains("missing"));
}
