#include <catch2/catch.hpp>

#include "config.hpp"
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
  LoadResult r = load_string(text, "agent.toml");
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
  LoadResult r = load_string(kGood, "agent.toml");
  REQUIRE(r.errors.empty());
  REQUIRE(r.config);
  CHECK(r.config->identity.group == "school-giangvo");
  CHECK(r.config->broker.servers == std::vector<std::string>{"tcp://127.0.0.1:1883"});
  CHECK(r.config->broker.client_id == "school-giangvo-room-6a");
  CHECK(r.config->broker.receipt_topic == "classroom-agent/school-giangvo/room-6a/receipt");
  CHECK(r.config->sources.system.interval == std::chrono::seconds(10));
  CHECK(r.config->sources.system.mounts == std::vector<std::string>{"/"});
  CHECK(r.config->spool.max_bytes == 64ull << 20);
  CHECK_FALSE(r.config->spool.sync_always);
}

TEST_CASE("the shipped config/agent.toml is valid") {
  LoadResult r = load_file(std::string(FIXTURES_DIR) + "/../../config/agent.toml");
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
  LoadResult r = load_string(replace(kGood, "[\"tcp://127.0.0.1:1883\"]",
                                     "[\"tcp://ok:1883\", \"http://x\", \"tcp://h:99999\", 3]"),
                             "agent.toml");
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].key == "broker.servers[1]");
  CHECK(r.errors[1].key == "broker.servers[2]");
  CHECK_THAT(r.errors[1].message, Catch::Contains("bad port"));
  CHECK(r.errors[2].key == "broker.servers[3]");
  Error tls = only_error(replace(kGood, "tcp://127.0.0.1:1883", "ssl://broker:8883"));
  CHECK_THAT(tls.message, Catch::Contains("TLS is not supported yet"));
  Error empty = only_error(replace(kGood, "[\"tcp://127.0.0.1:1883\"]", "[]"));
  CHECK_THAT(empty.message, Catch::Contains("at least one"));
}

TEST_CASE("invalid TOML gives the parser's position") {
  Error e = only_error("[identity]\ngroup = \"unterminated\nnode = \"x\"\n");
  CHECK(e.line == 2);
  CHECK_THAT(e.message, Catch::StartsWith("not valid TOML"));
}

TEST_CASE("spool sync accepts always or a duration, nothing else") {
  LoadResult r = load_string(kGood + "[spool]\nsync = \"always\"\n", "a.toml");
  REQUIRE(r.config);
  CHECK(r.config->spool.sync_always);
  r = load_string(kGood + "[spool]\nsync = \"250ms\"\n", "a.toml");
  REQUIRE(r.config);
  CHECK(r.config->spool.sync_interval == std::chrono::milliseconds(250));
  Error e = only_error(kGood + "[spool]\nsync = \"sometimes\"\n");
  CHECK(e.key == "spool.sync");
}

TEST_CASE("all mistakes of a file are reported, in file order") {
  LoadResult r = load_string(
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
  LoadResult r = load_string(replace(kGood, "\"/var/lib/classroom-agent\"", "\"state\""),
                             "/etc/classroom-agent/agent.toml");
  REQUIRE(r.config);
  CHECK(r.config->state.dir == "/etc/classroom-agent/state");
}

TEST_CASE("a missing file is an error naming it") {
  LoadResult r = load_file("/nonexistent/agent.toml");
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
