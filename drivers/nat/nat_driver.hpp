// NAT pressure: how full the kernel's connection-tracking table is. Every flow
// through a NAT gateway takes one entry; when the table is full, new flows are
// dropped ("nf_conntrack: table full"), which a classroom sees as a dead
// Internet when forty tablets join at once.
//
// Read from <proc>/sys/net/netfilter/nf_conntrack_count and nf_conntrack_max
// (the counters of the agent's own network namespace). Where conntrack is not
// in the kernel (or its module is not loaded) the files are absent: no value,
// and one info line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "driver.hpp"

namespace classroom::drivers::nat {

// A sysctl file holding one unsigned number ("262144\n"); nullopt otherwise.
std::optional<uint64_t> parse_sysctl_number(std::string_view text);

// entries / max in percent; nullopt when max is 0 (no limit).
std::optional<double> used_percent(uint64_t entries, uint64_t max);

struct Options {
  std::string proc_root = "/proc";
};

class NatDriver final : public Driver {
 public:
  explicit NatDriver(Options options);
  CollectResult collect(MetricSink& sink) override;

 private:
  // Reads a one-number file: the value, or nullopt with `missing` set when the
  // file does not exist.
  std::optional<uint64_t> read_number(const std::string& path, bool& missing, bool& garbled);

  std::string path_count_, path_max_;
  bool declared_ = false;
  MetricId entries_ = 0, max_ = 0, used_ = 0;
};

}  // namespace classroom::drivers::nat
