// Devices in the node's Sparkplug session: DBIRTH, DDATA, DDEATH.
#include <catch2/catch.hpp>

#include "../../support/commands.hpp"
#include "../../support/uplink_rig.hpp"
#include "../log_capture.hpp"

using namespace classroom;
using namespace classroom::test_support;
using K = mqtt::Event::Kind;

TEST_CASE("uplink devices: DBIRTH after the NBIRTH, DDATA by alias, one seq for all") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId rx = rig.metric(sw, "Interfaces/1/Rx Bytes");
  rig.batcher.presence(sw, true);
  rig.put(rx, 100);
  rig.flush();
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  auto kinds = rig.kinds();
  REQUIRE(kinds.size() >= 3);
  CHECK(kinds[0] == "NBIRTH");
  CHECK(kinds[1] == "DBIRTH/switch-6a");
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 1);
  CHECK(births[0].seq() == 1);
  const auto* m = named(births[0], "Interfaces/1/Rx Bytes");
  REQUIRE(m);
  CHECK(m->alias() == rig.catalog.at(rx).alias);
  CHECK(m->long_value() == 100);
  CHECK(m->properties().values(0).string_value() == "B");
  CHECK_FALSE(named(births[0], "bdSeq"));         // the node's, not the device's
  CHECK_FALSE(named(births[0], "Test/Counter"));  // a node metric
  CHECK_FALSE(named(rig.client.decoded("NBIRTH")[0], "Interfaces/1/Rx Bytes"));

  // Interleave node and device data past 255: seq is one counter, 255 -> 0.
  for (int i = 0; i < 300; ++i) {
    rig.put(rx, 200 + static_cast<uint64_t>(i));
    rig.flush();
    rig.sample();
    rig.clock.advance(10);
    rig.uplink.poll();
    rig.ack_receipts();
  }
  uint64_t expected = 0;
  size_t ddata = 0;
  for (const Published& p : rig.client.published) {
    if (p.qos != 0) continue;
    sparkplug::Payload payload;
    REQUIRE(payload.ParseFromString(p.payload));
    INFO(p.topic);
    REQUIRE(payload.seq() == expected);
    expected = (expected + 1) % 256;
    if (p.topic == "spBv1.0/school/DDATA/room/switch-6a") {
      ++ddata;
      REQUIRE(payload.metrics_size() == 1);
      CHECK_FALSE(payload.metrics(0).has_name());
      CHECK(payload.metrics(0).alias() == rig.catalog.at(rx).alias);
      CHECK_FALSE(payload.has_uuid());  // the spool's owner tag stays home
    }
  }
  CHECK(ddata == 301);
  CHECK(expected == (2 + 301 + 301) % 256);
}

TEST_CASE("uplink devices: aliases are unique across the node and devices with the same names") {
  DeviceRig rig;
  const DeviceId a = rig.add("switch-6a"), b = rig.add("ap-6a");
  const MetricId ma = rig.metric(a, "System/Uptime"), mb = rig.metric(b, "System/Uptime");
  const MetricId node = *rig.catalog.find("Test/Counter");
  CHECK(ma != mb);
  CHECK(rig.catalog.at(ma).alias != rig.catalog.at(mb).alias);
  CHECK(rig.catalog.at(ma).alias != rig.catalog.at(node).alias);
  CHECK(rig.catalog.find(a, "System/Uptime") == ma);
  CHECK(rig.catalog.find(b, "System/Uptime") == mb);
  CHECK_FALSE(rig.catalog.find("System/Uptime"));  // not the node's
  rig.batcher.presence(a, true);
  rig.batcher.presence(b, true);
  rig.put(ma, 1);
  rig.put(mb, 2);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto da = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  auto db = rig.on("spBv1.0/school/DDATA/room/ap-6a");
  REQUIRE(da.size() == 1);
  REQUIRE(db.size() == 1);
  CHECK(da[0].metrics(0).alias() == rig.catalog.at(ma).alias);
  CHECK(da[0].metrics(0).long_value() == 1);
  CHECK(db[0].metrics(0).alias() == rig.catalog.at(mb).alias);
  CHECK(db[0].metrics(0).long_value() == 2);
}

TEST_CASE("uplink devices: a rebirth re-sends the DBIRTH of every online device") {
  DeviceRig rig;
  const DeviceId a = rig.add("switch-6a"), b = rig.add("ap-6a"), c = rig.add("ups-6a");
  rig.metric(a, "X");
  rig.metric(b, "X");
  rig.metric(c, "X");
  rig.batcher.presence(a, true);
  rig.batcher.presence(b, true);  // c never answered: offline
  rig.come_online();
  rig.uplink.poll();
  rig.uplink.handle({K::message,
                     {},
                     0,
                     "spBv1.0/school/NCMD/room",
                     harness::rebirth_command().SerializeAsString()});
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a",
                                                "NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a",
                                                "NDATA"});
  auto second = rig.on("spBv1.0/school/DBIRTH/room/switch-6a")[1];
  CHECK(second.seq() == 1);  // after the new NBIRTH's 0
}

TEST_CASE("uplink devices: DDEATH after the device's last data, DBIRTH when it answers again") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.put(up, 1);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  rig.put(up, 2);
  rig.flush();
  rig.clock.advance(1000);
  const int64_t died = rig.clock.wall_ms();
  rig.batcher.presence(sw, false);  // retries + 1 polls unanswered
  CHECK_FALSE(rig.catalog.online(sw));
  rig.uplink.poll();
  rig.clock.advance(1000);
  rig.batcher.presence(sw, true);
  rig.put(up, 3);
  rig.flush();
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a", "DDEATH/switch-6a",
                                                "DBIRTH/switch-6a", "DDATA/switch-6a"});
  auto deaths = rig.on("spBv1.0/school/DDEATH/room/switch-6a");
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].timestamp() == static_cast<uint64_t>(died));
  CHECK(deaths[0].metrics_size() == 0);
  CHECK(deaths[0].seq() == 4);
  // The new birth has the value it answered with.
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK(named(births[1], "System/Uptime")->long_value() == 3);
}

TEST_CASE("uplink devices: after an outage, device batches replay as history under their device") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a"), ap = rig.add("ap-6a");
  const MetricId sw_up = rig.metric(sw, "System/Uptime");
  const MetricId ap_up = rig.metric(ap, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.batcher.presence(ap, true);
  // The broker is away: the switch reports twice, the AP once and then dies.
  rig.put(sw_up, 10);
  rig.put(ap_up, 20);
  rig.flush();
  rig.sample();
  rig.put(sw_up, 11);
  rig.flush();
  rig.batcher.presence(ap, false);
  rig.come_online();
  rig.put(sw_up, 12);  // live
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  rig.clock.advance(1000);
  rig.uplink.poll();
  // The birth knows the switch only (the AP is offline now); live first, then
  // the backlog in its order; the AP is born for its history and dies again
  // at the point its presence record says.
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a", "DBIRTH/ap-6a", "DDATA/ap-6a",
                                                "NDATA", "DDATA/switch-6a", "DDEATH/ap-6a"});
  auto sw_data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(sw_data.size() == 3);
  CHECK(sw_data[0].metrics(0).long_value() == 12);
  CHECK_FALSE(sw_data[0].metrics(0).is_historical());
  CHECK(sw_data[1].metrics(0).long_value() == 10);
  CHECK(sw_data[1].metrics(0).is_historical());
  CHECK(sw_data[2].metrics(0).long_value() == 11);
  CHECK(sw_data[2].metrics(0).is_historical());
  auto ap_data = rig.on("spBv1.0/school/DDATA/room/ap-6a");
  REQUIRE(ap_data.size() == 1);
  CHECK(ap_data[0].metrics(0).alias() == rig.catalog.at(ap_up).alias);
  CHECK(ap_data[0].metrics(0).long_value() == 20);
  CHECK(ap_data[0].metrics(0).is_historical());
  rig.ack_receipts();
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}

TEST_CASE("uplink devices: a past death in the backlog does not kill a device online now") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.put(up, 1);
  rig.flush();
  rig.batcher.presence(sw, false);
  rig.batcher.presence(sw, true);
  rig.put(up, 2);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a"});
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  CHECK(data[0].metrics(0).is_historical());
  CHECK(data[1].metrics(0).is_historical());
}

TEST_CASE("uplink devices: a record of the previous version (no owner) replays as NDATA") {
  DeviceRig rig;
  // Bytes as the previous version wrote them: a Payload with a named metric, no uuid.
  sparkplug::Payload old;
  old.set_timestamp(1000);
  auto* m = old.add_metrics();
  m->set_name("Test/Counter");
  m->set_timestamp(1000);
  m->set_datatype(8);
  m->set_long_value(77);
  rig.spool.append(old.SerializeAsString(), 1000);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  REQUIRE(values.size() == 1);
  CHECK(values[0] == std::pair<uint64_t, bool>{77, true});
}

TEST_CASE("uplink devices: metrics retired by a reload: that device's DBIRTH alone, same aliases") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a"), ap = rig.add("ap-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  const MetricId load = rig.metric(sw, "UPS/Load");
  const MetricId ap_up = rig.metric(ap, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.batcher.presence(ap, true);
  rig.put(up, 1);
  rig.put(load, 31);
  rig.put(ap_up, 7);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  const uint64_t bdseq = bdseq_of(rig.client.decoded("NBIRTH")[0]);

  // A reload drops the switch's UPS profile: its first poll declares the uptime only.
  rig.catalog.mark_unseen(sw);
  rig.catalog.declare(sw, "System/Uptime", DataType::UInt64, "B");
  rig.put(up, 2);
  rig.put(load, 32);  // a value put before the retirement
  REQUIRE(rig.catalog.retire_unseen(sw) == 1);
  rig.put(ap_up, 8);
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{
                           "NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a", "DDATA/switch-6a",
                           "DDATA/ap-6a", "DBIRTH/switch-6a", "DDATA/switch-6a", "DDATA/ap-6a"});
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK_FALSE(named(births[1], "UPS/Load"));
  REQUIRE(named(births[1], "System/Uptime"));
  CHECK(named(births[1], "System/Uptime")->alias() == named(births[0], "System/Uptime")->alias());
  CHECK(named(births[1], "System/Uptime")->long_value() == 2);
  CHECK(births[1].seq() == 5);  // the node's one counter goes on: no NBIRTH
  // The data after it names the kept alias only.
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(data.size() == 2);
  REQUIRE(data[1].metrics_size() == 1);
  CHECK(data[1].metrics(0).alias() == rig.catalog.at(up).alias);
  CHECK(rig.client.decoded("NBIRTH").size() == 1);
  CHECK(bdseq_of(rig.client.decoded("NBIRTH")[0]) == bdseq);

  // Later polls: no more births.
  rig.put(up, 3);
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.on("spBv1.0/school/DBIRTH/room/switch-6a").size() == 2);
}

TEST_CASE("uplink devices: a spooled batch naming a retired device metric is still sent") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  const MetricId load = rig.metric(sw, "UPS/Load");
  rig.batcher.presence(sw, true);
  // The broker is away while the switch reports its UPS load ...
  rig.put(up, 1);
  rig.put(load, 31);
  rig.flush();
  // ... and a reload drops the UPS profile before it is back.
  rig.catalog.mark_unseen(sw);
  rig.catalog.declare(sw, "System/Uptime", DataType::UInt64, "B");
  REQUIRE(rig.catalog.retire_unseen(sw) == 1);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  // The birth lacks it; the backlog brings it back (same alias) with a full
  // rebirth before the data that names it: nothing lost, no unknown alias.
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "NBIRTH",
                                                "DBIRTH/switch-6a", "DDATA/switch-6a"});
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK_FALSE(named(births[0], "UPS/Load"));
  REQUIRE(named(births[1], "UPS/Load"));
  CHECK(named(births[1], "UPS/Load")->alias() == rig.catalog.at(load).alias);
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(data.size() == 1);
  bool sent = false;
  for (const auto& m : data[0].metrics())
    sent = sent ||
           (m.alias() == rig.catalog.at(load).alias && m.long_value() == 31 && m.is_historical());
  CHECK(sent);
  rig.ack_receipts();
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}
