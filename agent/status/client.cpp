#include "status/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>

#include "config.hpp"
#include "printable.hpp"
#include "status/status_server.hpp"

namespace classroom::status {
namespace {

constexpr size_t kMaxAnswer = 1u << 20;
constexpr const char* kHowToStart =
    "Start it with: sudo systemctl start classroom-agent\n"
    "(why it stopped: journalctl -u classroom-agent, or the [log] file)\n";

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : text::printable(s, 512)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The answer as it may be printed: whoever can replace the socket chooses
// it, so every line is escaped as the log escapes (an honest agent's answer,
// escaped already, comes out as it was sent).
std::string safe_lines(std::string_view answer) {
  std::string out;
  out.reserve(answer.size());
  while (!answer.empty()) {
    const size_t nl = answer.find('\n');
    out += text::printable(answer.substr(0, nl), answer.size(), false);
    if (nl == std::string_view::npos) break;
    out += '\n';
    answer.remove_prefix(nl + 1);
  }
  return out;
}

// A failure to ask: a sentence for a person on stderr; with --json, an object
// on stdout too, so that a script always reads one.
int fail(int code, const std::string& message, bool json, std::ostream& out, std::ostream& err) {
  err << message;
  if (json)
    out << "{\"state\":\"" << (code == kExitNotRunning ? "not running" : "unknown")
        << "\",\"error\":" << json_quote(message) << "}\n";
  return code;
}

// Why connect() failed, said for a person: not running, not allowed, or busy.
int connect_failed(int e, const std::string& shown, bool json, std::ostream& out,
                   std::ostream& err) {
  if (e == ENOENT || e == ENOTDIR)
    return fail(
        kExitNotRunning,
        "classroom-agent is not running, or runs without its status socket (there is none at " +
            shown + "; an agent that cannot make one says why in its log).\n" + kHowToStart,
        json, out, err);
  if (e == ECONNREFUSED)
    return fail(kExitNotRunning,
                "classroom-agent is not running (nothing answers on " + shown +
                    ": it was stopped hard or crashed).\n" + kHowToStart,
                json, out, err);
  if (e == EACCES || e == EPERM)
    return fail(kExitUnknown,
                "cannot ask the agent: permission denied on " + shown +
                    ". Ask as root (sudo classroom-agent status), or as a member of the group "
                    "named in [status] group.\n",
                json, out, err);
  if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS || e == ETIMEDOUT)
    return fail(kExitUnknown,
                "the agent did not take the connection on " + shown + " within " +
                    std::to_string(kClientWaitMs / 1000) + " s (busy or stuck?)\n",
                json, out, err);
  return fail(kExitUnknown, "cannot ask the agent on " + shown + ": " + std::strerror(e) + "\n",
              json, out, err);
}

// Reads the whole answer, until the agent closes, within kClientWaitMs and
// kMaxAnswer. Nothing when it came; else the exit code of the failure.
std::optional<int> read_answer(int fd, const std::string& shown, std::string& answer, bool json,
                               std::ostream& out, std::ostream& err) {
  const int64_t deadline = steady_ms() + kClientWaitMs;
  char buf[16384];
  for (;;) {
    const int64_t left = deadline - steady_ms();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      return fail(kExitUnknown,
                  "the agent did not answer within " + std::to_string(kClientWaitMs / 1000) +
                      " s on " + shown + "\n",
                  json, out, err);
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(kExitUnknown, std::string("reading the answer: ") + std::strerror(errno) + "\n",
                  json, out, err);
    }
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > kMaxAnswer)
      return fail(kExitUnknown, "the answer on " + shown + " is too long\n", json, out, err);
  }
  return std::nullopt;
}

// The answer's header says the agent's state; its body is printed, escaped.
int print_answer(const std::string& answer, const std::string& shown, bool json, std::ostream& out,
                 std::ostream& err) {
  const std::string header = kProtocolHeader;
  const size_t nl = answer.find('\n');
  if (answer.compare(0, header.size(), header) != 0 || nl == std::string::npos)
    return fail(kExitUnknown,
                "what answers on " + shown + " is not a classroom-agent (or a newer one)\n", json,
                out, err);
  const std::string state = answer.substr(header.size(), nl - header.size());
  const std::string body = safe_lines(std::string_view(answer).substr(nl + 1));
  if (state == "error")
    return fail(kExitUnknown, "the agent refused the request: " + body, json, out, err);
  out << body;
  if (state == "ok") return kExitOk;
  return kExitDegraded;  // degraded, or starting (not known to be well yet)
}

}  // namespace

int ask(const std::string& socket_path, bool json, std::ostream& out, std::ostream& err) {
  const std::string shown = text::printable(socket_path, 256);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return fail(kExitUnknown, "the status socket path " + shown + " is too long\n", json, out, err);
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(kExitUnknown, std::string("cannot make a socket: ") + std::strerror(errno) + "\n",
                json, out, err);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{kClientWaitMs / 1000, (kClientWaitMs % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return connect_failed(errno, shown, json, out, err);
  const std::string request = json ? "json\n" : "text\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return fail(kExitUnknown,
                "cannot ask the agent on " + shown + ": " + std::strerror(errno) + "\n", json, out,
                err);

  std::string answer;
  if (const std::optional<int> failed = read_answer(fd, shown, answer, json, out, err))
    return *failed;
  return print_answer(answer, shown, json, out, err);
}

int status_command(const std::string& config_path, bool json, std::ostream& out,
                   std::ostream& err) {
  std::string socket = config::Status{}.socket;
  if (std::ifstream probe(config_path); !probe) {
    err << "note: cannot read " << text::printable(config_path, 256) << " (" << std::strerror(errno)
        << "); asking on the default socket " << socket << "\n";
  } else {
    std::string error;
    const auto found = config::status_socket_of(config_path, error);
    if (!found) return fail(kExitUnknown, error + "\n", json, out, err);
    if (found->empty())
      return fail(kExitUnknown,
                  text::printable(config_path, 256) +
                      " turns the status socket off ([status] enabled = false)\n",
                  json, out, err);
    socket = *found;
  }
  return ask(socket, json, out, err);
}

}  // namespace classroom::status
