#include "device_runner.hpp"

#include <malloc.h>

#include <cinttypes>

#include "batch/batcher.hpp"
#include "common/log.hpp"
#include "scheduler/scheduler.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("devices");
using drivers::snmp::PollResult;

std::string text_for_log(const std::string& s) {
  return drivers::snmp::sanitize_text(s, 200);
}

}  // namespace

DeviceRunner::DeviceRunner(const std::vector<config::SnmpDevice>& devices, Catalog& catalog,
                           std::function<void()> wake)
    : catalog_(catalog) {
  std::vector<drivers::snmp::Target> targets;
  for (const config::SnmpDevice& c : devices) {
    drivers::snmp::ModelOptions mo;
    mo.profiles = {c.system, c.interfaces, c.host, c.ups};
    mo.include = c.include;
    mo.exclude = c.exclude;
    mo.max_interfaces = c.max_interfaces;
    Device d{c.name,
             c.address,
             c.version == config::SnmpDevice::Version::v3,
             c.retries,
             c.interval.count(),
             catalog.add_device(c.name),
             drivers::snmp::DeviceModel(std::move(mo)),
             0,
             PollResult::Status::ok,
             {},
             {},
             0,
             true};
    // What this config makes the device publish is known at its first answer.
    catalog.mark_unseen(d.id);
    catalog.set_retired_limit(d.id,
                              drivers::snmp::DeviceModel::retired_metrics_kept(c.max_interfaces));
    devices_.push_back(std::move(d));

    drivers::snmp::Target t;
    t.name = c.name;
    config::split_snmp_address(c.address, t.host, t.port);
    t.v3 = c.version == config::SnmpDevice::Version::v3;
    t.community = c.community;
    t.user = c.user;
    t.sha256 = c.auth == config::SnmpDevice::Auth::sha256;
    t.auth_password = c.auth_password;
    t.priv = c.priv;
    t.priv_password = c.priv_password;
    // A poll must end before the next one is due, a lost request's resends
    // included.
    t.retries = c.retries;
    t.timeout_ms = std::min<int64_t>(c.timeout.count(), c.interval.count() / (2 * (c.retries + 1)));
    t.plan = drivers::snmp::plan_for(mo.profiles, c.max_interfaces);
    targets.push_back(std::move(t));
  }
  if (!targets.empty())
    poller_ =
        std::make_unique<drivers::snmp::Poller>(std::move(targets), kMaxParallel, std::move(wake));
}

DeviceRunner::~DeviceRunner() = default;

void DeviceRunner::schedule(Scheduler& scheduler) {
  for (size_t i = 0; i < devices_.size(); ++i) {
    scheduler.add("device " + devices_[i].name, devices_[i].interval_ms, [this, i](int64_t) {
      poller_->request(i);
      return drivers::CollectResult{};
    });
  }
}

void DeviceRunner::request_all() {
  for (size_t i = 0; i < devices_.size(); ++i) poller_->request(i);
}

size_t DeviceRunner::apply(Batcher* batcher) {
  if (!poller_) return 0;
  poller_->take(results_);
  for (PollResult& r : results_) on_result(r, batcher);
  const size_t n = results_.size();
  if (n == 0) return 0;
  // A walk's values (some 100-250 KiB with 2 x 64 rows) are not kept until
  // the next poll, and the pages they and the poll's PDUs took go back to the
  // system: the agent costs what it keeps between polls, not its busiest
  // moment (issue 18; tests/perf/snmp_worst.sh), as after a round of probes.
  results_.clear();
  ::malloc_trim(0);
  return n;
}

void DeviceRunner::on_result(PollResult& r, Batcher* batcher) {
  Device& d = devices_[r.device];
  ++d.polls;
  if (r.status == PollResult::Status::ok) {
    const bool was_offline = !catalog_.online(d.id);
    if (was_offline) {
      if (batcher)
        batcher->presence(d.id, true);
      else
        catalog_.set_online(d.id, true);
    }
    catalog_.set_time(r.started_ms);
    DeviceSink sink(catalog_, d.id);
    drivers::CollectResult cr = d.model.apply(r.vars, r.started_ms, sink);
    if (d.model.retired()) {
      // Interfaces gone for a few polls leave the birth (one rebirth).
      catalog_.mark_unseen(d.id);
      d.model.declare_all(sink);
      const size_t n = catalog_.retire_unseen(d.id);
      lg.info("device %s at %s: %zu metric%s retired: interfaces gone for %d polls", d.name.c_str(),
              d.address.c_str(), n, n == 1 ? "" : "s", drivers::snmp::DeviceModel::kRetireAfter);
    }
    if (d.retire_unseen) {
      // The first answer under this config has declared what the device has:
      // the rest leaves its birth (a reload removed a profile, an interface).
      d.retire_unseen = false;
      if (const size_t n = catalog_.retire_unseen(d.id); n > 0)
        lg.info("device %s at %s: %zu metric%s no longer published", d.name.c_str(),
                d.address.c_str(), n, n == 1 ? "" : "s");
    }
    if (was_offline)
      lg.info("device %s at %s answers (sysName \"%s\", %zu interfaces): online", d.name.c_str(),
              d.address.c_str(), text_for_log(d.model.sys_name()).c_str(),
              d.model.interface_count());
    else if (d.model.rebooted())
      lg.info("device %s at %s restarted (sysUpTime went back); its counters start again",
              d.name.c_str(), d.address.c_str());
    if (cr.warning != d.warning) {
      if (!cr.warning.empty())
        lg.warning("device %s at %s: %s", d.name.c_str(), d.address.c_str(),
                   text_for_log(cr.warning).c_str());
      d.warning = cr.warning;
    }
    if (d.reported == PollResult::Status::partial)
      lg.info("device %s at %s answers every request again", d.name.c_str(), d.address.c_str());
    d.failures = 0;
    d.reported = PollResult::Status::ok;
    d.last_problem.clear();
    return;
  }
  const std::string why = text_for_log(drivers::snmp::describe(r, d.v3));
  d.last_problem = why;
  if (r.status == PollResult::Status::partial) {
    // It answers, so it is not dead; this poll's values are incomplete and
    // are not used. Said when it starts, not on every poll.
    d.failures = 0;
    if (d.reported != r.status)
      lg.warning("device %s at %s: %s; this poll's values are dropped", d.name.c_str(),
                 d.address.c_str(), why.c_str());
    d.reported = r.status;
    return;
  }
  ++d.failures;
  const bool given_up = d.failures >= d.retries + 1;
  if (!given_up) {
    lg.debug("device %s at %s: %s (poll %d of %d before it counts as offline)", d.name.c_str(),
             d.address.c_str(), why.c_str(), d.failures, d.retries + 1);
    return;
  }
  if (catalog_.online(d.id)) {
    lg.warning("device %s at %s: %s, %d polls in a row; offline (DDEATH)", d.name.c_str(),
               d.address.c_str(), why.c_str(), d.failures);
    if (batcher)
      batcher->presence(d.id, false);
    else
      catalog_.set_online(d.id, false);
  } else if (d.reported != r.status) {
    // Once per reason: not on every poll of a long outage.
    lg.warning("device %s at %s: %s; offline until it answers", d.name.c_str(), d.address.c_str(),
               why.c_str());
  }
  d.reported = r.status;
}

}  // namespace classroom
