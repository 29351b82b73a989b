#include "session/commands.hpp"

#include <algorithm>

#include "printable.hpp"

namespace classroom::commands {
namespace {

// Names from the broker are shown escaped and bounded.
constexpr size_t kNameShown = 64;

std::string who(DeviceId owner, const Catalog& catalog) {
  return owner == kNode ? "this node"
                        : "device " + text::printable(catalog.device_name(owner), kNameShown);
}

std::string type_name(DataType type) {
  return std::string(to_string(type)) + " (" + std::to_string(static_cast<uint32_t>(type)) + ")";
}

// The value a command carries for a control of `type`, read from the field
// that type uses; a Boolean also from a number (non-zero is true), as some
// hosts encode it. Monostate when there is none.
Value command_value(const sparkplug::PbMetric& m, DataType type) {
  if (m.is_null()) return {};
  if (type == DataType::Boolean) {
    if (m.has_boolean_value()) return m.boolean_value();
    if (m.has_int_value()) return m.int_value() != 0;
    if (m.has_long_value()) return m.long_value() != 0;
    return {};
  }
  return sparkplug::get_value(m, type);
}

// What metric `m` of a command names: the control's name and type (the
// Rebirth of the node is the NBIRTH's own, not in the catalog).
struct Target {
  std::string_view name;
  DataType type;
};

std::optional<Target> target_of(const sparkplug::PbMetric& m, DeviceId owner,
                                const Catalog& catalog, std::string& error) {
  if (owner == kNode && (m.has_name() ? m.name() == sparkplug::kRebirthMetric
                                      : m.has_alias() && m.alias() == kRebirthAlias))
    return Target{sparkplug::kRebirthMetric, DataType::Boolean};
  std::optional<MetricId> id;
  if (m.has_name())
    id = catalog.find(owner, m.name());
  else if (m.has_alias())
    id = catalog.find_alias(owner, m.alias());
  const std::string named = m.has_name()    ? "\"" + text::printable(m.name(), kNameShown) + "\""
                            : m.has_alias() ? "alias " + std::to_string(m.alias())
                                            : "a metric without a name or alias";
  if (!id || catalog.at(*id).retired) {
    error = named + " is not a command of " + who(owner, catalog);
    return std::nullopt;
  }
  const CatalogEntry& e = catalog.at(*id);
  if (!e.control) {
    error = named + " is a measurement of " + who(owner, catalog) + ", not a command";
    return std::nullopt;
  }
  return Target{e.name, e.type};
}

std::optional<Action> read_action(const sparkplug::PbMetric& m, DeviceId owner,
                                  const Catalog& catalog, std::string& error) {
  const std::optional<Target> t = target_of(m, owner, catalog, error);
  if (!t) return std::nullopt;
  const std::string name(t->name);
  // A command SHOULD NOT carry a datatype (tck-id-payloads-metric-datatype-not-req).
  if (m.datatype() != 0 && m.datatype() != static_cast<uint32_t>(t->type)) {
    error = name + " with datatype " + std::to_string(m.datatype()) + "; it takes " +
            type_name(t->type) + " or none";
    return std::nullopt;
  }
  const Value value = command_value(m, t->type);
  if (std::holds_alternative<std::monostate>(value)) {
    error = name + " without a" + (t->type == DataType::Int64 ? "n " : " ") +
            std::string(to_string(t->type)) + " value";
    return std::nullopt;
  }
  Action a;
  if (t->name == sparkplug::kRebirthMetric) {
    a.kind = Kind::rebirth;
  } else if (t->name == kNextServer) {
    a.kind = Kind::next_server;
  } else if (t->name == kReload) {
    a.kind = Kind::reload;
  } else if (t->name == kDeviceRebirth) {
    a.kind = Kind::device_rebirth;
  } else if (t->name == kScanRate) {
    a.kind = Kind::scan_rate;
    a.scan_rate_ms = std::get<int64_t>(value);
    if (a.scan_rate_ms < kScanRateMinMs || a.scan_rate_ms > kScanRateMaxMs) {
      error = name + " = " + std::to_string(a.scan_rate_ms) + " ms: out of range (" +
              std::to_string(kScanRateMinMs) + " to " + std::to_string(kScanRateMaxMs) + " ms)";
      return std::nullopt;
    }
    return a;
  } else if (t->name == kProbeNow) {
    a.kind = Kind::probe_now;
    a.probe = std::get<std::string>(value);
    if (a.probe.empty() || a.probe.size() > kMaxProbeName) {
      error = name + " with a name of " + std::to_string(a.probe.size()) +
              " bytes; a probe's name has 1 to " + std::to_string(kMaxProbeName);
      return std::nullopt;
    }
    return a;
  } else {
    error = name + " is not a command the agent knows";  // a control of a newer version
    return std::nullopt;
  }
  a.yes = std::get<bool>(value);
  return a;
}

}  // namespace

MetricId declare_node(Catalog& catalog, int64_t scan_rate_ms) {
  catalog.declare_control(kNode, kNextServer, DataType::Boolean, "", false);
  const MetricId scan_rate =
      catalog.declare_control(kNode, kScanRate, DataType::Int64, "ms", scan_rate_ms);
  catalog.declare_control(kNode, kProbeNow, DataType::String, "", std::string());
  catalog.declare_control(kNode, kReload, DataType::Boolean, "", false);
  return scan_rate;
}

void declare_device(Catalog& catalog, DeviceId device) {
  catalog.declare_control(device, kDeviceRebirth, DataType::Boolean, "", false);
}

std::optional<DeviceId> owner_of(std::string_view topic, const sparkplug::Topics& topics,
                                 const Catalog& catalog, std::string& error) {
  if (topic == topics.ncmd) return kNode;
  // spBv1.0/<group>/DCMD/<node>/+ : the prefix, then the device.
  const std::string_view prefix = std::string_view(topics.dcmd).substr(0, topics.dcmd.size() - 1);
  if (topic.size() > prefix.size() && topic.substr(0, prefix.size()) == prefix) {
    const std::string_view device = topic.substr(prefix.size());
    if (device.find('/') == std::string_view::npos) {
      if (std::optional<DeviceId> d = catalog.find_device(device); d && *d != kNode) return d;
      error = "this node has no device \"" + text::printable(device, kNameShown) + "\"";
      return std::nullopt;
    }
  }
  error.clear();  // not a command at all
  return std::nullopt;
}

std::optional<Command> parse(std::string_view bytes, DeviceId owner, const Catalog& catalog,
                             std::string& error) {
  Command cmd;
  cmd.owner = owner;
  if (bytes.empty()) {
    cmd.empty = true;
    return cmd;
  }
  if (bytes.size() > kMaxBytes) {
    error = "a command of " + std::to_string(bytes.size()) + " bytes; one has at most " +
            std::to_string(kMaxBytes);
    return std::nullopt;
  }
  sparkplug::Payload payload;
  if (!payload.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    error = "not a Sparkplug B payload (" + std::to_string(bytes.size()) + " bytes)";
    return std::nullopt;
  }
  if (payload.metrics_size() == 0) {
    cmd.empty = true;
    return cmd;
  }
  if (payload.metrics_size() > kMaxMetrics) {
    error = std::to_string(payload.metrics_size()) + " metrics; a command has at most " +
            std::to_string(kMaxMetrics);
    return std::nullopt;
  }
  for (const sparkplug::PbMetric& m : payload.metrics()) {
    std::optional<Action> a = read_action(m, owner, catalog, error);
    if (!a) return std::nullopt;
    cmd.actions.push_back(std::move(*a));
  }
  return cmd;
}

std::string describe(const Action& a) {
  switch (a.kind) {
    case Kind::rebirth:
      return std::string(sparkplug::kRebirthMetric) + (a.yes ? " = true" : " = false");
    case Kind::next_server:
      return std::string(kNextServer) + (a.yes ? " = true" : " = false");
    case Kind::reload:
      return std::string(kReload) + (a.yes ? " = true" : " = false");
    case Kind::device_rebirth:
      return std::string(kDeviceRebirth) + (a.yes ? " = true" : " = false");
    case Kind::scan_rate:
      return std::string(kScanRate) + " = " + std::to_string(a.scan_rate_ms) + " ms";
    case Kind::probe_now:
      return std::string(kProbeNow) + " = \"" + text::printable(a.probe, kMaxProbeName) + "\"";
  }
  return "?";
}

bool RateLimit::take(int64_t now_ms) {
  if (at_ms_ != INT64_MIN)
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - at_ms_) * rate_ / 1000.0);
  at_ms_ = now_ms;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace classroom::commands
