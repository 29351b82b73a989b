// The devices stage: the school's switches, access points and UPSes, polled
// over SNMP (drivers/snmp) and published as Sparkplug devices of this node.
// The poller works on its own thread; finished polls are applied here, on the
// loop's thread: values into the catalog under the device, presence (DBIRTH,
// DDEATH) through the batcher so that it stays in order with the data.
//
// A runner is built at the start and again by every reload. It marks each of
// its devices' metrics unseen in the catalog; the device's first answered poll
// declares what its config makes it publish now, and the metrics it did not
// declare are retired then (a profile removed, an interface excluded): out of
// the device's next DBIRTH, aliases kept, back if declared again.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "snmp/snmp_model.hpp"
#include "snmp/snmp_poller.hpp"
#include "snmp/snmp_profile.hpp"

namespace classroom {

class Batcher;
class Scheduler;

class DeviceRunner {
 public:
  // Polls at most this many devices at once.
  static constexpr size_t kMaxParallel = 8;

  // `wake` is called from the poller's thread when polls have finished.
  DeviceRunner(const std::vector<config::SnmpDevice>& devices, Catalog& catalog,
               std::function<void()> wake);
  ~DeviceRunner();

  size_t size() const { return devices_.size(); }
  // One scheduler task per device, on the grid of its interval: asks for a poll.
  void schedule(Scheduler& scheduler);
  // Asks for a poll of every device now.
  void request_all();
  // Applies every finished poll; `batcher` (null in `once`) records presence.
  // Returns how many polls were applied.
  size_t apply(Batcher* batcher);
  // For `once`: how many polls each device has had applied, and its last outcome.
  size_t polls(size_t device) const { return devices_[device].polls; }
  std::string last_problem(size_t device) const { return devices_[device].last_problem; }
  const std::string& name(size_t device) const { return devices_[device].name; }
  DeviceId id(size_t device) const { return devices_[device].id; }
  // For `classroom-agent status`.
  const std::string& address(size_t device) const { return devices_[device].address; }
  bool online(size_t device) const { return catalog_.online(devices_[device].id); }
  // The last poll's failure; else what is not published: interfaces past
  // max_interfaces, table rows past their limits, profiles past max_metrics.
  const std::string& problem(size_t device) const { return devices_[device].problem; }
  // For `once`: the OIDs of its profiles written as tables that the last poll
  // found no value at, and the profiles left out for max_metrics ("" if none).
  const std::vector<std::string>& not_served(size_t device) const {
    return devices_[device].profiles.not_served();
  }
  const std::string& left_out(size_t device) const { return devices_[device].left_out; }
  // "auto": what it read and picked ("" until the device's first answer).
  const std::string& auto_note(size_t device) const { return devices_[device].pick.note; }
  // The last answered poll's warning (what it skipped), "" if none.
  const std::string& warning(size_t device) const { return devices_[device].warning; }

 private:
  // A device's "auto" until its first answer picks the profiles that fit.
  struct Auto {
    bool pending = false;
    drivers::snmp::Profiles code{false, false, false, false};
    size_t max_interfaces = 0;
    uint64_t max_metrics = 0;
    size_t metrics = 0;                             // the most the kept ones publish
    std::vector<drivers::snmp::SharedSpec> listed;  // kept of those listed
    std::vector<drivers::snmp::SharedSpec> candidates;
    std::vector<std::vector<size_t>> clashes;
    std::string note;  // what it picked, for `once`
  };
  struct Device {
    std::string name, address;
    bool v3 = false;
    int retries = 2;
    int64_t interval_ms = 30'000;
    DeviceId id = 0;
    drivers::snmp::DeviceModel model;
    drivers::snmp::ProfileModel profiles;  // the profiles written as tables
    std::string left_out;                  // profiles past max_metrics, said at the start
    std::string problem;                   // what problem() says
    int failures = 0;                      // polls in a row without an answer
    drivers::snmp::PollResult::Status reported = drivers::snmp::PollResult::Status::ok;
    std::string warning;  // the last one logged
    std::string last_problem;
    size_t polls = 0;
    // Until the first answered poll: then what it did not declare retires.
    bool retire_unseen = true;
    Auto pick;
  };
  void on_result(drivers::snmp::PollResult& r, Batcher* batcher);
  void on_answer(drivers::snmp::PollResult& r, Device& d, Batcher* batcher);
  void on_failure(drivers::snmp::PollResult& r, Device& d, Batcher* batcher);
  void set_presence(Device& d, bool online, Batcher* batcher);
  void retire_gone(Device& d, DeviceSink& sink);
  void say_answered(Device& d, bool was_offline, const std::string& warning);
  static void refresh_problem(Device& d);
  void pick_profiles(size_t device, const std::vector<drivers::snmp::VarBind>& vars);

  Catalog& catalog_;
  std::vector<Device> devices_;
  std::unique_ptr<drivers::snmp::Poller> poller_;
  std::vector<drivers::snmp::PollResult> results_;  // reused
  bool trim_pending_ = false;  // malloc_trim at the next apply(), after the records went out
};

}  // namespace classroom
