// The MQTT connection, as the rest of the agent sees it: a small interface with
// one implementation over Paho C++ (mqtt_client.cpp, the only file that
// includes Paho) and a fake in the tests. Results arrive as Events that the
// agent's loop handles on its own thread; nothing here throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace classroom::mqtt {

// The largest message the agent takes in (an NCMD is a few dozen bytes): the
// default of ConnectRequest::max_inbound_message. The broker is asked not to
// send bigger packets (MQTT 5 Maximum Packet Size in CONNECT); one that ignores
// it has the payload dropped on arrival, before it is queued for the agent's loop.
inline constexpr size_t kMaxInboundMessage = 64 * 1024;
// Room for a PUBLISH's topic and headers above the largest message taken: the
// Maximum Packet Size announced is max_inbound_message plus this.
inline constexpr size_t kInboundHeaderRoom = 1024;
// The largest max_inbound_message: what an MQTT packet can carry at most
// (a remaining length of 268,435,455 bytes) less the header room.
inline constexpr size_t kMaxInboundLimit = 268'435'455 - kInboundHeaderRoom;

// TLS for ssl://, mqtts:// and wss:// servers. The broker's certificate is
// checked against ca_file (or the system's store) and must name the host.
struct TlsOptions {
  std::string ca_file;    // "" = the system's trust store
  std::string cert_file;  // mutual TLS: the agent's certificate, and its key
  std::string key_file;
  bool verify = true;  // false only by an explicit config key (warned at start)
  bool operator==(const TlsOptions&) const = default;
};

// The MQTT version of a CONNECT: automatic is MQTT 5 to a server until it
// refuses it (an "unacceptable protocol version" CONNACK, or the connection
// closed on the CONNECT), then MQTT 3.1.1 to that server for the client's life.
enum class Protocol { automatic, v5, v311 };

struct ConnectRequest {
  std::string server;  // tcp://host:port or ssl://host:port, one server per attempt
  std::string client_id;
  std::string username, password;
  TlsOptions tls;  // used when the server is a TLS one
  int keepalive_s = 30;
  int connect_timeout_s = 10;
  Protocol protocol = Protocol::automatic;
  // The largest message this connection takes (the agent: 64 KiB; the
  // operator's console: its --max-message). An MQTT 5 broker is told
  // (Maximum Packet Size: this plus kInboundHeaderRoom) and drops bigger ones
  // for this client without a word; a bigger one that arrives anyway (MQTT
  // 3.1.1) is dropped on arrival as message_too_big. At most kMaxInboundLimit.
  size_t max_inbound_message = kMaxInboundMessage;
  std::string will_topic;    // empty: no Will
  std::string will_payload;  // QoS 1, not retained
  uint64_t attempt = 0;      // returned as the tag of connected/connect_failed
};

struct Event {
  enum class Kind {
    connected,         // CONNACK accepted
    connect_failed,    // text: why
    connection_lost,   // text: why; tag: the broker's DISCONNECT reason code (0: none)
    subscribed,        // topic: the filter
    subscribe_failed,  // topic: the filter; text: why
    delivered,         // a QoS 1 publish was acknowledged: tag
    publish_failed,    // the broker refused a QoS 1 publish (PUBACK reason code): tag, text
    message,           // topic, payload
    message_too_big,   // a message over max_inbound_message, dropped: topic, tag = its size
    stop,              // the agent is asked to stop (not from MQTT)
    reload,            // the config is to be read again (SIGHUP; not from MQTT)
  };
  Kind kind;
  std::string text;
  uint64_t tag = 0;
  std::string topic;
  std::string payload;
  uint64_t session = 0;  // set by the daemon: which MQTT client posted it
  // connect_failed: the TCP or TLS connect failed, so no CONNECT (and no Will)
  // reached the broker.
  bool nothing_sent = false;
  // connect_failed: the server refused MQTT 5 (Protocol::automatic); the next
  // attempt to it speaks MQTT 3.1.1, and may be made at once.
  bool retry_v311 = false;
  // connected: the broker's Maximum Packet Size from its CONNACK (0: it
  // stated none, as MQTT 3.1.1 brokers never do), and the protocol spoken.
  uint64_t max_packet_size = 0;
  bool mqtt5 = false;
};

// The size of the PUBLISH packet that carries a payload of `payload_size`
// bytes on a topic of `topic_size` bytes (no properties): what a broker's
// Maximum Packet Size limits.
uint64_t publish_packet_size(size_t topic_size, size_t payload_size, int qos, bool mqtt5);

using EventSink = std::function<void(Event)>;

class Client {
 public:
  virtual ~Client() = default;
  // Starts connecting; the outcome arrives as connected or connect_failed.
  virtual bool connect(const ConnectRequest& request, std::string& error) = 0;
  virtual bool subscribe(const std::string& topic, int qos, std::string& error) = 0;
  // Publishes; a QoS 1 publish reports `delivered` (or `publish_failed`) with
  // `tag`; one lost with its connection reports nothing (connection_lost
  // does). Returns false if it could not even be queued.
  virtual bool publish(const std::string& topic, std::string_view payload, int qos, uint64_t tag,
                       std::string& error) = 0;
  // Publishes at QoS 1 and waits for the acknowledgement (shutdown only).
  virtual bool publish_and_wait(const std::string& topic, std::string_view payload,
                                int timeout_ms) = 0;
  virtual void disconnect(int timeout_ms) = 0;
  // Ends a Sparkplug session after its own NDEATH: on MQTT 5 the DISCONNECT
  // carries reason 0x04 "disconnect with Will message", so the broker publishes
  // the Will (the NDEATH) too and hosts learn the node is gone even when the
  // agent's own NDEATH did not go out; on MQTT 3.1.1, a plain DISCONNECT.
  virtual void disconnect_with_will(int timeout_ms) = 0;
  // Drops an attempt that got no answer: the next connect starts from a clean
  // client (Paho cannot cancel a connect in progress and stays stuck on it).
  // Late events of the dropped attempt may still arrive; their tag tells.
  virtual void abandon() = 0;
  // Ends a session that cannot go on, without waiting on the network: the
  // DISCONNECT (on MQTT 5 with reason 0x04, so the broker publishes the Will)
  // leaves from the old client, kept until it has gone (at most 4 s; the
  // client's destructor waits that long for it), and a new client takes its
  // place, as abandon() does.
  virtual void end_with_will() = 0;
};

// The Paho C++ implementation. `client_id` and the first server are fixed for
// the client's life; each connect() names its own server.
std::unique_ptr<Client> make_paho_client(const std::string& first_server,
                                         const std::string& client_id, EventSink sink);

// Paho C initialises OpenSSL in full when its first client is made (every
// algorithm, every error string, the system's openssl.cnf): over 1 MiB of
// libcrypto's pages and some 80 KiB of heap on a gateway whose broker is
// tcp://, where OpenSSL is never used. OpenSSL (>= 1.1) initialises what it
// needs on first use, so TLS loses nothing when this is skipped. Call it once,
// first thing in main(), before any MQTT client exists in the process: Paho's
// global init also re-initialises its global locks, which breaks clients
// that are already running (a test that called it with a client alive lost
// that client's DISCONNECT).
void skip_eager_openssl_init();

// Paho C, at its default trace level, records every function entry and exit
// of its threads in a ring of 400 entries (128 KB of heap, written whether or
// not anyone reads it, made again whenever a client is made after the last
// one went) and formats a line for every packet, payload included. Nothing
// here reads the ring. This raises the level to errors: only Paho's error
// lines go into the ring (two a failed connection attempt to a broker whose
// name does not resolve, so a long outage can still fill it), and with a
// reachable broker its pages are not written: ~120 KiB less private memory,
// measured; its CPU was within the noise (docs/performance.md). When
// MQTT_C_CLIENT_TRACE or MQTT_C_CLIENT_TRACE_LEVEL is set (Paho's own
// switches, for someone debugging the MQTT client), Paho's levels are left
// as they are. Call it in main(), before any MQTT client exists.
void quiet_paho_trace();

}  // namespace classroom::mqtt
