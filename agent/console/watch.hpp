// The operator's two commands at the broker: `classroom-agent tail` (decoded
// Sparkplug, line by line) and `classroom-agent fleet` (a live table of every
// node). Both subscribe through mqtt::Client (the agent's Paho wrapper, so
// its connection settings, TLS included, are the agent's), reconnect on their
// own, and hand messages to the pure decoder (decoder.hpp), formatter
// (format.hpp) and fleet table (fleet.hpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "console/fleet.hpp"
#include "console/format.hpp"
#include "mqtt/mqtt_client.hpp"
#include "mqtt/reconnect.hpp"

namespace classroom::console {

struct WatchOptions {
  std::vector<std::string> servers;  // tried in order
  // Credentials, keepalive, timeouts (and the TLS settings once the client has
  // them) for every connection; server, client_id and the Will are set per
  // attempt. Filled by broker_settings() from a config, or defaults.
  mqtt::ConnectRequest connection;
  Filter filter;
  bool rebirth = false;  // ask a node whose birth was missed for one (NCMD)
  // The largest message taken (--max-message): a bigger one is dropped and
  // said once per node on stderr. Its payload never reaches the decoder.
  size_t max_message = kDefaultMaxMessage;
  static constexpr size_t kDefaultMaxMessage = 1u << 20;
  static constexpr size_t kMinMaxMessage = 1u << 10, kMaxMaxMessage = 256u << 20;

  // tail
  bool json = false;
  bool with_time = false;
  uint64_t count = 0;  // stop after this many messages printed (0: never)

  // fleet
  Fleet::Sort sort = Fleet::Sort::name;
  int64_t stale_ms = 60'000;
  int64_t refresh_ms = 1'000;  // on a terminal
  int64_t wait_ms = 5'000;     // not a terminal: listen this long, then one snapshot
};

// One subscription to the broker, kept up: connects to each server in turn,
// subscribes, and reconnects after a loss (mqtt::Reconnect: 1 s doubling to
// 10 s after failed attempts, each to the next server; 500 ms after the loss
// of a subscription that worked). Events from the client's thread wait in a
// bounded queue for the console's own thread, which calls poll().
class Connection {
 public:
  // Over Paho, with a client id made of `what` ("tail", "fleet"), the host
  // name and the process id.
  Connection(const WatchOptions& options, std::string subscription, const char* what,
             const Clock& clock);
  // Over `client` (a test's fake), which the caller keeps alive and whose
  // events it hands to deliver().
  Connection(const WatchOptions& options, std::string subscription, std::string client_id,
             mqtt::Client& client, const Clock& clock);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Keeps the connection going (connects when the backoff is over, gives up
  // on an attempt past its deadline), and moves messages that arrived
  // (waiting up to `max_wait_ms` for the first) into `out`.
  void poll(int64_t max_wait_ms, std::vector<mqtt::Event>& out);
  // An event from the client (any thread): queued for poll(), a message
  // dropped and counted when the queue is full.
  void deliver(mqtt::Event e);

  bool publish(const std::string& topic, const std::string& payload);

  // Plain words: "subscribed to spBv1.0/# on tcp://...", "broker ... unreachable (...)".
  const std::string& status() const { return status_; }
  uint64_t status_changes() const { return status_changes_; }
  bool subscribed() const { return state_ == State::subscribed; }
  bool ever_subscribed() const { return ever_subscribed_; }
  uint64_t dropped() const { return dropped_.load(); }
  const std::string& server() const { return link_.server(); }
  // Steady time of the next attempt (when waiting for it), of the deadline
  // of the attempt under way.
  int64_t retry_at() const { return link_.retry_at(); }
  int64_t deadline() const { return link_.deadline(); }

 private:
  enum class State { idle, connecting, subscribing, subscribed };

  void set_status(std::string s);
  void lost(const std::string& why, bool was_subscribed);
  bool handle(const mqtt::Event& e);
  void step();

  const WatchOptions& options_;
  std::string subscription_, id_;
  std::unique_ptr<mqtt::Client> owned_;  // Paho's, when this connection made it
  mqtt::Client* client_ = nullptr;
  mqtt::Reconnect link_;
  State state_ = State::idle;
  std::string status_;
  uint64_t status_changes_ = 0;
  bool ever_subscribed_ = false;
  bool mqtt5_ = false;  // the session in progress speaks MQTT 5

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<mqtt::Event> queue_;
  size_t bytes_ = 0;
  const size_t max_queued_bytes_;
  std::atomic<uint64_t> dropped_{0};
};

// The one place where a config's [broker] settings become the console's
// connection settings (servers, user name, password, TLS, keepalive,
// timeouts, protocol).
void broker_settings(const config::Broker& broker, WatchOptions& options);

// tail, on `clock` (SystemClock from the command line): runs until SIGINT or
// SIGTERM (or `count` messages). Exit status 0; 1 when stdout fails for
// another reason than a closed pipe.
int run_tail(const WatchOptions& options, const Clock& clock);
// fleet, on `clock`: on a terminal, a table redrawn in place every refresh_ms
// until SIGINT or SIGTERM (exit 0). Otherwise: listens wait_ms, prints one
// snapshot, and exits 0, or 1 when no broker could be reached.
int run_fleet(const WatchOptions& options, const Clock& clock);

}  // namespace classroom::console
