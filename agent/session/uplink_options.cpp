// The one mapping from the config to the uplink's options (see uplink.hpp).
#include "config.hpp"
#include "session/uplink.hpp"

namespace classroom {

mqtt::Protocol mqtt_protocol(const config::Broker& broker) {
  switch (broker.protocol) {
    case config::Broker::Protocol::v5:
      return mqtt::Protocol::v5;
    case config::Broker::Protocol::v311:
      return mqtt::Protocol::v311;
    case config::Broker::Protocol::automatic:
      break;
  }
  return mqtt::Protocol::automatic;
}

UplinkOptions uplink_options(const config::Config& cfg) {
  const config::Broker& b = cfg.broker;
  UplinkOptions uo;
  uo.group = cfg.identity.group;
  uo.node = cfg.identity.node;
  uo.servers = b.servers;
  uo.client_id = b.client_id;
  uo.username = b.username;
  uo.password = b.password;
  uo.tls.ca_file = b.tls.ca_file;
  uo.tls.cert_file = b.tls.cert_file;
  uo.tls.key_file = b.tls.key_file;
  uo.tls.verify = b.tls.verify;
  uo.keepalive_ms = b.keepalive.count();
  uo.connect_timeout_ms = b.connect_timeout.count();
  uo.retry_min_ms = b.retry_min.count();
  uo.retry_max_ms = b.retry_max.count();
  uo.receipt_topic = b.receipt_topic;
  uo.replay_rate = cfg.spool.replay_rate;
  uo.bdseq_path = cfg.state.dir + "/bdseq";
  uo.max_packet_size = b.max_packet_size;
  uo.primary_host = b.primary_host;
  uo.primary_host_wait_ms = b.primary_host_wait.count();
  uo.protocol = mqtt_protocol(b);
  return uo;
}

}  // namespace classroom
