// The uplink: the Sparkplug edge-node session over MQTT, and the delivery of
// the spool's batches.
//
//   idle --retry time--> connecting --CONNACK--> subscribing --SUBACK--> online
//     ^                                              |                  ^    |
//     |                                              +-> waiting_host --+    |
//     +------------- connect failed / connection lost (backoff) ----------+
//
// With a Primary Host ([broker] primary_host), the node subscribes to its
// STATE too and births only once that STATE says online (waiting_host until
// then: connected, nothing published, samples kept in the spool). A valid
// offline STATE ends the session (NDEATH, DISCONNECT) and the next server is
// tried; so does a wait longer than primary_host_wait. See
// docs/architecture.md, "Primary Host".
//
// Every CONNECT gets a fresh Will (NDEATH) with a new bdSeq (an attempt whose
// TCP or TLS connect failed sent no CONNECT: the next one reuses its bdSeq).
// Online (after the SUBACKs of NCMD and of every device's DCMD), it births
// (NBIRTH, seq 0, then a DBIRTH for every device that is
// online) whenever the catalog has a metric the last birth lacked or a host
// asked for a rebirth (a device that only lost metrics, after a reload, or
// whose rebirth a host asked for, gets its own DBIRTH alone), then publishes from the spool: node
// batches as NDATA, device batches as DDATA, device presence records as DDEATH/DBIRTH (see
// docs/architecture.md), live batches at once, the backlog of earlier sessions oldest first as
// historical data at `replay_rate` messages/s. Delivery is confirmed by a QoS 1 "receipt" published
// after the QoS 0 NDATA messages: the broker acknowledges it only after it has
// handled everything sent before it on the connection, so its PUBACK confirms
// them and the spool may forget them. A receipt that is refused, or not
// acknowledged within max(10 s, keepalive), ends the session: the link is
// dropped and a new one made.
//
// Nothing is published that the broker said it will not take: a packet over
// its Maximum Packet Size (from the MQTT 5 CONNACK, or `max_packet_size` for a
// broker that states none) would make it close the connection. A birth over
// it is not sent and its owner stays unborn (a device alone: the node and the
// other devices go on) until its metric set changes; data over it, or of an
// owner that is not born, is not sent and counted (refused_batches).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "mqtt/mqtt_client.hpp"
#include "mqtt/reconnect.hpp"
#include "session/bdseq_store.hpp"
#include "session/commands.hpp"
#include "session/host_state.hpp"
#include "session/sparkplug.hpp"
#include "spool/spool.hpp"

namespace classroom::config {
struct Config;
struct Broker;
}  // namespace classroom::config

namespace classroom {

struct UplinkOptions {
  std::string group, node;
  std::vector<std::string> servers;
  std::string client_id, username, password;
  mqtt::TlsOptions tls;
  int64_t keepalive_ms = 30'000;
  int64_t connect_timeout_ms = 10'000;
  int64_t retry_min_ms = 1'000;
  int64_t retry_max_ms = 60'000;
  std::string receipt_topic;
  double replay_rate = 50;  // backlog messages per second
  std::string bdseq_path;
  uint64_t max_packet_size = 256 << 10;  // the broker's limit when it states none
  std::string primary_host;              // its host_id; "" = none
  int64_t primary_host_wait_ms = 0;      // on one server; 0 = forever
  mqtt::Protocol protocol = mqtt::Protocol::automatic;
  // A reload keeps the session when these are equal.
  bool operator==(const UplinkOptions&) const = default;
};

// The uplink's options from the config: the one place that maps the config's
// [identity], [broker], [spool] and [state] keys onto the session's
// (session/uplink_options.cpp). A key added to UplinkOptions is compared by
// reload through operator== without a second list.
UplinkOptions uplink_options(const config::Config& cfg);
// The config's [broker] protocol as the MQTT client's (the agent's and the
// operator's console's).
mqtt::Protocol mqtt_protocol(const config::Broker& broker);

class Uplink {
 public:
  Uplink(UplinkOptions options, mqtt::Client& client, Catalog& catalog, Spool& spool,
         const Clock& clock);

  // Handles one event from the MQTT client.
  void handle(const mqtt::Event& event);
  // Does what is due now (connect, birth, send, receipt). Returns the steady
  // time at which it wants to be called again.
  int64_t poll();
  // Publishes a batch that the spool could not store (disk full, read-only):
  // best effort, no delivery guarantee. Returns false when offline.
  bool publish_unspooled(std::string_view record);
  // Publishes the NDEATH and disconnects (intentional shutdown).
  void shutdown();
  // The commands hosts sent since the last call that act on the pipeline
  // (Scan Rate, Probe Now, Reload), in order, into `out`; the session's own
  // (Rebirth, Next Server, Device Control/Rebirth) are done here.
  void take_commands(std::vector<commands::Action>& out);

  bool online() const { return state_ == State::online; }
  // Online, born, and the broker confirms what it is sent: what the spool
  // holds is on its way out, so a full spool keeps it (Spool::Overflow).
  bool delivering() const;
  // What the uplink is doing, in a few words for systemd's STATUS= line:
  // "online to ssl://broker:8883", "connecting to ...", or "broker
  // ssl://broker:8883 unreachable (why)". Rebuilt in `out` (no allocation
  // once it has grown).
  void describe(std::string& out) const;
  // The batches the spool holds that are not on their way to the broker:
  // all of them while offline; online, those not yet published on this
  // connection, and all of them again once nothing has been confirmed for
  // `late_ms` (a broker that takes data and never acknowledges a receipt).
  // Counted in records, as the spool's pending: lost and dropped ones are not.
  uint64_t waiting(int64_t late_ms) const;

  // ---- read-only, for `classroom-agent status` ----
  // A connection attempt is under way (CONNECT or SUBSCRIBE sent, no answer yet).
  bool connecting() const { return state_ == State::connecting || state_ == State::subscribing; }
  // Connected and subscribed, not born: the primary host has not said online.
  bool waiting_for_host() const { return state_ == State::waiting_host; }
  // Unborn for the primary host: waiting for it on a connection, or between
  // servers after leaving one for it (until a connection fails otherwise).
  bool host_away() const {
    return state_ == State::waiting_host || (host_left_ && state_ != State::online);
  }
  const std::string& primary_host() const { return opt_.primary_host; }
  // Wall-clock ms since when no STATE has said the primary host is online
  // (0: it is, or none is configured, or no session has asked yet).
  int64_t host_offline_since_ms() const { return host_offline_since_ms_; }
  // The last valid STATE of the primary host on this connection (none: none
  // received yet; a new connection starts afresh, as timestamps are per server).
  const std::optional<sparkplug::HostState>& host_state() const { return host_state_; }
  // The server online to, being tried, or to be tried next.
  const std::string& current_server() const { return server(); }
  // Wall-clock ms: online since (0: not yet), unreachable since (0: online,
  // or no attempt has failed since the start).
  int64_t online_since_ms() const { return online_since_ms_; }
  int64_t offline_since_ms() const { return offline_since_ms_; }
  // Why the last attempt failed or the connection was lost ("" when none has),
  // and the server it was about.
  const std::string& last_error() const { return last_error_; }
  const std::string& last_error_server() const { return last_error_server_; }
  int failed_attempts() const { return link_.failures(); }
  // Commands (NCMD, DCMD) cannot arrive: the broker refused their
  // subscription in this session (retried with the backoff), or the node
  // waits for it. Why, in words ("" when commands come as they should); and
  // whether they arrive at all (a subscription at QoS 0 on a broker that
  // closes the connection on a QoS 1 one still brings them).
  const std::string& commands_problem() const { return commands_problem_; }
  bool commands_unavailable() const { return !refused_topics_.empty(); }
  // Steady time of the next attempt, when waiting for it (idle); else 0.
  int64_t next_attempt_steady_ms() const { return state_ == State::idle ? link_.retry_at() : 0; }
  uint64_t bdseq() const { return bdseq_; }
  // Why the next bdSeq could not be saved for a restart ("" when it was).
  const std::string& bdseq_error() const { return bdseq_store_.error(); }
  // Wall-clock ms of the last NDATA/DDATA published, and of the last receipt
  // the broker acknowledged (0: none yet).
  int64_t last_publish_ms() const { return last_publish_ms_; }
  int64_t last_confirmed_ms() const { return last_confirmed_ms_; }
  // Moves on every change of state (online, lost, failed attempt).
  uint64_t changes() const { return changes_; }
  // Wall-clock ms since when something published waits for the broker's
  // confirmation (0: all confirmed, or offline).
  int64_t unconfirmed_since_ms() const { return unconfirmed_since_ms_; }
  // The largest packet the broker takes in this session (0: not connected
  // yet), and where that limit comes from, in words.
  uint64_t packet_limit() const { return packet_limit_; }
  const std::string& packet_limit_source() const { return limit_source_; }
  // The size of the birth of `owner` (kNode: the NBIRTH) that was not
  // published for being over packet_limit(); 0: none was refused.
  uint64_t refused_birth_size(DeviceId owner) const;
  // Batches not published: over the limit, or of an owner left unborn.
  uint64_t refused_batches() const { return refused_batches_; }
  // Of those, the ones over the limit themselves (an NDATA or DDATA too big).
  uint64_t refused_data() const { return refused_data_; }
  // Wall-clock ms of the last batch not published (0: none).
  int64_t last_refused_ms() const { return last_refused_ms_; }

 private:
  enum class State { idle, connecting, subscribing, waiting_host, online };

  void take_bdseq();
  void start_connect();
  void lost(const std::string& why, bool was_online);
  void lost(const std::string& why, bool was_online, bool next_server);
  void end_session(const std::string& why);
  void leave_for_host(const std::string& why);
  void on_connected(const mqtt::Event& e);
  void on_connect_failed(const mqtt::Event& e);
  void on_connection_lost(const mqtt::Event& e);
  void on_message(const mqtt::Event& e);
  void ignore_message(const std::string& topic);
  bool admit_command();
  void act_on(commands::Action& a, DeviceId owner, const std::string& topic);
  void on_device_rebirth(const commands::Action& a, DeviceId owner, const std::string& topic,
                         const std::string& what);
  bool subscribe(const std::string& topic);
  void subscribed_all();
  void begin_session();
  void on_host_state(const std::string& payload);
  void announce_host_wait();
  std::string host_offline_words() const;
  void on_delivered(uint64_t tag);
  bool birth();
  bool needs_rebirth() const;
  bool device_birth(DeviceId d, const char* why = nullptr);
  bool rebirth_shrunk_devices();
  bool rebirth_asked_devices();
  bool device_death(DeviceId d, int64_t ts_ms);
  void serialize_control();
  bool fits(const std::string& topic, size_t payload_size) const;
  void set_packet_limit(uint64_t stated);
  void log_refused_birth(const std::string& owner, uint64_t size, const char* remedy) const;
  bool publish_control(const std::string& topic, const char* what);
  void bury_history_births();
  bool send_record(const Spool::Record& record, bool historical);
  bool send_presence(sparkplug::RecordKind::Kind kind, DeviceId owner, bool historical);
  bool born_for_data(DeviceId owner, bool& unborn);
  bool publish_data(const std::string& topic, uint64_t id, DeviceId owner);
  int64_t poll_waiting_host(int64_t now);
  int64_t poll_online(int64_t now);
  uint64_t in_flight() const;
  bool send_live();
  bool replay_backlog(int64_t now);
  int64_t online_wake(int64_t now, bool backlog_left) const;
  bool send_receipt();
  void subscriptions_answered();
  void resubscribe();
  void on_subscribe_answer(const mqtt::Event& e);
  int64_t receipt_timeout_ms() const;
  const std::string& server() const { return link_.server(); }

  UplinkOptions opt_;
  mqtt::Client& client_;
  Catalog& catalog_;
  Spool& spool_;
  const Clock& clock_;
  sparkplug::Topics topics_;
  BdSeqStore bdseq_store_;

  State state_ = State::idle;
  // The servers and which one now, the attempt's tag and answer deadline,
  // failures in a row and the backoff before the next attempt.
  mqtt::Reconnect link_;
  uint64_t attempt_live_from_ = 0;  // spool id at the start of the current attempt
  uint64_t bdseq_ = 0;
  sparkplug::Sequence seq_;
  uint64_t born_generation_ = UINT64_MAX;
  int64_t birth_newest_ms_ = 0;  // capture time of the newest value the last NBIRTH showed
  // Per device (index = DeviceId; 0, the node, unused): its topics, and the
  // catalog generation and additions of its DBIRTH in this session
  // (UINT64_MAX: not born).
  struct Device {
    std::string dbirth, ddata, ddeath;
    uint64_t born_generation = UINT64_MAX;
    uint64_t born_additions = 0;
    // A DBIRTH over the packet limit: its size, and the metric set it held.
    uint64_t refused_size = 0;
    uint64_t refused_generation = UINT64_MAX, refused_additions = 0;
    // Device Control/Rebirth: asked, and when the last one asked was done (steady ms).
    bool rebirth_requested = false;
    int64_t requested_birth_at = INT64_MIN / 2;
    bool born() const { return born_generation != UINT64_MAX; }
  };
  std::vector<Device> devices_;
  Device& device(DeviceId d);
  bool rebirth_requested_ = false;
  int subscriptions_pending_ = 0;  // SUBACKs still awaited (NCMD, DCMD, STATE)
  // Subscriptions the broker refused in this session (SUBACK failure): the
  // session goes on without them, and asks again with the backoff.
  std::vector<std::string> refused_topics_;
  std::string refusal_;           // the broker's words for the last refusal
  std::string commands_problem_;  // for status ("" = none)
  int subscribe_failures_ = 0;    // refusals in a row, for the backoff
  int64_t resubscribe_at_ = 0;    // steady; 0 = none due (or answers awaited)
  bool commands_warned_ = false;  // said once until commands come again
  // Per server: it closed the connection on a QoS 1 SUBSCRIBE (RabbitMQ 3.10
  // whose subscription queue lives on a lost cluster node), so the next
  // session there subscribes at QoS 0. Cleared when a session there ends.
  std::vector<bool> qos0_servers_;
  int sub_qos_ = 1;              // of this session's subscriptions
  bool mangled_warned_ = false;  // a message on spBv1/0/... was logged
  commands::RateLimit command_limit_;
  uint64_t commands_dropped_ = 0;                    // over the rate, in the flood going on
  int64_t last_drop_ms_ = 0;                         // steady
  std::vector<commands::Action> pipeline_commands_;  // for take_commands()
  int64_t requested_birth_at_ = INT64_MIN / 2;       // steady ms of the last birth a host asked for
  // An NBIRTH over the packet limit: its size, and the metric set it held.
  uint64_t node_refused_size_ = 0, node_refused_generation_ = UINT64_MAX;
  uint64_t packet_limit_ = 0;
  bool mqtt5_ = false;
  std::string limit_source_;
  // A broker that closed the session for a packet too large (DISCONNECT
  // 0x95) without stating its limit: under the largest packet sent then.
  uint64_t learned_limit_ = 0;
  uint64_t largest_sent_ = 0;  // in this session
  uint64_t refused_batches_ = 0;
  uint64_t refused_data_ = 0;  // of those, data over the limit itself
  int64_t last_refused_ms_ = 0;
  int64_t unconfirmed_since_ms_ = 0;
  bool bdseq_warned_ = false;
  // For `classroom-agent status`.
  int64_t online_since_ms_ = 0, offline_since_ms_ = 0;
  int64_t last_publish_ms_ = 0, last_confirmed_ms_ = 0;
  std::string last_error_, last_error_server_;
  uint64_t changes_ = 0;

  // Primary Host.
  std::string state_topic_;  // spBv1.0/STATE/<host_id>; "" = no primary host
  uint64_t malformed_states_ = 0, stale_states_ = 0;  // ignored, for the log
  std::optional<sparkplug::HostState> host_state_;
  int64_t host_offline_since_ms_ = 0;
  int64_t host_wait_deadline_ = 0;  // steady; 0 = none (waits forever)
  // Steady time at which a wait with no STATE yet is said (0: said, or none):
  // a retained STATE comes just after the SUBACK, not with it.
  int64_t host_announce_at_ = 0;
  bool host_wait_first_ = false;     // the wait begins a host outage: a warning
  bool host_left_ = false;           // the last session ended for the host
  bool host_outage_warned_ = false;  // a session ended for it since it was last online
  bool quiet_loss_ = false;          // lost() says it as information

  // Delivery: live batches are ids >= live_from_, the backlog those before.
  uint64_t live_from_ = 0;
  Spool::Cursor backlog_cursor_, live_cursor_;
  uint64_t backlog_confirmed_ = 0, live_confirmed_ = 0;
  struct Receipt {
    uint64_t tag, backlog_sent, live_sent;
    int64_t sent_ms;  // steady
  };
  // Oldest first; a handful at most (the window over the receipt interval).
  // A vector, not a deque: a deque allocates a block every few receipts.
  std::vector<Receipt> receipts_;
  uint64_t next_tag_ = 1;
  uint64_t unreceipted_ = 0;  // NDATA sent since the last receipt
  int64_t last_receipt_ms_ = 0;
  double tokens_ = 0;  // replay rate limiter
  int64_t tokens_at_ms_ = 0;

  Spool::Record record_;          // reused
  sparkplug::Payload payload_;    // the NDATA being sent, reused
  int payload_node_metrics_ = 0;  // the most metrics a node record in it held
  sparkplug::Payload control_;    // births and deaths, so they never disturb payload_
  std::string bytes_;             // reused
};

}  // namespace classroom
