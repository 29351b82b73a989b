// TLS to the broker, against a real Mosquitto with TLS listeners and
// certificates this test makes with openssl: TLS and mutual TLS deliver births
// that decode; a wrong CA, an expired certificate, a certificate for another
// host and a missing or untrusted client certificate are each refused with a
// log line that names the cause, and the broker receives nothing from them.
#include <sys/stat.h>

#include <pwd.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "harness.hpp"

using namespace harness;

namespace {

// A CA, a second CA nobody trusts, and the certificates signed by them.
struct Pki {
  TempDir dir;
  Pki() {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto [rc, out] =
        run_shell("set -e; cd '" + dir.path +
                  "'\n"
                  "mk_ca() { openssl req -x509 " +
                  ec +
                  " -keyout $1.key -out $1.pem -days 30 -subj \"/CN=$2\"; }\n"
                  "mk_csr() { openssl req " +
                  ec +
                  " -keyout $1.key -out $1.csr -subj \"/CN=$2\"; }\n"
                  "sign() { openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
                  "-out $3.pem "
                  "-days 30 ${4:+-extfile $4}; }\n"
                  "mk_ca ca 'Test District CA'; mk_ca rogue 'Someone Else CA'\n"
                  "printf 'subjectAltName=IP:127.0.0.1\\n' > ip.ext\n"
                  "printf 'subjectAltName=DNS:broker.other.test\\n' > other.ext\n"
                  "mk_csr server 'broker'; sign server ca server ip.ext\n"
                  "sign server ca other-name other.ext\n"
                  "mk_csr client 'room-1'; sign client ca client\n"
                  "mk_csr stranger 'room-1'; sign stranger rogue stranger\n"
                  // Expired: openssl ca is the tool that sets dates in the past.
                  "mkdir db; : > db/index.txt; echo 1000 > db/serial\n"
                  "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=db/index.txt\\nnew_certs_dir=db\\n"
                  "serial=db/serial\\ndefault_md=sha256\\npolicy=p\\nunique_subject=no\\n"
                  "[p]\\ncommonName=supplied\\n' > ca.cnf\n"
                  "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in server.csr "
                  "-out expired.pem -notext -startdate 20200101000000Z -enddate 20200201000000Z "
                  "-extfile ip.ext\n"
                  "chmod 600 *.key\n");
    if (rc != 0) FAIL("openssl could not make the test certificates:\n" << out);
  }
  std::string path(const std::string& name) const { return dir.path + "/" + name; }
};

// One TLS listener of the broker.
std::string listener(const Pki& pki, int port, const std::string& cert, bool require_client) {
  return "listener " + std::to_string(port) + " 127.0.0.1\ncertfile " + pki.path(cert) +
         "\nkeyfile " + pki.path("server.key") + "\ncafile " + pki.path("ca.pem") +
         (require_client ? "\nrequire_certificate true\n" : "\n");
}

struct TlsAgent {
  std::string node;
  std::unique_ptr<Agent> agent;
};

bool node_published(Subscriber& sub, const std::string& node) {
  for (const Message& m : sub.messages())
    if (m.topic.find("/" + node) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("TLS and mutual TLS to Mosquitto work, each TLS failure is named and sends nothing") {
  Pki pki;
  const int tls = free_port(), mtls = free_port(), expired = free_port(), other = free_port();
  Mosquitto broker(
      listener(pki, tls, "server.pem", false) + listener(pki, mtls, "server.pem", true) +
      listener(pki, expired, "expired.pem", false) + listener(pki, other, "other-name.pem", false));
  Subscriber sub(broker.url());
  TempDir dir;

  auto start = [&](const std::string& node, int port, const std::string& tls_keys) {
    AgentOptions o;
    o.node = node;
    o.url = "ssl://127.0.0.1:" + std::to_string(port);
    o.extra_broker = "[broker.tls]\n" + tls_keys;
    auto agent = std::make_unique<Agent>(dir.path + "/" + node, o);
    agent->start();
    return agent;
  };
  const std::string ca = "ca_file = \"" + pki.path("ca.pem") + "\"\n";
  const std::string client = "cert_file = \"" + pki.path("client.pem") + "\"\nkey_file = \"" +
                             pki.path("client.key") + "\"\n";

  auto ok = start("tls-ok", tls, ca);
  auto mutual = start("mtls-ok", mtls, ca + client);
  auto wrong_ca = start("wrong-ca", tls, "ca_file = \"" + pki.path("rogue.pem") + "\"\n");
  auto old = start("expired", expired, ca);
  auto name = start("other-name", other, ca);
  auto no_client = start("no-client-cert", mtls, ca);
  auto stranger = start("stranger", mtls,
                        ca + "cert_file = \"" + pki.path("stranger.pem") + "\"\nkey_file = \"" +
                            pki.path("stranger.key") + "\"\n");
  LogOnFailure l1(*ok), l2(*mutual), l3(*wrong_ca), l4(*old), l5(*name), l6(*no_client),
      l7(*stranger);

  SECTION("TLS and mutual TLS deliver births that decode") {
    REQUIRE(wait_until(
        [&] { return node_published(sub, "tls-ok") && node_published(sub, "mtls-ok"); }, 20s));
    for (const std::string node : {"tls-ok", "mtls-ok"}) {
      bool birth = false;
      for (const Message& m : sub.of_type("NBIRTH"))
        if (m.topic == "spBv1.0/school-test/NBIRTH/" + node) {
          birth = m.is_sparkplug && alias_in_birth(m.decoded, "System/Uptime").has_value();
        }
      CHECK(birth);
    }
  }

  // What a technician reads in the log for each refusal.
  const std::vector<std::pair<Agent*, std::string>> causes = {
      {wrong_ca.get(), "unknown CA"},
      {old.get(), "expired on 2020-02-01"},
      {name.get(),
       "wrong host name: the broker's certificate is for broker.other.test, not "
       "127.0.0.1"},
      {no_client.get(), "client certificate"},
      {stranger.get(), "client certificate refused"},
  };
  for (const auto& [agent, cause] : causes) {
    INFO("expecting \"" << cause << "\" in the log");
    CHECK(wait_until([&] { return agent->log().find(cause) != std::string::npos; }, 20s));
  }
  CHECK_THAT(no_client->log(), Catch::Contains("set cert_file and key_file"));
  // The refused ones never got a byte of Sparkplug through: the ones that
  // work did, on the same broker, in the same time.
  REQUIRE(wait_until(
      [&] { return node_published(sub, "tls-ok") && node_published(sub, "mtls-ok"); }, 20s));
  for (const std::string node : {"wrong-ca", "expired", "other-name", "no-client-cert", "stranger"})
    CHECK_FALSE(node_published(sub, node));
}

TEST_CASE("a broker that offers only TLS 1.1 is refused: TLS 1.2 is the minimum") {
  Pki pki;
  const int port = free_port();
  // openssl's own server, made to speak TLS 1.1 only (security level 0 lets it).
  // Its stdin stays open (a pipe from sleep), so that it prints what a client
  // sends after a completed handshake.
  Process server({"bash", "-c",
                  "exec openssl s_server -accept 127.0.0.1:" + std::to_string(port) +
                      " -tls1_1 -cipher DEFAULT@SECLEVEL=0 -cert " + pki.path("server.pem") +
                      " -key " + pki.path("server.key") + " -quiet < <(sleep 120)"},
                 pki.path("s_server.log"));
  REQUIRE(wait_until(
      [&] {
        return run_shell("bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                         "' 2>/dev/null")
                   .first == 0;
      },
      10s));
  TempDir dir;
  AgentOptions o;
  o.url = "ssl://127.0.0.1:" + std::to_string(port);
  o.extra_broker = "[broker.tls]\nca_file = \"" + pki.path("ca.pem") + "\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  CHECK(wait_until([&] { return agent.log().find("share no TLS version") != std::string::npos; },
                   20s));
  // Paho's own attempts were refused in the handshake too: the server prints
  // what a client sends after a handshake, and no MQTT CONNECT (which holds
  // the client id) ever came through; each refusal left an error line.
  const std::string server_log = read_file(pki.path("s_server.log"));
  CHECK_THAT(server_log, Catch::Contains("SSL routines"));
  CHECK_THAT(server_log, !Catch::Contains("school-test-room-1"));
}

TEST_CASE(
    "secret files: one the agent's user does not own is refused, with the chown that fixes it") {
  REQUIRE(::geteuid() == 0);  // root owns the secret; the agent's user is nobody
  TempDir dir;
  REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  const std::string secret = dir.path + "/broker-password";
  write_file(secret, "s3cret\n");
  REQUIRE(::chmod(secret.c_str(), 0600) == 0);  // mode 600, but root's
  AgentOptions o;
  o.url = "ssl://127.0.0.1:8883";
  o.extra_broker = "password_file = \"" + secret + "\"\n";
  Agent agent(dir.path, o);
  REQUIRE(::chmod(agent.config_path().c_str(), 0644) == 0);
  const std::string state = dir.path + "/state";  // [state] dir: the agent's user owns it
  std::filesystem::create_directories(state);
  REQUIRE(::chown(state.c_str(), 65534, 65534) == 0);
  const passwd* pw = ::getpwuid(65534);
  REQUIRE(pw);
  const std::string user = pw->pw_name;
  const std::string check = std::string(AGENT_BINARY) + " check-config -c " + agent.config_path();
  const std::string as_agent = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

  // As the agent's user: unreadable, and chmod alone would not fix it.
  auto [rc, out] = run_shell(as_agent + check);
  INFO(out);
  CHECK(rc == 2);
  CHECK_THAT(out,
             Catch::Contains("cannot read " + secret + " (Permission denied) as user " + user));
  CHECK_THAT(out,
             Catch::Contains("`chown " + user + ": " + secret + " && chmod 600 " + secret + "`"));
  // `sudo check-config`: root could read it, the agent could not; refused too.
  auto [root_rc, root_out] = run_shell(check);
  INFO(root_out);
  CHECK(root_rc == 2);
  CHECK_THAT(root_out, Catch::Contains(secret + " is owned by root, and the agent's user " + user +
                                       " (the owner of [state] dir) cannot read it; fix it with "
                                       "`chown " +
                                       user + ": " + secret + "`"));

  REQUIRE(::chown(secret.c_str(), 65534, 65534) == 0);
  CHECK(run_shell(as_agent + check).first == 0);
  CHECK(run_shell(check).first == 0);
}

TEST_CASE("secret files: check-config and run refuse one others can read, accept mode 600") {
  TempDir dir;
  const std::string secret = dir.path + "/broker-password";
  write_file(secret, "s3cret\n");
  AgentOptions o;
  o.url = "ssl://127.0.0.1:8883";
  o.extra_broker = "password_file = \"" + secret + "\"\n";
  Agent agent(dir.path, o);
  const std::string check = std::string(AGENT_BINARY) + " check-config -c " + agent.config_path();

  REQUIRE(::chmod(secret.c_str(), 0644) == 0);
  auto [rc, out] = run_shell(check);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains(secret + " is open to group or others (mode 0644)"));
  CHECK_THAT(out, Catch::Contains("fix it with `chmod 600 " + secret + "`"));
  CHECK_THAT(out, !Catch::Contains("s3cret"));
  // `run` refuses the same file, with the same words, before doing anything.
  auto [run_rc, run_out] = run_shell(std::string(AGENT_BINARY) + " run -c " + agent.config_path());
  CHECK(run_rc == 2);
  CHECK_THAT(run_out, Catch::Contains("chmod 600 " + secret));

  REQUIRE(::chmod(secret.c_str(), 0600) == 0);
  std::tie(rc, out) = run_shell(check);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains(": OK"));

  // An inline password works, and check-config says where it should go.
  write_file(agent.config_path(),
             read_file(agent.config_path())
                 .replace(read_file(agent.config_path()).find("password_file"),
                          std::string("password_file = \"" + secret + "\"").size(),
                          "password = \"s3cret\""));
  std::tie(rc, out) = run_shell(check);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("warning: " + agent.config_path()));
  CHECK_THAT(out, Catch::Contains("broker.password: the broker password is written in the config "
                                  "file; put it in a file readable by the agent only"));
}
