#include "console/watch.hpp"

#include <sys/ioctl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <unordered_set>

#include "console/pacing.hpp"
#include "printable.hpp"
#include "session/uplink.hpp"

namespace classroom::console {
namespace {

// Messages waiting between Paho's thread and the console's: past these, new
// ones are dropped and counted (a screen cannot show more anyway).
constexpr size_t kMaxQueuedEvents = 200'000;
constexpr size_t kMaxQueuedBytes = 64u << 20;
constexpr size_t kMaxPerPoll = 2'000;  // events handed over per poll()
// Retries: 1 s after the first failed attempt, doubled per failure up to 10 s
// (500 ms after the loss of a subscription that worked); the broker's answer
// is awaited connect_timeout and this long.
constexpr int64_t kFirstRetryMs = 500, kMaxRetryMs = 10'000;
constexpr int64_t kAnswerGraceMs = 2'000;
// The nodes fleet tracks: the nation (150,000 gateways) fits, at about 1 KB a
// node (tail keeps the decoder's default: its alias tables are whole births).
constexpr size_t kMaxFleetNodes = 250'000;

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an EPIPE on write: a quiet end
}

std::string client_id(const char* what) {
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  std::string id = std::string("classroom-") + what + "-" + host + "-" + std::to_string(::getpid());
  for (char& c : id)
    if (static_cast<unsigned char>(c) < 0x21 || c == '+' || c == '#' || c == '/') c = '_';
  return id.substr(0, 64);
}

// "1 s", "0.5 s": a retry delay in words.
std::string seconds_text(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string size_text(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void note(const std::string& line) {
  write_all(STDERR_FILENO, "classroom-agent: " + line + "\n");
}

// Messages over the limit: dropped before decoding, and said on stderr once
// per node (and once for everything outside spBv1.0), so a node that births
// 2 MiB every minute is one line, not one a minute. The nodes named are
// bounded; past that, one more line says the rest are not named.
class TooBig {
 public:
  TooBig(size_t limit, const Filter& filter) : limit_(limit), filter_(filter) {}

  // A message_too_big event: over --max-message (the MQTT client, told the
  // limit, dropped its payload on arrival).
  void report(const mqtt::Event& e) {
    const uint64_t size = e.tag;
    std::string why;
    const auto topic = parse_topic(e.topic, why);
    // A node the filter drops is not the operator's concern (nor is a topic
    // outside spBv1.0 when a group or node is asked for).
    if (topic ? !filter_.node_passes(*topic) : !filter_.groups.empty() || !filter_.nodes.empty())
      return;
    ++dropped_;
    const std::string key = topic ? topic->group + "/" + topic->node : std::string();
    if (said_.count(key)) return;
    if (said_.size() >= kMaxNamed) {
      if (!said_full_) note("more nodes sent messages over the limit; they are not named");
      said_full_ = true;
      return;
    }
    said_.insert(key);
    const std::string whose =
        topic ? "node " + text::printable(key, 200) + ": " + std::string(to_string(topic->type))
              : "a message on " + text::printable(e.topic, 120);
    note(whose + " of " + std::to_string(size) + " bytes, over the " + size_text(limit_) +
         " limit (--max-message); dropped (said once per node)");
  }
  uint64_t dropped() const { return dropped_; }

 private:
  static constexpr size_t kMaxNamed = 10'000;
  size_t limit_;
  const Filter& filter_;
  std::unordered_set<std::string> said_;
  bool said_full_ = false;
  uint64_t dropped_ = 0;
};

// The decoder a console needs: alias tables only for what its filter lets
// through, and for fleet only the metrics of its table.
Decoder decoder_for(const Filter& f, bool fleet) {
  Interest interest;
  if (!f.groups.empty() || !f.nodes.empty() || !f.devices.empty())
    interest.owner = [&f](const Topic& t) {
      return t.is_device() ? f.topic_passes(t) : f.node_passes(t);
    };
  if (fleet) {
    interest.metric = [](std::string_view name) { return Fleet::shows_metric(name); };
    interest.only_these = true;
  } else if (!f.metrics.empty()) {
    interest.metric = [&f](std::string_view name) { return f.metric_passes(name); };
  }
  Limits limits;
  if (fleet) {
    limits.max_aliases_per_owner = 64;  // the table's metrics, a few probes and radios
    limits.max_nodes = kMaxFleetNodes;
  }
  return Decoder(limits, std::move(interest));
}

}  // namespace

Connection::Connection(const WatchOptions& o, std::string subscription, const char* what,
                       const Clock& clock)
    : options_(o),
      subscription_(std::move(subscription)),
      id_(client_id(what)),
      link_(o.servers, Backoff(kFirstRetryMs, kMaxRetryMs), clock),
      max_queued_bytes_(std::max(kMaxQueuedBytes, 2 * o.max_message)) {
  owned_ = mqtt::make_paho_client(o.servers.front(), id_,
                                  [this](mqtt::Event e) { deliver(std::move(e)); });
  client_ = owned_.get();
}

Connection::Connection(const WatchOptions& o, std::string subscription, std::string client_id,
                       mqtt::Client& client, const Clock& clock)
    : options_(o),
      subscription_(std::move(subscription)),
      id_(std::move(client_id)),
      client_(&client),
      link_(o.servers, Backoff(kFirstRetryMs, kMaxRetryMs), clock),
      max_queued_bytes_(std::max(kMaxQueuedBytes, 2 * o.max_message)) {}

Connection::~Connection() {
  if (state_ == State::subscribed || state_ == State::subscribing) client_->disconnect(1000);
  owned_.reset();
}

void Connection::poll(int64_t max_wait_ms, std::vector<mqtt::Event>& out) {
  step();
  std::deque<mqtt::Event> taken;
  {
    std::unique_lock lock(mutex_);
    if (queue_.empty() && max_wait_ms > 0)
      ready_.wait_for(lock, std::chrono::milliseconds(max_wait_ms),
                      [&] { return !queue_.empty(); });
    for (size_t i = 0; i < kMaxPerPoll && !queue_.empty(); ++i) {
      bytes_ -= queue_.front().payload.size();
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  // Handled without the lock: Paho's thread may be waiting to queue more.
  for (mqtt::Event& e : taken)
    if (!handle(e)) out.push_back(std::move(e));
  step();
}

bool Connection::publish(const std::string& topic, const std::string& payload) {
  if (state_ != State::subscribed) return false;
  std::string error;
  return client_->publish(topic, payload, 0, 0, error);
}

void Connection::deliver(mqtt::Event e) {
  // A message over --max-message never comes here as one: the client,
  // told the limit, sends only its size and (part of) its topic.
  std::lock_guard lock(mutex_);
  if (e.kind == mqtt::Event::Kind::message &&
      (queue_.size() >= kMaxQueuedEvents || bytes_ + e.payload.size() > max_queued_bytes_)) {
    ++dropped_;
    return;
  }
  bytes_ += e.payload.size();
  queue_.push_back(std::move(e));
  ready_.notify_one();
}

void Connection::set_status(std::string s) {
  status_ = std::move(s);
  ++status_changes_;
}

void Connection::lost(const std::string& why, bool was_subscribed) {
  state_ = State::idle;
  const std::string broker = server();
  // A failed attempt: the next server, after a longer wait. A subscription
  // that worked, lost: the same server again soon.
  const int64_t delay = link_.failed(!was_subscribed);
  set_status(std::string(was_subscribed ? "lost broker " : "broker ") +
             text::printable(broker, 120) + (was_subscribed ? " (" : " unreachable (") +
             text::printable(why, 200) + "); retrying " + text::printable(server(), 120) + " in " +
             seconds_text(delay));
}

// Connection bookkeeping; true when the event was one of its own.
bool Connection::handle(const mqtt::Event& e) {
  using K = mqtt::Event::Kind;
  switch (e.kind) {
    case K::connected:
      if (state_ != State::connecting || !link_.current(e.tag)) return true;
      state_ = State::subscribing;
      mqtt5_ = e.mqtt5;
      {
        std::string error;
        if (!client_->subscribe(subscription_, 0, error)) {
          client_->disconnect(1000);
          lost("cannot subscribe: " + error, false);
        }
      }
      return true;
    case K::connect_failed:
      if (state_ != State::connecting || !link_.current(e.tag)) return true;
      if (e.retry_v311) {
        // A broker of MQTT 3.1.1 only: the same server again at once, in
        // 3.1.1, which the client remembers for it (as the agent does).
        state_ = State::idle;
        link_.retry_now();
        return true;
      }
      lost(e.text, false);
      return true;
    case K::subscribed:
      if (state_ != State::subscribing) return true;
      state_ = State::subscribed;
      ever_subscribed_ = true;
      link_.succeeded();
      // An MQTT 5 broker was told the largest packet this console takes,
      // and drops bigger messages for it without a word: only this says so.
      set_status("subscribed to " + text::printable(subscription_, 300) + " on " +
                 text::printable(server(), 120) +
                 (mqtt5_ ? " (MQTT 5: the broker drops messages over " +
                               size_text(options_.max_message) +
                               " for this console unseen; --max-message)"
                         : " (MQTT 3.1.1)"));
      return true;
    case K::subscribe_failed:
      if (state_ != State::subscribing) return true;
      client_->disconnect(1000);
      lost("the broker refused the subscription to " + text::printable(subscription_, 300) + ": " +
               e.text,
           false);
      return true;
    case K::connection_lost:
      if (state_ == State::idle) return true;
      lost(e.text, state_ == State::subscribed);
      return true;
    case K::message:
    case K::message_too_big:
      return false;
    default:
      return true;
  }
}

void Connection::step() {
  if (state_ == State::idle && link_.due()) {
    mqtt::ConnectRequest r = options_.connection;
    r.server = server();
    r.client_id = id_;
    r.will_topic.clear();  // a console has no Will: its going says nothing of the fleet
    r.will_payload.clear();
    // The client drops a bigger message itself (message_too_big), and asks
    // an MQTT 5 broker not to send one.
    r.max_inbound_message = options_.max_message;
    // The broker answers the CONNECT within connect_timeout, and the SUBSCRIBE
    // soon after, or the attempt is given up.
    r.attempt = link_.begin(static_cast<int64_t>(r.connect_timeout_s) * 1000 + kAnswerGraceMs);
    state_ = State::connecting;
    set_status("connecting to " + text::printable(r.server, 120));
    std::string error;
    if (!client_->connect(r, error)) lost(error, false);
  } else if ((state_ == State::connecting || state_ == State::subscribing) && link_.overdue()) {
    client_->abandon();
    lost("no MQTT answer in time: a busy broker, or not an MQTT port?", false);
  }
}

void broker_settings(const config::Broker& b, WatchOptions& o) {
  o.servers = b.servers;
  o.connection.username = b.username;
  o.connection.password = b.password;  // read from password_file by the config loader
  o.connection.tls.ca_file = b.tls.ca_file;
  o.connection.tls.cert_file = b.tls.cert_file;
  o.connection.tls.key_file = b.tls.key_file;
  o.connection.tls.verify = b.tls.verify;
  o.connection.protocol = mqtt_protocol(b);
  o.connection.keepalive_s = static_cast<int>(std::max<int64_t>(1, b.keepalive.count() / 1000));
  o.connection.connect_timeout_s =
      static_cast<int>(std::max<int64_t>(1, b.connect_timeout.count() / 1000));
}

int run_tail(const WatchOptions& o, const Clock& clock) {
  install_signals();
  Connection conn(o, o.filter.subscription(), "tail", clock);
  Decoder decoder = decoder_for(o.filter, false);
  TooBig too_big(o.max_message, o.filter);
  Rebirths rebirths(clock);
  uint64_t printed = 0, status_seen = 0, dropped_seen = 0;
  std::vector<mqtt::Event> events;
  std::string out;
  while (!g_stop) {
    events.clear();
    conn.poll(200, events);
    if (conn.status_changes() != status_seen) {
      status_seen = conn.status_changes();
      note(conn.status());
    }
    if (conn.dropped() != dropped_seen) {
      note(std::to_string(conn.dropped() - dropped_seen) +
           " messages dropped: they came faster than they could be printed");
      dropped_seen = conn.dropped();
    }
    out.clear();
    for (const mqtt::Event& e : events) {
      if (o.count && printed >= o.count) break;
      const int64_t now = clock.wall_ms();
      if (e.kind == mqtt::Event::Kind::message_too_big) {
        too_big.report(e);
        continue;
      }
      std::string why;
      auto topic = parse_topic(e.topic, why);
      if (!topic) continue;  // outside spBv1.0: not ours
      // A node the filter drops is not decoded at all: nothing of it is kept.
      if (!o.filter.node_passes(*topic)) continue;
      Decoded d = decoder.decode(std::move(*topic), e.payload);
      const bool shown = o.json ? format_json(d, o.filter, now, out)
                                : format_lines(d, o.filter, now, o.with_time, out) > 0;
      if (shown) ++printed;
      if (o.rebirth && d.birth_missing && o.filter.topic_passes(d.topic) &&
          rebirths.maybe_ask(conn, d.topic))
        note("asked " + text::printable(d.topic.group + "/" + d.topic.node, 200) +
             " for a rebirth (NCMD Node Control/Rebirth): its birth was not seen");
    }
    if (!out.empty() && !write_all(STDOUT_FILENO, out)) return errno == EPIPE ? 0 : 1;
    if (o.count && printed >= o.count) break;
  }
  return 0;
}

namespace {

// What fleet holds while it runs, and the steps of its loop: a frame on a
// terminal, the messages taken between frames, and (not a terminal) the one
// snapshot at the end.
class FleetView {
 public:
  FleetView(const WatchOptions& o, const Clock& clock, bool tty)
      : o_(o),
        clock_(clock),
        tty_(tty),
        conn_(o, o.filter.subscription(), "fleet", clock),
        decoder_(decoder_for(o.filter, true)),
        too_big_(o.max_message, o.filter),
        fleet_(kMaxFleetNodes),
        rebirths_(clock),
        redraw_(clock, tty, o.refresh_ms, o.wait_ms) {}

  // Until SIGINT or SIGTERM, a failed write, or (not a terminal) the end of
  // listening; the exit status.
  int run() {
    if (tty_) write_all(STDOUT_FILENO, "\x1b[?1049h\x1b[?25l");  // own screen, no cursor
    while (!g_stop && !redraw_.listened()) {
      if (redraw_.frame_due()) {
        if (!draw_frame()) break;
        continue;
      }
      // Not a terminal: the connection's news go to stderr, as tail's do.
      if (!tty_ && conn_.status_changes() != status_seen_) {
        status_seen_ = conn_.status_changes();
        note(conn_.status());
      }
      take_messages();
    }
    if (tty_) {
      write_all(STDOUT_FILENO, "\x1b[?25h\x1b[?1049l");
      return 0;
    }
    return snapshot();
  }

 private:
  RenderOptions render_options(size_t lines, size_t width) const {
    RenderOptions r;
    r.sort = o_.sort;
    r.now_ms = clock_.wall_ms();
    r.stale_ms = o_.stale_ms;
    r.max_lines = lines;
    r.width = width;
    r.color = tty_;
    r.source = conn_.status();
    if (conn_.dropped()) r.source += "; " + std::to_string(conn_.dropped()) + " messages dropped";
    if (too_big_.dropped())
      r.source += "; " + std::to_string(too_big_.dropped()) + " over --max-message";
    if (rebirths_.sent())
      r.source += "; " + std::to_string(rebirths_.sent()) +
                  (rebirths_.sent() == 1 ? " rebirth asked" : " rebirths asked");
    return r;
  }

  // The table in place, as high and wide as the terminal; false when the
  // write failed.
  bool draw_frame() {
    winsize ws{};
    size_t rows = 24, cols = 80;
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
      rows = ws.ws_row;
      cols = ws.ws_col;
    }
    std::string frame = "\x1b[H";
    for (const std::string& l : render(fleet_, render_options(rows, cols)))
      frame += l + "\x1b[K\r\n";
    frame.resize(frame.size() - 2);  // no newline after the last line: no scrolling
    frame += "\x1b[J";
    return write_all(STDOUT_FILENO, frame);
  }

  // Takes messages until the table is due, but never holds a frame back for
  // longer than Redraw::kMaxBusyMs whatever the rate.
  void take_messages() {
    const int64_t until = redraw_.burst_end();
    do {
      events_.clear();
      conn_.poll(redraw_.wait_ms(200), events_);
      for (const mqtt::Event& e : events_) take(e);
    } while (!events_.empty() && redraw_.before(until) && !g_stop);
  }

  void take(const mqtt::Event& e) {
    if (e.kind == mqtt::Event::Kind::message_too_big) {
      too_big_.report(e);
      return;
    }
    if (e.kind != mqtt::Event::Kind::message) return;
    std::string why;
    auto topic = parse_topic(e.topic, why);
    // Outside spBv1.0, or a node the filter drops: not decoded, nothing kept.
    if (!topic || !o_.filter.topic_passes(*topic)) return;
    Decoded d = decoder_.decode(std::move(*topic), e.payload);
    ++messages_;
    fleet_.observe(d, clock_.wall_ms());
    if (o_.rebirth && d.birth_missing) rebirths_.maybe_ask(conn_, d.topic);
  }

  // Not a terminal: every row on stdout, and what was heard on stderr.
  int snapshot() {
    std::string text;
    for (const std::string& l : render(fleet_, render_options(0, 0))) text += l + "\n";
    write_all(STDOUT_FILENO, text);
    note("fleet: " + std::to_string(messages_) + " messages in " +
         std::to_string(redraw_.elapsed_ms() / 1000) + " s; " + conn_.status());
    return conn_.ever_subscribed() ? 0 : 1;
  }

  const WatchOptions& o_;
  const Clock& clock_;
  const bool tty_;
  Connection conn_;
  Decoder decoder_;
  TooBig too_big_;
  Fleet fleet_;
  Rebirths rebirths_;
  Redraw redraw_;  // made last: its start is when everything else is ready
  std::vector<mqtt::Event> events_;
  uint64_t messages_ = 0, status_seen_ = 0;
};

}  // namespace

int run_fleet(const WatchOptions& o, const Clock& clock) {
  install_signals();
  FleetView view(o, clock, ::isatty(STDOUT_FILENO) == 1);
  return view.run();
}

}  // namespace classroom::console
