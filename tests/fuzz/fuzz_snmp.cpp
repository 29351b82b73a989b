// Any answer an SNMP device could give: bytes become variable bindings of
// every column and scalar the agent polls (any type, any value, any row) and
// go through the device model twice (counters, rates, reboots); the same
// bytes are device text (sysName, ifName) for the sanitizers. Traps when a
// name or a text that leaves the model is unsafe.
// The same answers go through the profiles written as tables (every built-in
// one of drivers/snmp/profiles.toml, picked by "auto" from the answer, then
// applied three times, the third after a reboot) into a real catalog, whose
// index by name must find every metric declared, through rows that retire
// and names that are forgotten past the device's limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "snmp/snmp_model.hpp"
#include "snmp/snmp_profile.hpp"

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

// The built-in profiles as the model reads them, made once.
const std::vector<SharedSpec>& builtin() {
  static const std::vector<SharedSpec> specs = [] {
    std::vector<SharedSpec> out;
    for (const config::SnmpProfile& p : config::builtin_snmp_profiles().profiles)
      out.push_back(std::make_shared<const ProfileSpec>(profile_spec(p)));
    return out;
  }();
  return specs;
}

// A name that leaves the agent: printable, no MQTT wildcards.
void check_name(std::string_view name) {
  if (name.empty()) __builtin_trap();
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == '+' || c == '#') __builtin_trap();
}

// A sink that checks names and values, and keeps them in a real catalog.
struct CatalogSink final : drivers::MetricSink {
  Catalog& catalog;
  DeviceId device;
  CatalogSink(Catalog& c, DeviceId d) : catalog(c), device(d) {}
  MetricId declare(std::string_view name, MetricType type, std::string_view unit) override {
    check_name(name);
    const MetricId id = catalog.declare(device, name, type, unit);
    // The index finds what was just declared, under that name only.
    const auto found = catalog.find(device, name);
    if (!found || *found != id || catalog.at(id).name != name) __builtin_trap();
    return id;
  }
  void put(MetricId id, Value v) override {
    if (id >= catalog.size()) __builtin_trap();
    if (auto* s = std::get_if<std::string>(&v))
      if (s->size() > 255) __builtin_trap();
    catalog.put(id, std::move(v));
  }
};

void fuzz_profiles(const std::vector<VarBind>& answer) {
  const std::vector<SharedSpec>& specs = builtin();
  std::vector<std::vector<size_t>> clashes(specs.size());
  std::string why;
  const std::vector<size_t> picked = choose_auto(specs, clashes, answer, why);
  if (why.empty()) __builtin_trap();
  std::vector<SharedSpec> chosen;
  PollPlan plan;
  for (size_t k : picked) {
    if (k >= specs.size()) __builtin_trap();
    chosen.push_back(specs[k]);
    add_to_plan(*specs[k], plan);
  }
  // Every profile, whatever auto picked: the tables' code sees any answer.
  ProfileModel model(specs);
  Catalog catalog;
  const DeviceId device = catalog.add_device("fuzz");
  catalog.set_retired_limit(device, 16);
  CatalogSink sink(catalog, device);
  for (int round = 0; round < 3; ++round) {
    // The third poll sees half the answer (rows go) after a reboot.
    const std::vector<VarBind> vars =
        round < 2
            ? answer
            : std::vector<VarBind>(answer.begin(),
                                   answer.begin() + static_cast<std::ptrdiff_t>(answer.size() / 2));
    std::string warning;
    model.apply(vars, 1000 * round, round == 2, sink, warning);
    if (model.retired()) {
      catalog.mark_unseen(device);
      model.declare_all(sink);
      catalog.retire_unseen(device);
    }
    for (const std::string& s : model.not_served()) check_name(s);
  }
  // Every metric still published is found by its name.
  for (MetricId id = 0; id < catalog.size(); ++id) {
    const CatalogEntry& e = catalog.at(id);
    if (e.retired) continue;
    const auto found = catalog.find(device, e.name);
    if (!found || *found != id) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string clean = sanitize_text(text, 64);
  if (clean.size() > 64) __builtin_trap();
  const std::string name = interface_name(text, 7);
  if (name.find('/') != std::string::npos || name.size() > 64) __builtin_trap();
  parse_oid(text);

  PollPlan plan = plan_for({true, true, true, true});
  for (const SharedSpec& p : builtin()) add_to_plan(*p, plan);
  plan.gets.push_back(kSysObjectId);
  std::vector<Oid> oids = plan.gets;
  for (const Oid& c : plan.columns) oids.push_back(c);
  std::vector<VarBind> vars;
  size_t i = 0;
  while (i + 4 <= size) {
    // Two bytes pick the OID: the profiles' columns are more than 256.
    const uint8_t kind = data[i], row = data[i + 3];
    const size_t which = size_t{data[i + 1]} | size_t{data[i + 2]} << 8;
    i += 4;
    VarBind vb;
    vb.oid = oids[which % oids.size()];
    // A row of a column (one or two index parts), or a stray OID.
    if (which / oids.size() % 2) {
      vb.oid.push_back(row & 0x7f);
      if (row & 0x80) vb.oid.push_back(row & 0x0f);
    }
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
  fuzz_profiles(vars);
  return 0;
}
