// Any bytes as what the network hands the probes: an ICMP(v6) packet (with and
// without an IPv4 header), a DNS answer, a certificate date, a log line's text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "printable.hpp"
#include "probes/dns.hpp"
#include "probes/http.hpp"
#include "probes/icmp.hpp"

using namespace classroom::drivers::probes;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  EchoReply r{};
  for (bool v6 : {false, true})
    for (bool raw : {false, true}) parse_echo_reply(data, size, v6, raw, r);
  for (bool aaaa : {false, true}) {
    auto n = count_answers(data, static_cast<int>(size), aaaa);
    if (n && *n > 64) __builtin_trap();  // never more than the parser's bound
  }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  parse_cert_time(text);
  const std::string escaped = classroom::text::printable(text, 200);
  for (char c : escaped)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      __builtin_trap();  // nothing unprintable reaches a log line
  return 0;
}
