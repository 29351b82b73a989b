// Polls SNMP agents with net-snmp's asynchronous single-session API
// (snmp_sess_async_send + select) on a thread of its own: the agent's loop
// asks for a poll (request) and takes finished polls (take), so no SNMP
// exchange ever blocks the gateway's own samples. At most `max_parallel`
// devices are polled at once. net-snmp is loaded (dlopen, netsnmp_api.hpp)
// and initialised when the first Poller is made, so an agent without devices
// never maps it; if it cannot be loaded, every poll fails saying why.
//
// The thread waits only in its select, never inside a call (host names are
// resolved by c-ares, SNMPv3 engines discovered asynchronously), so the
// destructor joins it at once, whatever the devices do. SNMPv3 keys are the
// poll's own: put in net-snmp's process-wide user list for the poll, taken
// out after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "snmp_model.hpp"

namespace classroom::drivers::snmp {

struct Target {
  std::string name;  // for messages
  std::string host;  // name or IP literal (no brackets)
  int port = 161;
  bool v3 = false;
  std::string community;      // v2c
  std::string user;           // v3
  bool sha256 = false;        // auth SHA-256 (else SHA-1)
  std::string auth_password;  // v3, authNoPriv or authPriv
  bool priv = false;          // AES-128
  std::string priv_password;
  int64_t timeout_ms = 2000;
  // Resends of a request that went unanswered (a lost datagram), each after
  // `timeout_ms`, before the poll gives up.
  int retries = 0;
  PollPlan plan;
};

struct PollResult {
  enum class Status {
    ok,
    no_answer,     // nothing came back within the timeout
    partial,       // answers came, then a request stayed unanswered after its retries
    wrong_digest,  // v3: usmStatsWrongDigests (wrong auth password)
    unknown_user,  // v3: usmStatsUnknownUserNames
    decryption,    // v3: usmStatsDecryptionErrors (wrong priv password)
    error,         // anything else: `error` says what
  };
  size_t device = 0;  // index into the targets
  Status status = Status::ok;
  std::string error;
  std::vector<VarBind> vars;
  int64_t started_ms = 0;     // wall clock, the capture time of the values
  size_t sent = 0, lost = 0;  // requests sent (each try) and those unanswered
};

// "no answer (wrong community or host down?)", "answers partly: 2 of 31
// requests lost", "wrong auth password ...": the words a technician reads in
// the log.
std::string describe(const PollResult& result, bool v3);

class Poller {
 public:
  Poller(std::vector<Target> targets, size_t max_parallel, std::function<void()> wake);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Asks for a poll of `device`; ignored while one of it is queued or running.
  void request(size_t device);
  // Moves every finished poll into `out`.
  void take(std::vector<PollResult>& out);
  // Replaces `device`'s plan from its next poll on (a device's "auto", once
  // it has picked its profiles).
  void set_plan(size_t device, PollPlan plan);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace classroom::drivers::snmp
