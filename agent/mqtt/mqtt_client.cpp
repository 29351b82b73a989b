#include "mqtt/mqtt_client.hpp"

#include "config.hpp"
#include "mqtt/diagnosis.hpp"

#include <mqtt/async_client.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

// Paho C reads a DISCONNECT's reason code only from options of struct version
// 1, and Paho C++ 1.2 (Debian 12) builds version 0 with no way to ask for 1
// (1.3 has disconnect_options::v5()). The class its options name as a friend
// for their tests sets it.
namespace mqtt {
class disconnect_options_test {
 public:
  static void use_mqtt5_fields(disconnect_options& options) { options.opts_.struct_version = 1; }
};
}  // namespace mqtt

namespace classroom::mqtt {
namespace {

// Paho C's return code for a SUBACK of MQTT 3.1.1 that refuses the
// subscription (MQTT_BAD_SUBSCRIBE).
constexpr int kSubackFailure = 0x80;

// Each step of a failure diagnosis (TCP connect, TLS handshake) waits this long at most.
constexpr int kDiagnosisTimeoutMs = 2000;

// end_with_will(): the DISCONNECT waits this long for the broker to take the
// QoS 1 messages in flight (the NDEATH), then goes anyway; the retired
// client is kept until it has gone, or this much longer (a link that takes
// nothing: the socket is closed then, and the broker sends the Will for that).
constexpr int kRetiredDisconnectMs = 1000;
constexpr int kRetiredGraceMs = 3000;

// Paho's TLS settings: the broker's certificate is checked against the CA
// file (or the system's store when none is named) and must name the host the
// agent dialled. Paho's OpenSSL context refuses TLS 1.0 and 1.1 by itself
// (OpenSSL 3 at the security level Paho sets).
::mqtt::ssl_options ssl_options(const TlsOptions& tls) {
  ::mqtt::ssl_options ssl;
  if (!tls.ca_file.empty()) ssl.set_trust_store(tls.ca_file);
  if (!tls.cert_file.empty()) {
    ssl.set_key_store(tls.cert_file);
    ssl.set_private_key(tls.key_file);
  }
  ssl.set_enable_server_cert_auth(tls.verify);
  ssl.set_verify(tls.verify);  // the host name
  return ssl;
}

// Plain words for an MQTT 5 reason code (CONNACK, SUBACK, PUBACK, DISCONNECT).
std::string describe_reason(int reason) {
  switch (reason) {
    case 0x00:
      return "broker ended the session (normal disconnection)";
    case 0x84:
      return "broker refused the connection: unsupported protocol version";
    case 0x85:
      return "broker refused the client id";
    case 0x86:
      return "broker refused the user name or password";
    case 0x87:
      return "broker says this client is not authorized";
    case 0x88:
    case 0x89:
      return "broker unavailable or busy";
    case 0x8a:
      return "broker has banned this client";
    case 0x8f:
      return "broker refused the topic filter";
    case 0x81:
      return "broker says the agent sent a malformed packet";
    case 0x82:
      return "broker says the agent broke the protocol";
    case 0x8b:
      return "broker is shutting down";
    case 0x8d:
      return "broker saw no keep-alive in time";
    case 0x8e:
      return "broker says another client connected with this client id (session taken over)";
    case 0x93:
      return "broker says the agent exceeded its receive maximum";
    case 0x95:
      return "broker says a packet is too large";
    case 0x98:
      return "broker closed the connection by administrative action";
    case 0x97:
      return "broker quota exceeded";
    case 0x9c:
    case 0x9d:
      return "broker says to use another server";
    case 0x9f:
      return "broker connection rate exceeded";
    default:
      return "broker refused (MQTT 5 reason code " + std::to_string(reason) + ")";
  }
}

// Plain words for the codes Paho reports on a failed connect.
std::string describe(int rc) {
  switch (rc) {
    case 1:
      return "broker refused the connection: unacceptable protocol version";
    case 2:
      return "broker refused the client id";
    case 3:
      return "broker unavailable";
    case 4:
      return "broker refused the user name or password";
    case 5:
      return "broker says this client is not authorized";
    case MQTTASYNC_FAILURE:
      return "cannot connect (no answer, refused or TLS failure)";
    case MQTTASYNC_DISCONNECTED:
      return "disconnected";
    default: {
      std::string s = ::mqtt::exception::error_str(rc);
      return (s.empty() ? "error" : s) + " (code " + std::to_string(rc) + ")";
    }
  }
}

class PahoClient final : public Client, private ::mqtt::callback {
 public:
  PahoClient(const std::string& server, const std::string& client_id, EventSink sink)
      : sink_(std::move(sink)),
        first_server_(server),
        client_id_(client_id),
        connect_listener_(*this, Event::Kind::connected, Event::Kind::connect_failed),
        subscribe_listener_(*this, Event::Kind::subscribed, Event::Kind::subscribe_failed),
        publish_listener_(*this, Event::Kind::delivered, Event::Kind::publish_failed) {
    client_ = make_client();
  }

  ~PahoClient() override {
    drop_client();
    // A DISCONNECT still on its way goes out first (bounded: each waits
    // until its own deadline); then, before the listeners that their
    // pending actions name, the retired clients go.
    for (Retired& r : retired_) gone(r, r.until);
    retired_.clear();
    {
      std::lock_guard lock(diag_mutex_);
      diag_stop_ = true;
    }
    diag_cv_.notify_one();
    // A diagnosis under way ends within its own deadline.
    if (diag_thread_.joinable()) diag_thread_.join();
  }

  void abandon() override {
    drop_client();
    reap_retired();
    client_ = make_client();
    client_spoke_ = 0;
  }

  void end_with_will() override {
    reap_retired();
    if (client_) {
      silence(*client_);
      Retired r;
      try {  // not waited for
        r.disconnect = client_->disconnect(disconnect_options(kRetiredDisconnectMs, true));
      } catch (const ::mqtt::exception&) {
      }
      r.until = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(kRetiredDisconnectMs + kRetiredGraceMs);
      r.client = std::move(client_);
      retired_.push_back(std::move(r));
    }
    client_ = make_client();
    client_spoke_ = 0;
  }

  bool connect(const ConnectRequest& r, std::string& error) override {
    reap_retired();
    server_ = r.server;  // read by the failure listener, which runs after this returns
    tls_ = r.tls;
    // Read by message_arrived on Paho's thread; a message of the previous
    // session still arriving is measured against the new limit, which is
    // as good as the old one.
    const size_t max_inbound = std::min(r.max_inbound_message, kMaxInboundLimit);
    max_inbound_.store(max_inbound);
    try {
      ::mqtt::connect_options opts;
      // MQTT 5 where the broker speaks it: it is the version in which the
      // client can tell the broker the largest packet it takes, so a big
      // message never even reaches the agent. A broker that refuses MQTT 5 is
      // asked in MQTT 3.1.1 from the next attempt on.
      const bool v5 = r.protocol == Protocol::v5 ||
                      (r.protocol == Protocol::automatic && !speaks_v3_only(r.server));
      // Paho C keeps the version of a client's last CONNECT and refuses an
      // MQTT 5 one after a 3.1.1 one ("Client created for another version of
      // MQTT"): a client that changes version starts afresh (a cluster whose
      // servers differ, or a 3.1.1 server then an MQTT 5 one in its list).
      if (client_spoke_ != 0 && client_spoke_ != (v5 ? 5 : 4)) {
        drop_client();
        client_ = make_client();
      }
      client_spoke_ = v5 ? 5 : 4;
      attempt_v5_ = v5;
      attempt_auto_ = r.protocol == Protocol::automatic;
      opts.set_mqtt_version(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
      if (v5) {
        // A clean start and a session that ends with the connection: the
        // same as MQTT 3.1.1's clean session, which Sparkplug requires.
        opts.set_clean_start(true);
        // The largest packet the broker may send: the largest message taken
        // plus its topic and headers.
        const auto max_packet = static_cast<int>(max_inbound + kInboundHeaderRoom);
        opts.set_properties(
            ::mqtt::properties{{::mqtt::property::SESSION_EXPIRY_INTERVAL, 0},
                               {::mqtt::property::MAXIMUM_PACKET_SIZE, max_packet}});
      } else {
        opts.set_clean_session(true);
      }
      opts.set_automatic_reconnect(false);  // the uplink reconnects: bdSeq changes per CONNECT
      opts.set_keep_alive_interval(r.keepalive_s);
      opts.set_connect_timeout(r.connect_timeout_s);
      opts.set_servers(::mqtt::string_collection::create({r.server}));
      if (!r.username.empty()) opts.set_user_name(r.username);
      if (!r.password.empty()) opts.set_password(r.password);
      if (config::is_tls_server(r.server)) opts.set_ssl(ssl_options(r.tls));
      if (!r.will_topic.empty())  // the operator's console (agent/console/) has no Will
        opts.set_will(::mqtt::will_options(r.will_topic, r.will_payload.data(),
                                           r.will_payload.size(), 1, false));
      client_->connect(opts, reinterpret_cast<void*>(static_cast<uintptr_t>(r.attempt)),
                       connect_listener_);
      return true;
    } catch (const ::mqtt::exception& e) {
      error = describe(e.get_return_code());
      return false;
    }
  }

  bool subscribe(const std::string& topic, int qos, std::string& error) override {
    try {
      client_->subscribe(topic, qos, nullptr, subscribe_listener_);
      return true;
    } catch (const ::mqtt::exception& e) {
      error = describe(e.get_return_code());
      return false;
    }
  }

  bool publish(const std::string& topic, std::string_view payload, int qos, uint64_t tag,
               std::string& error) override {
    try {
      auto msg = ::mqtt::make_message(topic, payload.data(), payload.size(), qos, false);
      if (qos > 0)
        client_->publish(msg, reinterpret_cast<void*>(static_cast<uintptr_t>(tag)),
                         publish_listener_);
      else
        client_->publish(msg);
      return true;
    } catch (const ::mqtt::exception& e) {
      error = describe(e.get_return_code());
      return false;
    }
  }

  bool publish_and_wait(const std::string& topic, std::string_view payload,
                        int timeout_ms) override {
    try {
      auto msg = ::mqtt::make_message(topic, payload.data(), payload.size(), 1, false);
      auto tok = client_->publish(msg);
      return tok->wait_for(std::chrono::milliseconds(timeout_ms)) && tok->get_return_code() == 0;
    } catch (const ::mqtt::exception&) {
      return false;
    }
  }

  void disconnect(int timeout_ms) override { disconnect_with(timeout_ms, false); }
  void disconnect_with_will(int timeout_ms) override { disconnect_with(timeout_ms, true); }

 private:
  // A DISCONNECT; with `will`, on MQTT 5, reason 0x04 so the broker
  // publishes the Will too.
  ::mqtt::disconnect_options disconnect_options(int timeout_ms, bool will) const {
    ::mqtt::disconnect_options opts(timeout_ms);
    if (will && attempt_v5_) {
      ::mqtt::disconnect_options_test::use_mqtt5_fields(opts);
      opts.set_reason_code(::mqtt::ReasonCode::DISCONNECT_WITH_WILL_MESSAGE);
    }
    return opts;
  }

  void disconnect_with(int timeout_ms, bool will) {
    // Also when not connected: it abandons a connect that is still in progress.
    try {
      client_->disconnect(disconnect_options(timeout_ms, will))
          ->wait_for(std::chrono::milliseconds(timeout_ms + 500));
    } catch (const ::mqtt::exception&) {
    }
  }

  // Turns a Paho action's outcome into an Event.
  class Listener final : public ::mqtt::iaction_listener {
   public:
    Listener(PahoClient& owner, Event::Kind ok, Event::Kind failed)
        : owner_(owner), ok_(ok), failed_(failed) {}
    void on_success(const ::mqtt::token& tok) override {
      Event e{ok_, {}, tag_of(tok), {}, {}};
      if (ok_ == Event::Kind::connected) owner_.read_connack(tok, e);
      if (ok_ == Event::Kind::subscribed) e.topic = topic_of(tok);
      owner_.sink_(std::move(e));
    }
    void on_failure(const ::mqtt::token& tok) override {
      const int rc = tok.get_return_code();
      // Paho C++ gives MQTT 3.1.1 outcomes the reason code 255
      // (MQTTPP_V3_CODE), which is no reason the broker sent: a refused TCP
      // connect must read as such, not as "reason code 255".
      const int raw_reason = static_cast<int>(tok.get_reason_code());
      const int reason =
          raw_reason == static_cast<int>(::mqtt::ReasonCode::MQTTPP_V3_CODE) ? 0 : raw_reason;
      // A publish that ends with its connection (discarded, disconnected):
      // connection_lost or the broker's DISCONNECT says why, and the uplink
      // sends it again. What the broker refuses itself is said here.
      if (failed_ == Event::Kind::publish_failed && reason < 0x80) return;
      // Likewise a SUBSCRIBE: only a SUBACK that refuses it is said here.
      if (failed_ == Event::Kind::subscribe_failed && reason < 0x80 && rc != kSubackFailure) return;
      std::string why = reason >= 0x80 ? describe_reason(reason) : describe(rc);
      if (failed_ == Event::Kind::connect_failed) {
        // Paho says only "connect failure": what a technician can act on is
        // found by retrying the steps ourselves. Not here: Paho holds its
        // lock while it calls us, and the loop would wait on it. The
        // diagnosis thread posts the outcome.
        if (reason < 0x80 && rc == MQTTASYNC_FAILURE) {
          owner_.diagnose_later(tag_of(tok));
          return;
        }
        // A broker of MQTT 3.1.1 only answers an MQTT 5 CONNECT with "unacceptable
        // protocol version": try 3.1.1 next time.
        if (owner_.attempt_v5_ && owner_.attempt_auto_ && (reason == 0x84 || rc == 1)) {
          owner_.mark_v3_only(owner_.server_);
          Event e{failed_, std::move(why), tag_of(tok), {}, {}};
          e.retry_v311 = true;
          owner_.sink_(std::move(e));
          return;
        }
      }
      // A refused SUBSCRIBE in MQTT 3.1.1 (SUBACK 0x80) comes as return code
      // 0x80 with no reason.
      if (failed_ == Event::Kind::subscribe_failed && reason < 0x80)
        why = "broker refused the subscription (SUBACK 0x80)";
      Event e{failed_, std::move(why), tag_of(tok), {}, {}};
      if (failed_ == Event::Kind::subscribe_failed) e.topic = topic_of(tok);
      owner_.sink_(std::move(e));
    }

   private:
    static std::string topic_of(const ::mqtt::token& tok) {
      const auto topics = tok.get_topics();
      return topics && topics->size() > 0 ? (*topics)[0] : std::string();
    }
    static uint64_t tag_of(const ::mqtt::token& tok) {
      return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(tok.get_user_context()));
    }
    PahoClient& owner_;
    Event::Kind ok_, failed_;
  };

  // What the uplink must know to never publish a packet the broker refuses.
  void read_connack(const ::mqtt::token& tok, Event& e) {
    e.mqtt5 = attempt_v5_;
    if (!attempt_v5_) return;
    try {
      const ::mqtt::connect_response rsp = tok.get_connect_response();  // a copy: keep it
      const ::mqtt::properties& props = rsp.get_properties();
      if (props.contains(::mqtt::property::MAXIMUM_PACKET_SIZE))
        e.max_packet_size = ::mqtt::get<uint32_t>(props, ::mqtt::property::MAXIMUM_PACKET_SIZE);
    } catch (const std::exception&) {  // no connect response: the broker stated no limit
    }
  }

  // An MQTT 5 broker's DISCONNECT. Paho calls connection_lost() for a link
  // that breaks, but not for this: the broker ends the session in words.
  void broker_disconnected(::mqtt::ReasonCode reason) {
    sink_(Event{Event::Kind::connection_lost,
                "broker sent DISCONNECT: " + describe_reason(static_cast<int>(reason)),
                static_cast<uint64_t>(reason),
                {},
                {}});
  }

  void connection_lost(const std::string& cause) override {
    sink_(Event{
        Event::Kind::connection_lost, cause.empty() ? "connection closed" : cause, 0, {}, {}});
  }
  void message_arrived(::mqtt::const_message_ptr msg) override {
    // A broker that ignores the Maximum Packet Size (or speaks 3.1.1 only) can
    // still send anything: a big payload is dropped here, before it is copied
    // into the agent's queue. Its topic is cut, as the log shows only a part.
    const size_t size = msg->get_payload_ref().size();
    if (size > max_inbound_.load()) {
      sink_(Event{Event::Kind::message_too_big, {}, size, msg->get_topic().substr(0, 256), {}});
      return;
    }
    sink_(Event{Event::Kind::message, {}, 0, msg->get_topic(), msg->get_payload()});
  }

  // Called on Paho's thread with its lock held: only hands the job over.
  // One job waits at most; a newer failure replaces it.
  void diagnose_later(uint64_t tag) {
    {
      std::lock_guard lock(diag_mutex_);
      diag_job_ = DiagnosisJob{server_, tls_, tag, attempt_v5_ && attempt_auto_};
      if (!diag_thread_.joinable()) diag_thread_ = std::thread([this] { diagnosis_thread(); });
    }
    diag_cv_.notify_one();
  }

  void diagnosis_thread() {
    std::unique_lock lock(diag_mutex_);
    for (;;) {
      diag_cv_.wait(lock, [this] { return diag_stop_ || diag_job_.has_value(); });
      if (diag_stop_) return;
      DiagnosisJob job = std::move(*diag_job_);
      diag_job_.reset();
      lock.unlock();
      Diagnosis d = diagnose_connect(job.server, job.tls, kDiagnosisTimeoutMs);
      // A broker of MQTT 3.1.1 only may close the connection on an MQTT 5
      // CONNECT (RabbitMQ 3.10 does): the transport works, MQTT 5 did not.
      // Try 3.1.1 on it, at once.
      const bool v311 = job.v5 && d.transport_ok;
      if (v311) {
        mark_v3_only(job.server);
        d.why = "the connection was closed on an MQTT 5 CONNECT";
      }
      Event failed{Event::Kind::connect_failed, std::move(d.why), job.tag, {}, {}};
      failed.nothing_sent = !d.transport_ok;
      failed.retry_v311 = v311;
      sink_(std::move(failed));
      lock.lock();
    }
  }

  bool speaks_v3_only(const std::string& server) {
    std::lock_guard lock(v3_mutex_);
    return std::find(v3_only_.begin(), v3_only_.end(), server) != v3_only_.end();
  }
  void mark_v3_only(const std::string& server) {
    std::lock_guard lock(v3_mutex_);
    if (std::find(v3_only_.begin(), v3_only_.end(), server) == v3_only_.end())
      v3_only_.push_back(server);
  }

  std::unique_ptr<::mqtt::async_client> make_client() {
    // Paho refuses a publish once this many commands wait in its queue; the
    // uplink keeps at most a few hundred in flight, so this is never the limit
    // that bites (a refusal would drop the session).
    auto c = std::make_unique<::mqtt::async_client>(
        first_server_, client_id_, ::mqtt::create_options(MQTTVERSION_5, 10'000),
        static_cast<::mqtt::iclient_persistence*>(nullptr));
    c->set_callback(*this);
    c->set_disconnected_handler([this](const ::mqtt::properties&, ::mqtt::ReasonCode reason) {
      broker_disconnected(reason);
    });
    return c;
  }
  // No callback of `c` reaches this client any more (each call on its own:
  // one that fails must not keep the other from running).
  static void silence(::mqtt::async_client& c) {
    try {
      c.disable_callbacks();
    } catch (...) {
    }
    try {
      c.set_disconnected_handler(nullptr);
    } catch (...) {
    }
  }

  void drop_client() {
    if (!client_) return;
    silence(*client_);
    client_.reset();
  }

  // A session ended by end_with_will(): its client, and the DISCONNECT
  // (reason 0x04) it sends on Paho's thread.
  struct Retired {
    std::unique_ptr<::mqtt::async_client> client;
    ::mqtt::token_ptr disconnect;
    std::chrono::steady_clock::time_point until;
  };
  // Waits for `r`'s DISCONNECT until `deadline` (now: does not wait); true
  // when it has gone, failed, or there is none.
  static bool gone(const Retired& r, std::chrono::steady_clock::time_point deadline) {
    if (!r.disconnect) return true;
    try {
      return r.disconnect->wait_until(deadline);
    } catch (const ::mqtt::exception&) {  // it ended, in failure: nothing more will go
      return true;
    }
  }
  // Destroys the retired clients whose DISCONNECT has gone out, or whose
  // time is up. Never one before: Paho's destroy ends a live session with a
  // DISCONNECT of reason 0 (MQTTAsync_destroy closes the session), after
  // which the broker drops the Will, and hosts would not hear that the
  // session ended.
  void reap_retired() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(retired_, [now](const Retired& r) { return now >= r.until || gone(r, now); });
  }

  EventSink sink_;
  std::string first_server_, client_id_;
  std::string server_;        // of the attempt in progress
  TlsOptions tls_;            // of the attempt in progress
  bool attempt_v5_ = false;   // the attempt in progress speaks MQTT 5
  bool attempt_auto_ = true;  // ... and may fall back to MQTT 3.1.1
  int client_spoke_ = 0;      // client_'s last CONNECT: 5, 4 (3.1.1), 0 none
  // The largest message taken, of the attempt in progress (read on Paho's thread).
  std::atomic<size_t> max_inbound_{kMaxInboundMessage};
  std::mutex v3_mutex_;               // v3_only_ is written on Paho's thread
  std::vector<std::string> v3_only_;  // servers that refused an MQTT 5 CONNECT
  std::unique_ptr<::mqtt::async_client> client_;
  // Clients whose session end_with_will() ended, until their DISCONNECT has
  // gone (reaped at the next connect, end or abandon; waited for, bounded,
  // when this client goes).
  std::vector<Retired> retired_;
  // Why a connect failed, found off Paho's thread (see diagnose_later).
  struct DiagnosisJob {
    std::string server;
    TlsOptions tls;
    uint64_t tag;
    bool v5;  // an MQTT 5 attempt that may fall back to 3.1.1
  };
  std::mutex diag_mutex_;
  std::condition_variable diag_cv_;
  std::optional<DiagnosisJob> diag_job_;
  bool diag_stop_ = false;
  std::thread diag_thread_;
  Listener connect_listener_, subscribe_listener_, publish_listener_;
};

}  // namespace

uint64_t publish_packet_size(size_t topic_size, size_t payload_size, int qos, bool mqtt5) {
  // Variable header: the topic with its 2-byte length, a packet id at QoS 1
  // and 2, MQTT 5's properties length (one byte: none).
  const uint64_t remaining = 2 + topic_size + (qos > 0 ? 2 : 0) + (mqtt5 ? 1 : 0) + payload_size;
  // Fixed header: the type byte and the remaining length, 7 bits a byte.
  uint64_t length_bytes = 1;
  for (uint64_t n = remaining; n >= 128; n >>= 7) ++length_bytes;
  return 1 + length_bytes + remaining;
}

std::unique_ptr<Client> make_paho_client(const std::string& first_server,
                                         const std::string& client_id, EventSink sink) {
  return std::make_unique<PahoClient>(first_server, client_id, std::move(sink));
}

void skip_eager_openssl_init() {
  MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
  init.do_openssl_init = 0;
  MQTTAsync_global_init(&init);
}

void quiet_paho_trace() {
  for (const char* paho_switch : {"MQTT_C_CLIENT_TRACE", "MQTT_C_CLIENT_TRACE_LEVEL"}) {
    const char* value = std::getenv(paho_switch);
    if (value != nullptr && *value != '\0') return;  // Paho's Log_initialize reads them
  }
  MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
}

}  // namespace classroom::mqtt
