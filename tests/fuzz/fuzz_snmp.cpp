// Any answer an SNMP device could give: bytes become variable bindings of
// every column and scalar the agent polls (any type, any value, any row) and
// go through the device model twice (counters, rates, reboots); the same
// bytes are device text (sysName, ifName) for the sanitizers. Traps when a
// name or a text that leaves the model is unsafe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "snmp/snmp_model.hpp"

using namespace classroom;
using namespace classroom::drivers::snmp;

namespace {

struct Sink final : drivers::MetricSink {
  uint32_t n = 0;
  MetricId declare(std::string_view name, MetricType, std::string_view) override {
    for (char c : name)
      if (static_cast<unsigned char>(c) < 0x20 || c == '+' || c == '#') __builtin_trap();
    return n++;
  }
  void put(MetricId id, Value v) override {
    if (id >= n) __builtin_trap();
    if (auto* s = std::get_if<std::string>(&v)) {
      if (s->size() > 255) __builtin_trap();
      for (char c : *s)
        if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string clean = sanitize_text(text, 64);
  if (clean.size() > 64) __builtin_trap();
  const std::string name = interface_name(text, 7);
  if (name.find('/') != std::string::npos || name.size() > 64) __builtin_trap();
  parse_oid(text);

  const PollPlan plan = plan_for({true, true, true, true});
  std::vector<Oid> oids = plan.gets;
  for (const Oid& c : plan.columns) oids.push_back(c);
  std::vector<VarBind> vars;
  size_t i = 0;
  while (i + 3 <= size) {
    const uint8_t kind = data[i], which = data[i + 1], row = data[i + 2];
    i += 3;
    VarBind vb;
    vb.oid = oids[which % oids.size()];
    if (which / oids.size() % 2) vb.oid.push_back(row);  // a row of a column, or a stray OID
    vb.value.type = static_cast<SnmpValue::Type>(kind % 9);
    uint64_t v = 0;
    for (int k = 0; k < 8 && i < size; ++k, ++i) v = v << 8 | data[i];
    vb.value.u = v;
    vb.value.i = static_cast<int64_t>(v);
    const size_t len = std::min<size_t>(kind / 9 % 32, size - i);
    vb.value.s.assign(reinterpret_cast<const char*>(data + i), len);
    i += len;
    vars.push_back(std::move(vb));
  }
  ModelOptions o;
  o.profiles = {true, true, true, true};
  o.include = {"*"};
  DeviceModel model(o);
  Sink sink;
  model.apply(vars, 0, sink);
  model.apply(vars, 1000, sink);
  return 0;
}
