// Any topic and payload from a broker, as `classroom-agent tail` and `fleet`
// take them: decoded or refused with a reason, and whatever is printed (lines
// and JSON) holds no control character but the newline that ends each line.
// Input: the topic, a NUL byte, the payload. The decoder and the fleet live
// across inputs, so births learnt from one input meet data of the next.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "console/decoder.hpp"
#include "console/fleet.hpp"
#include "console/format.hpp"

namespace {

void check_printable(const std::string& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c == '\n' && (i + 1 == out.size() || out[i + 1] != '\n')) continue;
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace classroom::console;
  static Decoder decoder(Limits{64, 8, 256, 128, 512});
  // As fleet --group 'a*' decodes: the group's nodes only, the table's metrics only.
  static const Filter district{{"a*"}, {}, {}, {}};
  static Decoder narrow(
      Limits{64, 8, 64, 128, 512},
      Interest{[](const Topic& t) { return district.node_passes(t); },
               [](std::string_view name) { return Fleet::shows_metric(name); }, true});
  static Fleet fleet(64, 8);
  static int64_t now = 1'800'000'000'000;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view topic = in.substr(0, nul);
  const std::string_view payload = nul == std::string_view::npos ? "" : in.substr(nul + 1);

  const Decoded n = narrow.decode(topic, payload);
  for (const DecodedMetric& m : n.metrics)
    if (!m.name.empty() && m.name != "bdSeq" && !Fleet::shows_metric(m.name)) __builtin_trap();
  const Decoded d = decoder.decode(topic, payload);
  if (d.topic.node.empty() && d.error.empty()) __builtin_trap();  // refused without a reason
  std::string out;
  format_lines(d, Filter{}, now, true, out);
  check_printable(out);
  out.clear();
  format_json(d, Filter{}, now, out);
  check_printable(out);
  fleet.observe(d, now += 1000);
  for (const std::string& line :
       render(fleet, RenderOptions{Fleet::Sort::state, now, 5000, 0, 0, false, ""}))
    check_printable(line);
  return 0;
}
