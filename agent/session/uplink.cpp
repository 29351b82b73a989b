#include "session/uplink.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <ctime>

#include "log.hpp"
#include "printable.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("uplink");
// NDATA messages sent but not yet covered by an acknowledged receipt; past this
// the uplink waits, so a slow broker cannot make Paho queue without bound.
constexpr uint64_t kWindow = 500;
// One receipt is in flight at a time (so confirmation keeps pace with the
// link), another one after this many messages, or when the last one is this old.
constexpr uint64_t kReceiptEveryMessages = 100;
constexpr int64_t kReceiptStaleMs = 5000;
// Added to connect_timeout before the uplink gives up on an attempt itself.
constexpr int64_t kAnswerGraceMs = 2000;
// Rebirth requests within this long of a rebirth one of them caused are
// answered by that birth: hosts (or several of them) that ask again in a burst
// get one NBIRTH, not one each.
constexpr int64_t kRebirthCoalesceMs = 1000;
// Commands a second from all hosts together, and a burst: more are dropped
// unread, so a flood costs the loop a comparison each and never a birth storm.
constexpr double kCommandsPerSecond = 5;
constexpr double kCommandBurst = 20;
// A flood is over (and its count logged) after this long without a drop.
constexpr int64_t kFloodOverMs = 1000;
// A broker sends the retained STATE just after the SUBACK (Mosquitto does,
// as MQTT allows): a STATE within this long of it is the subscription's own,
// and the node does not say it waits (nor count what it sampled meanwhile
// as history) when that STATE says online.
constexpr int64_t kRetainedStateGraceMs = 1000;
// With nothing due, poll() asks to be called again after this long (events
// wake the loop sooner).
constexpr int64_t kIdleWakeMs = 60'000;

// The capture time of the newest value in the catalog: what a birth shows.
int64_t newest_value_ms(const Catalog& catalog) {
  int64_t newest = 0;
  for (MetricId id = 0; id < catalog.size(); ++id) newest = std::max(newest, catalog.at(id).ts_ms);
  return newest;
}

const char* batches(uint64_t n) {
  return n == 1 ? "batch" : "batches";
}

}  // namespace

Uplink::Uplink(UplinkOptions options, mqtt::Client& client, Catalog& catalog, Spool& spool,
               const Clock& clock)
    : opt_(std::move(options)),
      client_(client),
      catalog_(catalog),
      spool_(spool),
      clock_(clock),
      topics_(opt_.group, opt_.node),
      bdseq_store_(opt_.bdseq_path),
      // retry_min doubled per failure up to retry_max, +-20 % so that a
      // school's gateways do not all come back in the same second.
      link_(opt_.servers,
            Backoff(opt_.retry_min_ms, opt_.retry_max_ms, 0.2,
                    static_cast<uint32_t>(clock.wall_ms())),
            clock),
      command_limit_(kCommandsPerSecond, kCommandBurst) {
  if (!opt_.primary_host.empty()) state_topic_ = sparkplug::state_topic(opt_.primary_host);
  qos0_servers_.assign(opt_.servers.size(), false);
  record_.data.reserve(4096);
  bytes_.reserve(4096);
}

// A receipt is acknowledged within a round trip; past this the link carries
// nothing, whatever TCP and Paho say.
int64_t Uplink::receipt_timeout_ms() const {
  return std::max<int64_t>(10'000, opt_.keepalive_ms);
}

// The bdSeq for this CONNECT: one more than the last CONNECT's, whether or
// not the file that carries it across restarts can be written.
void Uplink::take_bdseq() {
  const bool saved = bdseq_store_.take(bdseq_);
  if (!saved && !bdseq_warned_) {
    bdseq_warned_ = true;  // once: it would repeat on every attempt of an outage
    lg.warning("bdSeq %" PRIu64 ": %s; counting on in memory, a restart may reuse it", bdseq_,
               bdseq_store_.error().c_str());
  } else if (saved && bdseq_warned_) {
    bdseq_warned_ = false;
    lg.info("bdSeq saved again in %s", text::printable(opt_.bdseq_path, 256).c_str());
  }
}

void Uplink::start_connect() {
  take_bdseq();
  sparkplug::build_death(control_, bdseq_, clock_.wall_ms());
  mqtt::ConnectRequest req;
  req.server = server();
  req.client_id = opt_.client_id;
  req.username = opt_.username;
  req.password = opt_.password;
  req.tls = opt_.tls;
  req.keepalive_s = static_cast<int>(std::max<int64_t>(1, opt_.keepalive_ms / 1000));
  req.connect_timeout_s = static_cast<int>(std::max<int64_t>(1, opt_.connect_timeout_ms / 1000));
  req.protocol = opt_.protocol;
  req.will_topic = topics_.ndeath;
  // Paho reports nothing when a port accepts TCP but never answers MQTT: the
  // uplink keeps its own deadline for the whole CONNECT + SUBSCRIBE exchange.
  req.attempt = link_.begin(opt_.connect_timeout_ms + kAnswerGraceMs);
  // Batches taken from now on are live if this attempt succeeds; those before
  // it are the backlog.
  attempt_live_from_ = spool_.next_id();
  // A host keeps its STATE timestamps per server: a new connection starts afresh.
  host_state_.reset();
  control_.SerializeToString(&req.will_payload);
  if (link_.failures() == 0)
    lg.info("connecting to %s (bdSeq %" PRIu64 ")", req.server.c_str(), bdseq_);
  else
    lg.debug("connecting to %s (bdSeq %" PRIu64 ", attempt %d)", req.server.c_str(), bdseq_,
             link_.failures() + 1);
  state_ = State::connecting;
  std::string error;
  if (!client_.connect(req, error)) {
    bdseq_store_.give_back();  // nothing was sent
    lost(error, false);
  }
}

void Uplink::lost(const std::string& why, bool was_online) {
  lost(why, was_online, !was_online);
}

// `next_server`: the next attempt goes to the next server of the list, after
// a backoff (a failed attempt, or a session that delivered nothing).
void Uplink::lost(const std::string& why, bool was_online, bool next_server) {
  const std::string broker = server();
  // A session there ended: the next one asks for QoS 1 again.
  if (was_online) qos0_servers_[link_.server_index()] = false;
  state_ = State::idle;
  refused_topics_.clear();
  commands_problem_.clear();
  resubscribe_at_ = 0;
  host_left_ = false;  // leave_for_host() sets it again
  if (offline_since_ms_ == 0) offline_since_ms_ = clock_.wall_ms();
  last_error_ = why;
  last_error_server_ = broker;
  ++changes_;
  receipts_.clear();
  unreceipted_ = 0;
  if (!next_server) unconfirmed_since_ms_ = 0;  // else: still nothing confirmed since then
  const uint64_t waiting = spool_.next_id() - 1 - spool_.committed();
  // A failure: one more, and the next server of the list on the next attempt.
  const int64_t delay = link_.failed(next_server);
  const int failed_attempts = link_.failures();
  const double secs = static_cast<double>(delay) / 1000.0;
  if (was_online) {
    const std::string next = server() == broker ? "" : " to " + server();
    const auto say = quiet_loss_ ? &log::Logger::info : &log::Logger::warning;
    (lg.*say)("lost broker %s (%s); reconnecting in %.1f s%s, %" PRIu64 " %s waiting in spool",
              broker.c_str(), why.c_str(), secs, next.c_str(), waiting, batches(waiting));
  } else if (failed_attempts == 1 || (failed_attempts > 0 && failed_attempts % 10 == 0)) {
    lg.warning("broker %s unreachable (%s); retrying %s in %.1f s (attempt %d), %" PRIu64
               " %s waiting in spool",
               broker.c_str(), why.c_str(), server().c_str(), secs, failed_attempts, waiting,
               batches(waiting));
  } else {
    lg.debug("broker %s unreachable (%s); retrying %s in %.1f s", broker.c_str(), why.c_str(),
             server().c_str(), secs);
  }
}

void Uplink::handle(const mqtt::Event& e) {
  using K = mqtt::Event::Kind;
  switch (e.kind) {
    case K::connected:
      return on_connected(e);
    case K::connect_failed:
      return on_connect_failed(e);
    case K::subscribed:
    case K::subscribe_failed:
      return on_subscribe_answer(e);
    case K::connection_lost:
      return on_connection_lost(e);
    case K::delivered:
      return on_delivered(e.tag);
    case K::publish_failed:
      // What the broker refused is not confirmed, nor anything before it.
      // (Only a receipt of this session counts: an ended session's NDEATH,
      // tag 0, or an old receipt says nothing of this one.)
      if (state_ == State::online && std::any_of(receipts_.begin(), receipts_.end(),
                                                 [&](const Receipt& r) { return r.tag == e.tag; }))
        end_session("the broker refused delivery receipt " + std::to_string(e.tag) + ": " + e.text);
      return;
    case K::message:
      return on_message(e);
    case K::message_too_big:
      lg.warning("ignored a message of %" PRIu64 " bytes on %s: a command may have at most %zu",
                 e.tag, text::printable(e.topic).c_str(), mqtt::kMaxInboundMessage);
      return;
    case K::stop:  // the loop handles these two
    case K::reload:
      return;
  }
}

// The CONNACK of the attempt under way: the subscriptions the session needs.
void Uplink::on_connected(const mqtt::Event& e) {
  if (state_ != State::connecting || !link_.current(e.tag)) return;  // an abandoned attempt
  state_ = State::subscribing;
  mqtt5_ = e.mqtt5;
  set_packet_limit(e.max_packet_size);
  // Commands first: a host's rebirth request must not be missed after the
  // birth. The primary host's STATE too: no birth before it says online.
  // The session begins once the broker confirmed each subscription.
  subscriptions_pending_ = 0;
  refused_topics_.clear();
  subscribe_failures_ = 0;
  resubscribe_at_ = 0;
  sub_qos_ = qos0_servers_[link_.server_index()] ? 0 : 1;
  for (const std::string* topic : {&topics_.ncmd, &topics_.dcmd, &state_topic_}) {
    if (!topic->empty() && !subscribe(*topic)) return;
  }
}

void Uplink::on_connect_failed(const mqtt::Event& e) {
  if (state_ != State::connecting || !link_.current(e.tag)) return;
  if (e.nothing_sent) bdseq_store_.give_back();  // no Will with this bdSeq exists
  if (e.retry_v311) {
    // A broker of MQTT 3.1.1 only (RabbitMQ 3.10): the same server again
    // at once, in 3.1.1, which the client remembers for it.
    lg.info("broker %s refused MQTT 5 (%s): connecting to it in MQTT 3.1.1 now", server().c_str(),
            e.text.c_str());
    state_ = State::idle;
    link_.retry_now();
    return;
  }
  lost(e.text, false);
}

void Uplink::on_connection_lost(const mqtt::Event& e) {
  if (state_ == State::idle) return;
  if (state_ == State::subscribing && sub_qos_ == 1) {
    // Connected, then closed on the QoS 1 SUBSCRIBE: how RabbitMQ 3.10
    // refuses a subscription whose queue lives on a lost cluster node.
    // The same server again, subscribing at QoS 0 (the QoS hosts send
    // commands at), rather than no session at all.
    qos0_servers_[link_.server_index()] = true;
    lg.warning(
        "broker %s closed the connection on the QoS 1 subscription to %s (%s); "
        "the next session there subscribes at QoS 0",
        server().c_str(), topics_.ncmd.c_str(), e.text.c_str());
    lost(e.text, false, false);
    return;
  }
  if (e.tag == 0x95 && largest_sent_ > 0) {
    // Too large: the largest packet of the session was, at least.
    learned_limit_ = largest_sent_ - 1;
    lg.warning("broker %s refused a packet of %" PRIu64
               " bytes: the agent sends none that large from now on",
               server().c_str(), largest_sent_);
  }
  lost(e.text, state_ == State::online || state_ == State::waiting_host);
}

// A command from a host (NCMD, or a device's DCMD): read and checked whole
// (session/commands.hpp), then the session's part done here and the rest
// (Scan Rate, Probe Now, Reload) handed to the daemon (take_commands()). Each
// is logged once with what it did; a flood is cut by the rate limit before
// anything is read.
void Uplink::on_message(const mqtt::Event& e) {
  if (!state_topic_.empty() && e.topic == state_topic_) return on_host_state(e.payload);
  std::string error;
  const std::optional<DeviceId> owner = commands::owner_of(e.topic, topics_, catalog_, error);
  if (!owner && error.empty()) return ignore_message(e.topic);
  if (!admit_command()) return;
  const std::string topic = text::printable(e.topic, 160);
  if (!owner) {
    lg.warning("ignored a command on %s: %s", topic.c_str(), error.c_str());
    return;
  }
  auto cmd = commands::parse(e.payload, *owner, catalog_, error);
  if (!cmd) {
    lg.warning("ignored a malformed command on %s: %s", topic.c_str(), error.c_str());
    return;
  }
  if (cmd->empty) {
    lg.warning("ignored an empty command on %s (%zu bytes, no metrics)", topic.c_str(),
               e.payload.size());
    return;
  }
  for (commands::Action& a : cmd->actions) act_on(a, *owner, topic);
}

// A message on a topic that is neither a command nor the primary host's STATE.
void Uplink::ignore_message(const std::string& topic) {
  if (topic.rfind("spBv1/0/", 0) == 0 && !mangled_warned_) {
    // RabbitMQ maps MQTT's / to AMQP's . and back: spBv1.0 comes back as
    // spBv1/0, and the node never sees its commands (or a host's STATE).
    mangled_warned_ = true;
    lg.warning(
        "ignored a message on %s: a Sparkplug topic whose '.' the broker turned into "
        "'/', so commands and STATE never reach the agent; on RabbitMQ set "
        "mqtt.sparkplug = true on every node (said once)",
        text::printable(topic, 160).c_str());
    return;
  }
  lg.debug("ignored a message on %s", text::printable(topic).c_str());
}

// The rate limit on commands: false when this one is dropped unread. The
// start and the end of a flood are logged, once each.
bool Uplink::admit_command() {
  const int64_t now = clock_.steady_ms();
  if (!command_limit_.take(now)) {
    if (commands_dropped_++ == 0)
      lg.warning(
          "ignoring commands: more than %.0f a second; each is dropped unread until hosts "
          "send fewer",
          kCommandsPerSecond);
    last_drop_ms_ = now;
    return false;
  }
  if (commands_dropped_ > 0 && now - last_drop_ms_ >= kFloodOverMs) {
    lg.info("taking commands again; %" PRIu64 " dropped unread", commands_dropped_);
    commands_dropped_ = 0;
  }
  return true;
}

// One action of a command of `owner` on `topic`: the session's own done here,
// the pipeline's kept for take_commands().
void Uplink::act_on(commands::Action& a, DeviceId owner, const std::string& topic) {
  const std::string what = commands::describe(a);
  switch (a.kind) {
    case commands::Kind::rebirth:
      if (!a.yes) {
        lg.info("command on %s: %s: nothing to do", topic.c_str(), what.c_str());
      } else if (clock_.steady_ms() - requested_birth_at_ < kRebirthCoalesceMs) {
        lg.info("rebirth requested again within %.0f s: the NBIRTH just published answers it",
                kRebirthCoalesceMs / 1000.0);
      } else {
        lg.info("rebirth requested by a host application");
        rebirth_requested_ = true;
      }
      return;
    case commands::Kind::device_rebirth:
      return on_device_rebirth(a, owner, topic, what);
    case commands::Kind::next_server:
      if (!a.yes) {
        lg.info("command on %s: %s: nothing to do", topic.c_str(), what.c_str());
      } else if (state_ == State::online) {
        lg.info("command on %s: %s: ending this session for %s", topic.c_str(), what.c_str(),
                link_.next_server().c_str());
        end_session("a host application asked for the next server (" + what + ")");
      } else {
        lg.info("command on %s: %s: not online yet; ignored", topic.c_str(), what.c_str());
      }
      return;
    case commands::Kind::scan_rate:
    case commands::Kind::probe_now:
    case commands::Kind::reload:
      pipeline_commands_.push_back(std::move(a));
      return;
  }
}

// Device Control/Rebirth: the device's DBIRTH comes at the next poll(), when
// it is online and none was just published.
void Uplink::on_device_rebirth(const commands::Action& a, DeviceId owner, const std::string& topic,
                               const std::string& what) {
  Device& dev = device(owner);
  const std::string name = text::printable(catalog_.device_name(owner), 64);
  if (!a.yes)
    lg.info("command on %s: %s: nothing to do", topic.c_str(), what.c_str());
  else if (!catalog_.online(owner))
    lg.info("command on %s: %s: device %s is offline; its DBIRTH comes when it answers",
            topic.c_str(), what.c_str(), name.c_str());
  else if (clock_.steady_ms() - dev.requested_birth_at < kRebirthCoalesceMs)
    lg.info(
        "rebirth of device %s requested again within %.0f s: the DBIRTH just published "
        "answers it",
        name.c_str(), kRebirthCoalesceMs / 1000.0);
  else if (!dev.rebirth_requested) {
    lg.info("rebirth of device %s requested by a host application", name.c_str());
    dev.rebirth_requested = true;
  }
}

void Uplink::take_commands(std::vector<commands::Action>& out) {
  out.clear();
  out.swap(pipeline_commands_);
}

// Subscribes at QoS 1 (as Sparkplug wants: tck-id-message-flow-edge-node-
// ncmd-subscribe), or 0 on a server that closed the connection on that;
// false when the request could not even be made (the attempt is then dropped).
bool Uplink::subscribe(const std::string& topic) {
  std::string error;
  if (!client_.subscribe(topic, sub_qos_, error)) {
    client_.abandon();  // not born: nothing to say; never wait on the network
    lost("cannot subscribe to " + topic + ": " + error, false);
    return false;
  }
  ++subscriptions_pending_;
  return true;
}

// A SUBACK, for a subscription of the session's start or one asked again. A
// refused one does not keep the node from publishing: the session goes on
// without it (a refused STATE leaves the node waiting for its primary host)
// and asks again with the backoff.
void Uplink::on_subscribe_answer(const mqtt::Event& e) {
  const bool ok = e.kind == mqtt::Event::Kind::subscribed;
  if (state_ == State::subscribing) {
    if (!ok) {
      refused_topics_.push_back(e.topic.empty() ? topics_.ncmd : e.topic);
      refusal_ = e.text;
    }
    if (--subscriptions_pending_ > 0) return;
    subscriptions_answered();
    subscribed_all();
    return;
  }
  if (state_ != State::online && state_ != State::waiting_host) return;
  auto it = std::find(refused_topics_.begin(), refused_topics_.end(), e.topic);
  if (it == refused_topics_.end()) return;  // not one asked again
  if (!ok) {
    refusal_ = e.text;
    ++subscribe_failures_;
    subscriptions_answered();
    return;
  }
  refused_topics_.erase(it);
  if (!refused_topics_.empty()) return;
  subscriptions_answered();
}

// After the answers to a round of SUBSCRIBEs: what status and the log say,
// and when to ask again.
void Uplink::subscriptions_answered() {
  ++changes_;
  if (refused_topics_.empty()) {
    subscribe_failures_ = 0;
    resubscribe_at_ = 0;
    if (sub_qos_ == 0)
      commands_problem_ =
          "subscribed at QoS 0: the broker closed the connection on the QoS 1 "
          "subscription before";
    else
      commands_problem_.clear();
    if (commands_warned_) {
      commands_warned_ = false;
      lg.info("broker %s took the subscription to commands: commands available again",
              server().c_str());
    }
    return;
  }
  const int64_t delay = link_.backoff().delay(subscribe_failures_);
  resubscribe_at_ = clock_.steady_ms() + delay;
  std::string topics;
  for (const std::string& t : refused_topics_) topics.append(topics.empty() ? "" : ", ").append(t);
  commands_problem_ =
      "broker " + server() + " refused the subscription to " + topics + " (" + refusal_ + ")";
  if (!commands_warned_) {
    commands_warned_ = true;
    lg.warning("%s: publishing without commands; asking again in %.1f s, with the backoff",
               commands_problem_.c_str(), static_cast<double>(delay) / 1000.0);
  } else {
    lg.debug("%s; asking again in %.1f s", commands_problem_.c_str(),
             static_cast<double>(delay) / 1000.0);
  }
}

// The refused subscriptions, asked again (their answers come as events).
void Uplink::resubscribe() {
  resubscribe_at_ = 0;
  for (const std::string& topic : refused_topics_) {
    std::string error;
    if (!client_.subscribe(topic, sub_qos_, error)) {
      refusal_ = error;
      ++subscribe_failures_;
      subscriptions_answered();
      return;
    }
  }
}

// Every SUBACK is in. Without a primary host, or with one whose STATE said
// online already (a retained one arrives with the SUBACK), the session
// begins; else the node waits for it, connected and unborn.
void Uplink::subscribed_all() {
  if (state_topic_.empty() || (host_state_ && host_state_->online)) return begin_session();
  if (host_state_ && opt_.servers.size() > 1) {
    // Offline here: the host may be on another server
    // (tck-id-operational-behavior-primary-application-state-with-multiple-servers-walk).
    leave_for_host("primary host " + text::printable(opt_.primary_host) + " is " +
                   host_offline_words() + "; trying the next server");
    return;
  }
  state_ = State::waiting_host;
  ++changes_;
  // Said as a warning when the host goes missing, then (on every server the
  // agent tries while it stays away) as information.
  host_wait_first_ = host_offline_since_ms_ == 0;
  if (host_wait_first_) host_offline_since_ms_ = clock_.wall_ms();
  host_wait_deadline_ =
      opt_.primary_host_wait_ms > 0 ? clock_.steady_ms() + opt_.primary_host_wait_ms : 0;
  host_announce_at_ = 0;
  if (host_state_)
    announce_host_wait();  // offline: known already
  else
    host_announce_at_ = clock_.steady_ms() + kRetainedStateGraceMs;
}

// The log line of a wait for the primary host, once per connection.
void Uplink::announce_host_wait() {
  host_announce_at_ = 0;
  const uint64_t waiting = spool_.next_id() - 1 - spool_.committed();
  char wait[64] = "";
  if (host_wait_deadline_ > 0)
    std::snprintf(wait, sizeof wait, " (at most %.0f s, then the next server)",
                  static_cast<double>(opt_.primary_host_wait_ms) / 1000.0);
  const auto say = host_wait_first_ ? &log::Logger::warning : &log::Logger::info;
  (lg.*say)("connected to %s (bdSeq %" PRIu64
            "), waiting for primary host %s%s: it is %s; "
            "no birth and no data until it is online, %" PRIu64 " %s waiting in spool",
            server().c_str(), bdseq_, text::printable(opt_.primary_host).c_str(), wait,
            host_offline_words().c_str(), waiting, batches(waiting));
}

// What the primary host's STATE said on this connection, for the log.
std::string Uplink::host_offline_words() const {
  if (!host_state_) return "not known here (no STATE received on " + server() + ")";
  if (!host_state_->timestamp) return "offline (STATE OFFLINE)";
  return "offline (STATE timestamp " + std::to_string(*host_state_->timestamp) + ")";
}

// A message on spBv1.0/STATE/<primary host> (Sparkplug 3.0, "Edge Node
// Session Establishment" and "Edge Node Session Termination").
void Uplink::on_host_state(const std::string& payload) {
  if (state_ != State::subscribing && state_ != State::waiting_host && state_ != State::online)
    return;  // of a connection that is over
  const std::string host = text::printable(opt_.primary_host);
  const auto state = sparkplug::parse_host_state(payload);
  // Whoever may publish on the STATE topic could flood the log: the 1st,
  // 2nd, 4th, 8th... ignored message is logged, with the count.
  const auto worth_a_line = [](uint64_t& count) {
    ++count;
    return (count & (count - 1)) == 0;
  };
  if (!state) {
    if (worth_a_line(malformed_states_))
      lg.warning("ignored a malformed STATE of primary host %s (%zu bytes: %s; %" PRIu64
                 " so far): expected {\"online\": true or false, \"timestamp\": ms}",
                 host.c_str(), payload.size(), text::printable(payload, 64).c_str(),
                 malformed_states_);
    return;
  }
  if (!sparkplug::supersedes(*state, host_state_)) {
    // tck-id-operational-behavior-edge-node-termination-host-offline-timestamp
    if (worth_a_line(stale_states_))
      lg.info("ignored a stale STATE of primary host %s (online %s, timestamp %" PRIu64
              " older than %" PRIu64 "; %" PRIu64 " so far): from an earlier session of the host",
              host.c_str(), state->online ? "true" : "false", *state->timestamp,
              *host_state_->timestamp, stale_states_);
    return;
  }
  host_state_ = *state;
  ++changes_;  // status shows what the host said
  if (state->online) {
    // Subscribing: the session begins at the SUBACK; online: nothing new.
    if (state_ != State::waiting_host) return;
    // The retained STATE of the subscription: as if it had come with the
    // SUBACK, nothing was waited for.
    if (host_announce_at_ > 0 && clock_.steady_ms() < host_announce_at_) return begin_session();
    lg.info("primary host %s is online (STATE timestamp %s): publishing the birth", host.c_str(),
            state->timestamp ? std::to_string(*state->timestamp).c_str() : "none");
    // What was sampled while the host was away is history: replayed after
    // the birth, oldest first, flagged historical.
    attempt_live_from_ = spool_.next_id();
    return begin_session();
  }
  if (host_offline_since_ms_ == 0) host_offline_since_ms_ = clock_.wall_ms();
  if (state_ == State::online) {
    // tck-id-operational-behavior-edge-node-termination-host-offline(-reconnect)
    leave_for_host("primary host " + host + " is " + host_offline_words() +
                   ": NDEATH sent, trying the next server");
  } else if (state_ == State::waiting_host && opt_.servers.size() > 1) {
    leave_for_host("primary host " + host + " is " + host_offline_words() +
                   "; trying the next server");
  } else if (state_ == State::waiting_host && host_announce_at_ > 0) {
    announce_host_wait();  // the wait, with what the host said
  } else if (state_ == State::waiting_host) {
    lg.info("primary host %s is %s; still waiting for it on %s (the only server)", host.c_str(),
            host_offline_words().c_str(), server().c_str());
  }
}

// Subscribed to all it needs, and the primary host (if any) is online: the
// session begins, and the birth comes at the next poll().
void Uplink::begin_session() {
  state_ = State::online;
  link_.succeeded();
  online_since_ms_ = clock_.wall_ms();
  offline_since_ms_ = 0;
  host_offline_since_ms_ = 0;
  host_announce_at_ = 0;
  host_outage_warned_ = false;
  ++changes_;
  born_generation_ = UINT64_MAX;  // birth before anything else
  // A new session may take more: births refused before are tried again.
  node_refused_size_ = 0;
  node_refused_generation_ = UINT64_MAX;
  for (Device& d : devices_) {
    d.born_generation = UINT64_MAX;
    d.refused_size = 0;
    d.refused_generation = UINT64_MAX;
  }
  live_from_ = std::max(attempt_live_from_, spool_.committed() + 1);
  backlog_cursor_ = Spool::Cursor{spool_.committed() + 1, 0, 0};
  live_cursor_ = Spool::Cursor{live_from_, 0, 0};
  backlog_confirmed_ = spool_.committed();
  live_confirmed_ = live_from_ - 1;
  tokens_ = 0;
  tokens_at_ms_ = clock_.steady_ms();
  last_receipt_ms_ = clock_.steady_ms();
  const uint64_t backlog = spool_.pending_before(live_from_);  // lost ones are not replayed
  if (backlog > 0)
    lg.info("connected to %s as %s/%s (bdSeq %" PRIu64 "); %" PRIu64 " %s to replay at %.0f/s",
            server().c_str(), opt_.group.c_str(), opt_.node.c_str(), bdseq_, backlog,
            batches(backlog), opt_.replay_rate);
  else
    lg.info("connected to %s as %s/%s (bdSeq %" PRIu64 ")", server().c_str(), opt_.group.c_str(),
            opt_.node.c_str(), bdseq_);
}

void Uplink::on_delivered(uint64_t tag) {
  auto done = receipts_.begin();
  for (; done != receipts_.end() && done->tag <= tag; ++done) {
    backlog_confirmed_ = std::max(backlog_confirmed_, done->backlog_sent);
    live_confirmed_ = std::max(live_confirmed_, done->live_sent);
  }
  if (done == receipts_.begin()) return;
  receipts_.erase(receipts_.begin(), done);
  last_confirmed_ms_ = clock_.wall_ms();
  // What is still out was sent after this confirmation, or just before it.
  unconfirmed_since_ms_ = receipts_.empty() && unreceipted_ == 0 ? 0 : last_confirmed_ms_;
  // The spool keeps one committed position: the backlog's, until it is fully
  // delivered; then the live data's. The spool's may be further on than what
  // was sent: batches lost on disk (or dropped) right after the last one
  // confirmed have nothing left to deliver.
  backlog_confirmed_ = std::max(backlog_confirmed_, spool_.committed());
  if (backlog_confirmed_ + 1 < live_from_) {
    spool_.commit(backlog_confirmed_);
    backlog_confirmed_ = std::max(backlog_confirmed_, spool_.committed());
  }
  if (backlog_confirmed_ + 1 >= live_from_)
    spool_.commit(std::max(backlog_confirmed_, live_confirmed_));
}

Uplink::Device& Uplink::device(DeviceId d) {
  if (d >= devices_.size()) devices_.resize(d + 1);
  Device& dev = devices_[d];
  if (dev.ddata.empty()) {
    const std::string& name = catalog_.device_name(d);
    dev.dbirth = topics_.device("DBIRTH", name);
    dev.ddata = topics_.device("DDATA", name);
    dev.ddeath = topics_.device("DDEATH", name);
  }
  return dev;
}

bool Uplink::needs_rebirth() const {
  if (born_generation_ != catalog_.generation() || rebirth_requested_) return true;
  // A new metric of a device that is born already: a DBIRTH must list every
  // metric of the session, so the node births again (with every device).
  for (size_t d = 1; d < devices_.size(); ++d)
    if (devices_[d].born() &&
        devices_[d].born_additions != catalog_.additions(static_cast<DeviceId>(d)))
      return true;
  return false;
}

// A device that is born but only lost metrics since (a reload retired what its
// new config no longer polls): its birth listed more than it will publish,
// nothing it publishes is missing. Its own DBIRTH, with the smaller set and
// the same aliases, tells hosts; the node and the other devices stay as they are.
bool Uplink::rebirth_shrunk_devices() {
  for (DeviceId d = 1; d < devices_.size(); ++d)
    if (devices_[d].born() && devices_[d].born_generation != catalog_.generation(d) &&
        !device_birth(d, "metrics retired"))
      return false;
  return true;
}

// Devices a host asked to be born again (Device Control/Rebirth): the DBIRTH
// of each alone; the node and the other devices stay as they are.
bool Uplink::rebirth_asked_devices() {
  for (DeviceId d = 1; d < devices_.size(); ++d) {
    Device& dev = devices_[d];
    if (!dev.rebirth_requested) continue;
    dev.rebirth_requested = false;
    if (!dev.born() || !catalog_.online(d)) continue;  // born again when it answers
    dev.requested_birth_at = clock_.steady_ms();
    if (!device_birth(d, "rebirth requested")) return false;
  }
  return true;
}

// A session that cannot go on (a publish refused, receipts no longer
// acknowledged) ends as an intentional stop does, without waiting on the
// network: the NDEATH, where the connection still takes it, and a DISCONNECT
// that has the broker publish the Will (MQTT 5), so hosts see the node die
// whatever became of the agent's own NDEATH. The uplink then connects again
// (a new bdSeq).
void Uplink::end_session(const std::string& why) {
  sparkplug::build_death(control_, bdseq_, clock_.wall_ms());
  control_.SerializeToString(&bytes_);
  std::string error;
  if (!client_.publish(topics_.ndeath, bytes_, 1, 0, error))
    lg.debug("could not publish the NDEATH either: %s", error.c_str());
  client_.end_with_will();
  // A broker that takes the connection but not the data: the next server
  // of the list, after a backoff, or the same one over and over.
  lost(why, true, true);
}

// A session ended for the primary host (offline, or not online within
// primary_host_wait): as end_session(), but the broker did nothing wrong. What
// it had not confirmed yet is sent again, not counted against it; `status`
// shows the wait for the host, not a broker unreachable, until the next
// server answers; and a host away for hours is warned of once, not on every
// server the agent walks meanwhile.
void Uplink::leave_for_host(const std::string& why) {
  quiet_loss_ = host_outage_warned_;
  host_outage_warned_ = true;
  end_session(why);
  quiet_loss_ = false;
  unconfirmed_since_ms_ = 0;
  host_left_ = true;
}

void Uplink::serialize_control() {
  control_.SerializeToString(&bytes_);
  // A birth holds every metric with its properties (tens of KiB); births are
  // rare, so their message objects go back to the heap rather than wait for
  // the next one (Clear() would keep them).
  sparkplug::Payload().Swap(&control_);
}

// A QoS 0 message of `payload_size` bytes on `topic` is within the broker's limit.
bool Uplink::fits(const std::string& topic, size_t payload_size) const {
  return mqtt::publish_packet_size(topic.size(), payload_size, 0, mqtt5_) <= packet_limit_;
}

// The broker's own limit when it states one; else [broker] max_packet_size,
// or less when the broker refused a smaller packet before.
void Uplink::set_packet_limit(uint64_t stated) {
  largest_sent_ = 0;
  if (stated > 0) {
    packet_limit_ = stated;
    limit_source_ = "its Maximum Packet Size";
    lg.info("broker %s takes packets of up to %" PRIu64 " bytes", server().c_str(), stated);
  } else if (learned_limit_ > 0 && learned_limit_ < opt_.max_packet_size) {
    packet_limit_ = learned_limit_;
    limit_source_ = "it refused a packet of " + std::to_string(learned_limit_ + 1) + " bytes";
  } else {
    packet_limit_ = opt_.max_packet_size;
    limit_source_ = "the broker states no limit: [broker] max_packet_size";
  }
}

uint64_t Uplink::refused_birth_size(DeviceId owner) const {
  if (owner == kNode) return node_refused_size_;
  return owner < devices_.size() ? devices_[owner].refused_size : 0;
}

void Uplink::log_refused_birth(const std::string& owner, uint64_t size, const char* remedy) const {
  lg.error("not publishing the birth of %s: %" PRIu64 " bytes, over the %" PRIu64
           " bytes the broker takes (%s); %s stays unborn and its "
           "data is not published until %s",
           owner.c_str(), size, packet_limit_, limit_source_.c_str(), owner.c_str(), remedy);
}

// Publishes bytes_ (serialize_control()).
bool Uplink::publish_control(const std::string& topic, const char* what) {
  largest_sent_ =
      std::max(largest_sent_, mqtt::publish_packet_size(topic.size(), bytes_.size(), 0, mqtt5_));
  std::string error;
  if (!client_.publish(topic, bytes_, 0, 0, error)) {
    end_session(std::string("cannot publish ") + what + ": " + error);
    return false;
  }
  return true;
}

// False when the node is not born: the connection was lost, or its NBIRTH is
// over the packet limit (then online() stays true).
bool Uplink::birth() {
  const bool first = born_generation_ == UINT64_MAX;
  if (node_refused_generation_ == catalog_.generation() && !rebirth_requested_) return false;
  sparkplug::build_birth(control_, catalog_, bdseq_, clock_.wall_ms());
  serialize_control();
  if (!fits(topics_.nbirth, bytes_.size())) {
    node_refused_size_ = mqtt::publish_packet_size(topics_.nbirth.size(), bytes_.size(), 0, mqtt5_);
    node_refused_generation_ = catalog_.generation();
    rebirth_requested_ = false;
    log_refused_birth("node " + opt_.node, node_refused_size_,
                      "it publishes fewer metrics (fewer sources, probes or interfaces)");
    return false;
  }
  node_refused_size_ = 0;
  seq_.birth();
  if (!publish_control(topics_.nbirth, "NBIRTH")) return false;
  born_generation_ = catalog_.generation();
  const size_t metrics = catalog_.metric_count(kNode) + 2;
  if (first)
    lg.info("published NBIRTH with %zu metrics", metrics);
  else
    lg.info("published a new NBIRTH (%s), %zu metrics",
            rebirth_requested_ ? "rebirth requested" : "new metrics", metrics);
  if (rebirth_requested_) requested_birth_at_ = clock_.steady_ms();
  rebirth_requested_ = false;
  birth_newest_ms_ = newest_value_ms(catalog_);
  // Every device that is online is born again after every NBIRTH.
  for (Device& d : devices_) {
    d.born_generation = UINT64_MAX;
    d.rebirth_requested = false;
  }
  for (DeviceId d = 1; d < catalog_.owner_count(); ++d)
    if (catalog_.online(d) && !device_birth(d)) return false;
  return true;
}

// False when the connection was lost. A DBIRTH over the packet limit is not
// sent: the device stays unborn (dead, when it was born) and true is returned.
bool Uplink::device_birth(DeviceId d, const char* why) {
  Device& dev = device(d);
  if (dev.refused_generation == catalog_.generation(d) &&
      dev.refused_additions == catalog_.additions(d))
    return true;  // the same metric set: still too big
  sparkplug::build_device_birth(control_, catalog_, d, seq_.peek(), clock_.wall_ms());
  serialize_control();
  if (!fits(dev.dbirth, bytes_.size())) {
    dev.refused_size = mqtt::publish_packet_size(dev.dbirth.size(), bytes_.size(), 0, mqtt5_);
    dev.refused_generation = catalog_.generation(d);
    dev.refused_additions = catalog_.additions(d);
    log_refused_birth("device " + text::printable(catalog_.device_name(d)), dev.refused_size,
                      "it publishes fewer metrics (its include/exclude, fewer profiles)");
    return !dev.born() || device_death(d, clock_.wall_ms());
  }
  dev.refused_size = 0;
  seq_.next();
  if (!publish_control(dev.dbirth, "DBIRTH")) return false;
  dev.born_generation = catalog_.generation(d);
  dev.born_additions = catalog_.additions(d);
  if (why)
    lg.info("published a new DBIRTH of device %s (%s), %zu metrics",
            catalog_.device_name(d).c_str(), why, catalog_.metric_count(d));
  else
    lg.info("published DBIRTH of device %s, %zu metrics", catalog_.device_name(d).c_str(),
            catalog_.metric_count(d));
  return true;
}

bool Uplink::device_death(DeviceId d, int64_t ts_ms) {
  Device& dev = device(d);
  sparkplug::build_device_death(control_, seq_.next(), ts_ms);
  serialize_control();
  if (!publish_control(dev.ddeath, "DDEATH")) return false;
  dev.born_generation = UINT64_MAX;
  lg.info("published DDEATH of device %s", catalog_.device_name(d).c_str());
  return true;
}

// A device that is offline now but was born for its history (see send_record)
// dies again once that history is out.
void Uplink::bury_history_births() {
  for (DeviceId d = 1; d < devices_.size(); ++d)
    if (devices_[d].born() && !catalog_.online(d)) {
      if (!device_death(d, clock_.wall_ms())) return;
    }
}

namespace {

// A device's record (hundreds of metrics at its first poll, then one every
// 30 s or so) is not kept parsed until the next one: the metric objects past
// the most a node record has held are freed after it, so the node's records
// still reuse theirs (the hot path allocates nothing).
struct ReleaseDeviceMetrics {
  sparkplug::Payload& payload;
  int& node_metrics;  // the most metrics a node record has held
  bool device = false;
  ~ReleaseDeviceMetrics() {
    auto* metrics = payload.mutable_metrics();
    if (!device) {
      node_metrics = std::max(node_metrics, metrics->size());
    } else if (metrics->size() > node_metrics) {
      metrics->DeleteSubrange(node_metrics, metrics->size() - node_metrics);
    }
  }
};

}  // namespace

// One spool record out: a device's presence (DDEATH, DBIRTH), or data (NDATA,
// DDATA) after whatever birth it needs. False when the session ended, or the
// record must wait (an NBIRTH over the limit); true when it is done with,
// sent or not (a record that cannot be sent is counted, never retried).
bool Uplink::send_record(const Spool::Record& record, bool historical) {
  ReleaseDeviceMetrics release{payload_, payload_node_metrics_};
  if (!payload_.ParseFromString(record.data)) {
    lg.warning("skipped spool record %" PRIu64 ": not a Sparkplug payload", record.id);
    return true;
  }
  const sparkplug::RecordKind kind = sparkplug::record_kind(payload_);
  if (kind.kind == sparkplug::RecordKind::unknown) {
    lg.warning("skipped spool record %" PRIu64 ": written by a newer version?", record.id);
    return true;
  }
  DeviceId owner = kNode;
  release.device = kind.kind != sparkplug::RecordKind::node_data;
  if (kind.kind != sparkplug::RecordKind::node_data) {
    // A device of an earlier config is known from its records alone (offline).
    owner = catalog_.add_device(kind.device);
    device(owner);
  }
  if (kind.kind == sparkplug::RecordKind::device_death ||
      kind.kind == sparkplug::RecordKind::device_birth)
    return send_presence(kind.kind, owner, historical);
  sparkplug::record_to_data(payload_, catalog_, owner, historical);
  // A metric this session's birth lacks (new, or from before a restart): rebirth first.
  if (needs_rebirth()) {
    if (!birth()) return false;  // lost, or an NBIRTH too big: the record waits
  }
  // A live batch taken before the birth (during a slow CONNECT) holds values
  // older than those the birth shows: history, or a host would step back.
  if (!historical && static_cast<int64_t>(payload_.timestamp()) < birth_newest_ms_)
    for (sparkplug::PbMetric& m : *payload_.mutable_metrics()) m.set_is_historical(true);
  if (owner == kNode) return publish_data(topics_.ndata, record.id, owner);
  bool unborn = false;
  if (!born_for_data(owner, unborn)) return false;
  if (unborn) {  // its DBIRTH is over the limit (logged, in status)
    ++refused_batches_;
    last_refused_ms_ = clock_.wall_ms();
    ++unreceipted_;  // confirmed as handled with what follows
    return true;
  }
  return publish_data(devices_[owner].ddata, record.id, owner);
}

// A device presence record of `owner` (device_death or device_birth), in
// order with its data.
bool Uplink::send_presence(sparkplug::RecordKind::Kind kind, DeviceId owner, bool historical) {
  if (kind == sparkplug::RecordKind::device_death) {
    // From the backlog, a past death does not kill a device that is online now.
    if (devices_[owner].born() && !(historical && catalog_.online(owner))) {
      if (!device_death(owner, static_cast<int64_t>(payload_.timestamp()))) return false;
    }
    ++unreceipted_;
    return true;
  }
  // Live: the device answered again. From the backlog, its data births it
  // when needed.
  if (!historical && !devices_[owner].born() && catalog_.online(owner)) {
    if (needs_rebirth()) {
      if (!birth()) return false;
    }
    if (!devices_[owner].born() && !device_birth(owner)) return false;
  }
  ++unreceipted_;
  return true;
}

// The device is born with its current metric set before its data goes out.
// False when the session ended; `unborn` when its DBIRTH is over the limit.
bool Uplink::born_for_data(DeviceId owner, bool& unborn) {
  // Data of a device not born in this session (it went offline, or its
  // history outlived it): a DBIRTH first; bury_history_births() ends it.
  if (!devices_[owner].born() && !device_birth(owner)) return false;
  // Born, but with metrics retired since: its new DBIRTH before its data.
  if (devices_[owner].born() && devices_[owner].born_generation != catalog_.generation(owner) &&
      !device_birth(owner, "metrics retired"))
    return false;
  unborn = !devices_[owner].born();
  return true;
}

// The data in payload_ (of spool record `id`, of `owner`) on `topic`, with
// the next seq, unless it is over the broker's limit (then counted, not
// sent). False when the publish failed and the session ended.
bool Uplink::publish_data(const std::string& topic, uint64_t id, DeviceId owner) {
  payload_.set_seq(seq_.peek());
  payload_.SerializeToString(&bytes_);
  if (!fits(topic, bytes_.size())) {
    ++refused_batches_;
    last_refused_ms_ = clock_.wall_ms();
    ++unreceipted_;
    if (++refused_data_ == 1 || refused_data_ % 100 == 0)  // a flood would repeat it
      lg.error("not publishing spool record %" PRIu64 " (%s): %zu bytes, over the %" PRIu64
               " bytes the broker takes (%" PRIu64 " such records so far)",
               id, owner == kNode ? "NDATA" : "DDATA", bytes_.size(), packet_limit_, refused_data_);
    return true;
  }
  seq_.next();
  largest_sent_ =
      std::max(largest_sent_, mqtt::publish_packet_size(topic.size(), bytes_.size(), 0, mqtt5_));
  std::string error;
  if (!client_.publish(topic, bytes_, 0, 0, error)) {
    // Nothing after the last receipt counts as delivered: it is all sent again.
    end_session(std::string("cannot publish ") + (owner == kNode ? "NDATA" : "DDATA") + ": " +
                error);
    return false;
  }
  ++unreceipted_;
  last_publish_ms_ = clock_.wall_ms();
  if (unconfirmed_since_ms_ == 0) unconfirmed_since_ms_ = last_publish_ms_;
  return true;
}

bool Uplink::send_receipt() {
  const uint64_t tag = next_tag_++;
  const uint64_t backlog_sent = std::min(backlog_cursor_.next_id, live_from_) - 1;
  const uint64_t live_sent = live_cursor_.next_id - 1;
  char text[32];
  int n = std::snprintf(text, sizeof text, "%" PRIu64, std::max(backlog_sent, live_sent));
  largest_sent_ = std::max(
      largest_sent_,
      mqtt::publish_packet_size(opt_.receipt_topic.size(), static_cast<size_t>(n), 1, mqtt5_));
  std::string error;
  if (!client_.publish(opt_.receipt_topic, std::string_view(text, static_cast<size_t>(n)), 1, tag,
                       error)) {
    end_session("cannot publish receipt: " + error);
    return false;
  }
  receipts_.push_back(Receipt{tag, backlog_sent, live_sent, clock_.steady_ms()});
  unreceipted_ = 0;
  last_receipt_ms_ = clock_.steady_ms();
  return true;
}

int64_t Uplink::poll() {
  const int64_t now = clock_.steady_ms();
  switch (state_) {
    case State::idle:
      if (now >= link_.retry_at()) start_connect();
      return state_ == State::idle ? link_.retry_at() : link_.deadline();
    case State::waiting_host:
      return poll_waiting_host(now);
    case State::connecting:
    case State::subscribing:
      if (now < link_.deadline()) return link_.deadline();
      client_.abandon();
      lost("no MQTT answer within " +
               std::to_string((opt_.connect_timeout_ms + kAnswerGraceMs) / 1000) +
               " s: a busy broker, or not an MQTT port?",
           false);
      return link_.retry_at();
    case State::online:
      return poll_online(now);
  }
  return now + kIdleWakeMs;
}

// Connected and unborn: the log line of the wait, subscriptions asked again,
// and the next server once primary_host_wait is over.
int64_t Uplink::poll_waiting_host(int64_t now) {
  if (host_announce_at_ > 0 && now >= host_announce_at_) announce_host_wait();
  if (resubscribe_at_ > 0 && now >= resubscribe_at_) resubscribe();
  const int64_t idle_wake = now + kIdleWakeMs;
  int64_t wake = host_announce_at_ > 0 ? std::min(idle_wake, host_announce_at_) : idle_wake;
  if (resubscribe_at_ > 0) wake = std::min(wake, resubscribe_at_);
  if (host_wait_deadline_ == 0) return wake;
  if (now < host_wait_deadline_) return std::min(wake, host_wait_deadline_);
  leave_for_host("primary host " + text::printable(opt_.primary_host) +
                 " did not say online within " + std::to_string(opt_.primary_host_wait_ms / 1000) +
                 " s (primary_host_wait); trying the next server");
  return link_.retry_at();
}

// Online: the receipt deadline, births, the live data, the backlog, and a
// receipt for what went out.
int64_t Uplink::poll_online(int64_t now) {
  if (resubscribe_at_ > 0 && now >= resubscribe_at_) resubscribe();
  if (!receipts_.empty() && now - receipts_.front().sent_ms >= receipt_timeout_ms()) {
    end_session("no delivery receipt acknowledged for " +
                std::to_string((now - receipts_.front().sent_ms) / 1000) + " s");
    return link_.retry_at();
  }
  // Stopped short: lost (retry then), or the NBIRTH is too big (wait for new metrics).
  const int64_t idle_wake = now + kIdleWakeMs;
  auto stopped = [&] { return online() ? idle_wake : link_.retry_at(); };

  if (needs_rebirth()) {
    if (!birth()) return stopped();
  }
  if (!rebirth_shrunk_devices()) return link_.retry_at();
  if (!rebirth_asked_devices()) return link_.retry_at();
  if (!send_live() || !replay_backlog(now)) return stopped();
  const bool backlog_left =
      backlog_cursor_.next_id < live_from_ && spool_.next_id() - 1 > spool_.committed();
  if (!backlog_left && live_cursor_.next_id >= spool_.next_id()) {
    bury_history_births();
    if (!online()) return link_.retry_at();
  }

  if (unreceipted_ > 0 && (receipts_.empty() || unreceipted_ >= kReceiptEveryMessages ||
                           now - last_receipt_ms_ >= kReceiptStaleMs)) {
    if (!send_receipt()) return link_.retry_at();
  }
  return online_wake(now, backlog_left);
}

// Messages on their way: NDATA not yet under a receipt, and receipts not yet
// acknowledged, which stand for up to kReceiptEveryMessages each.
uint64_t Uplink::in_flight() const {
  return unreceipted_ + receipts_.size() * kReceiptEveryMessages;
}

// Live data first: the backlog never delays what is happening now. A record
// that could not go out while the session lives on (its birth is over the
// broker's packet limit) is read again next time: it waits. False when
// stopped short.
bool Uplink::send_live() {
  for (Spool::Cursor at = live_cursor_;
       in_flight() < kWindow && spool_.read(live_cursor_, UINT64_MAX, record_); at = live_cursor_) {
    if (!send_record(record_, false)) {
      if (online()) live_cursor_ = at;
      return false;
    }
  }
  return true;
}

// The backlog, oldest first, at replay_rate messages per second. False when
// stopped short.
bool Uplink::replay_backlog(int64_t now) {
  const double rate = opt_.replay_rate;
  tokens_ = std::min(std::max(1.0, rate),
                     tokens_ + static_cast<double>(now - tokens_at_ms_) * rate / 1000.0);
  tokens_at_ms_ = now;
  for (Spool::Cursor at = backlog_cursor_;
       tokens_ >= 1.0 && in_flight() < kWindow && spool_.read(backlog_cursor_, live_from_, record_);
       at = backlog_cursor_) {
    if (!send_record(record_, true)) {
      if (online()) backlog_cursor_ = at;
      return false;
    }
    tokens_ -= 1.0;
  }
  return true;
}

// When an online poll() is due next: a resubscription, a stale receipt, the
// receipt deadline, or the next backlog message the replay rate allows.
int64_t Uplink::online_wake(int64_t now, bool backlog_left) const {
  int64_t wake = now + kIdleWakeMs;
  if (resubscribe_at_ > 0) wake = std::min(wake, resubscribe_at_);
  if (unreceipted_ > 0) wake = std::min(wake, last_receipt_ms_ + kReceiptStaleMs);
  if (!receipts_.empty()) wake = std::min(wake, receipts_.front().sent_ms + receipt_timeout_ms());
  if (backlog_left && in_flight() < kWindow) {
    const double wait_ms = tokens_ >= 1.0 ? 0.0 : (1.0 - tokens_) * 1000.0 / opt_.replay_rate;
    wake = std::min(wake, now + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_ms))));
  }
  return wake;
}

bool Uplink::delivering() const {
  if (!online() || node_refused_size_ > 0) return false;
  return unconfirmed_since_ms_ == 0 ||
         clock_.wall_ms() - unconfirmed_since_ms_ < receipt_timeout_ms();
}

bool Uplink::publish_unspooled(std::string_view record) {
  if (!online()) return false;
  Spool::Record r;
  r.data.assign(record);
  return send_record(r, false);
}

uint64_t Uplink::waiting(int64_t late_ms) const {
  const uint64_t all = spool_.pending_before(UINT64_MAX);
  if (!online()) return all;
  if (unconfirmed_since_ms_ > 0 && clock_.wall_ms() - unconfirmed_since_ms_ > late_ms) return all;
  // The backlog from its cursor to where live data starts, and the live data
  // from its cursor on: each a difference of counts that only grow with the id.
  const uint64_t backlog_at = std::min(backlog_cursor_.next_id, live_from_);
  return spool_.pending_before(live_from_) - spool_.pending_before(backlog_at) + all -
         spool_.pending_before(live_cursor_.next_id);
}

void Uplink::describe(std::string& out) const {
  switch (state_) {
    case State::online:
      out.assign("online to ").append(server());
      return;
    case State::waiting_host: {
      // "waiting for primary host district-scada on tcp://...: offline since
      // 2026-11-29T10:02:11Z": it changes only when the state does.
      char since[32] = "?";
      const time_t secs = static_cast<time_t>(host_offline_since_ms_ / 1000);
      tm t{};
      if (gmtime_r(&secs, &t)) std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &t);
      out.assign("waiting for primary host ")
          .append(opt_.primary_host)
          .append(" on ")
          .append(server())
          .append(": offline since ")
          .append(since);
      return;
    }
    case State::connecting:
    case State::subscribing:
      out.assign("connecting to ").append(server());
      if (!last_error_.empty())
        out.append("; before: broker ")
            .append(last_error_server_)
            .append(" unreachable (")
            .append(last_error_)
            .append(")");
      return;
    case State::idle:
      if (last_error_.empty())
        out.assign("not connected");
      else
        out.assign("broker ")
            .append(last_error_server_)
            .append(" unreachable (")
            .append(last_error_)
            .append(")");
      return;
  }
}

void Uplink::shutdown() {
  if (state_ == State::online || state_ == State::subscribing || state_ == State::waiting_host) {
    sparkplug::build_death(control_, bdseq_, clock_.wall_ms());
    control_.SerializeToString(&bytes_);
    const bool sent = client_.publish_and_wait(topics_.ndeath, bytes_, 2000);
    client_.disconnect_with_will(2000);
    lg.info("%s NDEATH (bdSeq %" PRIu64 ") and disconnected from %s",
            sent ? "published" : "could not confirm the", bdseq_, server().c_str());
  } else if (state_ == State::connecting) {
    client_.disconnect(1000);
  }
  state_ = State::idle;
}

}  // namespace classroom
