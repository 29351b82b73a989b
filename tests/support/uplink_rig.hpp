// The uplink on a fake clock and a fake MQTT client, with a real catalog and
// spool in a temporary directory: the unit tests of the Sparkplug session play
// the broker through it. One rig for every uplink test file.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../unit/temp_dir.hpp"
#include "batch/batcher.hpp"
#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "fake_mqtt_client.hpp"
#include "session/sparkplug.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"

namespace classroom::test_support {

inline uint64_t bdseq_of(const sparkplug::Payload& p) {
  for (const auto& m : p.metrics())
    if (m.name() == "bdSeq") return m.long_value();
  FAIL("no bdSeq");
  return 0;
}

struct Rig {
  TempDir dir;
  FakeClock clock;
  FakeClient client;
  Catalog catalog;
  Spool spool;
  Uplink uplink;
  MetricId counter;
  uint64_t value = 0;

  explicit Rig(double replay_rate = 1000, std::vector<std::string> servers = {"tcp://a:1883"},
               std::string primary_host = "", int64_t primary_host_wait_ms = 0)
      : spool(SpoolOptions{dir / "spool", 1 << 20, 0, false, 1000}, clock),
        uplink(
            options(replay_rate, std::move(servers), std::move(primary_host), primary_host_wait_ms),
            client, catalog, spool, clock) {
    REQUIRE(spool.open().empty());
    counter = catalog.declare("Test/Counter", DataType::UInt64, "");
  }
  UplinkOptions options(double rate, std::vector<std::string> servers,
                        std::string primary_host = "", int64_t primary_host_wait_ms = 0) {
    UplinkOptions o;
    o.primary_host = std::move(primary_host);
    o.primary_host_wait_ms = primary_host_wait_ms;
    o.group = "school";
    o.node = "room";
    o.servers = std::move(servers);
    o.client_id = "school-room";
    o.receipt_topic = "classroom-agent/school/room/receipt";
    o.replay_rate = rate;
    o.retry_min_ms = 1000;
    o.retry_max_ms = 60'000;
    o.bdseq_path = dir / "bdseq";
    return o;
  }
  // One sample: the counter goes up, and the batch goes into the spool.
  uint64_t sample() {
    catalog.set_time(clock.wall_ms());
    catalog.put(counter, ++value);
    sparkplug::Payload record;
    sparkplug::build_record(record, catalog, catalog.changed(), clock.wall_ms());
    catalog.clear_changed();
    return spool.append(record.SerializeAsString(), clock.wall_ms());
  }
  void come_online() {
    uplink.poll();
    uplink.handle({mqtt::Event::Kind::connected, {}, client.connects.back().attempt, {}, {}});
    for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
      uplink.handle({mqtt::Event::Kind::subscribed, {}, 0, {}, {}});
    REQUIRE(uplink.online());
  }
  // The SUBACKs of NCMD, DCMD and the primary host's STATE.
  void ack_subscriptions() {
    for (int ack = 0; ack < 3; ++ack) uplink.handle({mqtt::Event::Kind::subscribed, {}, 0, {}, {}});
  }
  // Connected and subscribed to the commands and the primary host's STATE:
  // waiting for it.
  void connect_to_wait() {
    uplink.poll();
    uplink.handle({mqtt::Event::Kind::connected, {}, client.connects.back().attempt, {}, {}});
    ack_subscriptions();
    REQUIRE(uplink.waiting_for_host());
  }
  void host_state(const std::string& body) {
    mqtt::Event e{mqtt::Event::Kind::message, {}, 0, "spBv1.0/STATE/scada", body};
    uplink.handle(e);
  }
  size_t count(const std::string& type) const { return decoded_count(client, type); }
  static size_t decoded_count(const FakeClient& c, const std::string& type) {
    size_t n = 0;
    for (const Published& p : c.published) n += p.topic.find("/" + type + "/") != p.topic.npos;
    return n;
  }
  void ack_receipts() {
    for (const Published& p : client.published)
      if (p.qos == 1 && p.tag) uplink.handle({mqtt::Event::Kind::delivered, {}, p.tag, {}, {}});
  }
  // Counter values in the NDATA published so far, with their historical flags.
  std::vector<std::pair<uint64_t, bool>> counter_values() const {
    std::vector<std::pair<uint64_t, bool>> out;
    const uint64_t alias = catalog.at(counter).alias;
    for (const auto& p : client.decoded("NDATA"))
      for (const auto& m : p.metrics())
        if (m.alias() == alias) out.emplace_back(m.long_value(), m.is_historical());
    return out;
  }
};

// The node's Rig with devices, fed through the real Batcher.
struct DeviceRig : Rig {
  Batcher batcher{catalog, spool, uplink, clock};
  DeviceId add(const std::string& name) { return catalog.add_device(name); }
  MetricId metric(DeviceId d, const std::string& name) {
    return catalog.declare(d, name, DataType::UInt64, "B");
  }
  void put(MetricId id, uint64_t v) {
    catalog.set_time(clock.wall_ms());
    catalog.put(id, v);
  }
  void flush() { batcher.flush(); }
  // Sparkplug messages (QoS 0) as "TYPE[/device]", in publish order.
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const Published& p : client.published) {
      if (p.qos != 0) continue;
      std::string rest = p.topic.substr(std::string("spBv1.0/school/").size());
      std::string type = rest.substr(0, rest.find('/'));
      const size_t node_end = rest.find('/', type.size() + 1);
      out.push_back(node_end == std::string::npos ? type : type + "/" + rest.substr(node_end + 1));
    }
    return out;
  }
  std::vector<sparkplug::Payload> on(const std::string& topic) const {
    std::vector<sparkplug::Payload> out;
    for (const Published& p : client.published)
      if (p.topic == topic) {
        sparkplug::Payload payload;
        REQUIRE(payload.ParseFromString(p.payload));
        out.push_back(payload);
      }
    return out;
  }
};

inline const sparkplug::PbMetric* named(const sparkplug::Payload& p, const std::string& name) {
  for (const auto& m : p.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

}  // namespace classroom::test_support
