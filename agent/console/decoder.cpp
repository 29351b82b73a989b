#include "console/decoder.hpp"

#include <algorithm>

#include "sparkplug_b.pb.h"

namespace classroom::console {
namespace {

using Payload = org::eclipse::tahu::protobuf::Payload;
using PbMetric = Payload::Metric;

constexpr std::string_view kPrefix = "spBv1.0/";
constexpr size_t kMaxUnitBytes = 32;
constexpr size_t kMaxStateBytes = 1024;
// The names and units interned: past this, aliases with new names are not remembered.
constexpr size_t kMaxNameTableBytes = 64u << 20;

struct TypeName {
  std::string_view name;
  MessageType type;
  bool device;
};
constexpr TypeName kTypes[] = {
    {"NBIRTH", MessageType::nbirth, false}, {"NDEATH", MessageType::ndeath, false},
    {"NDATA", MessageType::ndata, false},   {"NCMD", MessageType::ncmd, false},
    {"DBIRTH", MessageType::dbirth, true},  {"DDEATH", MessageType::ddeath, true},
    {"DDATA", MessageType::ddata, true},    {"DCMD", MessageType::dcmd, true},
};

// Sparkplug forbids + / # in ids; a topic name cannot hold a wildcard anyway.
bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdBytes &&
         id.find_first_of("+#") == std::string_view::npos;
}

std::string cut(std::string_view s, size_t max) {
  return std::string(s.substr(0, max));
}

// The engUnit property of a metric, if it has one as a string.
std::string unit_of(const PbMetric& m) {
  if (!m.has_properties()) return {};
  const auto& p = m.properties();
  const int n = std::min(p.keys_size(), p.values_size());
  for (int i = 0; i < n; ++i)
    if (p.keys(i) == "engUnit" && p.values(i).has_string_value())
      return cut(p.values(i).string_value(), kMaxUnitBytes);
  return {};
}

// The metric's value as the datatype reads it: a signed type sign-extends
// from its width, whatever field actually holds the number.
void read_value(const PbMetric& m, uint32_t datatype, DecodedMetric& out) {
  switch (m.value_case()) {
    case PbMetric::kIntValue: {
      const uint32_t v = m.int_value();
      if (datatype == 1)
        out.value = static_cast<int64_t>(static_cast<int8_t>(v));
      else if (datatype == 2)
        out.value = static_cast<int64_t>(static_cast<int16_t>(v));
      else if (datatype == 3)
        out.value = static_cast<int64_t>(static_cast<int32_t>(v));
      else
        out.value = static_cast<uint64_t>(v);
      break;
    }
    case PbMetric::kLongValue:
      if (datatype == 4)
        out.value = static_cast<int64_t>(m.long_value());
      else
        out.value = static_cast<uint64_t>(m.long_value());
      break;
    case PbMetric::kFloatValue:
      out.value = m.float_value();
      break;
    case PbMetric::kDoubleValue:
      out.value = m.double_value();
      break;
    case PbMetric::kBooleanValue:
      out.value = m.boolean_value();
      break;
    case PbMetric::kStringValue:
      out.value = m.string_value();  // bounded by the message size; escaped when shown
      break;
    case PbMetric::kBytesValue:
      out.placeholder = std::to_string(m.bytes_value().size()) + " bytes";
      break;
    case PbMetric::kDatasetValue:
      out.placeholder = "data set";
      break;
    case PbMetric::kTemplateValue:
      out.placeholder = "template";
      break;
    case PbMetric::kExtensionValue:
      out.placeholder = "extension";
      break;
    case PbMetric::VALUE_NOT_SET:
      if (!m.is_null()) out.placeholder = "no value";
      break;
  }
}

// A birth's or death's bdSeq, whichever integer type carries it.
void read_bdseq(const DecodedMetric& m, Decoded& d) {
  if (const uint64_t* v = std::get_if<uint64_t>(&m.value))
    d.bdseq = *v;
  else if (const int64_t* s = std::get_if<int64_t>(&m.value))
    d.bdseq = static_cast<uint64_t>(*s);
}

}  // namespace

std::string_view to_string(MessageType type) {
  if (type == MessageType::state) return "STATE";
  for (const TypeName& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

std::string Topic::path() const {
  std::string p = group + "/" + node;
  if (!device.empty()) p += "/" + device;
  return p;
}

std::optional<Topic> parse_topic(std::string_view topic, std::string& why) {
  if (topic.substr(0, kPrefix.size()) != kPrefix) {
    why = "not a Sparkplug B topic (spBv1.0/...)";
    return std::nullopt;
  }
  // At most four levels after the prefix: group, type, node, device.
  std::vector<std::string_view> parts;
  std::string_view rest = topic.substr(kPrefix.size());
  for (;;) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    if (parts.size() == 4) {
      why = "too many levels for a Sparkplug B topic";
      return std::nullopt;
    }
    rest = rest.substr(slash + 1);
  }
  Topic t;
  if (parts.size() == 2 && parts[0] == "STATE") {
    if (!valid_id(parts[1])) {
      why = "STATE topic without a valid host id";
      return std::nullopt;
    }
    t.type = MessageType::state;
    t.node = std::string(parts[1]);
    return t;
  }
  if (parts.size() < 3) {
    why = "too few levels for a Sparkplug B topic";
    return std::nullopt;
  }
  const TypeName* type = nullptr;
  for (const TypeName& n : kTypes)
    if (n.name == parts[1]) type = &n;
  if (!type) {
    why = "unknown message type";
    return std::nullopt;
  }
  if (type->device != (parts.size() == 4)) {
    why = type->device ? "device message without a device id" : "node message with a device id";
    return std::nullopt;
  }
  for (std::string_view id : parts) {
    if (!valid_id(id)) {
      why = "an empty, overlong or wildcard id";
      return std::nullopt;
    }
  }
  t.type = type->type;
  t.group = std::string(parts[0]);
  t.node = std::string(parts[2]);
  if (type->device) t.device = std::string(parts[3]);
  return t;
}

std::string_view datatype_name(uint32_t datatype) {
  static constexpr std::string_view names[] = {
      "Unknown", "Int8",  "Int16",  "Int32",    "Int64",       "UInt8",          "UInt16", "UInt32",
      "UInt64",  "Float", "Double", "Boolean",  "String",      "DateTime",       "Text",   "UUID",
      "DataSet", "Bytes", "File",   "Template", "PropertySet", "PropertySetList"};
  if (datatype < std::size(names)) return names[datatype];
  if (datatype <= 34) return "Array";
  return "Unknown";
}

std::string rebirth_request(uint64_t now_ms) {
  Payload p;
  p.set_timestamp(now_ms);
  PbMetric* m = p.add_metrics();
  m->set_name("Node Control/Rebirth");
  m->set_timestamp(now_ms);
  m->set_datatype(11);  // Boolean
  m->set_boolean_value(true);
  return p.SerializeAsString();
}

uint32_t Decoder::Names::id(std::string_view text) {
  if (auto it = index_.find(text); it != index_.end()) return it->second;
  if (bytes_ + text.size() > kMaxNameTableBytes || texts_.size() >= Names::kNone) return kNone;
  texts_.emplace_back(text);
  bytes_ += text.size() + sizeof(std::string);
  const auto id = static_cast<uint32_t>(texts_.size() - 1);
  index_.emplace(texts_.back(), id);
  return id;
}

const Decoder::Known* Decoder::Owner::find(uint64_t alias) const {
  auto it = std::lower_bound(aliases.begin(), aliases.end(), alias,
                             [](const Known& k, uint64_t a) { return k.alias < a; });
  return it != aliases.end() && it->alias == alias ? &*it : nullptr;
}

size_t Decoder::aliases() const {
  size_t n = 0;
  for (const auto& [key, node] : nodes_) {
    n += node.self.aliases.size();
    for (const auto& [name, dev] : node.devices) n += dev.aliases.size();
  }
  return n;
}

Decoder::Owner* Decoder::owner_for(const Topic& t, bool create) {
  const std::string key = t.group + "/" + t.node;
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    if (!create) return nullptr;
    if (interest_.owner) {
      Topic node_topic = t;
      node_topic.device.clear();
      if (!interest_.owner(node_topic)) return nullptr;
    }
    if (nodes_.size() >= limits_.max_nodes) {
      ++not_remembered_;
      return nullptr;
    }
    it = nodes_.emplace(key, Node{}).first;
  }
  Node& node = it->second;
  if (!t.is_device()) return &node.self;
  auto dev = node.devices.find(t.device);
  if (dev == node.devices.end()) {
    if (!create || (interest_.owner && !interest_.owner(t))) return nullptr;
    if (node.devices.size() >= limits_.max_devices_per_node) {
      ++not_remembered_;
      return nullptr;
    }
    dev = node.devices.emplace(t.device, Owner{}).first;
  }
  return &dev->second;
}

Decoded Decoder::decode(std::string_view topic, std::string_view payload) {
  std::string why;
  auto t = parse_topic(topic, why);
  if (!t) {
    Decoded d;
    d.error = why;
    d.payload_bytes = payload.size();
    return d;
  }
  return decode(std::move(*t), payload);
}

Decoded Decoder::decode(Topic topic, std::string_view payload) {
  Decoded d;
  d.topic = std::move(topic);
  d.payload_bytes = payload.size();
  const Topic& t = d.topic;
  if (t.type == MessageType::state) {
    d.state_text = cut(payload, kMaxStateBytes);
    return d;
  }
  Payload p;
  if (!p.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    d.error = "not a Sparkplug B payload (" + std::to_string(payload.size()) + " bytes)";
    return d;
  }
  d.has_seq = p.has_seq();
  d.seq = p.seq();
  d.timestamp = p.timestamp();

  const Session s = find_owners(t, d);
  const int n = p.metrics_size();
  const size_t shown = std::min(static_cast<size_t>(n), limits_.max_metrics_shown);
  d.metrics_cut = static_cast<size_t>(n) - shown;
  d.metrics.reserve(shown);
  for (size_t i = 0; i < shown; ++i) {
    DecodedMetric out;
    if (decode_metric(p.metrics(static_cast<int>(i)), s, t.type, d, out))
      d.metrics.push_back(std::move(out));
  }
  if (s.birth && s.owner) sort_aliases(*s.owner);
  return d;
}

Decoder::Session Decoder::find_owners(const Topic& t, Decoded& d) {
  Session s;
  s.birth = t.type == MessageType::nbirth || t.type == MessageType::dbirth;
  s.data = t.type == MessageType::ndata || t.type == MessageType::ddata;
  // A node or device of no interest has no table, and is not missing a birth.
  s.wanted = !interest_.owner || interest_.owner(t);
  if (s.birth) {
    if (t.type == MessageType::nbirth) {
      // A new session of the node: its devices are born again after it.
      auto it = nodes_.find(t.group + "/" + t.node);
      if (it != nodes_.end()) it->second.devices.clear();
    }
    s.owner = owner_for(t, true);
    if (s.owner) {
      s.owner->born = true;
      s.owner->partial = false;
      s.owner->aliases.clear();
    }
  } else if (s.data || t.type == MessageType::ncmd || t.type == MessageType::dcmd) {
    s.owner = owner_for(t, false);
    if (t.is_device()) {
      Topic node_topic = t;
      node_topic.device.clear();
      s.node_owner = owner_for(node_topic, false);
    }
    if (s.data && s.wanted && (!s.owner || !s.owner->born)) d.birth_missing = true;
  }
  return s;
}

bool Decoder::decode_metric(const PbMetric& m, const Session& s, MessageType type, Decoded& d,
                            DecodedMetric& out) {
  if (m.has_name()) out.name = cut(m.name(), limits_.max_name_bytes);
  const Known* known = nullptr;
  if (!m.has_name() && m.has_alias()) {
    known = resolve_alias(m.alias(), s, d);
    if (known) out.name = names_.text(known->name);
  }
  const bool of_interest =
      !interest_.metric || out.name == "bdSeq" || (!out.name.empty() && interest_.metric(out.name));
  if (interest_.only_these && !of_interest) {
    if (s.birth && s.owner && m.has_alias()) s.owner->partial = true;
    return false;
  }
  out.has_alias = m.has_alias();
  out.alias = m.alias();
  out.is_null = m.is_null();
  out.historical = m.is_historical();
  out.timestamp = m.timestamp();
  out.datatype = m.datatype();
  out.unit = unit_of(m);
  if (known) {
    if (!m.has_datatype()) out.datatype = known->datatype;
    if (out.unit.empty()) out.unit = names_.text(known->unit);
  }
  read_value(m, out.datatype, out);
  if (out.name == "bdSeq" && (s.birth || type == MessageType::ndeath)) read_bdseq(out, d);
  if (s.birth && s.owner && out.has_alias && !out.name.empty())
    remember_alias(*s.owner, out, of_interest);
  return true;
}

const Decoder::Known* Decoder::resolve_alias(uint64_t alias, const Session& s, Decoded& d) const {
  const Known* known = nullptr;
  for (Owner* o : {s.owner, s.node_owner})
    if (o && !known) known = o->find(alias);
  if (!known && s.data && s.wanted && !(s.owner && s.owner->partial)) {
    // An alias its birth did not define (a birth that held metrics of no
    // interest may have defined it: those are not remembered).
    d.birth_missing = true;
  }
  return known;
}

void Decoder::remember_alias(Owner& owner, const DecodedMetric& out, bool of_interest) {
  if (!of_interest) {
    owner.partial = true;
  } else if (owner.aliases.size() < limits_.max_aliases_per_owner) {
    const uint32_t name = names_.id(out.name), unit = names_.id(out.unit);
    if (name != Names::kNone && unit != Names::kNone)
      owner.aliases.push_back(Known{out.alias, name, unit, out.datatype});
    else
      ++not_remembered_;
  } else {
    ++not_remembered_;
  }
}

void Decoder::sort_aliases(Owner& owner) {
  // Sorted for lookups; a later definition of an alias wins, as it did.
  auto& a = owner.aliases;
  std::stable_sort(a.begin(), a.end(),
                   [](const Known& x, const Known& y) { return x.alias < y.alias; });
  auto last = std::unique(a.rbegin(), a.rend(),
                          [](const Known& x, const Known& y) { return x.alias == y.alias; });
  a.erase(a.begin(), last.base());
  a.shrink_to_fit();
}

}  // namespace classroom::console
