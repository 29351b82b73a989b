#include "mqtt_client.hpp"

#include <fcntl.h>
#include <mqtt/async_client.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace classroom::mqtt {
namespace {

// Paho says only "connect failure": find out what a technician can act on by
// trying the TCP connection ourselves (on Paho's thread, never the sampler's).
std::string diagnose_tcp(const std::string& uri) {
  std::string rest = uri.substr(uri.find("://") == std::string::npos ? 0 : uri.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  std::string host = rest, port = "1883";
  if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return "cannot resolve host name " + host + ": " + ::gai_strerror(rc);
  std::string verdict = "no answer";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 2000) == 1) {
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
          err = ETIMEDOUT;
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      verdict =
          "TCP connects, but the MQTT handshake failed (not an MQTT broker, or TLS expected?)";
      break;
    }
    verdict =
        err == ETIMEDOUT ? "no answer within 2 s (firewall or host down?)" : std::strerror(err);
  }
  ::freeaddrinfo(res);
  return verdict;
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

  ~PahoClient() override { drop_client(); }

  void abandon() override {
    drop_client();
    client_ = make_client();
  }

  bool connect(const ConnectRequest& r, std::string& error) override {
    server_ = r.server;  // read by the failure listener, which runs after this returns
    try {
      ::mqtt::connect_options opts;
      opts.set_clean_session(true);
      opts.set_automatic_reconnect(false);  // the uplink reconnects: bdSeq changes per CONNECT
      opts.set_keep_alive_interval(r.keepalive_s);
      opts.set_connect_timeout(r.connect_timeout_s);
      opts.set_servers(::mqtt::string_collection::create({r.server}));
      if (!r.username.empty()) opts.set_user_name(r.username);
      if (!r.password.empty()) opts.set_password(r.password);
      opts.set_will(::mqtt::will_options(r.will_topic, r.will_payload.data(), r.will_payload.size(),
                                         1, false));
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

  void disconnect(int timeout_ms) override {
    // Also when not connected: it abandons a connect that is still in progress.
    try {
      client_->disconnect(std::chrono::milliseconds(timeout_ms))
          ->wait_for(std::chrono::milliseconds(timeout_ms + 500));
    } catch (const ::mqtt::exception&) {
    }
  }

 private:
  // Turns a Paho action's outcome into an Event.
  class Listener final : public ::mqtt::iaction_listener {
   public:
    Listener(PahoClient& owner, Event::Kind ok, Event::Kind failed)
        : owner_(owner), ok_(ok), failed_(failed) {}
    void on_success(const ::mqtt::token& tok) override {
      owner_.sink_(Event{ok_, {}, tag_of(tok), {}, {}});
    }
    void on_failure(const ::mqtt::token& tok) override {
      std::string why = describe(tok.get_return_code());
      if (failed_ == Event::Kind::connect_failed && tok.get_return_code() == MQTTASYNC_FAILURE)
        why = diagnose_tcp(owner_.server_);
      owner_.sink_(Event{failed_, std::move(why), tag_of(tok), {}, {}});
    }

   private:
    static uint64_t tag_of(const ::mqtt::token& tok) {
      return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(tok.get_user_context()));
    }
    PahoClient& owner_;
    Event::Kind ok_, failed_;
  };

  void connection_lost(const std::string& cause) override {
    sink_(Event{
        Event::Kind::connection_lost, cause.empty() ? "connection closed" : cause, 0, {}, {}});
  }
  void message_arrived(::mqtt::const_message_ptr msg) override {
    sink_(Event{Event::Kind::message, {}, 0, msg->get_topic(), msg->get_payload()});
  }

  std::unique_ptr<::mqtt::async_client> make_client() {
    // Paho refuses a publish once this many commands wait in its queue; the
    // uplink keeps at most a few hundred in flight, so this is never the limit
    // that bites (a refusal would drop the session).
    auto c = std::make_unique<::mqtt::async_client>(
        first_server_, client_id_, ::mqtt::create_options(MQTTVERSION_DEFAULT, 10'000),
        static_cast<::mqtt::iclient_persistence*>(nullptr));
    c->set_callback(*this);
    return c;
  }
  void drop_client() {
    if (!client_) return;
    try {
      client_->disable_callbacks();
    } catch (...) {
    }
    client_.reset();
  }

  EventSink sink_;
  std::string first_server_, client_id_;
  std::string server_;  // of the attempt in progress
  std::unique_ptr<::mqtt::async_client> client_;
  Listener connect_listener_, subscribe_listener_, publish_listener_;
};

}  // namespace

std::unique_ptr<Client> make_paho_client(const std::string& first_server,
                                         const std::string& client_id, EventSink sink) {
  return std::make_unique<PahoClient>(first_server, client_id, std::move(sink));
}

}  // namespace classroom::mqtt
