#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"

using namespace classroom;

TEST_CASE("catalog: declare is idempotent and a new name bumps the generation") {
  Catalog c;
  const uint64_t g0 = c.generation();
  MetricId a = c.declare("System/Load/1m", DataType::Float, "");
  CHECK(c.generation() == g0 + 1);
  CHECK(c.declare("System/Load/1m", DataType::Float, "") == a);
  CHECK(c.generation() == g0 + 1);
  MetricId b = c.declare("System/Uptime", DataType::Double, "s");
  CHECK(b != a);
  CHECK(c.generation() == g0 + 2);
  CHECK(c.find("System/Uptime") == b);
  CHECK_FALSE(c.find("nope"));
  // Aliases are unique and never 0.
  CHECK(c.at(a).alias != 0);
  CHECK(c.at(a).alias != c.at(b).alias);
}

TEST_CASE("catalog: report by exception") {
  Catalog c;
  MetricId a = c.declare("A", DataType::UInt64, "");
  MetricId b = c.declare("B", DataType::UInt64, "");
  c.set_time(1000);
  c.put(a, uint64_t{1});
  c.put(b, uint64_t{2});
  CHECK(c.changed() == std::vector<MetricId>{a, b});
  c.clear_changed();
  c.set_time(2000);
  c.put(a, uint64_t{1});  // unchanged
  c.put(b, uint64_t{3});
  CHECK(c.changed() == std::vector<MetricId>{b});
  CHECK(c.at(a).ts_ms == 2000);  // still the latest capture time
  c.put(b, uint64_t{4});         // twice in one collection: listed once
  CHECK(c.changed().size() == 1);
}

TEST_CASE("catalog: a value of the wrong type is refused") {
  Catalog c;
  MetricId a = c.declare("A", DataType::Float, "");
  c.put(a, uint64_t{1});
  CHECK(std::holds_alternative<std::monostate>(c.at(a).value));
  CHECK(c.changed().empty());
}

TEST_CASE("catalog: a reload retires what no source declares again, and keeps aliases") {
  Catalog c;
  MetricId kept = c.declare("System/Uptime", DataType::Double, "s");
  MetricId gone = c.declare("Network/eth0/Rx Bytes", DataType::UInt64, "B");
  c.put(gone, uint64_t{5});
  const uint64_t before = c.generation();

  // The reload: the new sources declare only the uptime.
  c.mark_unseen(kNode);
  CHECK(c.declare("System/Uptime", DataType::Double, "s") == kept);
  CHECK(c.retire_unseen(kNode) == 1);
  CHECK(c.at(gone).retired);
  CHECK_FALSE(c.at(kept).retired);
  CHECK(c.metric_count(kNode) == 1);
  CHECK(c.generation() == before + 1);  // one rebirth
  CHECK(c.changed().empty());           // nothing may name the retired alias
  // Nothing to retire the second time: no new generation.
  c.mark_unseen(kNode);
  c.declare("System/Uptime", DataType::Double, "s");
  CHECK(c.retire_unseen(kNode) == 0);
  CHECK(c.generation() == before + 1);

  // A later reload brings the source back: same alias, a new generation.
  const uint64_t alias = c.at(gone).alias;
  CHECK(c.declare("Network/eth0/Rx Bytes", DataType::UInt64, "B") == gone);
  CHECK_FALSE(c.at(gone).retired);
  CHECK(c.at(gone).alias == alias);
  CHECK(c.metric_count(kNode) == 2);
  CHECK(c.generation() == before + 2);
}

TEST_CASE("catalog: a device's metrics retire on their own, additions count only growth") {
  Catalog c;
  const MetricId node = c.declare("System/Uptime", DataType::Double, "s");
  const DeviceId sw = c.add_device("switch-6a");
  const DeviceId ap = c.add_device("ap-6a");
  const MetricId up = c.declare(sw, "System/Uptime", DataType::Double, "s");
  const MetricId load = c.declare(sw, "UPS/Load", DataType::Float, "%");
  const MetricId ap_load = c.declare(ap, "UPS/Load", DataType::Float, "%");
  CHECK(c.additions(sw) == 2);
  CHECK(c.generation(sw) == 2);
  c.set_time(1000);
  c.put(up, 5.0);
  c.put(load, 31.0f);
  c.put(ap_load, 12.0f);
  const uint64_t node_gen = c.generation(), ap_gen = c.generation(ap);

  // The switch's new config has no UPS profile: its first poll declares the uptime only.
  c.mark_unseen(sw);
  CHECK(c.declare(sw, "System/Uptime", DataType::Double, "s") == up);
  CHECK(c.retire_unseen(sw) == 1);
  CHECK(c.at(load).retired);
  CHECK_FALSE(c.at(up).retired);
  CHECK(c.metric_count(sw) == 1);
  CHECK(c.generation(sw) == 3);  // one DBIRTH
  CHECK(c.additions(sw) == 2);   // nothing new: no birth lacks a metric
  // The retired value is no longer in the changes; the others' are.
  CHECK(c.changed() == std::vector<MetricId>{up, ap_load});
  // Nothing else moved: the node, the other device with the same name.
  CHECK_FALSE(c.at(node).retired);
  CHECK_FALSE(c.at(ap_load).retired);
  CHECK(c.generation() == node_gen);
  CHECK(c.generation(ap) == ap_gen);
  CHECK(c.metric_count(ap) == 1);

  // Brought back (a spooled record names it, or a later reload): same alias, growth.
  const uint64_t alias = c.at(load).alias;
  CHECK(c.declare(sw, "UPS/Load", DataType::Float, "%") == load);
  CHECK_FALSE(c.at(load).retired);
  CHECK(c.at(load).alias == alias);
  CHECK(c.generation(sw) == 4);
  CHECK(c.additions(sw) == 3);
  CHECK(c.metric_count(sw) == 2);
}
