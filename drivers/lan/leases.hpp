// DHCP lease files as the servers write them: dnsmasq's one line per lease,
// ISC dhcpd's dhcpd.leases blocks, and Kea's CSV memfile. Pure functions over
// the file's text and the current time. Only counts leave this code: no
// address or name of a client is kept, returned or logged.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace classroom::drivers::lan {

enum class LeaseFormat { dnsmasq, isc, kea };

struct LeaseCount {
  uint64_t active = 0;              // distinct addresses leased right now
  uint64_t garbled = 0;             // lines (ISC: lease blocks) skipped as unreadable
  uint64_t first_garbled_line = 0;  // 1-based, 0 when none
};

// Counts the active leases in `text` at `now` (seconds since the epoch).
//   dnsmasq: "<expiry> <mac|iaid> <ip> <hostname> [<client-id>]" lines;
//            expiry 0 means infinite; "duid ..." lines are not leases.
//   isc:     `lease <ipv4> { ... }` blocks; the last block of an address
//            wins; active = `binding state active` and `ends` in the future
//            (or `never`). Other blocks (host, failover, ia-na) are skipped.
//   kea:     CSV with a header naming address, valid_lifetime, expire and
//            state; the last row of an address wins; active = state 0,
//            valid_lifetime > 0 and expire in the future.
class LeaseParser {
 public:
  LeaseParser();
  LeaseCount count(LeaseFormat format, std::string_view text, int64_t now);

 private:
  struct Seen {
    std::array<uint8_t, 16> address;
    uint32_t order;
    bool active;
  };
  LeaseCount dnsmasq(std::string_view text, int64_t now);
  LeaseCount isc(std::string_view text, int64_t now);
  LeaseCount kea(std::string_view text, int64_t now);
  uint64_t count_last_per_address();
  std::vector<Seen> seen_;  // reused: no allocation once warm
};

// "2024/01/01 12:00:00" (UTC, as dhcpd writes it) in seconds since the epoch.
bool parse_isc_time(std::string_view date, std::string_view time, int64_t& out);

}  // namespace classroom::drivers::lan
