// A probe's result as metrics: Connectivity/<name>/<measure>. A time that was
// not measured in a run (a failed run) is put as null, so a dashboard never
// shows the last good latency for a target that is down.
#pragma once

#include <string>

#include "driver.hpp"
#include "probes/probe.hpp"

namespace classroom::drivers::probes {

enum class Kind { icmp, dns, tcp, http, throughput };

class ProbeMetrics {
 public:
  // Declares every metric of a probe of `kind` named `name` (`https`: the URL
  // is https, so it has Cert Expiry Days).
  void declare(MetricSink& sink, Kind kind, const std::string& name, bool https = false);
  void put(MetricSink& sink, const Result& result) const;
  // Throughput only: the share of the monthly budget used.
  void put_budget_used(MetricSink& sink, double percent) const;

 private:
  static constexpr int kMax = 10;
  MetricId ids_[kMax] = {};
  bool https_ = false;
};

}  // namespace classroom::drivers::probes
