#include "device_runner.hpp"

#include <malloc.h>

#include <cinttypes>
#include <map>

#include "batch/batcher.hpp"
#include "log.hpp"
#include "scheduler/scheduler.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("devices");
using drivers::snmp::PollResult;

std::string text_for_log(const std::string& s) {
  return drivers::snmp::sanitize_text(s, 200);
}

// Moves the profiles of `from` into `kept` while `metrics` (the device's
// most, so far) stays within `max`; returns what says those left out, or "".
std::string keep_within(std::vector<drivers::snmp::SharedSpec>& from, uint64_t max, size_t& metrics,
                        std::vector<drivers::snmp::SharedSpec>& kept) {
  std::string left_out;
  for (drivers::snmp::SharedSpec& spec : from) {
    const size_t n = drivers::snmp::max_metrics_of(*spec);
    if (metrics + n > max) {
      left_out += (left_out.empty() ? "" : ", ") + spec->name + " (up to " + std::to_string(n) +
                  " metrics)";
      continue;
    }
    metrics += n;
    kept.push_back(std::move(spec));
  }
  if (left_out.empty()) return "";
  return "profile" + std::string(left_out.find(',') == std::string::npos ? " " : "s ") + left_out +
         " left out: the device would publish more than max_metrics = " + std::to_string(max) +
         " metrics";
}

}  // namespace

DeviceRunner::DeviceRunner(const std::vector<config::SnmpDevice>& devices, Catalog& catalog,
                           std::function<void()> wake)
    : catalog_(catalog) {
  std::vector<drivers::snmp::Target> targets;
  // Each profile converted once, shared by every device that polls it.
  std::map<std::string, drivers::snmp::SharedSpec, std::less<>> converted;
  auto shared = [&](const config::SnmpProfile& p) {
    auto it = converted.find(p.name);
    if (it == converted.end())
      it = converted
               .emplace(p.name, std::make_shared<const drivers::snmp::ProfileSpec>(
                                    drivers::snmp::profile_spec(p)))
               .first;
    return it->second;
  };
  for (const config::SnmpDevice& c : devices) {
    drivers::snmp::ModelOptions mo;
    mo.profiles = {c.system, c.interfaces, c.host, c.ups};
    mo.include = c.include;
    mo.exclude = c.exclude;
    mo.max_interfaces = c.max_interfaces;
    // The profiles written as tables, in the order listed, while the device's
    // metrics stay within max_metrics (the profiles in code always count).
    std::vector<drivers::snmp::SharedSpec> listed;
    for (const config::SharedSnmpProfile& p : c.table_profiles) listed.push_back(shared(*p));
    size_t metrics = drivers::snmp::max_metrics_of(mo.profiles, c.max_interfaces);
    std::vector<drivers::snmp::SharedSpec> specs;
    std::string left_out = keep_within(listed, c.max_metrics, metrics, specs);
    if (!left_out.empty())
      lg.warning("device %s at %s: %s", c.name.c_str(), c.address.c_str(), left_out.c_str());
    drivers::snmp::PollPlan plan = drivers::snmp::plan_for(mo.profiles, c.max_interfaces);
    for (const drivers::snmp::SharedSpec& spec : specs) drivers::snmp::add_to_plan(*spec, plan);
    // "auto": until the first answer, the poll asks sysObjectID and every
    // candidate's OIDs too; then only those of the profiles it picked.
    Auto pick;
    if (c.auto_profiles) {
      pick.pending = true;
      pick.code = mo.profiles;
      pick.max_interfaces = c.max_interfaces;
      pick.max_metrics = c.max_metrics;
      pick.metrics = metrics;
      pick.listed = specs;
      for (const config::SharedSnmpProfile& p : c.auto_candidates)
        pick.candidates.push_back(shared(*p));
      pick.clashes = c.auto_clashes;
      plan.gets.push_back(drivers::snmp::kSysObjectId);
      for (const drivers::snmp::SharedSpec& spec : pick.candidates)
        drivers::snmp::add_to_plan(*spec, plan);
    }
    Device d{c.name,
             c.address,
             c.version == config::SnmpDevice::Version::v3,
             c.retries,
             c.interval.count(),
             catalog.add_device(c.name),
             drivers::snmp::DeviceModel(std::move(mo)),
             drivers::snmp::ProfileModel(std::move(specs)),
             std::move(left_out),
             {},
             0,
             PollResult::Status::ok,
             {},
             {},
             0,
             true,
             std::move(pick)};
    refresh_problem(d);
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
    t.plan = std::move(plan);
    targets.push_back(std::move(t));
  }
  if (!targets.empty())
    poller_ =
        std::make_unique<drivers::snmp::Poller>(std::move(targets), kMaxParallel, std::move(wake));
}

DeviceRunner::~DeviceRunner() = default;

void DeviceRunner::schedule(Scheduler& scheduler) {
  for (size_t i = 0; i < devices_.size(); ++i) {
    scheduler.add(
        "device " + devices_[i].name, devices_[i].interval_ms,
        [this, i](int64_t) {
          poller_->request(i);
          return drivers::CollectResult{};
        },
        Scheduler::Kind::device);
  }
}

void DeviceRunner::request_all() {
  for (size_t i = 0; i < devices_.size(); ++i) poller_->request(i);
}

size_t DeviceRunner::apply(Batcher* batcher) {
  if (!poller_) return 0;
  if (trim_pending_) {
    // What the last polls' records cost on their way out (the batcher's
    // encoding, the uplink's publishing) is free now: its pages go back too.
    ::malloc_trim(0);
    trim_pending_ = false;
  }
  poller_->take(results_);
  for (PollResult& r : results_) on_result(r, batcher);
  const size_t n = results_.size();
  if (n == 0) return 0;
  // A walk's values (some 100-250 KiB with 2 x 64 rows) are not kept until
  // the next poll, and the pages they and the poll's PDUs took go back to the
  // system: the agent costs what it keeps between polls, not its busiest
  // moment (tests/perf/snmp_worst.sh), as after a round of probes.
  results_.clear();
  ::malloc_trim(0);
  trim_pending_ = true;
  return n;
}

// "auto": the device's first answer says which candidates fit; from its
// next poll on, only their OIDs are asked.
void DeviceRunner::pick_profiles(size_t device, const std::vector<drivers::snmp::VarBind>& vars) {
  Device& d = devices_[device];
  Auto& a = d.pick;
  std::string why;
  const std::vector<size_t> picked = drivers::snmp::choose_auto(a.candidates, a.clashes, vars, why);
  std::vector<drivers::snmp::SharedSpec> chosen;
  for (size_t k : picked) chosen.push_back(std::move(a.candidates[k]));
  std::vector<drivers::snmp::SharedSpec> specs = std::move(a.listed);
  const std::string left_out = keep_within(chosen, a.max_metrics, a.metrics, specs);
  drivers::snmp::PollPlan plan = drivers::snmp::plan_for(a.code, a.max_interfaces);
  for (const drivers::snmp::SharedSpec& spec : specs) drivers::snmp::add_to_plan(*spec, plan);
  d.profiles = drivers::snmp::ProfileModel(std::move(specs));
  poller_->set_plan(device, std::move(plan));
  a = Auto{};
  a.note = "auto: " + text_for_log(why);
  lg.info("device %s at %s: %s", d.name.c_str(), d.address.c_str(), a.note.c_str());
  if (!left_out.empty()) {
    lg.warning("device %s at %s: %s", d.name.c_str(), d.address.c_str(), left_out.c_str());
    d.left_out += (d.left_out.empty() ? "" : "; ") + left_out;
  }
}

void DeviceRunner::refresh_problem(Device& d) {
  if (!d.last_problem.empty()) {
    d.problem = d.last_problem;
    return;
  }
  d.problem.clear();
  for (const std::string* s : {&d.model.over_limit(), &d.profiles.over_limit(),
                               static_cast<const std::string*>(&d.left_out)})
    if (!s->empty()) d.problem += (d.problem.empty() ? "" : "; ") + *s;
}

void DeviceRunner::on_result(PollResult& r, Batcher* batcher) {
  Device& d = devices_[r.device];
  ++d.polls;
  if (r.status == PollResult::Status::ok)
    on_answer(r, d, batcher);
  else
    on_failure(r, d, batcher);
  refresh_problem(d);
}

// Online or offline: through the batcher (a DBIRTH or DDEATH in order with
// the data), or the catalog alone when there is none (`once`).
void DeviceRunner::set_presence(Device& d, bool online, Batcher* batcher) {
  if (batcher)
    batcher->presence(d.id, online);
  else
    catalog_.set_online(d.id, online);
}

// A complete answer: its values into the catalog, the device online.
void DeviceRunner::on_answer(PollResult& r, Device& d, Batcher* batcher) {
  const bool was_offline = !catalog_.online(d.id);
  if (was_offline) set_presence(d, true, batcher);
  catalog_.set_time(r.started_ms);
  if (d.pick.pending) pick_profiles(r.device, r.vars);
  DeviceSink sink(catalog_, d.id);
  drivers::CollectResult cr = d.model.apply(r.vars, r.started_ms, sink);
  d.profiles.apply(r.vars, r.started_ms, d.model.rebooted(), sink, cr.warning);
  retire_gone(d, sink);
  say_answered(d, was_offline, cr.warning);
  d.failures = 0;
  d.reported = PollResult::Status::ok;
  d.last_problem.clear();
}

// Metrics that leave the device's birth after this answer.
void DeviceRunner::retire_gone(Device& d, DeviceSink& sink) {
  if (d.model.retired() || d.profiles.retired()) {
    // Interfaces or table rows gone for a few polls leave the birth (one rebirth).
    catalog_.mark_unseen(d.id);
    d.model.declare_all(sink);
    d.profiles.declare_all(sink);
    const size_t n = catalog_.retire_unseen(d.id);
    lg.info("device %s at %s: %zu metric%s retired: %s gone for %d polls", d.name.c_str(),
            d.address.c_str(), n, n == 1 ? "" : "s",
            d.model.retired() ? "interfaces" : "table rows",
            drivers::snmp::DeviceModel::kRetireAfter);
  }
  if (d.retire_unseen) {
    // The first answer under this config has declared what the device has:
    // the rest leaves its birth (a reload removed a profile, an interface).
    d.retire_unseen = false;
    if (const size_t n = catalog_.retire_unseen(d.id); n > 0)
      lg.info("device %s at %s: %zu metric%s no longer published", d.name.c_str(),
              d.address.c_str(), n, n == 1 ? "" : "s");
  }
}

// What an answer changed, said once: back online, restarted, a new warning,
// every request answered again.
void DeviceRunner::say_answered(Device& d, bool was_offline, const std::string& warning) {
  if (was_offline)
    lg.info("device %s at %s answers (sysName \"%s\", %zu interfaces): online", d.name.c_str(),
            d.address.c_str(), text_for_log(d.model.sys_name()).c_str(), d.model.interface_count());
  else if (d.model.rebooted())
    lg.info("device %s at %s restarted (sysUpTime went back); its counters start again",
            d.name.c_str(), d.address.c_str());
  if (warning != d.warning) {
    if (!warning.empty())
      lg.warning("device %s at %s: %s", d.name.c_str(), d.address.c_str(),
                 text_for_log(warning).c_str());
    d.warning = warning;
  }
  if (d.reported == PollResult::Status::partial)
    lg.info("device %s at %s answers every request again", d.name.c_str(), d.address.c_str());
}

// No answer, or an incomplete one: offline after `retries` polls in a row,
// each reason said once.
void DeviceRunner::on_failure(PollResult& r, Device& d, Batcher* batcher) {
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
    set_presence(d, false, batcher);
  } else if (d.reported != r.status) {
    // Once per reason: not on every poll of a long outage.
    lg.warning("device %s at %s: %s; offline until it answers", d.name.c_str(), d.address.c_str(),
               why.c_str());
  }
  d.reported = r.status;
}

}  // namespace classroom
