#include "batch/batcher.hpp"

#include <google/protobuf/arena.h>
#include <malloc.h>

#include <algorithm>

#include "log.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("agent");

// A record's bytes beyond this (a device's first poll: every metric it has)
// are not kept for the next one.
constexpr size_t kKeptBytes = 16 * 1024;
// Arena blocks a device record takes from the heap: from 4 KiB up to 32 KiB.
constexpr size_t kFirstBlock = 4 * 1024;
constexpr size_t kLargestBlock = 32 * 1024;
// An arena that took more than this gave back pages in the middle of the
// heap: trimmed at once, not at the next periodic trim.
constexpr size_t kTrimAfter = 128 * 1024;

}  // namespace

Batcher::Batcher(Catalog& catalog, Spool& spool, Uplink& uplink, const Clock& clock)
    : catalog_(catalog), spool_(spool), uplink_(uplink), clock_(clock) {
  bytes_.reserve(4096);
}

// A device's record: built on an arena that is freed once its bytes are made.
// Devices publish every 30 s or so, hundreds of metrics at their first poll:
// keeping the message objects of the largest one between polls would cost
// more than building them again (docs/performance.md).
void Batcher::store_device_record(std::span<const MetricId> ids, int64_t ts, DeviceId owner) {
  google::protobuf::ArenaOptions options;
  options.start_block_size = kFirstBlock;
  options.max_block_size = kLargestBlock;
  size_t used = 0;
  {
    google::protobuf::Arena arena(options);
    auto* record = google::protobuf::Arena::CreateMessage<sparkplug::Payload>(&arena);
    sparkplug::build_record(*record, catalog_, ids, ts, owner);
    store(*record, ts);
    used = arena.SpaceAllocated();
  }
  if (used > kTrimAfter) ::malloc_trim(0);
}

void Batcher::flush() {
  if (catalog_.changed().empty()) return;
  const int64_t ts = clock_.wall_ms();
  if (catalog_.owner_count() == 1) {
    // Only the node: the changed list is the batch (no copy, no allocation).
    sparkplug::build_record(payload_, catalog_, catalog_.changed(), ts);
    store(payload_, ts);
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
      const std::span<const MetricId> span(ids_.data() + begin, end - begin);
      if (owner == kNode) {
        sparkplug::build_record(payload_, catalog_, span, ts, owner);
        store(payload_, ts);
      } else {
        store_device_record(span, ts, owner);
      }
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
  store(payload_, ts);
}

void Batcher::store(const sparkplug::Payload& record, int64_t ts) {
  record.SerializeToString(&bytes_);
  struct Shrink {  // after the record is stored or sent
    std::string& bytes;
    ~Shrink() {
      if (bytes.capacity() <= kKeptBytes) return;
      std::string().swap(bytes);
      bytes.reserve(4096);
    }
  } shrink{bytes_};
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
