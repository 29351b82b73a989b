#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace harness {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int free_port() {
  // bind(0) may give again the port it gave just before (closed since): a
  // test that takes several at once (a broker with four listeners) would get
  // one port twice and its broker would not start. A port handed out here is
  // never handed out again by this process.
  static std::mutex mutex;
  static std::set<int> given;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    const int port = ntohs(addr.sin_port);
    std::lock_guard lock(mutex);
    if (given.insert(port).second) return port;
  }
  throw std::runtime_error("no free TCP port on loopback");
}

static bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::pair<int, std::string> run_shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "classroom-it-XXXXXX").string();
  path = mkdtemp(tmpl.data());
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

Process::Process(std::vector<std::string> argv, std::string log_path,
                 std::vector<std::string> env) {
  pid_ = ::fork();
  if (pid_ == 0) {
    for (std::string& e : env) ::putenv(e.data());
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setpgid(0, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (running()) {
    signal(SIGKILL);
    wait_exit(5s);
  }
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

bool Process::running() {
  if (status_ || pid_ <= 0) return false;
  int st = 0;
  struct rusage usage {};
  pid_t r = ::wait4(pid_, &st, WNOHANG, &usage);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    max_rss_kib_ = usage.ru_maxrss;
    return false;
  }
  return true;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return status_;
}

Mosquitto::Mosquitto(const std::string& extra) : port_(free_port()) {
  write_file(dir_.path + "/mosquitto.conf",
             "listener " + std::to_string(port_) +
                 " 127.0.0.1\n"
                 "allow_anonymous true\n"
                 "persistence true\n"
                 "persistence_location " +
                 dir_.path +
                 "/\n"
                 "autosave_interval 3600\n"
                 "queue_qos0_messages true\n"
                 "max_queued_messages 0\n"
                 "max_inflight_messages 0\n"
                 // Started as root, mosquitto would switch to its own user and
                 // could not save its sessions in our directory on a restart.
                 "user " +
                 std::string(getpwuid(geteuid())->pw_name) + "\n" + extra);
  start();
}

Mosquitto::~Mosquitto() {
  stop();
}

std::string Mosquitto::log() const {
  return read_file(dir_.path + "/mosquitto.log");
}

void Mosquitto::start() {
  // Up once its port answers and it says it runs, this start (the log is
  // appended to): after a stop(), another test's broker may have been given
  // the port meanwhile, and would answer for ours while ours fails to bind.
  const auto starts = [&] {
    const std::string log = read_file(dir_.path + "/mosquitto.log");
    size_t n = 0;
    for (size_t at = log.find(" running\n"); at != std::string::npos;
         at = log.find(" running\n", at + 1))
      ++n;
    return n;
  };
  const size_t before = starts();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"mosquitto", "-c", dir_.path + "/mosquitto.conf"},
      dir_.path + "/mosquitto.log");
  // A broker that exits (its port taken) ends the wait at once.
  if (!wait_until([&] { return !process_->running() || (starts() > before && port_open(port_)); },
                  10s) ||
      !process_->running())
    throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) + ": " +
                             read_file(dir_.path + "/mosquitto.log"));
}

void Mosquitto::freeze() {
  if (process_) process_->signal(SIGSTOP);
}

void Mosquitto::thaw() {
  if (process_) process_->signal(SIGCONT);
}

void Mosquitto::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  if (!process_->wait_exit(10s)) process_->signal(SIGKILL);
  process_->wait_exit(5s);
  process_.reset();
}

std::string Message::type() const {
  // spBv1.0/<group>/<TYPE>/<node>
  if (topic.rfind("spBv1.0/", 0) != 0) return "";
  size_t a = topic.find('/', 8);
  if (a == std::string::npos) return "";
  size_t b = topic.find('/', a + 1);
  return topic.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
}

struct Subscriber::Impl : public mqtt::callback {
  mqtt::async_client client;
  std::mutex mutex;
  std::vector<Message> received;

  explicit Impl(const std::string& url)
      : client(url,
               "test-subscriber-" + std::to_string(::getpid()) + "-" + std::to_string(free_port()),
               static_cast<mqtt::iclient_persistence*>(nullptr)) {
    client.set_callback(*this);
    mqtt::connect_options opts;
    opts.set_clean_session(false);
    opts.set_automatic_reconnect(std::chrono::milliseconds(100), std::chrono::milliseconds(500));
    opts.set_keep_alive_interval(5);
    client.connect(opts)->wait();
    client.subscribe("spBv1.0/#", 1)->wait();
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    Message m;
    m.topic = msg->get_topic();
    m.payload = msg->get_payload();
    m.received_ms = now_ms();
    m.is_sparkplug = m.topic.rfind("spBv1.0/", 0) == 0 && m.decoded.ParseFromString(m.payload);
    std::lock_guard lock(mutex);
    received.push_back(std::move(m));
  }
};

Subscriber::Subscriber(const std::string& url) : impl_(std::make_unique<Impl>(url)) {}
Subscriber::~Subscriber() {
  // A Paho client destroyed while its automatic reconnect is under way is the
  // suspect of a "double free" abort seen once, under load, right after a
  // frozen broker was thawed (not reproduced in ten runs alone): a broker
  // that is up gets the time to take the subscriber back before goodbye.
  wait_until([&] { return impl_->client.is_connected(); }, 3s);
  try {
    impl_->client.disconnect()->wait_for(2s);
  } catch (...) {
  }
}

std::vector<Message> Subscriber::messages() {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::vector<Message> Subscriber::of_type(const std::string& type) {
  std::vector<Message> out;
  for (Message& m : messages())
    if (m.type() == type) out.push_back(std::move(m));
  return out;
}

bool Subscriber::wait_for(const std::string& type, size_t n, std::chrono::milliseconds timeout) {
  return wait_until([&] { return of_type(type).size() >= n; }, timeout);
}

void Subscriber::publish(const std::string& topic, const std::string& payload, int qos,
                         bool retain) {
  impl_->client.publish(topic, payload.data(), payload.size(), qos, retain)->wait_for(5s);
}

Agent::Agent(const std::string& state_dir, const AgentOptions& o)
    : dir_(state_dir), wrapper_(o.wrapper) {
  std::filesystem::create_directories(dir_);
  config_ = dir_ + "/agent.toml";
  log_ = dir_ + "/agent.log";
  write_file(
      config_,
      "[identity]\ngroup = \"" + o.group + "\"\nnode = \"" + o.node + "\"\n[broker]\nservers = [" +
          (o.first_server.empty() ? "" : "\"" + o.first_server + "\", ") + "\"" + o.url +
          "\"]\nretry_min = \"200ms\"\nretry_max = \"1s\"\n" + o.extra_broker +
          "[state]\ndir = \"" + dir_ + "/state\"\n[spool]\nsync = \"" + o.sync +
          "\"\nmax_bytes = \"" + o.max_bytes + "\"\nreplay_rate = " + o.replay_rate +
          "\n[log]\nlevel = \"debug\"\n" + o.extra_log + "[status]\n" +
          (o.extra_status.find("socket") == std::string::npos
               ? "socket = \"" + dir_ + "/status.sock\"\n"
               : "") +
          o.extra_status + "[sources.system]\ninterval = \"" + o.interval + "\"\n" + o.extra);
}

Agent::~Agent() = default;

SilentPort::SilentPort(int type) {
  fd_ = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (type == SOCK_STREAM) ::listen(fd_, 16);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}
SilentPort::~SilentPort() {
  ::close(fd_);
}

void Agent::start(std::vector<std::string> env, std::vector<std::string> run_args) {
  std::vector<std::string> argv = wrapper_;
  argv.insert(argv.end(), {AGENT_BINARY, "run", "-c", config_});
  argv.insert(argv.end(), run_args.begin(), run_args.end());
  process_ = std::make_unique<Process>(std::move(argv), log_, std::move(env));
}

NotifySocket::NotifySocket() : path_(dir_.path + "/notify") {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}
NotifySocket::~NotifySocket() {
  ::close(fd_);
}
std::vector<NotifySocket::Timed> NotifySocket::received_timed() {
  char buf[512];
  for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;)
    got_.push_back(Timed{now_ms(), std::string(buf, static_cast<size_t>(n))});
  return got_;
}
std::vector<std::string> NotifySocket::received() {
  std::vector<std::string> texts;
  for (const Timed& t : received_timed()) texts.push_back(t.text);
  return texts;
}
void Agent::signal(int sig) {
  process_->signal(sig);
}
std::optional<int> Agent::wait_exit(std::chrono::milliseconds timeout) {
  return process_->wait_exit(timeout);
}
std::string Agent::log() const {
  return read_file(log_);
}

LogOnFailure::~LogOnFailure() {
  if (std::uncaught_exceptions() > exceptions_)
    std::fprintf(stderr, "---- agent log ----\n%s-------------------\n", agent_.log().c_str());
}

const Payload::Metric* find_metric(const Payload& p, const std::string& name, uint64_t alias) {
  for (const auto& m : p.metrics())
    if ((m.has_name() && m.name() == name) || (alias != 0 && m.alias() == alias)) return &m;
  return nullptr;
}

std::optional<uint64_t> alias_in_birth(const Payload& birth, const std::string& name) {
  for (const auto& m : birth.metrics())
    if (m.name() == name) return m.has_alias() ? std::optional<uint64_t>(m.alias()) : std::nullopt;
  return std::nullopt;
}

uint64_t private_dirty_kib(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/smaps_rollup"));
  uint64_t total = 0;
  for (std::string line; std::getline(in, line);) {
    // Private_Dirty, and Private_Hugetlb would count too but the agent has none.
    if (line.rfind("Private_Dirty:", 0) == 0) total += std::stoull(line.substr(14));
  }
  return total;
}

uint64_t bdseq(const Payload& p) {
  for (const auto& m : p.metrics())
    if (m.name() == "bdSeq") return m.long_value();
  throw std::runtime_error("payload without bdSeq");
}

std::map<uint64_t, bool> uptime_samples(const std::vector<Message>& messages) {
  std::map<uint64_t, bool> out;
  std::optional<uint64_t> alias;
  for (const Message& m : messages) {
    if (m.type() == "NBIRTH") alias = alias_in_birth(m.decoded, "System/Uptime");
    if (m.type() != "NDATA" || !alias) continue;
    if (const auto* metric = find_metric(m.decoded, "", *alias)) {
      auto [it, fresh] = out.emplace(metric->timestamp(), metric->is_historical());
      if (!fresh) it->second = it->second && metric->is_historical();
    }
  }
  return out;
}

}  // namespace harness
