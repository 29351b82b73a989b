// What a host application of the fleet saw: every gateway's NBIRTH, NDATA and
// NDEATH, from any number of subscribers (one per server, so that losing a
// node loses no message the others routed), and the holes in each gateway's
// series of samples. A sample is counted as delivered only when its NDATA
// arrived: Simulator/Sample/Number says which one it was, its is_historical
// flag whether it came live or from the spool's backlog.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace classroom::fleet {

// Group and node of gateway `index` (0-based): groups <prefix>-0001... with
// `per_group` gateways each, nodes room-01... in each group.
std::string group_name(const std::string& prefix, size_t index, size_t per_group);
std::string node_name(size_t index, size_t per_group);

class SeriesChecker {
 public:
  SeriesChecker(std::string prefix, size_t per_group, size_t gateways, size_t subscribers);

  // A message subscriber `subscriber` received; anything not of this fleet is
  // ignored. Each subscriber sees every message: a sample counts once, and as
  // a duplicate only when the same subscriber sees it again.
  void on_message(size_t subscriber, std::string_view topic, std::string_view payload);

  struct Totals {
    uint64_t births = 0, deaths = 0, data = 0;  // messages seen (all subscribers together)
    uint64_t seen = 0;                          // distinct samples
    uint64_t live = 0, historical = 0;          // of those, as first seen
    uint64_t duplicates = 0;                    // a sample seen again (at least once delivery)
    uint64_t undecodable = 0;                   // not a payload, or no sample number
    uint64_t holes = 0;                         // samples taken and never seen
    uint64_t gateways_with_holes = 0;
    std::string first_holes;  // a few of them, for the report: "sim-0001/room-03: 4 5"
  };
  // `taken[i]`: samples gateway i took (numbered 1..taken[i]).
  Totals totals(const std::vector<uint64_t>& taken) const;
  // Distinct samples seen so far (cheap; for the drain at the end of a run).
  uint64_t seen() const { return seen_; }
  uint64_t deaths_of(size_t gateway) const { return series_[gateway].deaths; }

 private:
  struct Series {
    std::vector<uint64_t> bits;                        // sample n seen: bit n
    std::vector<std::vector<uint64_t>> by_subscriber;  // the same, per subscriber
    uint64_t sample_alias = 0;                         // from the NBIRTH (0: no birth seen yet)
    uint32_t births = 0, deaths = 0;
  };
  long index_of(std::string_view group, std::string_view node) const;

  std::string prefix_;
  size_t per_group_, subscribers_;
  std::vector<Series> series_;
  uint64_t births_ = 0, deaths_ = 0, data_ = 0, seen_ = 0, live_ = 0, historical_ = 0,
           duplicates_ = 0, undecodable_ = 0;
};

}  // namespace classroom::fleet
