// `classroom-agent fleet`: what every node (and device) seen on the broker is
// doing, from its births, deaths and data. Pure: messages and the time are
// given; the table is rendered as text lines (render()), so tests need no
// terminal and no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "console/decoder.hpp"

namespace classroom::console {

enum class NodeState {
  unborn,   // data seen, but no birth since the fleet started watching
  online,   // born (NBIRTH, DBIRTH) and not dead since
  offline,  // NDEATH (with the birth's bdSeq) or DDEATH, or its node died
};

// A Sparkplug host application seen by its STATE messages.
struct HostRow {
  std::string id;      // raw; escaped when rendered
  bool known = false;  // false: its STATE messages were not understood
  bool online = false;
  std::optional<uint64_t> timestamp;  // of the state in force (ms), if it had one
  int64_t since_ms = 0;               // when that state was received here
};

struct FleetRow {
  std::string group, node, device;  // raw; escaped when rendered
  NodeState state = NodeState::unborn;
  int64_t since_ms = 0;  // when the state began (as received here)
  std::optional<uint64_t> bdseq;
  int64_t last_ms = 0;  // the last message of any kind
  std::optional<double> cpu;
  std::string probe;  // the Connectivity probe whose RTT and loss are shown
  std::optional<double> rtt, loss;
  std::map<std::string, uint64_t> stations;  // Wi-Fi stations per interface
  std::optional<uint64_t> spool;
  uint64_t deaths_ignored = 0;  // NDEATHs of an older session (another bdSeq)
};

class Fleet {
 public:
  // At most `max_nodes` nodes and `max_devices` devices per node are tracked;
  // the rest are counted in not_tracked().
  explicit Fleet(size_t max_nodes = 100'000, size_t max_devices = 1'024)
      : max_nodes_(max_nodes), max_devices_(max_devices) {}

  // Takes one decoded message received at `now_ms`. An NDEATH counts only
  // when its bdSeq is the birth's (a late Will of an older session does not
  // kill the new one); an NDEATH takes the node's devices offline too.
  void observe(const Decoded& message, int64_t now_ms);

  // The metrics the table shows (CPU, spool, Wi-Fi stations, a probe's RTT
  // and loss): the only ones whose aliases a console running fleet keeps.
  static bool shows_metric(std::string_view name);

  enum class Sort { name, state, age };
  // Nodes in display order, each followed by its devices (by name).
  std::vector<const FleetRow*> rows(Sort sort, int64_t now_ms, int64_t stale_ms) const;
  // Online, but nothing heard for longer than `stale_ms`.
  static bool silent(const FleetRow& row, int64_t now_ms, int64_t stale_ms);

  struct Counts {
    size_t nodes = 0, online = 0, offline = 0, silent = 0, unborn = 0;
    size_t devices = 0, devices_online = 0;
  };
  Counts counts(int64_t now_ms, int64_t stale_ms) const;
  const FleetRow* find(const std::string& group, const std::string& node,
                       const std::string& device = {}) const;
  uint64_t not_tracked() const { return not_tracked_; }
  // Host applications by id (at most kMaxHosts; the rest are not tracked).
  const std::map<std::string, HostRow>& hosts() const { return hosts_; }
  static constexpr size_t kMaxHosts = 16;

 private:
  struct Entry {
    FleetRow row;
    std::map<std::string, FleetRow> devices;
  };
  FleetRow* row_for(const Topic& topic, int64_t now_ms);
  void observe_host(const Decoded& message, int64_t now_ms);

  size_t max_nodes_, max_devices_;
  std::map<std::string, Entry> nodes_;  // "<group>/<node>": ids hold no '/'
  std::map<std::string, HostRow> hosts_;
  uint64_t not_tracked_ = 0;
};

struct RenderOptions {
  Fleet::Sort sort = Fleet::Sort::name;
  int64_t now_ms = 0;
  int64_t stale_ms = 60'000;
  size_t max_lines = 0;  // 0: every row (a snapshot); else the terminal's height
  size_t width = 0;      // 0: no limit; else lines are cut to the terminal's width
  bool color = false;    // ANSI colours for the states (a terminal only)
  std::string source;    // the broker, and how the connection is
};

// "5m02s", "4.2s", "1h03m", "2d04h"
std::string age_text(int64_t ms);

// The table: a summary line, column names, one line per node or device.
std::vector<std::string> render(const Fleet& fleet, const RenderOptions& options);

}  // namespace classroom::console
