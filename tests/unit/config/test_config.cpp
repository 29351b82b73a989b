#include <catch2/catch.hpp>

#include "config.hpp"
#include "config_text.hpp"
#include "system/system_config.hpp"
#include "units.hpp"

using namespace classroom::config;

namespace {

const std::string kGood = R"(
[identity]
group = "school-giangvo"
node  = "room-6a"
[broker]
servers = ["tcp://127.0.0.1:1883"]
[state]
dir = "/var/lib/classroom-agent"
[sources.system]
interval = "10s"
)";

// Loads `text` and expects exactly one error; returns it.
Error only_error(const std::string& text) {
  LoadResult r = testing::load_text(text, "agent.toml");
  REQUIRE_FALSE(r.config);
  INFO(r.errors.front().to_string());
  REQUIRE(r.errors.size() == 1);
  return r.errors.front();
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("the design's minimal config is valid and fills defaults") {
  LoadResult r = testing::load_text(kGood, "agent.toml");
  REQUIRE(r.errors.empty());
  REQUIRE(r.config);
  CHECK(r.config->identity.group == "school-giangvo");
  CHECK(r.config->broker.servers == std::vector<std::string>{"tcp://127.0.0.1:1883"});
  CHECK(r.config->broker.client_id == "school-giangvo-room-6a");
  CHECK(r.config->broker.receipt_topic == "classroom-agent/school-giangvo/room-6a/receipt");
  REQUIRE(r.config->source("system"));
  CHECK(r.config->source("system")->interval == std::chrono::seconds(10));
  CHECK(r.config->source("system")->settings_as<classroom::drivers::system::Settings>().mounts ==
        std::vector<std::string>{"/"});
  CHECK(r.config->spool.max_bytes == 64ull << 20);
  CHECK_FALSE(r.config->spool.sync_always);
}

TEST_CASE("the shipped config/agent.toml is valid") {
  LoadResult r = testing::load_path(std::string(FIXTURES_DIR) + "/../../config/agent.toml");
  for (const Error& e : r.errors) FAIL(e.to_string());
  CHECK(r.config);
}

TEST_CASE("an unknown key names its line and the keys that exist") {
  Error e = only_error(replace(kGood, "node  = \"room-6a\"", "node  = \"room-6a\"\nnodes = 1"));
  CHECK(e.line == 5);
  CHECK(e.column == 1);
  CHECK(e.key == "identity.nodes");
  CHECK_THAT(e.message, Catch::Contains("unknown key") && Catch::Contains("group, node"));
  CHECK(e.to_string() == "agent.toml:5:1: identity.nodes: " + e.message);
}

TEST_CASE("an unknown table is reported") {
  Error e = only_error(kGood + "[sources.bluetooth]\ninterval = \"5s\"\n");
  CHECK(e.key == "sources.bluetooth");
  CHECK(e.line == 11);
}

TEST_CASE("a wrong type names the expected type") {
  Error e = only_error(replace(kGood, "dir = \"/var/lib/classroom-agent\"", "dir = 42"));
  CHECK(e.line == 8);
  CHECK(e.column == 7);
  CHECK(e.key == "state.dir");
  CHECK(e.message == "expected a string, found an integer");
}

TEST_CASE("a bad duration is explained") {
  Error e = only_error(replace(kGood, "\"10s\"", "\"10\""));
  CHECK(e.line == 10);
  CHECK(e.key == "sources.system.interval");
  CHECK_THAT(e.message, Catch::Contains("not a duration"));
  Error range = only_error(replace(kGood, "\"10s\"", "\"5ms\""));
  CHECK_THAT(range.message, Catch::Contains("out of range"));
}

TEST_CASE("a bad size is explained") {
  Error e = only_error(kGood + "[spool]\nmax_bytes = \"64 megs\"\n");
  CHECK(e.line == 12);
  CHECK(e.key == "spool.max_bytes");
  CHECK_THAT(e.message, Catch::Contains("not a size"));
  Error small = only_error(kGood + "[spool]\nmax_bytes = \"1KiB\"\n");
  CHECK_THAT(small.message, Catch::Contains("too small"));
}

TEST_CASE("a missing required key names the table it belongs in") {
  Error e = only_error(replace(kGood, "group = \"school-giangvo\"\n", ""));
  CHECK(e.key == "identity.group");
  CHECK(e.line == 2);  // the [identity] header
  CHECK_THAT(e.message, Catch::StartsWith("missing"));
  Error table = only_error(replace(kGood, "[state]\ndir = \"/var/lib/classroom-agent\"\n", ""));
  CHECK(table.key == "state");
}

TEST_CASE("Sparkplug ids with + / # are refused") {
  for (const char* bad : {"room/6a", "room+6a", "room#6a", ""}) {
    Error e = only_error(replace(kGood, "\"room-6a\"", std::string("\"") + bad + "\""));
    CHECK(e.key == "identity.node");
    CHECK(e.line == 4);
    CHECK_THAT(e.message, Catch::Contains("not a valid Sparkplug id"));
  }
}

TEST_CASE("broker addresses are checked one by one") {
  LoadResult r =
      testing::load_text(replace(kGood, "[\"tcp://127.0.0.1:1883\"]",
                                 "[\"tcp://ok:1883\", \"http://x\", \"tcp://h:99999\", 3]"),
                         "agent.toml");
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].key == "broker.servers[1]");
  CHECK(r.errors[1].key == "broker.servers[2]");
  CHECK_THAT(r.errors[1].message, Catch::Contains("bad port"));
  CHECK(r.errors[2].key == "broker.servers[3]");
  Error scheme = only_error(replace(kGood, "tcp://127.0.0.1:1883", "https://broker:8883"));
  CHECK_THAT(scheme.message, Catch::Contains("use ssl://HOST:8883 (TLS) or tcp://HOST:1883"));
  Error empty = only_error(replace(kGood, "[\"tcp://127.0.0.1:1883\"]", "[]"));
  CHECK_THAT(empty.message, Catch::Contains("at least one"));
}

TEST_CASE("invalid TOML gives the parser's position") {
  Error e = only_error("[identity]\ngroup = \"unterminated\nnode = \"x\"\n");
  CHECK(e.line == 2);
  CHECK_THAT(e.message, Catch::StartsWith("not valid TOML"));
}

TEST_CASE("spool sync accepts always or a duration, nothing else") {
  LoadResult r = testing::load_text(kGood + "[spool]\nsync = \"always\"\n", "a.toml");
  REQUIRE(r.config);
  CHECK(r.config->spool.sync_always);
  r = testing::load_text(kGood + "[spool]\nsync = \"250ms\"\n", "a.toml");
  REQUIRE(r.config);
  CHECK(r.config->spool.sync_interval == std::chrono::milliseconds(250));
  Error e = only_error(kGood + "[spool]\nsync = \"sometimes\"\n");
  CHECK(e.key == "spool.sync");
}

TEST_CASE("all mistakes of a file are reported, in file order") {
  LoadResult r = testing::load_text(
      "[identity]\ngroup = 1\nnode = \"a/b\"\n[broker]\nservers = \"tcp://x:1\"\n[state]\n"
      "dir = \"/tmp\"\n[log]\nlevel = \"loud\"\n",
      "f.toml");
  REQUIRE(r.errors.size() == 4);
  CHECK(r.errors[0].line == 2);
  CHECK(r.errors[1].line == 3);
  CHECK(r.errors[2].line == 5);
  CHECK(r.errors[3].key == "log.level");
}

TEST_CASE("a relative state dir is relative to the config file") {
  LoadResult r = testing::load_text(replace(kGood, "\"/var/lib/classroom-agent\"", "\"state\""),
                                    "/etc/classroom-agent/agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->state.dir == "/etc/classroom-agent/state");
}

TEST_CASE("a missing file is an error naming it") {
  LoadResult r = testing::load_path("/nonexistent/agent.toml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].file == "/nonexistent/agent.toml");
  CHECK_THAT(r.errors[0].message, Catch::Contains("cannot read"));
}

TEST_CASE("durations and sizes") {
  CHECK(parse_duration("250ms") == std::chrono::milliseconds(250));
  CHECK(parse_duration("10s") == std::chrono::seconds(10));
  CHECK(parse_duration("5m") == std::chrono::minutes(5));
  CHECK(parse_duration("2h") == std::chrono::hours(2));
  CHECK(parse_duration("1d") == std::chrono::hours(24));
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("99999999999999999999d"));
  CHECK(parse_size("512KiB") == 512u << 10);
  CHECK(parse_size("64MiB") == 64u << 20);
  CHECK(parse_size("1GiB") == 1u << 30);
  CHECK(parse_size("10MB") == 10'000'000u);
  CHECK(parse_size("4096B") == 4096u);
  CHECK_FALSE(parse_size("64"));
  CHECK_FALSE(parse_size("64mib"));
  CHECK_FALSE(parse_size("99999999999999GiB"));
  CHECK(format_duration(std::chrono::milliseconds(10'000)) == "10s");
  CHECK(format_duration(std::chrono::milliseconds(250)) == "250ms");
}

TEST_CASE("Sparkplug ids: no NUL, control characters, bad UTF-8 or blanks at the ends") {
  struct Case {
    std::string toml_value, shown;
  };
  for (const Case& c :
       {Case{R"("THPT\u0000Nguyen")", R"(THPT\x00Nguyen)"}, Case{R"("room\t6a")", R"(room\t6a)"},
        Case{R"("room\n6a")", R"(room\n6a)"}, Case{R"("room\u001b6a")", R"(room\x1b6a)"},
        Case{R"("room\u00856a")", R"(room\u00856a)"}, Case{R"("   ")", "   "},
        Case{R"(" room-6a")", " room-6a"}, Case{R"("room-6a ")", "room-6a "},
        Case{R"("room-6a\u00a0")", "room-6a\xc2\xa0"}}) {
    INFO(c.toml_value);
    Error e = only_error(replace(kGood, "\"room-6a\"", c.toml_value));
    CHECK(e.key == "identity.node");
    CHECK_THAT(e.message, Catch::Contains("not a valid Sparkplug id"));
    CHECK_THAT(e.message, Catch::Contains("\"" + c.shown + "\""));
  }
  // Inner blanks and any script are fine: they are valid in a topic.
  for (const char* good : {"Trường THPT Nguyễn Du", "phòng 6A", "room_6a.b-c"}) {
    LoadResult r = testing::load_text(
        replace(kGood, "\"school-giangvo\"", std::string("\"") + good + "\""), "agent.toml");
    INFO(good);
    CHECK(r.errors.empty());
  }
  CHECK_FALSE(valid_sparkplug_id(std::string("a\0b", 3)));
  CHECK_FALSE(valid_sparkplug_id("\xff\xfe"));
  CHECK(valid_sparkplug_id("a b"));
}

TEST_CASE("broker addresses: IPv6 literals in brackets") {
  for (const char* good : {"tcp://[::1]:1883", "mqtt://[fe80::1%eth0]:1883", "tcp://[fd00::5]",
                           "ws://[::1]:9001/mqtt"}) {
    INFO(good);
    LoadResult r = testing::load_text(replace(kGood, "tcp://127.0.0.1:1883", good), "agent.toml");
    for (const Error& e : r.errors) FAIL(e.to_string());
  }
  for (const char* bad : {"tcp://[::1", "tcp://[]:1883", "tcp://[::1]:0", "tcp://[::1]x",
                          "tcp://[not-an-address]:1883", "tcp://bad host:1883"}) {
    INFO(bad);
    Error e = only_error(replace(kGood, "tcp://127.0.0.1:1883", bad));
    CHECK(e.key == "broker.servers[0]");
  }
}

TEST_CASE("retry_min above retry_max is refused naming both, defaults included") {
  Error e = only_error(replace(kGood, "[state]", "retry_min = \"5m\"\n[state]"));
  CHECK(e.key == "broker.retry_min");
  CHECK_THAT(e.message, Catch::Contains("retry_max") && Catch::Contains("60s"));
  Error both =
      only_error(replace(kGood, "[state]", "retry_min = \"10s\"\nretry_max = \"5s\"\n[state]"));
  CHECK_THAT(both.message, Catch::Contains("retry_min") && Catch::Contains("retry_max"));
  LoadResult ok =
      testing::load_text(replace(kGood, "[state]", "retry_min = \"60s\"\n[state]"), "a.toml");
  CHECK(ok.errors.empty());
}

TEST_CASE("host paths must not be empty, a relative one is relative to the config file") {
  Error e = only_error(kGood + "[host]\nproc = \"\"\n");
  CHECK(e.key == "host.proc");
  CHECK_THAT(e.message, Catch::Contains("empty"));
  Error s = only_error(kGood + "[host]\nsys = \"\"\n");
  CHECK(s.key == "host.sys");
  Error nul = only_error(kGood + "[host]\nproc = \"/pr\\u0000oc\"\n");
  CHECK_THAT(nul.message, Catch::Contains("\\x00"));
  LoadResult r =
      testing::load_text(kGood + "[host]\nproc = \"fixtures/proc\"\n", "/etc/ca/agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->host.proc == "/etc/ca/fixtures/proc");
}

TEST_CASE("state dir: a file where a directory must be is refused") {
  Error e = only_error(replace(kGood, "/var/lib/classroom-agent", "/dev/null/state"));
  CHECK(e.key == "state.dir");
  CHECK_THAT(e.message, Catch::StartsWith("\"/dev/null\" is not a directory"));
  Error file = only_error(replace(kGood, "/var/lib/classroom-agent", "/dev/null"));
  CHECK(file.message == "\"/dev/null\" exists and is not a directory");
  Error nul = only_error(replace(kGood, "/var/lib/classroom-agent", "/var/lib/a\\u0000b"));
  CHECK(nul.key == "state.dir");
}

TEST_CASE("a directory or an endless file given as the config says so, once") {
  LoadResult r = testing::load_path("/tmp");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].to_string() == "/tmp: is a directory, not a config file");
  LoadResult z = testing::load_path("/dev/zero");
  REQUIRE(z.errors.size() == 1);
  CHECK_THAT(z.errors[0].message, Catch::Contains("larger than"));
}

TEST_CASE("strings from the file are shown escaped and bounded in errors") {
  Error e = only_error(
      replace(kGood, "\"10s\"", "\"" + std::string(5000, '9') + "\\n2026 E agent: FORGED\""));
  CHECK(e.to_string().find('\n') == std::string::npos);
  CHECK(e.to_string().size() < 400);
  Error lvl = only_error(kGood + "[log]\nlevel = \"x\\u001b[2J\"\n");
  CHECK_THAT(lvl.message, Catch::Contains("x\\x1b[2J"));
}

TEST_CASE("broker.primary_host: none by default - a Sparkplug id - waited for as long as set") {
  LoadResult r = testing::load_text(kGood, "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.primary_host.empty());
  CHECK(r.config->broker.primary_host_wait.count() == 0);  // forever, as the spec
  const std::string servers = "servers = [\"tcp://127.0.0.1:1883\"]";
  r = testing::load_text(replace(kGood, servers, servers + "\nprimary_host = \"district-scada\""),
                         "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.primary_host == "district-scada");
  CHECK(r.config->broker.primary_host_wait.count() == 0);
  r = testing::load_text(
      replace(kGood, servers, servers + "\nprimary_host = \"scada\"\nprimary_host_wait = \"5m\""),
      "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.primary_host_wait.count() == 300'000);

  Error bad = only_error(replace(kGood, servers, servers + "\nprimary_host = \"scada/1\""));
  CHECK(bad.key == "broker.primary_host");
  CHECK(bad.line == 7);
  CHECK_THAT(bad.message, Catch::Contains("\"scada/1\" is not a valid Sparkplug host id"));
  bad = only_error(replace(kGood, servers, servers + "\nprimary_host = \"\""));
  CHECK(bad.key == "broker.primary_host");
  bad = only_error(replace(kGood, servers, servers + "\nprimary_host_wait = \"1m\""));
  CHECK(bad.key == "broker.primary_host_wait");
  CHECK_THAT(bad.message, Catch::Contains("only meaningful with primary_host"));
  bad = only_error(
      replace(kGood, servers, servers + "\nprimary_host = \"h\"\nprimary_host_wait = \"0s\""));
  CHECK(bad.key == "broker.primary_host_wait");
  CHECK_THAT(bad.message, Catch::Contains("out of range"));
}

TEST_CASE("broker.protocol: auto by default or 5 or 3.1.1 and nothing else") {
  LoadResult r = testing::load_text(kGood, "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.protocol == Broker::Protocol::automatic);
  const std::string servers = "servers = [\"tcp://127.0.0.1:1883\"]";
  for (auto [text, want] :
       {std::pair<const char*, Broker::Protocol>{"auto", Broker::Protocol::automatic},
        {"5", Broker::Protocol::v5},
        {"3.1.1", Broker::Protocol::v311}}) {
    r = testing::load_text(replace(kGood, servers, servers + "\nprotocol = \"" + text + "\""),
                           "agent.toml");
    REQUIRE(r.config);
    CHECK(r.config->broker.protocol == want);
  }
  Error bad = only_error(replace(kGood, servers, servers + "\nprotocol = \"3.1\""));
  CHECK(bad.key == "broker.protocol");
  CHECK_THAT(bad.message, Catch::Contains("\"3.1\" is not an MQTT version the agent speaks; use "
                                          "\"auto\", \"5\" or \"3.1.1\""));
  Error number = only_error(replace(kGood, servers, servers + "\nprotocol = 5"));
  CHECK(number.key == "broker.protocol");
}

TEST_CASE("broker.max_packet_size: 256 KiB by default, within the bounds of MQTT") {
  LoadResult r = testing::load_text(kGood, "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.max_packet_size == 256u << 10);
  const std::string servers = "servers = [\"tcp://127.0.0.1:1883\"]";
  r = testing::load_text(replace(kGood, servers, servers + "\nmax_packet_size = \"100KiB\""),
                         "agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->broker.max_packet_size == 100u << 10);
  Error small = only_error(replace(kGood, servers, servers + "\nmax_packet_size = \"512B\""));
  CHECK(small.key == "broker.max_packet_size");
  CHECK_THAT(small.message, Catch::Contains("too small; at least 1024 B"));
  Error big = only_error(replace(kGood, servers, servers + "\nmax_packet_size = \"1GiB\""));
  CHECK(big.key == "broker.max_packet_size");
  CHECK_THAT(big.message, Catch::Contains("over MQTT's own limit of 268435455 B"));
}
