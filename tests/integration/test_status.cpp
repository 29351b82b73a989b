// `classroom-agent status` against the real agent: online, broker
// down with the reason, the spool filling, a failing source, text, JSON and
// exit status, the socket's permissions, a hostile local client, and no
// agent at all. And the [log] file.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace harness;

namespace {

const std::string kAgent = AGENT_BINARY;

struct Status {
  int rc = -1;
  std::string out;
};

Status ask(const std::string& config, bool json = false) {
  auto [rc, out] = run_shell(kAgent + " status -c " + config + (json ? " --json" : ""));
  return {rc, out};
}

// `expr` (Python, over the parsed object `d`) evaluated on a JSON answer:
// python3 checks that the answer is JSON at all, too.
std::string json_eval(const TempDir& dir, const std::string& json, const std::string& expr) {
  write_file(dir.path + "/answer.json", json);
  write_file(dir.path + "/eval.py", "import json\nd = json.load(open('" + dir.path +
                                        "/answer.json'))\nprint(" + expr + ")\n");
  auto [rc, out] = run_shell("python3 " + dir.path + "/eval.py");
  INFO(json);
  INFO(out);
  REQUIRE(rc == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("status: online, in text and JSON, exit 0, the socket is the agent's own, 0600") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 2, 20s));

  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 0;
      },
      10s));
  INFO(s.out);
  CHECK_THAT(s.out, Catch::StartsWith("classroom-agent "));
  CHECK_THAT(s.out, Catch::Contains(", school-test/room-1 (pid " + std::to_string(agent.pid())));
  CHECK_THAT(s.out, Catch::Contains("\nStatus    OK\n"));
  CHECK_THAT(s.out, Catch::Contains("\nBroker    online to " + broker.url() + " since "));
  CHECK_THAT(s.out, Catch::Contains(", bdSeq 0\n"));
  CHECK_THAT(s.out, Catch::Contains("\nSpool     ") && Catch::Contains(" on disk") &&
                        Catch::Contains(", 0 dropped\n"));
  CHECK_THAT(s.out, Catch::Contains("\nSources   system  ok, last run "));
  CHECK_THAT(s.out, Catch::Contains("\nClock     "));

  const Status j = ask(agent.config_path(), true);
  CHECK(j.rc == 0);
  CHECK(json_eval(dir, j.out, "d['state']") == "ok");
  CHECK(json_eval(dir, j.out, "d['broker']['state']") == "online");
  CHECK(json_eval(dir, j.out, "d['broker']['server']") == broker.url());
  CHECK(json_eval(dir, j.out, "d['agent']['node']") == "room-1");
  CHECK(json_eval(dir, j.out, "d['agent']['pid']") == std::to_string(agent.pid()));
  CHECK(json_eval(dir, j.out, "[s['name'] for s in d['sources'] if s['state'] == 'ok']") ==
        "['system', 'agent']");
  CHECK(json_eval(dir, j.out, "d['delivery']['last_publish_age_s'] < 5") == "True");

  // Without [status] group: only the agent's user (and root) may connect.
  struct stat st {};
  REQUIRE(::stat(agent.status_socket().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == ::geteuid());
  CHECK_THAT(agent.log(),
             Catch::Contains("I status: status socket " + agent.status_socket() + " (mode 0600)"));

  // Stopped cleanly: the socket goes with it, and status says how to start it.
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  CHECK_FALSE(std::filesystem::exists(agent.status_socket()));
  const Status gone = ask(agent.config_path());
  CHECK(gone.rc == 2);
  CHECK_THAT(gone.out, Catch::Contains("classroom-agent is not running, or runs without its "
                                       "status socket (there is none at " +
                                       agent.status_socket() + ";"));
  CHECK_THAT(gone.out, Catch::Contains("Start it with: sudo systemctl start classroom-agent"));
}

TEST_CASE("status: broker down says since when and why, the spool fills, exit 1") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 2, 20s));
  const int64_t stopped_at = now_ms();
  broker.stop();

  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 1 &&
               s.out.find("connection refused (no broker listening on port") != std::string::npos;
      },
      15s));
  INFO(s.out);
  CHECK_THAT(s.out, Catch::Contains("\nStatus    DEGRADED: broker unreachable\n"));
  CHECK_THAT(s.out, Catch::Contains("\nBroker    UNREACHABLE since 20"));
  CHECK_THAT(s.out, Catch::Contains("failed attempt"));
  CHECK_THAT(s.out, Catch::Contains("; next attempt "));
  CHECK_THAT(s.out, Catch::Contains(" to " + broker.url() + "\n"));

  // The spool fills while the broker is away, and its oldest batch ages.
  std::string first, later;
  REQUIRE(wait_until(
      [&] {
        const Status j = ask(agent.config_path(), true);
        if (j.rc != 1) return false;
        first = j.out;
        return json_eval(dir, first, "d['delivery']['spool']['pending']") != "0";
      },
      10s));
  CHECK(json_eval(dir, first, "d['broker']['state']") == "unreachable");
  CHECK_THAT(json_eval(dir, first, "d['broker']['error']"),
             Catch::StartsWith("connection refused (no broker listening on port"));
  CHECK(json_eval(dir, first, "d['problems']") == "['broker unreachable']");
  const int64_t since_s = std::stoll(json_eval(
      dir, first,
      "int(__import__('datetime').datetime.strptime(d['broker']['since'], "
      "'%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=__import__('datetime').timezone.utc).timestamp())"));
  CHECK(since_s >= stopped_at / 1000 - 1);
  CHECK(since_s <= now_ms() / 1000);
  const uint64_t pending1 = std::stoull(json_eval(dir, first, "d['delivery']['spool']['pending']"));
  REQUIRE(wait_until(
      [&] {
        later = ask(agent.config_path(), true).out;
        return std::stoull(json_eval(dir, later, "d['delivery']['spool']['pending']")) >=
                   std::max<uint64_t>(pending1 + 5, 15) &&
               json_eval(dir, later, "d['delivery']['spool']['oldest_age_s'] >= 1") == "True";
      },
      15s));
  CHECK(std::stoull(json_eval(dir, later, "d['delivery']['spool']['bytes']")) > 0);

  // Back: online again, the backlog delivered (what waits is the last moment's
  // live data, before its receipt comes back), exit 0.
  broker.start();
  REQUIRE(wait_until(
      [&] {
        const Status j = ask(agent.config_path(), true);
        return j.rc == 0 &&
               json_eval(dir, j.out, "d['delivery']['spool']['pending'] <= 5") == "True";
      },
      30s));
}

TEST_CASE("status: in steady state a confirmed batch is not shown waiting until the next sample") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "10s";  // the loop sleeps long between samples
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 1, 20s));
  const size_t seen = sub.of_type("NDATA").size();
  REQUIRE(sub.wait_for("NDATA", seen + 1, 15s));  // a sample in steady state
  const int64_t published = now_ms();
  std::string j;
  // Confirmed within moments, and shown so well before the next sample.
  CHECK(wait_until(
      [&] {
        j = ask(agent.config_path(), true).out;
        return json_eval(dir, j, "d['delivery']['spool']['pending']") == "0";
      },
      4s));
  INFO(j);
  CHECK(now_ms() - published < 5000);
  CHECK(json_eval(dir, j, "d['delivery']['last_confirmed'] is not None") == "True");
}

TEST_CASE("status: a broker that takes nothing while the link stays up: not OK, exit 1") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 2, 20s));
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 10s));

  // The broker stops handling anything; TCP stays up, keep-alive (30 s) has
  // not noticed yet: what the agent publishes is never confirmed.
  broker.freeze();
  struct Thaw {
    Mosquitto& b;
    ~Thaw() { b.thaw(); }
  } thaw{broker};
  Status s;
  CHECK(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 1;
      },
      25s));
  INFO(s.out);
  CHECK_THAT(s.out, Catch::Contains("\nStatus    DEGRADED: nothing confirmed by the broker for "));
  CHECK_THAT(s.out, Catch::Contains("; NOTHING CONFIRMED for "));
}

TEST_CASE("status: a loop that does not turn: exit 1, the loop has not run for N s") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "500ms";
  Agent agent(dir.path + "/a", o);
  // The diagnostic option blocks the loop's first turn, as a stuck loop would.
  agent.start({}, {"--diagnostic-stall-loop-ms", "20000"});
  LogOnFailure show_log(agent);
  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.out.find("the agent's loop has not run for ") != std::string::npos;
      },
      18s));
  INFO(s.out);
  CHECK(s.rc == 1);
  CHECK_THAT(s.out, Catch::Contains("\nStatus    DEGRADED: the agent's loop has not run for "));
  CHECK(json_eval(dir, ask(agent.config_path(), true).out, "d['problems'][0][:33]") ==
        "the agent's loop has not run for ");
  // The loop turns again: so does the status.
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 30s));
}

TEST_CASE("status: a broker that accepts TCP but never answers MQTT is named as such") {
  SilentPort silent;
  TempDir dir;
  AgentOptions o;
  o.url = "tcp://127.0.0.1:" + std::to_string(silent.port());
  o.extra_broker = "connect_timeout = \"1s\"\n";
  Agent agent(dir.path + "/a", o);
  agent.start();
  LogOnFailure show_log(agent);
  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 1 && s.out.find("UNREACHABLE") != std::string::npos;
      },
      15s));
  INFO(s.out);
  CHECK_THAT(s.out,
             Catch::Contains("no MQTT answer within 3 s: a busy broker, or not an MQTT port?"));
}

TEST_CASE("status: a failing source is named with its error and last success") {
  Mosquitto broker;
  TempDir dir;
  std::filesystem::create_directories(dir.path + "/broken-proc");  // an empty /proc
  AgentOptions o;
  o.url = broker.url();
  o.extra = "[host]\nproc = \"" + dir.path + "/broken-proc\"\n";
  Agent agent(dir.path + "/a", o);
  agent.start();
  LogOnFailure show_log(agent);
  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 1 && s.out.find("source system failing") != std::string::npos &&
               s.out.find("Broker    online") != std::string::npos;
      },
      20s));
  INFO(s.out);
  CHECK_THAT(s.out, Catch::Contains("\nStatus    DEGRADED: source system failing\n"));
  CHECK_THAT(s.out, Catch::Contains("\nSources   system  FAILING since 20"));
  CHECK_THAT(s.out, Catch::Contains("cannot read " + dir.path + "/broken-proc"));
  CHECK_THAT(s.out, Catch::Contains("; last success never\n"));
  CHECK_THAT(s.out, Catch::Contains("\n          agent   ok, last run "));
  const Status j = ask(agent.config_path(), true);
  CHECK(j.rc == 1);
  CHECK(json_eval(dir, j.out, "[s['state'] for s in d['sources'] if s['name'] == 'system']") ==
        "['failing']");
  CHECK_THAT(
      json_eval(dir, j.out, "[s['error'] for s in d['sources'] if s['name'] == 'system'][0]"),
      Catch::StartsWith("cannot read " + dir.path + "/broken-proc"));
}

TEST_CASE("status: with [status] group the socket is 0660, a user outside the group is refused") {
  REQUIRE(::geteuid() == 0);  // chown to a group, and setpriv to a user outside it
  Mosquitto broker;
  TempDir dir;
  // The user in the test reads the config and enters the directory; what
  // refuses it must be the socket's own mode.
  ::chmod(dir.path.c_str(), 0755);
  std::filesystem::create_directories(dir.path + "/a");
  ::chmod((dir.path + "/a").c_str(), 0755);
  const group* adm = ::getgrnam("adm");
  REQUIRE(adm);
  const gid_t adm_gid = adm->gr_gid;
  AgentOptions o;
  o.url = broker.url();
  o.extra_status = "group = \"adm\"\n";
  Agent agent(dir.path + "/a", o);
  ::chmod(agent.config_path().c_str(), 0644);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));

  struct stat st {};
  REQUIRE(::stat(agent.status_socket().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_uid == 0);
  CHECK(st.st_gid == adm_gid);

  // nobody, in no group: refused by the socket's mode, exit 3, told why.
  auto [rc, out] = run_shell("setpriv --reuid=65534 --regid=65534 --clear-groups " + kAgent +
                             " status -c " + agent.config_path());
  INFO(out);
  CHECK(rc == 3);
  CHECK_THAT(
      out, Catch::Contains("cannot ask the agent: permission denied on " + agent.status_socket()));
  CHECK_THAT(out, Catch::Contains("member of the group named in [status] group"));
  // nobody in group adm: answered.
  auto [rc2, out2] =
      run_shell("setpriv --reuid=65534 --regid=65534 --groups=" + std::to_string(adm_gid) + " " +
                kAgent + " status -c " + agent.config_path());
  INFO(out2);
  CHECK(rc2 == 0);
  CHECK_THAT(out2, Catch::Contains("\nStatus    OK\n"));
}

TEST_CASE("status: [status] group works where chown is refused, as under the shipped unit") {
  REQUIRE(::geteuid() == 0);  // setpriv to a member of the group
  Mosquitto broker;
  TempDir dir;
  ::chmod(dir.path.c_str(), 0755);
  std::filesystem::create_directories(dir.path + "/a");
  ::chmod((dir.path + "/a").c_str(), 0755);
  const group* adm = ::getgrnam("adm");
  REQUIRE(adm);
  const gid_t adm_gid = adm->gr_gid;

  // The agent's own group (as classroom-agent's under the unit): no chown needed.
  AgentOptions o;
  o.url = broker.url();
  o.extra_status = "group = \"adm\"\n";
  o.wrapper = {"setpriv", "--regid=" + std::to_string(adm_gid), "--clear-groups", NO_CHOWN_BINARY};
  Agent agent(dir.path + "/a", o);
  ::chmod(agent.config_path().c_str(), 0644);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));
  struct stat st {};
  REQUIRE(::stat(agent.status_socket().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_gid == adm_gid);
  auto [rc, out] =
      run_shell("setpriv --reuid=65534 --regid=65534 --groups=" + std::to_string(adm_gid) + " " +
                kAgent + " status -c " + agent.config_path());
  INFO(out);
  CHECK(rc == 0);
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s));

  // Another group the agent's user is a member of: chown is needed and refused;
  // the log says so, not that the user is no member.
  AgentOptions o2 = o;
  o2.wrapper = {"setpriv", "--groups=" + std::to_string(adm_gid), NO_CHOWN_BINARY};
  Agent member(dir.path + "/b", o2);
  member.start();
  LogOnFailure show_member_log(member);
  REQUIRE(wait_until([&] { return member.log().find("status socket") != std::string::npos; }, 20s));
  CHECK_THAT(member.log(), Catch::Contains("cannot give it to group adm (Operation not permitted): "
                                           "the agent's user is a member, so chown itself is "
                                           "refused"));
}

TEST_CASE("status: killed, the agent leaves a socket nobody answers on: not running, exit 2") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path + "/a", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));
  agent.signal(SIGKILL);
  REQUIRE(agent.wait_exit(10s));
  const Status s = ask(agent.config_path());
  CHECK(s.rc == 2);
  CHECK_THAT(s.out, Catch::Contains("classroom-agent is not running (nothing answers on " +
                                    agent.status_socket() + ": it was stopped hard or crashed)"));
  const Status j = ask(agent.config_path(), true);
  CHECK(j.rc == 2);
  CHECK_THAT(j.out, Catch::Contains("{\"state\":\"not running\",\"error\":"));
  // The next start takes the stale socket over.
  agent.start();
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));
}

TEST_CASE("status: a hostile local client can stall neither the answer nor the loop") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "100ms";
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));

  auto connect_raw = [&] {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", agent.status_socket().c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  // Twenty clients that connect and say nothing, and one that sends a
  // megabyte without a newline.
  std::vector<int> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(connect_raw());
  const int flood = connect_raw();
  const std::string junk(1 << 20, 'x');
  ::send(flood, junk.data(), junk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);

  // The loop keeps publishing meanwhile.
  const size_t before = sub.of_type("NDATA").size();
  // A real request still gets its answer (the silent ones time out after 2 s).
  const int64_t asked = now_ms();
  const Status s = ask(agent.config_path());
  INFO(s.out);
  CHECK(s.rc == 0);
  CHECK_THAT(s.out, Catch::Contains("\nStatus    OK\n"));
  CHECK(now_ms() - asked < 3000 + 2000);
  CHECK(sub.wait_for("NDATA", before + 5, 5s));
  // The flood got a short refusal, not a crash; the silent ones were closed.
  char buf[256] = {};
  std::string got;
  for (ssize_t n; (n = ::recv(flood, buf, sizeof buf, 0)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  CHECK(got == "classroom-agent-status 1 error\nrequest too long\n");
  for (int fd : silent) {
    CHECK(::recv(fd, buf, sizeof buf, 0) == 0);  // closed by the agent
    ::close(fd);
  }
  ::close(flood);
  CHECK(agent.running());
  CHECK(ask(agent.config_path()).rc == 0);
}

TEST_CASE("status: clients that flood the socket with idle connections cannot push out a request") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path + "/a", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return ask(agent.config_path()).rc == 0; }, 20s));

  // Two flooders connect as fast as they can and say nothing, each keeping
  // its last 16 connections open.
  std::atomic<bool> stop{false};
  std::atomic<int> connections{0};
  auto flood = [&] {
    std::deque<int> held;
    while (!stop) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", agent.status_socket().c_str());
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) ++connections;
      held.push_back(fd);
      if (held.size() > 16) ::close(held.front()), held.pop_front();
    }
    for (int fd : held) ::close(fd);
  };
  std::thread a(flood), b(flood);
  REQUIRE(wait_until([&] { return connections > 100; }, 5s));
  int answered = 0;
  std::string failures;
  for (int i = 0; i < 20; ++i) {
    const Status s = ask(agent.config_path());
    if (s.rc == 0)
      ++answered;
    else
      failures += s.out;
  }
  stop = true;
  a.join();
  b.join();
  INFO(failures);
  CHECK(connections > 200);  // it was a flood
  CHECK(answered == 20);
  CHECK(agent.running());
}

TEST_CASE(
    "status: an agent started by hand makes the socket's directory and without one status "
    "says it may run") {
  Mosquitto broker;
  TempDir dir;
  // As /run/classroom-agent outside the unit: its parent exists, it does not.
  std::filesystem::create_directories(dir.path + "/run");
  AgentOptions o;
  o.url = broker.url();
  o.extra_status = "socket = \"" + dir.path + "/run/classroom-agent/status.sock\"\n";
  Agent agent(dir.path + "/a", o);
  agent.start();
  LogOnFailure show_log(agent);
  Status s;
  REQUIRE(wait_until(
      [&] {
        s = ask(agent.config_path());
        return s.rc == 0;
      },
      20s));
  struct stat st {};
  REQUIRE(::stat((dir.path + "/run/classroom-agent").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);

  // Where it truly cannot be made, the agent runs without it, and says why;
  // status does not claim that it is not running.
  AgentOptions nowhere = o;
  nowhere.extra_status = "socket = \"" + dir.path + "/missing/classroom-agent/status.sock\"\n";
  Agent lonely(dir.path + "/b", nowhere);
  Subscriber sub(broker.url());
  lonely.start();
  LogOnFailure show_lonely_log(lonely);
  REQUIRE(sub.wait_for("NDATA", 1, 20s));
  CHECK_THAT(lonely.log(), Catch::Contains("W status: no status socket: cannot create " + dir.path +
                                           "/missing/classroom-agent: No such file or directory"));
  const Status none = ask(lonely.config_path());
  CHECK(none.rc == 2);
  CHECK_THAT(none.out, Catch::Contains("classroom-agent is not running, or runs without its status "
                                       "socket (there is none at " +
                                       dir.path + "/missing/classroom-agent/status.sock;"));
  CHECK(none.out.find("classroom-agent is not running (") == std::string::npos);
}

TEST_CASE("status: the agent not started at all: exit 2, and how to start it") {
  TempDir dir;
  write_file(dir.path + "/agent.toml", "[status]\nsocket = \"" + dir.path + "/status.sock\"\n");
  const Status s = ask(dir.path + "/agent.toml");
  CHECK(s.rc == 2);
  CHECK_THAT(s.out, Catch::Contains("classroom-agent is not running, or runs without its status "
                                    "socket (there is none at " +
                                    dir.path + "/status.sock;"));
  CHECK_THAT(s.out, Catch::Contains("sudo systemctl start classroom-agent"));
  // A config that cannot be read falls back to the default socket, and says so.
  const Status d = ask(dir.path + "/missing.toml");
  CHECK_THAT(d.out, Catch::Contains("note: cannot read " + dir.path +
                                    "/missing.toml (No such file or directory); asking on the "
                                    "default socket /run/classroom-agent/status.sock"));
  // A broken [status] key: cannot tell, exit 3.
  write_file(dir.path + "/bad.toml", "[status]\nsocket = 42\n");
  const Status b = ask(dir.path + "/bad.toml");
  CHECK(b.rc == 3);
  CHECK_THAT(b.out, Catch::Contains("bad.toml:2:10: status.socket: expected a string"));
}

TEST_CASE("[log] file: the agent writes its log to a file instead of stderr") {
  Mosquitto broker;
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.extra_log = "file = \"" + dir.path + "/agent-file.log\"\nmax_bytes = \"16KiB\"\nkeep = 2\n";
  Agent agent(dir.path + "/a", o);
  Subscriber sub(broker.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 2, 20s));
  REQUIRE(wait_until(
      [&] {
        return read_file(dir.path + "/agent-file.log").find("I uplink: connected to") !=
               std::string::npos;
      },
      10s));
  CHECK_THAT(read_file(dir.path + "/agent-file.log"), Catch::Contains(" I agent: started: "));
  CHECK(agent.log().find("I agent: started") == std::string::npos);  // not on stderr
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  CHECK_THAT(read_file(dir.path + "/agent-file.log"), Catch::Contains(" I agent: stopped\n"));
}
