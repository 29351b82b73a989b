// A netlink transport for tests: answers each request with the next reply of
// a script (fixture files of kernel replies), stamped with the request's seq
// and cut into datagrams of a few messages each, as the kernel sends a dump.
// It allocates nothing per request once its buffers have grown.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "netlink/netlink.hpp"

inline std::vector<uint8_t> read_fixture(const std::string& name) {
  std::ifstream in(std::string(FIXTURES_DIR) + "/netlink/" + name, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A neighbour dump as the kernel sends it: `devices` devices on interface
// `ifindex`, each with an IPv4 entry and (every other one) an IPv6 entry.
inline std::vector<uint8_t> neighbour_dump(int devices, int ifindex) {
  std::vector<uint8_t> out;
  auto append = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto entry = [&](uint8_t family, uint16_t state, const uint8_t* dst, uint16_t dst_len,
                   const uint8_t* mac) {
    const uint32_t len = 16 + 12 + (4 + ((dst_len + 3) & ~3)) + (4 + 8);
    const uint16_t type = 28 /* RTM_NEWNEIGH */, flags = 2 /* NLM_F_MULTI */;
    const uint32_t zero = 0;
    append(&len, 4), append(&type, 2), append(&flags, 2), append(&zero, 4), append(&zero, 4);
    const uint8_t nd_head[4] = {family, 0, 0, 0};
    const uint8_t nd_tail[4] = {static_cast<uint8_t>(state), static_cast<uint8_t>(state >> 8), 0,
                                1};
    const int32_t index = ifindex;
    append(nd_head, 4), append(&index, 4), append(nd_tail, 4);
    const uint16_t dst_attr[2] = {static_cast<uint16_t>(4 + dst_len), 1 /* NDA_DST */};
    append(dst_attr, 4), append(dst, dst_len);
    while (out.size() % 4) out.push_back(0);
    const uint16_t ll_attr[2] = {10, 2 /* NDA_LLADDR */};
    append(ll_attr, 4), append(mac, 6), out.push_back(0), out.push_back(0);
  };
  for (int i = 0; i < devices; ++i) {
    const uint8_t mac[6] = {
        0x02, 0xca, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    const uint8_t v4[4] = {10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    entry(2 /* AF_INET */, i % 3 ? 0x04 /* STALE */ : 0x02 /* REACHABLE */, v4, 4, mac);
    if (i % 2) {
      uint8_t v6[16] = {0xfe, 0x80};
      v6[14] = static_cast<uint8_t>(i >> 8), v6[15] = static_cast<uint8_t>(i);
      entry(10 /* AF_INET6 */, 0x04, v6, 16, mac);
    }
  }
  const uint32_t len = 20;
  const uint16_t type = 3 /* NLMSG_DONE */, flags = 2;
  const uint32_t zero = 0;
  append(&len, 4), append(&type, 2), append(&flags, 2), append(&zero, 4), append(&zero, 4),
      append(&zero, 4);
  return out;
}

class ReplayTransport final : public classroom::drivers::netlink::Transport {
 public:
  // Replies in order; after the last one the script starts again at `restart_at`.
  std::vector<std::vector<uint8_t>> script;
  size_t restart_at = 0;
  size_t messages_per_datagram = 2;
  size_t requests = 0;
  std::vector<uint8_t> last_request;

  ReplayTransport() {
    current_.reserve(1 << 16);
    last_request.reserve(256);
  }

  int send(classroom::drivers::netlink::Bytes request) override {
    last_request.assign(request.begin(), request.end());
    if (script.empty()) return ECONNREFUSED;
    size_t i = requests++;
    if (i >= script.size() && restart_at < script.size())
      i = restart_at + (i - script.size()) % (script.size() - restart_at);
    const std::vector<uint8_t>& reply = script[i % script.size()];
    current_.assign(reply.begin(), reply.end());
    uint32_t seq;
    std::memcpy(&seq, request.data() + 8, 4);
    // Stamp the seq on every message that has 0 (others play late replies).
    for (size_t at = 0; at + 16 <= current_.size();) {
      uint32_t len, old;
      std::memcpy(&len, current_.data() + at, 4);
      std::memcpy(&old, current_.data() + at + 8, 4);
      if (old == 0) std::memcpy(current_.data() + at + 8, &seq, 4);
      if (len < 16) break;
      at += (len + 3) & ~3u;
    }
    offset_ = 0;
    return 0;
  }

  ssize_t receive(std::span<uint8_t> buffer) override {
    if (offset_ >= current_.size()) return -EAGAIN;
    size_t end = offset_;
    for (size_t n = 0; n < messages_per_datagram && end < current_.size(); ++n) {
      uint32_t len = 0;
      if (end + 4 <= current_.size()) std::memcpy(&len, current_.data() + end, 4);
      const size_t step = (len + 3) & ~size_t{3};
      if (len < 16 || end + step > current_.size()) {
        end = current_.size();  // a cut-off message: hand out the rest as it is
        break;
      }
      end += step;
    }
    const size_t n = end - offset_;
    if (n > buffer.size()) return -EMSGSIZE;
    std::memcpy(buffer.data(), current_.data() + offset_, n);
    offset_ = end;
    return static_cast<ssize_t>(n);
  }

 private:
  std::vector<uint8_t> current_;
  size_t offset_ = 0;
};
