// What `classroom-agent status` tells: a plain copy of the agent's state,
// filled on the loop (status_server.hpp) and rendered for a person (text) or a
// script (JSON). Rendering is pure: a snapshot and the time "now".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace classroom::status {

// waiting_host: connected, but the primary host has not said online: nothing
// is published until it does ([broker] primary_host).
enum class BrokerState { connecting, online, unreachable, waiting_host };
enum class ClockState { unknown, synchronized, unsynchronized };

struct SourceStatus {
  std::string name;
  int64_t interval_ms = 0;
  int failures = 0;              // failed runs in a row
  int64_t last_success_ms = 0;   // wall clock; 0: none yet
  int64_t failing_since_ms = 0;  // wall clock; 0: not failing
  std::string error;             // why it fails
  std::string warning;           // it runs, but part of it does not
};

struct DeviceStatus {
  std::string name, address;
  bool polled = false;  // a poll has come back since the start
  bool online = false;
  std::string problem;              // why the last poll failed ("" when it answered)
  uint64_t birth_refused_size = 0;  // its DBIRTH, over the broker's packet limit; 0: none
};

struct ProbeStatus {
  std::string name, kind;   // kind: icmp, dns, tcp, http, throughput
  int64_t last_run_ms = 0;  // wall clock of the last result; 0: none yet
  bool ok = false;
  bool has_value = false;
  double value = 0;           // its headline measure, when it has one
  std::string measure, unit;  // "RTT Avg", "ms"
  // Why the last run failed, in the probe's words (as logged), at most
  // kMaxErrorShown bytes; empty when it succeeded.
  std::string error;
  static constexpr size_t kMaxErrorShown = 200;
};

struct Snapshot {
  int64_t as_of_ms = 0;  // when the loop filled it (wall clock); 0: not yet
  // The agent.
  std::string group, node, version;
  int64_t pid = 0;
  int64_t started_ms = 0;
  // The broker.
  BrokerState broker = BrokerState::connecting;
  std::string server;           // online to / last tried
  int64_t broker_since_ms = 0;  // online since / unreachable since
  std::string broker_error;     // why it is unreachable (or why the last link dropped)
  int failed_attempts = 0;
  int64_t next_attempt_ms = 0;  // wall clock; 0: none planned
  std::string next_server;
  uint64_t bdseq = 0;
  std::string bdseq_error;  // why the next bdSeq cannot be saved for a restart
  // Commands in this session: unavailable (the broker refused their
  // subscription, asked again with the backoff), and what is wrong with
  // them in words ("" = nothing).
  bool commands_unavailable = false;
  std::string commands_problem;
  // The Sparkplug Primary Host ("" = none configured), since when no STATE
  // has said it is online (0: it is), and what its STATE said on this server
  // ("offline (STATE timestamp 1700000000000)", "no STATE received").
  std::string primary_host;
  int64_t host_offline_since_ms = 0;
  std::string host_state;
  // waiting_host: connected to `server` (else between servers: next_server
  // at next_attempt_ms, after leaving one for the host).
  bool host_connected = false;
  // Delivery.
  int64_t last_publish_ms = 0;       // last NDATA/DDATA published
  int64_t last_confirmed_ms = 0;     // last receipt the broker acknowledged
  int64_t unconfirmed_since_ms = 0;  // published, not yet confirmed since then; 0: none
  // The broker's packet limit, and what was not published for being over it.
  uint64_t packet_limit = 0;
  std::string packet_limit_source;       // where the limit comes from, in words
  uint64_t node_birth_refused_size = 0;  // the NBIRTH's; 0: none
  uint64_t refused_batches = 0;          // not sent: over the limit, or of a device not born
  uint64_t refused_data = 0;             // of those, over the limit themselves
  int64_t last_refused_ms = 0;           // when the last one was not sent; 0: none
  bool spool_open = true;
  uint64_t pending = 0, spool_bytes = 0, oldest_age_s = 0;  // pending: not yet confirmed
  uint64_t sent_unconfirmed = 0;  // of those, on their way: sent, not yet confirmed
  uint64_t dropped = 0, lost = 0, write_errors = 0;
  int64_t last_drop_ms = 0;         // when `dropped` last grew; 0: not in this run
  int64_t last_write_error_ms = 0;  // when `write_errors` last grew
  // Sources, devices, probes, clock.
  std::vector<SourceStatus> sources;
  std::vector<DeviceStatus> devices;
  std::vector<ProbeStatus> probes;
  ClockState clock = ClockState::unknown;
};

// A drop or a failed write this recent makes the agent degraded.
constexpr int64_t kRecentMs = 10 * 60'000;
// Published data the broker has not confirmed for this long: nothing arrives.
// (A receipt follows data within 5 s and is acknowledged within a round trip.)
constexpr int64_t kUnconfirmedMs = 15'000;
// A snapshot older than this (or than 3 of the shortest source interval) means
// the agent's loop, which fills it every turn, has stopped turning.
constexpr int64_t kLoopStalledMs = 10'000;

// What makes the agent degraded, one short phrase each ("broker unreachable",
// "source lan failing"); none: all well. Probe failures are measurements of
// the school's connectivity, not of the agent: they are shown, not counted.
std::vector<std::string> problems(const Snapshot& s, int64_t now_ms);

// For a person: a few aligned lines in plain words.
std::string render_text(const Snapshot& s, int64_t now_ms);
// For a script: one JSON object (the same facts; times as UTC strings and ages).
std::string render_json(const Snapshot& s, int64_t now_ms);

// "2026-11-29T10:02:11Z"
std::string utc(int64_t wall_ms);
// "3 s", "5 min", "2 h 10 min", "3 d 4 h"
std::string span(int64_t ms);

}  // namespace classroom::status
