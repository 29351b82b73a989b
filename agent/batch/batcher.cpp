#include "batch/batcher.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("agent");

}  // namespace

Batcher::Batcher(Catalog& catalog, Spool& spool, Uplink& uplink, const Clock& clock)
    : catalog_(catalog), spool_(spool), uplink_(uplink), clock_(clock) {
  bytes_.reserve(4096);
}

void Batcher::flush() {
  if (catalog_.changed().empty()) return;
  const int64_t ts = clock_.wall_ms();
  if (catalog_.owner_count() == 1) {
    // Only the node: the changed list is the batch (no copy, no allocation).
    sparkplug::build_record(payload_, catalog_, catalog_.changed(), ts);
    store(ts);
  } else {
    // One record per owner, the node's first, each in the order of change.
    ids_.assign(catalog_.changed().begin(), catalog_.changed().end());
    std::stable_sort(ids_.begin(), ids_.end(), [this](MetricId a, MetricId b) {
      return catalog_.at(a).owner < catalog_.at(b).owner;
    });
    for (size_t begin = 0; begin < ids_.size();) {
      const DeviceId owner = catalog_.at(ids_[begin]).owner;
      size_t end = begin;
      while (end < ids_.size() && catalog_.at(ids_[end]).owner == owner) ++end;
      sparkplug::build_record(payload_, catalog_,
                              std::span<const MetricId>(ids_.data() + begin, end - begin), ts,
                              owner);
      store(ts);
      begin = end;
    }
  }
  catalog_.clear_changed();
}

void Batcher::presence(DeviceId device, bool online) {
  flush();
  catalog_.set_online(device, online);
  const int64_t ts = clock_.wall_ms();
  sparkplug::build_presence_record(payload_, catalog_.device_name(device), online, ts);
  store(ts);
}

void Batcher::store(int64_t ts) {
  payload_.SerializeToString(&bytes_);
  error_.clear();
  // While the broker confirms, a full spool makes room only with what it
  // confirmed: a live batch that does not fit goes out unstored below, and
  // the backlog the uplink is replaying stays. Otherwise (offline, or a broker
  // that confirms nothing) the oldest backlog makes room for the newest.
  const auto overflow =
      uplink_.delivering() ? Spool::Overflow::keep_unsent : Spool::Overflow::drop_oldest;
  if (spool_.is_open() && spool_.append(bytes_, ts, &error_, overflow) != 0) {
    if (failing_) lg.info("the spool takes batches again; batches are stored before sending");
    failing_ = false;
    return;
  }
  // The spool cannot take it (disk full, read-only): send it now if online.
  const bool sent = uplink_.publish_unspooled(bytes_);
  if (!sent) ++lost_;
  if (!failing_)
    lg.error("cannot store batches (%s); %s until the spool recovers",
             error_.empty() ? "the spool is not open" : error_.c_str(),
             sent ? "sending them without a backlog" : "batches are lost while offline");
  failing_ = true;
}

}  // namespace classroom
