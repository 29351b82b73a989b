// The operator's view of a broker: Sparkplug B messages from any number of
// edge nodes decoded into plain values, with aliases resolved from the births
// seen so far. Everything here comes from the broker, so everything is hostile:
// topics and payloads are validated, tables are bounded, and text is kept raw
// here and escaped only where it is printed (format.hpp). Pure: no MQTT, no
// clock; tested on hostile payloads and fuzzed (tests/fuzz/fuzz_console.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metric.hpp"

namespace org::eclipse::tahu::protobuf {
class Payload_Metric;
}

namespace classroom::console {

enum class MessageType { nbirth, ndeath, ndata, ncmd, dbirth, ddeath, ddata, dcmd, state };
std::string_view to_string(MessageType type);

// spBv1.0/<group>/<TYPE>/<node>[/<device>], or spBv1.0/STATE/<host> (node =
// the host id). Ids are non-empty and at most kMaxIdBytes.
struct Topic {
  MessageType type = MessageType::ndata;
  std::string group, node, device;
  bool is_device() const { return !device.empty(); }
  // "school-a/room-6a" or "school-a/room-6a/switch-6a" (raw, unescaped).
  std::string path() const;
};
inline constexpr size_t kMaxIdBytes = 256;

// nullopt with `why` set when the topic is not one of the above.
std::optional<Topic> parse_topic(std::string_view topic, std::string& why);

// One metric as received. Non-scalar values (bytes, data sets, templates) have
// no `value`; `placeholder` says what they were ("17 bytes", "data set").
struct DecodedMetric {
  std::string name;  // from the metric or, for an alias, from the birth; empty if unknown
  bool has_alias = false;
  uint64_t alias = 0;
  uint32_t datatype = 0;  // Sparkplug DataType number (0: unknown)
  std::string unit;       // engUnit, from the metric or its birth
  Value value;            // monostate: null or not a scalar
  std::string placeholder;
  bool is_null = false;
  bool historical = false;
  uint64_t timestamp = 0;  // ms since the epoch; 0 when absent
};

struct Decoded {
  Topic topic;
  std::string error;  // set when the payload is not Sparkplug B: why (no payload text)
  size_t payload_bytes = 0;
  bool has_seq = false;
  uint64_t seq = 0;
  uint64_t timestamp = 0;
  std::vector<DecodedMetric> metrics;
  size_t metrics_cut = 0;  // metrics past kMaxMetricsShown, not decoded
  // A birth's or a death's bdSeq metric.
  std::optional<uint64_t> bdseq;
  // Data from a node or device whose birth was not seen (or with an alias its
  // birth did not define): asking the node for a rebirth would help.
  bool birth_missing = false;
  // STATE messages: the JSON text of the host (raw, bounded to 1 KiB).
  std::string state_text;
};

struct Limits {
  size_t max_nodes = 100'000;             // nodes whose aliases are remembered
  size_t max_devices_per_node = 1'024;    // devices remembered per node
  size_t max_aliases_per_owner = 10'000;  // aliases remembered per node or device
  size_t max_name_bytes = 1'024;          // longer names are kept cut
  size_t max_metrics_shown = 10'000;      // metrics decoded per message
};

// What a decoder keeps of the births it sees: alias tables only for the nodes
// and devices, and only the metrics, that its user will show, so a console
// watching one district of a national broker holds one district's aliases,
// and `fleet` only the aliases of the metrics in its table. Unset functions
// keep everything.
struct Interest {
  // A node (device empty) or a device whose aliases are kept; for the others,
  // nothing is kept and their data is not reported as missing a birth.
  std::function<bool(const Topic&)> owner;
  // A metric whose alias is kept (and, with only_these, decoded at all).
  std::function<bool(std::string_view name)> metric;
  // Leave the other metrics out of Decoded::metrics (fleet: no work for the
  // thousands of metrics a birth carries that its table does not show).
  bool only_these = false;
};

// Sparkplug's DataType names ("Float", "UInt64"); "Unknown" for the rest.
std::string_view datatype_name(uint32_t datatype);

// The NCMD payload that asks a node for a rebirth: metric Node Control/Rebirth,
// Boolean true, stamped `now_ms`.
std::string rebirth_request(uint64_t now_ms);

class Decoder {
 public:
  explicit Decoder(Limits limits = {}, Interest interest = {})
      : limits_(limits), interest_(std::move(interest)) {}

  // Decodes one message. Births (re)define the aliases of their node or device:
  // an NBIRTH starts a new session of the node (its devices' aliases are
  // forgotten until their DBIRTH), a DBIRTH one of the device.
  Decoded decode(std::string_view topic, std::string_view payload);
  // Same, for a topic already parsed.
  Decoded decode(Topic topic, std::string_view payload);

  size_t nodes() const { return nodes_.size(); }
  // Aliases remembered, over every node and device.
  size_t aliases() const;
  // Births that could not be remembered (a table was full).
  uint64_t not_remembered() const { return not_remembered_; }

 private:
  // One alias of a birth: 24 bytes, its name and unit interned (a fleet's
  // nodes share their metric names).
  struct Known {
    uint64_t alias = 0;
    uint32_t name = 0, unit = 0;
    uint32_t datatype = 0;
  };
  struct Owner {
    bool born = false;
    bool partial = false;        // the birth had metrics of no interest: not remembered
    std::vector<Known> aliases;  // sorted by alias
    const Known* find(uint64_t alias) const;
  };
  struct Node {
    Owner self;
    std::unordered_map<std::string, Owner> devices;
  };
  // Names and units, each kept once. Bounded: when full, an alias with a new
  // name is not remembered.
  class Names {
   public:
    static constexpr uint32_t kNone = UINT32_MAX;
    uint32_t id(std::string_view text);  // kNone when full
    const std::string& text(uint32_t id) const { return texts_[id]; }

   private:
    std::deque<std::string> texts_;  // stable: index_ holds views of them
    std::unordered_map<std::string_view, uint32_t> index_;
    size_t bytes_ = 0;
  };
  Owner* owner_for(const Topic& t, bool create);

  // Whose aliases a message defines (a birth) or uses (data, commands).
  struct Session {
    bool birth = false;
    bool data = false;
    bool wanted = false;  // a node or device of interest
    Owner* owner = nullptr;
    Owner* node_owner = nullptr;  // a device's aliases are unique across its node too
  };
  // The steps of decode(): find the owners of the message's aliases, decode
  // each metric (naming it by its alias, remembering the aliases a birth
  // defines), then sort the birth's table for lookups.
  Session find_owners(const Topic& t, Decoded& d);
  // False when the metric is of no interest and left out.
  bool decode_metric(const org::eclipse::tahu::protobuf::Payload_Metric& m, const Session& s,
                     MessageType type, Decoded& d, DecodedMetric& out);
  const Known* resolve_alias(uint64_t alias, const Session& s, Decoded& d) const;
  void remember_alias(Owner& owner, const DecodedMetric& out, bool of_interest);
  static void sort_aliases(Owner& owner);

  Limits limits_;
  Interest interest_;
  Names names_;
  std::unordered_map<std::string, Node> nodes_;  // "<group>/<node>"
  uint64_t not_remembered_ = 0;
};

}  // namespace classroom::console
