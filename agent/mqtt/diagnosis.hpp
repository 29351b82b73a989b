// Why a connection to the broker failed, in words a technician can act on.
// Paho reports a failed TCP or TLS connect only as "connect failure"; this
// retries the same steps itself (TCP, then the TLS handshake with the same
// files) and says which one broke and why: refused, no answer, host name not
// found, unknown CA, expired, not yet valid, wrong host name, client
// certificate refused. It blocks for a few seconds at most, so it runs on a
// thread of the MQTT client's own, never on the agent's loop nor on Paho's
// thread (which holds Paho's lock while it reports a failure).
#pragma once

#include <string>

#include "mqtt/mqtt_client.hpp"

namespace classroom::mqtt {

struct Diagnosis {
  std::string why;
  // The transport (TCP, and TLS when used) works: what failed is the MQTT
  // handshake itself, perhaps a broker that does not speak MQTT 5.
  bool transport_ok = false;
};

// `uri`: scheme://host:port as in the config. `tls` is used when the scheme is
// a TLS one. `timeout_ms` bounds the TCP connect (all addresses together) and
// the TLS handshake each; a second after a TLS 1.3 handshake is given to the
// broker's verdict on the client certificate. Name resolution is the
// system's (its own timeouts, resolv.conf).
Diagnosis diagnose_connect(const std::string& uri, const TlsOptions& tls, int timeout_ms);

}  // namespace classroom::mqtt
