#include "mqtt/diagnosis.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "config.hpp"
#include "printable.hpp"

namespace classroom::mqtt {
namespace {

struct Endpoint {
  std::string scheme, host, port;
};

Endpoint split(const std::string& uri) {
  Endpoint e;
  const size_t sep = uri.find("://");
  e.scheme = sep == std::string::npos ? "tcp" : uri.substr(0, sep);
  std::string rest = uri.substr(sep == std::string::npos ? 0 : sep + 3);
  rest = rest.substr(0, rest.find('/'));
  const bool tls = config::is_tls_server(uri);
  e.port = e.scheme == "wss" ? "443" : e.scheme == "ws" ? "80" : tls ? "8883" : "1883";
  e.host = rest;
  if (!rest.empty() && rest[0] == '[') {  // an IPv6 literal: [::1]:1883
    const size_t close = rest.find(']');
    e.host = rest.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < rest.size() && rest[close + 1] == ':')
      e.port = rest.substr(close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  }
  return e;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects to the first address that answers; fd is left blocking, with
// send and receive timeouts of `timeout_ms`. Returns "" or why not.
int64_t steady_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Milliseconds left until `deadline` (0 when past it).
int left_ms(int64_t deadline) {
  return static_cast<int>(std::max<int64_t>(0, deadline - steady_ms()));
}

std::string tcp_connect(const Endpoint& e, int timeout_ms, Fd& out) {
  const int64_t deadline = steady_ms() + timeout_ms;  // for all addresses together
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &res); rc != 0)
    return "cannot resolve host name " + text::printable(e.host, 255) + ": " + ::gai_strerror(rc);
  std::string verdict = "no address to connect to";
  for (addrinfo* a = res; a; a = a->ai_next) {
    Fd fd{::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (fd.fd < 0) continue;
    int err = 0;
    if (::connect(fd.fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd.fd, POLLOUT, 0};
        int ready;
        do ready = ::poll(&p, 1, left_ms(deadline));
        while (ready < 0 && errno == EINTR);
        if (ready == 1) {
          socklen_t len = sizeof err;
          ::getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
          err = ETIMEDOUT;
        }
      }
    }
    if (err == 0) {  // left non-blocking: the TLS steps poll with a deadline
      std::swap(out.fd, fd.fd);
      verdict.clear();
      break;
    }
    verdict = err == ETIMEDOUT ? "no answer within " + std::to_string(timeout_ms / 1000) +
                                     " s (firewall or host down?)"
              : err == ECONNREFUSED ? "connection refused (no broker listening on port " +
                                          text::printable(e.port, 8) + "?)"
                                    : std::string(std::strerror(err));
    if (left_ms(deadline) == 0) break;
  }
  ::freeaddrinfo(res);
  return verdict;
}

// ---- TLS ----

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// What the verify callback saw of the first certificate it refused.
struct Refused {
  long error = X509_V_OK;
  std::string subject, names, not_before, not_after;  // of the refused certificate
  std::string leaf_subject, leaf_issuer;              // of the broker's own
};
thread_local Refused* g_refused = nullptr;  // set only during one handshake

std::string when(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable date";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string name_of(const X509_NAME* name) {
  if (!name) return "?";
  char buf[256];
  X509_NAME_oneline(name, buf, sizeof buf);
  return text::printable(buf, 200);
}

// The names a certificate is valid for: its DNS and IP subject alternative
// names, else its common name.
std::string names_of(X509* cert) {
  std::string out;
  int shown = 0;
  auto add = [&](const std::string& n) {
    if (shown++ < 4) out += (out.empty() ? "" : ", ") + text::printable(n, 100);
  };
  if (auto* sans = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type == GEN_DNS) {
        const ASN1_IA5STRING* s = n->d.dNSName;
        add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s))));
      } else if (n->type == GEN_IPADD) {
        // The certificate is not trusted yet: its length may be anything.
        const ASN1_OCTET_STRING* ip = n->d.iPAddress;
        const int length = ASN1_STRING_length(ip);
        char text[64] = "?";
        if (length == 4 || length == 16)
          inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text, sizeof text);
        add(text);
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (out.empty()) {
    char cn[256] = "";
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      add(cn);
  }
  if (shown > 4) out += " and " + std::to_string(shown - 4) + " more";
  return out.empty() ? "no name" : out;
}

int remember_refusal(int ok, X509_STORE_CTX* store) {
  if (!ok && g_refused && g_refused->error == X509_V_OK) {
    g_refused->error = X509_STORE_CTX_get_error(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      g_refused->subject = name_of(X509_get_subject_name(cert));
      g_refused->names = names_of(cert);
      g_refused->not_before = when(X509_get0_notBefore(cert));
      g_refused->not_after = when(X509_get0_notAfter(cert));
    }
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
      g_refused->leaf_subject = name_of(X509_get_subject_name(leaf));
      g_refused->leaf_issuer = name_of(X509_get_issuer_name(leaf));
    }
  }
  return ok;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string explain_refusal(const Refused& r, const Endpoint& e, const TlsOptions& tls) {
  const std::string store = tls.ca_file.empty() ? "the system's trust store" : tls.ca_file;
  switch (r.error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "TLS: the broker's certificate expired on " + r.not_after +
             " (it must be renewed on the broker; this gateway's clock says " + now_utc() + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "TLS: the broker's certificate is not valid before " + r.not_before +
             "; this gateway's clock says " + now_utc() + " (is the clock right?)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "TLS: unknown CA: the broker's certificate (" + r.leaf_subject + ", issued by " +
             r.leaf_issuer + ") is not signed by a CA in " + store +
             " (is ca_file the district's CA?)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "TLS: wrong host name: the broker's certificate is for " + r.names + ", not " +
             text::printable(e.host, 255) +
             " (use the name the certificate gives in servers, or get a certificate for it)";
    case X509_V_ERR_CERT_REVOKED:
      return "TLS: the broker's certificate has been revoked";
    default:
      return std::string("TLS: the broker's certificate is refused: ") +
             X509_verify_cert_error_string(r.error) + " (" + r.subject + ")";
  }
}

// The handshake failed for a reason other than the broker's certificate.
std::string explain_alert(unsigned long err, const TlsOptions& tls) {
  const int reason = ERR_GET_REASON(err);
  const bool have_cert = !tls.cert_file.empty();
  switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return "TLS: the server on this port does not speak TLS (a plain MQTT port? use the "
             "broker's TLS port, usually 8883, or tcp:// for a plain one)";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "TLS: the broker requires a client certificate; set cert_file and key_file in "
             "[broker.tls]";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      if (!have_cert)
        return "TLS: the broker refused the handshake; it probably requires a client "
               "certificate: set cert_file and key_file in [broker.tls]";
      return "TLS: the broker refused the handshake (no common cipher, or it refuses the "
             "client certificate in " +
             tls.cert_file + ")";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return have_cert ? "TLS: client certificate refused: the broker does not accept the "
                         "certificate in " +
                             tls.cert_file + " (signed by a CA the broker does not trust?)"
                       : "TLS: the broker refused the connection: it wants a client "
                         "certificate; set cert_file and key_file in [broker.tls]";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return "TLS: client certificate refused: the broker says the certificate in " +
             tls.cert_file + " has expired";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return "TLS: client certificate refused: the broker says the certificate in " +
             tls.cert_file + " is revoked";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "TLS: the broker and the agent share no TLS version (the agent speaks TLS 1.2 "
             "and 1.3 only)";
    default: {
      const char* what = ERR_reason_error_string(err);
      return std::string("TLS handshake failed: ") + (what ? what : "unknown reason");
    }
  }
}

// After a TLS 1.3 handshake, how long to wait for the broker's verdict on
// the client certificate: a happy broker says nothing (it waits for CONNECT).
constexpr int64_t kAlertWaitMs = 1000;

// Waits until `fd` is ready for `events`; false at the deadline.
bool wait_for(int fd, short events, int64_t deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, left_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// An OpenSSL context with the agent's trust store and client certificate;
// null, with `error` said, when one cannot be read.
std::unique_ptr<SSL_CTX, CtxFree> tls_context(const TlsOptions& tls, std::string& error) {
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "TLS: cannot set up OpenSSL";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  const int loaded = tls.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get())
                         : SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    ERR_clear_error();
    error = "TLS: cannot read the CA file " + tls.ca_file;
    return nullptr;
  }
  if (!tls.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    ERR_clear_error();
    error =
        "TLS: cannot load the client certificate " + tls.cert_file + " or its key " + tls.key_file;
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, remember_refusal);
  return ctx;
}

// The name the broker is asked for (SNI) and, when verifying, the one its
// certificate must hold: its host name, or its IP address.
void set_peer_name(SSL* ssl, const std::string& host, bool verify) {
  in6_addr ip{};
  const bool literal =
      inet_pton(AF_INET, host.c_str(), &ip) == 1 || inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  if (!literal) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (literal)
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else
      SSL_set1_host(ssl, host.c_str());
  }
}

// The handshake, non-blocking, against one deadline: a server that trickles
// bytes cannot keep it (and this thread) going. SSL_connect's last result.
int handshake(SSL* ssl, int fd, int64_t deadline, bool& timed_out) {
  int rc;
  timed_out = false;
  while ((rc = SSL_connect(ssl)) != 1) {
    const int want = SSL_get_error(ssl, rc);
    if (want != SSL_ERROR_WANT_READ && want != SSL_ERROR_WANT_WRITE) break;
    if (!wait_for(fd, want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      timed_out = true;
      break;
    }
  }
  return rc;
}

// Why the handshake failed: the broker's certificate, an alert, the deadline,
// or the server closing.
std::string handshake_failure(const Refused& refused, bool timed_out, const Endpoint& e,
                              const TlsOptions& tls, int timeout_ms) {
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (refused.error != X509_V_OK) return explain_refusal(refused, e, tls);
  if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_SSL) return explain_alert(err, tls);
  if (timed_out)
    return "TLS: the server accepted the connection but did not finish the TLS handshake "
           "within " +
           std::to_string(timeout_ms / 1000) + " s";
  return "TLS: the server closed the connection during the handshake";
}

// In TLS 1.3 the broker judges the client's certificate after the
// handshake: a refusal arrives as an alert on the first read. A broker that
// is happy waits for our CONNECT instead, and the read times out. The
// refusal in words, or "" for none.
std::string client_certificate_refusal(SSL* ssl, int fd, const TlsOptions& tls) {
  if (SSL_version(ssl) < TLS1_3_VERSION) return {};
  char byte;
  ERR_clear_error();
  const int64_t read_deadline = steady_ms() + kAlertWaitMs;
  int got;
  while ((got = SSL_read(ssl, &byte, 1)) <= 0 && SSL_get_error(ssl, got) == SSL_ERROR_WANT_READ &&
         wait_for(fd, POLLIN, read_deadline)) {
  }
  if (got > 0) return {};
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_SSL) return explain_alert(err, tls);
  return {};
}

Diagnosis diagnose_tls(int fd, const Endpoint& e, const TlsOptions& tls, int timeout_ms) {
  std::string error;
  const std::unique_ptr<SSL_CTX, CtxFree> ctx = tls_context(tls, error);
  if (!ctx) return {error, false};
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return {"TLS: cannot set up OpenSSL", false};
  SSL_set_fd(ssl.get(), fd);
  set_peer_name(ssl.get(), e.host, tls.verify);

  Refused refused;
  // Without verification OpenSSL still reports chain problems to the
  // callback; they are not why the handshake failed then.
  g_refused = tls.verify ? &refused : nullptr;
  const int64_t deadline = steady_ms() + timeout_ms;
  ERR_clear_error();
  bool timed_out = false;
  const int rc = handshake(ssl.get(), fd, deadline, timed_out);
  g_refused = nullptr;
  if (rc != 1) return {handshake_failure(refused, timed_out, e, tls, timeout_ms), false};
  if (std::string why = client_certificate_refusal(ssl.get(), fd, tls); !why.empty())
    return {why, false};
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  return {"TLS works, but the MQTT handshake failed (not an MQTT broker?)", true};
}

}  // namespace

Diagnosis diagnose_connect(const std::string& uri, const TlsOptions& tls, int timeout_ms) {
  const Endpoint e = split(uri);
  Fd fd;
  if (std::string why = tcp_connect(e, timeout_ms, fd); !why.empty()) return {why, false};
  if (config::is_tls_server(uri)) return diagnose_tls(fd.fd, e, tls, timeout_ms);
  return {"TCP connects, but the MQTT handshake failed (not an MQTT broker, or TLS expected?)",
          true};
}

}  // namespace classroom::mqtt
