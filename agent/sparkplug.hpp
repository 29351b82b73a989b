// Sparkplug B: the codec (values <-> protobuf metrics) and the pure parts of an
// edge node's session (topics, seq, bdSeq, births, deaths, data, commands).
// No MQTT here: tested without a broker.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "catalog.hpp"
#include "metric.hpp"
#include "sparkplug_b.pb.h"

namespace classroom::sparkplug {

using Payload = org::eclipse::tahu::protobuf::Payload;
using PbMetric = org::eclipse::tahu::protobuf::Payload::Metric;

inline constexpr std::string_view kRebirthMetric = "Node Control/Rebirth";
inline constexpr std::string_view kBdSeqMetric = "bdSeq";

struct Topics {
  Topics(const std::string& group, const std::string& node);
  std::string nbirth, ndeath, ndata, ncmd;
};

// Stores `value` (of `type`) in the metric's value field, or is_null for no value.
void set_value(PbMetric& metric, DataType type, const Value& value);
// Reads the metric's value as `type` would hold it; monostate if null or absent.
Value get_value(const PbMetric& metric, DataType type);

// seq: 0..255, +1 per NBIRTH/NDATA, wrapping.
class Sequence {
 public:
  // Starts a new birth: returns 0.
  uint64_t birth() {
    next_ = 1;
    return 0;
  }
  uint64_t next() {
    uint64_t s = next_;
    next_ = (next_ + 1) % 256;
    return s;
  }

 private:
  uint64_t next_ = 0;
};

// bdSeq 0..255; next after 255 is 0.
inline uint64_t next_bdseq(uint64_t bdseq) {
  return (bdseq + 1) % 256;
}

// NDEATH (also the MQTT Will): only the bdSeq metric, no seq.
void build_death(Payload& out, uint64_t bdseq, int64_t ts_ms);

// NBIRTH: seq 0, bdSeq, Node Control/Rebirth = false, and every catalog metric
// with name, alias, datatype, timestamp, value (or is_null) and engUnit.
void build_birth(Payload& out, const Catalog& catalog, uint64_t bdseq, int64_t ts_ms);

// A spool record: the given metrics with name, datatype, timestamp and value.
// Self-describing, so it can be published in a later session whose aliases
// differ (after a restart).
void build_record(Payload& out, const Catalog& catalog, std::span<const MetricId> ids,
                  int64_t ts_ms);

// Turns a parsed spool record into NDATA in place: names become aliases, the
// datatype is kept (see sparkplug.cpp) (a name
// the catalog does not know is declared in it, bumping its generation, so the
// caller must rebirth first) and historical data is flagged. The caller sets seq.
void record_to_data(Payload& record, Catalog& catalog, bool historical);

// An NCMD addressed to this node.
struct Command {
  bool empty = false;  // no bytes, or a payload without metrics
  bool rebirth = false;
  // The metrics this node does not support, escaped and bounded for a log
  // line ("Node Control/Reboot, alias 7 and 3 more"); empty when none.
  std::string unsupported;
};
// Parses an NCMD payload; nullopt with `error` set when it is malformed (not
// Sparkplug B, or a Node Control/Rebirth that is not a Boolean metric with a
// boolean value). `error` never holds unescaped text from the payload.
std::optional<Command> parse_command(std::string_view bytes, std::string& error);

}  // namespace classroom::sparkplug
