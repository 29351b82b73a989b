#include <catch2/catch.hpp>

#include "session/host_state.hpp"

using classroom::sparkplug::HostState;
using classroom::sparkplug::parse_host_state;
using classroom::sparkplug::supersedes;

TEST_CASE("host state: Sparkplug 3.0 JSON, any member order, other members skipped") {
  auto s = parse_host_state(R"({"online":true,"timestamp":1700000000000})");
  REQUIRE(s);
  CHECK(s->online);
  CHECK(s->timestamp == 1700000000000u);
  s = parse_host_state(" {\n \"timestamp\" : 5 ,\"x\":{\"a\":[1,\"}\"]},\"online\" : false } ");
  REQUIRE(s);
  CHECK_FALSE(s->online);
  CHECK(s->timestamp == 5u);
  s = parse_host_state(R"({"online":true})");
  REQUIRE(s);
  CHECK_FALSE(s->timestamp);
}

TEST_CASE("host state: the plain ONLINE/OFFLINE of Sparkplug 2.x hosts") {
  CHECK(parse_host_state("ONLINE")->online);
  CHECK_FALSE(parse_host_state("OFFLINE\n")->online);
  CHECK_FALSE(parse_host_state("online"));
}

TEST_CASE("host state: anything else is no state") {
  for (const char* bad :
       {"", "{}", "{\"online\":1}", "{\"online\":\"true\"}", "{\"online\":true,}",
        "{\"online\":true} x", "{\"online\":true,\"timestamp\":-1}",
        "{\"online\":true,\"timestamp\":1.5}",
        "{\"online\":true,\"timestamp\":99999999999999999999}", "{\"online\":true",
        "{\"online\":true,\"x\":[1,2}", "[true]", "{\"online\" true}"}) {
    INFO(bad);
    CHECK_FALSE(parse_host_state(bad));
  }
  CHECK_FALSE(parse_host_state("{\"online\":true,\"pad\":\"" + std::string(5000, 'a') + "\"}"));
}

TEST_CASE("host state: a state older than the one in force is ignored (a stale Will)") {
  const HostState online{true, 2000};
  CHECK(supersedes(HostState{false, 2000}, online));  // the Will of this very session
  CHECK(supersedes(HostState{false, 3000}, online));
  CHECK_FALSE(supersedes(HostState{false, 1999}, online));
  CHECK(supersedes(HostState{true, 2500}, HostState{false, 2000}));  // a host that came back
  // An online state older than the last one is not the latest either (Sparkplug
  // 3.0, tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp).
  CHECK_FALSE(supersedes(HostState{true, 10}, online));
  CHECK_FALSE(supersedes(HostState{true, 1999}, HostState{false, 2000}));
  CHECK(supersedes(HostState{false, std::nullopt}, online));
  CHECK(supersedes(HostState{false, 1}, std::nullopt));
}
