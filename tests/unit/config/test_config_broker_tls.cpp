// [broker] secrets and [broker.tls]: the password from a file of mode 600,
// an inline password warned about, TLS servers accepted, and every TLS file
// checked when the config is read (a CA file without certificates, a key
// that others can read or that is not the certificate's), with the fix named.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "../temp_dir.hpp"
#include "config.hpp"
#include "config_text.hpp"

using namespace classroom::config;

namespace {

const std::string kTlsServer = "[\"ssl://broker.district.example:8883\"]";

LoadResult load(const std::string& servers, const std::string& broker_keys,
                const std::string& tables = "") {
  std::string text = testing::kMinimal;
  const std::string plain = "[\"tcp://127.0.0.1:1883\"]";
  text.replace(text.find(plain), plain.size(), servers + "\n" + broker_keys);
  // The status socket off: its directory's check depends on this machine's
  // /run (in a fresh chroot it may be writable by all), not on the broker
  // keys these tests count the warnings of.
  return testing::load_text(text + tables + "\n[status]\nenabled = false\n",
                            "/etc/classroom-agent/agent.toml");
}

void write(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// A CA, a client certificate signed by it with its key, and a key of nobody's.
struct Files {
  TempDir dir;
  Files() {
    const std::string cmd =
        "cd '" + dir.path +
        "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=ca 2>/dev/null && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout client.key -out client.pem -days 2 -subj /CN=room 2>/dev/null && "
        "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-out other.key 2>/dev/null && chmod 600 client.key other.key";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  std::string operator/(const std::string& name) const { return dir / name; }
};

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
}

}  // namespace

TEST_CASE("TLS servers are accepted and take the system's trust store by default", "[config]") {
  for (const char* server : {"ssl://broker:8883", "mqtts://broker:8883", "wss://broker/mqtt"}) {
    LoadResult r = load(std::string("[\"") + server + "\"]", "");
    INFO(testing::errors_text(r));
    REQUIRE(r.config);
    CHECK(r.config->broker.tls.ca_file.empty());
    CHECK(r.config->broker.tls.verify);
    CHECK(is_tls_server(server));
  }
  CHECK_FALSE(is_tls_server("tcp://broker:1883"));
  // A clear-text fallback to a TLS broker would give the password away.
  LoadResult mixed = load("[\"ssl://a:8883\", \"tcp://b:1883\"]", "");
  CHECK_THAT(testing::errors_text(mixed), Catch::Contains("broker.servers: mixes TLS"));
  // Paho cannot verify a certificate for a bracketed IPv6 address.
  LoadResult v6 = load("[\"ssl://[2001:db8::1]:8883\"]", "");
  CHECK_THAT(testing::errors_text(v6), Catch::Contains("use the broker's host name"));
  // TLS settings for a plain connection are a mistake, not something to ignore.
  LoadResult r = load("[\"tcp://127.0.0.1:1883\"]", "", "[broker.tls]\nverify = true\n");
  CHECK_THAT(testing::errors_text(r), Catch::Contains("broker.tls: no server in servers uses TLS"));
}

TEST_CASE("the broker password comes from a file only the agent can read", "[config]") {
  TempDir dir;
  const std::string secret = dir / "broker-password";

  SECTION("mode 0644 is refused, naming the file and the chmod that fixes it") {
    write(secret, "s3cret\n", 0644);
    LoadResult r = load(kTlsServer, "password_file = " + quoted(secret));
    CHECK_FALSE(r.config);
    CHECK_THAT(testing::errors_text(r), Catch::Contains("broker.password_file: " + secret +
                                                        " is open to group or others (mode 0644)"));
    CHECK_THAT(testing::errors_text(r), Catch::Contains("`chmod 600 " + secret + "`"));
    CHECK_THAT(testing::errors_text(r), !Catch::Contains("s3cret"));
  }
  SECTION("mode 0600 is accepted; the newline is not part of the password") {
    write(secret, "s3cret\n", 0600);
    LoadResult r = load(kTlsServer, "password_file = " + quoted(secret));
    INFO(testing::errors_text(r));
    REQUIRE(r.config);
    CHECK(r.config->broker.password == "s3cret");
    CHECK(r.config->broker.password_file == secret);
    CHECK(r.config->warnings.empty());
  }
  SECTION("a relative path is relative to the config file") {
    LoadResult r = load(kTlsServer, "password_file = \"broker-password\"");
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains("cannot read /etc/classroom-agent/broker-password"));
  }
  SECTION("both password and password_file is a mistake") {
    write(secret, "s3cret\n", 0600);
    LoadResult r = load(kTlsServer, "password = \"x\"\npassword_file = " + quoted(secret));
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains("broker.password: set either password or password_file"));
  }
  SECTION("an inline password still works, with a warning that names password_file") {
    LoadResult r = load(kTlsServer, "password = \"s3cret\"");
    REQUIRE(r.config);
    CHECK(r.config->broker.password == "s3cret");
    REQUIRE(r.config->warnings.size() == 1);
    CHECK_THAT(r.config->warnings[0], Catch::Contains("agent.toml:7:12: broker.password:"));
    CHECK_THAT(r.config->warnings[0], Catch::Contains("password_file"));
    CHECK_THAT(r.config->warnings[0], !Catch::Contains("s3cret"));
  }
}

TEST_CASE("[broker.tls] files are checked when the config is read", "[config]") {
  Files f;
  const std::string ca = "ca_file = " + quoted(f / "ca.pem") + "\n";
  const std::string pair =
      "cert_file = " + quoted(f / "client.pem") + "\nkey_file = " + quoted(f / "client.key") + "\n";

  SECTION("the issue's config: a CA and a client certificate with its key") {
    LoadResult r = load(kTlsServer, "", "[broker.tls]\n" + ca + pair);
    INFO(testing::errors_text(r));
    REQUIRE(r.config);
    CHECK(r.config->broker.tls.ca_file == f / "ca.pem");
    CHECK(r.config->broker.tls.cert_file == f / "client.pem");
    CHECK(r.config->broker.tls.key_file == f / "client.key");
  }
  SECTION("a key that group or others can read is refused with the chmod") {
    REQUIRE(::chmod((f / "client.key").c_str(), 0640) == 0);
    LoadResult r = load(kTlsServer, "", "[broker.tls]\n" + ca + pair);
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains("broker.tls.key_file: " + (f / "client.key") +
                               " is open to group or others (mode 0640)"));
    CHECK_THAT(testing::errors_text(r), Catch::Contains("chmod 600 " + (f / "client.key")));
  }
  SECTION("a key that is not the certificate's") {
    LoadResult r = load(kTlsServer, "",
                        "[broker.tls]\ncert_file = " + quoted(f / "client.pem") +
                            "\nkey_file = " + quoted(f / "other.key") + "\n");
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains((f / "other.key") + " is not the key of the certificate in " +
                               (f / "client.pem")));
  }
  SECTION("a certificate without its key, and a CA file that holds no certificate") {
    write(f / "garbage.pem", "not a certificate\n", 0644);
    LoadResult r = load(kTlsServer, "",
                        "[broker.tls]\nca_file = " + quoted(f / "garbage.pem") +
                            "\ncert_file = " + quoted(f / "client.pem") + "\n");
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains("broker.tls.ca_file: " + (f / "garbage.pem") +
                               " holds no PEM certificate"));
    CHECK_THAT(testing::errors_text(r), Catch::Contains("broker.tls.cert_file: a client "
                                                        "certificate needs its key"));
  }
  SECTION("a missing file is named") {
    LoadResult r = load(kTlsServer, "", "[broker.tls]\nca_file = \"missing.pem\"\n");
    CHECK_THAT(testing::errors_text(r),
               Catch::Contains("cannot read /etc/classroom-agent/missing.pem"));
  }
  SECTION("verify = false works, with a warning") {
    LoadResult r = load(kTlsServer, "", "[broker.tls]\nverify = false\n");
    REQUIRE(r.config);
    CHECK_FALSE(r.config->broker.tls.verify);
    REQUIRE(r.config->warnings.size() == 1);
    CHECK_THAT(r.config->warnings[0], Catch::Contains("broker.tls.verify: the broker's certificate "
                                                      "is not checked"));
  }
}
