// The netlink client: the attribute and message walkers on good and broken
// bytes, multipart replies, errors, and the generic-netlink family lookup.
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "../netlink_replay.hpp"
#include "netlink/netlink.hpp"

using namespace classroom::drivers::netlink;

namespace {

void put_attr(std::vector<uint8_t>& out, uint16_t length, uint16_t type, const void* payload,
              size_t size, bool pad = true) {
  const size_t at = out.size();
  out.resize(at + 4);
  std::memcpy(out.data() + at, &length, 2);
  std::memcpy(out.data() + at + 2, &type, 2);
  const auto* p = static_cast<const uint8_t*>(payload);
  out.insert(out.end(), p, p + size);
  if (pad)
    while (out.size() % 4) out.push_back(0);
}

std::vector<uint8_t> message(uint16_t type, uint16_t flags, uint32_t seq,
                             const std::vector<uint8_t>& payload) {
  const uint32_t len = static_cast<uint32_t>(16 + payload.size());
  std::vector<uint8_t> out((len + 3) & ~3u, 0);
  std::memcpy(out.data(), &len, 4);
  std::memcpy(out.data() + 4, &type, 2);
  std::memcpy(out.data() + 6, &flags, 2);
  std::memcpy(out.data() + 8, &seq, 4);
  for (size_t i = 0; i < payload.size(); ++i) out[16 + i] = payload[i];
  return out;
}

std::vector<uint8_t> done(int32_t error = 0) {
  std::vector<uint8_t> p(4);
  std::memcpy(p.data(), &error, 4);
  return message(NLMSG_DONE, NLM_F_MULTI, 0, p);
}

}  // namespace

TEST_CASE("netlink: attributes are walked with their types and payloads", "[netlink]") {
  std::vector<uint8_t> b;
  const uint32_t v32 = 0x11223344;
  const uint8_t v8 = 7;
  put_attr(b, 8, 1, &v32, 4);
  put_attr(b, 5, 2 | NLA_F_NESTED, &v8, 1);  // padded to 8; the nested flag is masked off
  put_attr(b, 4, 3, nullptr, 0);             // a flag
  AttrReader r(b);
  Attr a;
  REQUIRE(r.next(a));
  CHECK(a.type == 1);
  CHECK(get<uint32_t>(a.payload) == v32);
  CHECK_FALSE(get<uint16_t>(a.payload).has_value());  // wrong size: not read
  REQUIRE(r.next(a));
  CHECK(a.type == 2);
  CHECK(get<uint8_t>(a.payload) == 7);
  REQUIRE(r.next(a));
  CHECK(a.type == 3);
  CHECK(a.payload.empty());
  CHECK_FALSE(r.next(a));
  CHECK_FALSE(r.truncated());

  AttrTable<4> t(b);
  CHECK(t.has(3));  // a flag is present although its payload is empty
  CHECK_FALSE(t.has(0));
  CHECK_FALSE(t.has(99));
}

TEST_CASE("netlink: a truncated attribute ends the walk without reading past it", "[netlink]") {
  const uint32_t v = 1;
  SECTION("length beyond the buffer") {
    std::vector<uint8_t> b;
    put_attr(b, 8, 1, &v, 4);
    put_attr(b, 12, 2, &v, 4);  // claims 8 bytes of payload, has 4
    AttrTable<4> t(b);
    CHECK(t.has(1));
    CHECK_FALSE(t.has(2));
    CHECK(t.truncated());
  }
  SECTION("length shorter than a header") {
    std::vector<uint8_t> b;
    put_attr(b, 2, 1, &v, 4);
    AttrTable<4> t(b);
    CHECK_FALSE(t.has(1));
    CHECK(t.truncated());
  }
  SECTION("half a header at the end") {
    std::vector<uint8_t> b;
    put_attr(b, 8, 1, &v, 4);
    b.push_back(8);
    b.push_back(0);
    AttrTable<4> t(b);
    CHECK(t.has(1));
    CHECK(t.truncated());
  }
  SECTION("the last attribute without its padding is fine") {
    std::vector<uint8_t> b;
    const uint8_t x = 3;
    put_attr(b, 5, 1, &x, 1, false);
    AttrTable<4> t(b);
    CHECK(get<uint8_t>(t[1]) == 3);
    CHECK_FALSE(t.truncated());
  }
  SECTION("strings stop at their NUL and at the payload's end") {
    std::vector<uint8_t> b;
    put_attr(b, 4 + 5, 1, "wlan0", 5);  // no NUL
    AttrTable<4> t(b);
    CHECK(get_string(t[1]) == "wlan0");
  }
}

TEST_CASE("netlink: messages are walked and a cut one is reported", "[netlink]") {
  std::vector<uint8_t> b = message(100, 0, 1, {1, 2, 3, 4});
  std::vector<uint8_t> second = message(101, 0, 1, {5, 6, 7, 8, 9, 10, 11, 12});
  b.insert(b.end(), second.begin(), second.begin() + 20);  // cut 4 bytes short
  MessageReader r(b);
  Message m;
  REQUIRE(r.next(m));
  CHECK(m.type == 100);
  CHECK(m.payload.size() == 4);
  CHECK_FALSE(r.next(m));
  CHECK(r.truncated());
}

TEST_CASE("netlink: a request is laid out as the kernel expects", "[netlink]") {
  Request r(GENL_ID_CTRL, 0);
  genlmsghdr g{CTRL_CMD_GETFAMILY, 1, 0};
  r.header(g);
  r.put_string(CTRL_ATTR_FAMILY_NAME, "nl80211");
  r.set_seq(42);
  auto b = r.bytes();
  REQUIRE(b.size() == 16 + 4 + 12);
  uint32_t len, seq;
  uint16_t flags;
  std::memcpy(&len, b.data(), 4);
  std::memcpy(&flags, b.data() + 6, 2);
  std::memcpy(&seq, b.data() + 8, 4);
  CHECK(len == b.size());
  CHECK(flags == NLM_F_REQUEST);
  CHECK(seq == 42);
  CHECK(std::memcmp(b.data() + 24, "nl80211", 8) == 0);

  Request big(1, 0);
  for (int i = 0; i < 40; ++i) big.put_u32(1, 1);
  CHECK(big.overflowed());
  auto t = std::make_unique<ReplayTransport>();
  Client c(std::move(t));
  auto ignore = [](const Message&) {};
  CHECK(c.request(big, ignore).error == EMSGSIZE);
}

TEST_CASE("netlink: a dump is read across datagrams until DONE", "[netlink]") {
  auto transport = std::make_unique<ReplayTransport>();
  ReplayTransport& t = *transport;
  std::vector<uint8_t> reply;
  for (uint16_t i = 0; i < 5; ++i) {
    auto m = message(static_cast<uint16_t>(200 + i), NLM_F_MULTI, 0, {1, 2, 3, 4});
    reply.insert(reply.end(), m.begin(), m.end());
  }
  auto d = done();
  reply.insert(reply.end(), d.begin(), d.end());
  t.script = {reply};
  t.messages_per_datagram = 2;
  Client c(std::move(transport));
  std::vector<uint16_t> types;
  auto collect = [&](const Message& m) { types.push_back(m.type); };
  Request r(1, NLM_F_DUMP);
  Result res = c.request(r, collect);
  CHECK(res.ok());
  CHECK(types == std::vector<uint16_t>{200, 201, 202, 203, 204});

  SECTION("a late reply of an earlier request is skipped") {
    // The transport stamps the current seq where a message has 0.
    std::vector<uint8_t> with_stale = message(300, NLM_F_MULTI, 999, {});
    with_stale.insert(with_stale.end(), reply.begin(), reply.end());
    t.script = {with_stale};
    types.clear();
    CHECK(c.request(r, collect).ok());
    CHECK(types.size() == 5);
  }
  SECTION("a dump that failed half-way reports the kernel's error") {
    auto first = message(200, NLM_F_MULTI, 0, {1, 2, 3, 4});
    auto failed = done(-EINTR);
    first.insert(first.end(), failed.begin(), failed.end());
    t.script = {first};
    CHECK(c.request(r, collect).error == EINTR);
  }
  SECTION("an error answer") {
    std::vector<uint8_t> p(20, 0);
    const int32_t e = -ENODEV;
    std::memcpy(p.data(), &e, 4);
    t.script = {message(NLMSG_ERROR, 0, 0, p)};
    CHECK(c.request(r, collect).error == ENODEV);
  }
  SECTION("a cut message is reported, what came before counts") {
    std::vector<uint8_t> cut(reply.begin(), reply.begin() + 20 + 10);
    t.script = {cut};
    types.clear();
    Result res2 = c.request(r, collect);
    CHECK(res2.truncated);
    CHECK(types.size() == 1);
  }
  SECTION("no answer at all is a timeout, not a hang") {
    t.script = {std::vector<uint8_t>{}};
    CHECK(c.request(r, collect).error == EAGAIN);
  }
}

TEST_CASE("netlink: a transport that claims more bytes than the buffer holds is refused",
          "[netlink]") {
  // The receive buffer is not zero-filled: a length past it would be read as
  // messages. Both real transports cut at the buffer; this one lies.
  struct Liar final : Transport {
    int send(std::span<const uint8_t>) override { return 0; }
    ssize_t receive(std::span<uint8_t> buffer) override {
      return static_cast<ssize_t>(buffer.size() + 64);
    }
  };
  Client c(std::make_unique<Liar>(), 256);
  Request r(1, NLM_F_DUMP);
  size_t seen = 0;
  CHECK(c.request(r, [&](const Message&) { ++seen; }).error == EMSGSIZE);
  CHECK(seen == 0);
}

TEST_CASE("netlink: the nl80211 family is resolved, or found absent", "[netlink]") {
  auto transport = std::make_unique<ReplayTransport>();
  ReplayTransport& t = *transport;
  t.script = {read_fixture("ctrl-nl80211.bin")};
  Client c(std::move(transport));
  CHECK(resolve_family(c, "nl80211") == 0x1c);
  t.script = {read_fixture("ctrl-enoent.bin")};
  CHECK(resolve_family(c, "nl80211") == 0);
}

TEST_CASE("netlink: the kernel answers a real socket", "[netlink]") {
  // Not a fixture: the live rtnetlink of this machine (every kernel has lo).
  auto socket = std::make_unique<SocketTransport>();
  REQUIRE(socket->open(NETLINK_ROUTE) == 0);
  Client c(std::move(socket));
  Request r(18 /* RTM_GETLINK */, NLM_F_DUMP);
  const uint8_t ifinfo[16] = {};
  r.header(ifinfo);
  int links = 0;
  auto count = [&](const Message& m) { links += m.type == 16 /* RTM_NEWLINK */; };
  CHECK(c.request(r, count).ok());
  CHECK(links >= 1);
}
