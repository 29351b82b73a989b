// Sparkplug B: the codec (values <-> protobuf metrics) and the pure parts of an
// edge node's session (topics, seq, bdSeq, births, deaths, data).
// No MQTT here: tested without a broker.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
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
  // The topic filter of every device's commands: spBv1.0/<group>/DCMD/<node>/+
  std::string dcmd;
  // spBv1.0/<group>/<type>/<node>/<device>, type DBIRTH, DDATA or DDEATH.
  std::string device(std::string_view type, std::string_view device) const;

 private:
  std::string group_, node_;
};

// Stores `value` (of `type`) in the metric's value field, or is_null for no value.
void set_value(PbMetric& metric, DataType type, const Value& value);
// Reads the metric's value as `type` would hold it; monostate if null or absent.
Value get_value(const PbMetric& metric, DataType type);

// seq: 0..255, one counter for NBIRTH (0), DBIRTH, NDATA, DDATA and DDEATH,
// +1 per message, wrapping 255 -> 0.
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
  // What next() returns, without taking it (for a message that may not be sent).
  uint64_t peek() const { return next_; }

 private:
  uint64_t next_ = 0;
};

// bdSeq 0..255; next after 255 is 0.
inline uint64_t next_bdseq(uint64_t bdseq) {
  return (bdseq + 1) % 256;
}

// NDEATH (also the MQTT Will): only the bdSeq metric, no seq.
void build_death(Payload& out, uint64_t bdseq, int64_t ts_ms);

// NBIRTH: seq 0, bdSeq, Node Control/Rebirth = false (by name, no alias), and
// every metric the node itself owns with name, alias, datatype, timestamp, value
// (or is_null) and engUnit (left out for a metric without a unit).
void build_birth(Payload& out, const Catalog& catalog, uint64_t bdseq, int64_t ts_ms);

// DBIRTH of `device`: the given seq, and every metric the device owns, described
// as in the NBIRTH (no bdSeq: that is the node's).
void build_device_birth(Payload& out, const Catalog& catalog, DeviceId device, uint64_t seq,
                        int64_t ts_ms);
// DDEATH: a timestamp and the seq, no metrics.
void build_device_death(Payload& out, uint64_t seq, int64_t ts_ms);

// A spool record: the given metrics (all of one owner) with name, datatype,
// timestamp and value. Self-describing, so it can be published in a later
// session whose aliases differ (after a restart). A device's record names the
// device in `uuid` ("DDATA <device_id>"); a node record has no uuid (as every
// record written before devices existed).
void build_record(Payload& out, const Catalog& catalog, std::span<const MetricId> ids,
                  int64_t ts_ms, DeviceId owner = kNode);
// A device's presence as a spool record, so that it stays in order with the
// device's data: uuid "DBIRTH <device_id>" or "DDEATH <device_id>", no metrics,
// the time the device answered again or was given up.
void build_presence_record(Payload& out, std::string_view device, bool online, int64_t ts_ms);

// What a spool record is, from its uuid.
struct RecordKind {
  enum Kind { node_data, device_data, device_birth, device_death, unknown };
  Kind kind = node_data;
  std::string_view device;  // into the payload's uuid; empty for the node
};
RecordKind record_kind(const Payload& record);

// Turns a parsed spool record of `owner` into NDATA/DDATA in place: names
// become aliases, the datatype is kept (see sparkplug.cpp) and is the birth's
// (a value a record of an earlier version holds as UInt32 is sent as UInt64), a
// name the catalog does not know is declared in it under `owner` (bumping its
// generation, so the caller must rebirth first), the uuid goes and historical
// data is flagged. The caller sets seq.
void record_to_data(Payload& record, Catalog& catalog, bool historical);
void record_to_data(Payload& record, Catalog& catalog, DeviceId owner, bool historical);

// Commands (NCMD, DCMD): session/commands.hpp.

}  // namespace classroom::sparkplug
