// The probes' parsers of outside input and the mapping of results to metrics.
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <sys/timex.h>
#include <catch2/catch.hpp>
#include <cstring>

#include "../map_sink.hpp"
#include "probes/dns.hpp"
#include "probes/http.hpp"
#include "probes/icmp.hpp"
#include "probes/report.hpp"
#include "system/clock.hpp"

using namespace classroom;
using namespace classroom::drivers::probes;

namespace {

std::vector<uint8_t> echo(uint8_t type, uint16_t id, uint16_t seq, uint64_t cookie) {
  std::vector<uint8_t> p(24, 0);
  p[0] = type;
  p[4] = static_cast<uint8_t>(id >> 8);
  p[5] = static_cast<uint8_t>(id);
  p[6] = static_cast<uint8_t>(seq >> 8);
  p[7] = static_cast<uint8_t>(seq);
  std::memcpy(p.data() + 8, &cookie, 8);
  return p;
}

}  // namespace

TEST_CASE("echo replies are parsed with their identifier, sequence and cookie", "[probes]") {
  EchoReply r{};
  auto v4 = echo(ICMP_ECHOREPLY, 0x1234, 7, 99);
  REQUIRE(parse_echo_reply(v4.data(), v4.size(), false, false, r));
  CHECK(r.ident == 0x1234);
  CHECK(r.seq == 7);
  CHECK(r.cookie == 99);
  // A raw IPv4 socket hands the IP header too (IHL 5 here, 6 with an option).
  for (uint8_t ihl : {5, 6}) {
    std::vector<uint8_t> with_ip(ihl * 4u, 0);
    with_ip[0] = static_cast<uint8_t>(0x40 | ihl);
    with_ip.insert(with_ip.end(), v4.begin(), v4.end());
    REQUIRE(parse_echo_reply(with_ip.data(), with_ip.size(), false, true, r));
    CHECK(r.seq == 7);
  }
  auto v6 = echo(ICMP6_ECHO_REPLY, 1, 2, 3);
  CHECK(parse_echo_reply(v6.data(), v6.size(), true, false, r));
  // Not a reply: a request (our own, seen on a raw socket), an error, too short.
  auto request = echo(ICMP_ECHO, 1, 2, 3);
  CHECK_FALSE(parse_echo_reply(request.data(), request.size(), false, false, r));
  CHECK_FALSE(parse_echo_reply(v4.data(), 10, false, false, r));
  CHECK_FALSE(parse_echo_reply(v4.data(), v4.size(), true, false, r));  // type 0 is not ICMPv6's
  std::vector<uint8_t> bad_ihl = {0x4f, 0, 0, 0};
  CHECK_FALSE(parse_echo_reply(bad_ihl.data(), bad_ihl.size(), false, true, r));
}

TEST_CASE("DNS answers are counted, a broken answer is refused, never trusted", "[probes]") {
  // id, flags (response, no error), 1 question, 2 answers; "a.test" A IN;
  // two A records by name pointer.
  const uint8_t answer[] = {0x12, 0x34, 0x81, 0x80, 0,   1,  0, 2,  0,  0, 0,    0,  1,    'a',
                            4,    't',  'e',  's',  't', 0,  0, 1,  0,  1, 0xc0, 12, 0,    1,
                            0,    1,    0,    0,    0,   60, 0, 4,  10, 1, 2,    3,  0xc0, 12,
                            0,    1,    0,    1,    0,   0,  0, 60, 0,  4, 10,   1,  2,    4};
  auto n = count_answers(answer, sizeof answer, false);
  REQUIRE(n);
  CHECK(*n == 2);
  for (size_t cut = 0; cut < sizeof answer; ++cut) {
    INFO(cut);
    auto partial = count_answers(answer, static_cast<int>(cut), false);
    CHECK((!partial || *partial < 2));
  }
  uint8_t loop[sizeof answer];
  std::memcpy(loop, answer, sizeof answer);
  loop[25] = 24;  // a name pointer to itself
  auto looped = count_answers(loop, sizeof loop, false);
  CHECK((!looped || *looped <= 1));
  CHECK_FALSE(count_answers(nullptr, 0, false));
}

TEST_CASE("certificate dates in both of libcurl's formats", "[probes]") {
  CHECK(parse_cert_time("Mar 10 12:00:00 2026 GMT") == 1773144000);
  CHECK(parse_cert_time("2026-03-10 12:00:00 GMT") == 1773144000);
  CHECK_FALSE(parse_cert_time("yesterday"));
}

TEST_CASE("the kernel's clock state says whether time is synchronised", "[probes]") {
  CHECK(drivers::system::clock_status(TIME_OK, 0, 12000).synchronized);
  CHECK(drivers::system::clock_status(TIME_OK, 0, 12000).max_error_ms == 12.0);
  CHECK_FALSE(drivers::system::clock_status(TIME_ERROR, 0, 16000000).synchronized);
  CHECK_FALSE(drivers::system::clock_status(TIME_OK, STA_UNSYNC, 100).synchronized);
  CHECK(drivers::system::read_clock());  // adjtimex read-only needs no privilege
}

TEST_CASE("a failed run is data: Success false, Loss 100 %, no stale times", "[probes]") {
  MapSink sink;
  ProbeMetrics icmp, http;
  icmp.declare(sink, Kind::icmp, "Gateway");
  http.declare(sink, Kind::http, "Portal", true);
  IcmpResult good;
  good.sent = 4;
  good.received = 3;
  good.rtt_min = 1;
  good.rtt_avg = 2;
  good.rtt_max = 3;
  good.jitter = 1;
  icmp.put(sink, good);
  CHECK(sink.get<double>("Connectivity/Gateway/Loss") == 25.0);
  CHECK(sink.get<double>("Connectivity/Gateway/RTT Avg") == 2.0);
  CHECK(sink.get<bool>("Connectivity/Gateway/Reachable"));
  IcmpResult down;
  down.sent = 4;
  icmp.put(sink, down);
  CHECK(sink.get<double>("Connectivity/Gateway/Loss") == 100.0);
  CHECK_FALSE(sink.measured("Connectivity/Gateway/RTT Avg"));
  CHECK_FALSE(sink.get<bool>("Connectivity/Gateway/Reachable"));

  HttpResult h;
  h.error = "Timeout was reached";
  http.put(sink, h);
  CHECK_FALSE(sink.get<bool>("Connectivity/Portal/Success"));
  CHECK_FALSE(sink.measured("Connectivity/Portal/Total Time"));
  CHECK(sink.has("Connectivity/Portal/Cert Expiry Days"));
  CHECK(sink.at("Connectivity/Portal/TTFB").unit == "ms");
  CHECK(sink.at("Connectivity/Portal/TTFB").type == DataType::Double);
}
