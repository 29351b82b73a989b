// The batcher: turns what changed in the catalog into spool records, one per
// owner (the node, each device), and writes a device's presence (DBIRTH,
// DDEATH) into the same stream so that it stays in order with its data.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "session/sparkplug.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"

namespace classroom {

class Batcher {
 public:
  Batcher(Catalog& catalog, Spool& spool, Uplink& uplink, const Clock& clock);

  // Every changed metric into records (one per owner), then clears the changes.
  void flush();
  // A device answered again (online) or was given up: its pending data first,
  // then the presence record; the catalog's presence changes with it.
  void presence(DeviceId device, bool online);

  // Batches lost: neither stored nor sent (spool broken while offline).
  const uint64_t& lost() const { return lost_; }

 private:
  void store(const sparkplug::Payload& record, int64_t ts);
  void store_device_record(std::span<const MetricId> ids, int64_t ts, DeviceId owner);

  Catalog& catalog_;
  Spool& spool_;
  Uplink& uplink_;
  const Clock& clock_;
  sparkplug::Payload payload_;
  std::vector<MetricId> ids_;  // one owner's changed metrics, reused
  std::string bytes_;
  std::string error_;
  bool failing_ = false;
  uint64_t lost_ = 0;
};

}  // namespace classroom
