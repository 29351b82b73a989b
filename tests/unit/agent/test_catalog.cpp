#include <catch2/catch.hpp>

#include <string>
#include <vector>

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

TEST_CASE("catalog: a device keeps its longest retired metrics up to a limit and reuses the rest") {
  Catalog c;
  const DeviceId sw = c.add_device("switch-6a");
  const DeviceId ap = c.add_device("ap-6a");
  const MetricId ap_metric = c.declare(ap, "System/Uptime", DataType::Double, "s");
  c.set_retired_limit(sw, 2);
  auto retire_all_but = [&](const std::vector<std::string>& kept) {
    c.mark_unseen(sw);
    for (const std::string& name : kept) c.declare(sw, name, DataType::UInt64, "B");
    return c.retire_unseen(sw);
  };
  const MetricId a = c.declare(sw, "Interfaces/if1/Rx Bytes", DataType::UInt64, "B");
  const MetricId b = c.declare(sw, "Interfaces/if2/Rx Bytes", DataType::UInt64, "B");
  c.declare(sw, "Interfaces/if3/Rx Bytes", DataType::UInt64, "B");
  c.set_time(1000);
  c.put(a, uint64_t{7});
  const size_t size = c.size();

  // if1 goes, then if2, then if3: two of them are kept, the first one to go is forgotten.
  CHECK(retire_all_but({"Interfaces/if2/Rx Bytes", "Interfaces/if3/Rx Bytes"}) == 1);
  CHECK(retire_all_but({"Interfaces/if3/Rx Bytes"}) == 1);
  CHECK(c.retired_count(sw) == 2);
  CHECK(c.find(sw, "Interfaces/if1/Rx Bytes"));
  CHECK(retire_all_but({}) == 1);
  CHECK(c.retired_count(sw) == 2);
  CHECK_FALSE(c.find(sw, "Interfaces/if1/Rx Bytes"));  // forgotten: name and value freed
  CHECK(c.at(a).name.empty());
  CHECK(std::holds_alternative<std::monostate>(c.at(a).value));
  CHECK(c.at(a).retired);  // out of every birth
  CHECK(c.find(sw, "Interfaces/if2/Rx Bytes") == b);

  // A kept one comes back under its alias; a new one takes the forgotten slot.
  CHECK(c.declare(sw, "Interfaces/if2/Rx Bytes", DataType::UInt64, "B") == b);
  CHECK(c.retired_count(sw) == 1);
  const uint64_t gen = c.generation(sw), additions = c.additions(sw);
  const MetricId e = c.declare(sw, "Interfaces/if9/Rx Bytes", DataType::UInt64, "B");
  CHECK(e == a);
  CHECK(c.at(e).name == "Interfaces/if9/Rx Bytes");
  CHECK(c.at(e).alias == c.at(a).alias);
  CHECK_FALSE(c.at(e).retired);
  CHECK(c.generation(sw) == gen + 1);  // new in the birth: a rebirth
  CHECK(c.additions(sw) == additions + 1);
  CHECK(c.size() == size);
  // The forgotten one comes back as a new metric, in a new slot.
  const MetricId back = c.declare(sw, "Interfaces/if1/Rx Bytes", DataType::UInt64, "B");
  CHECK(back == size);
  CHECK(c.metric_count(sw) == 3);

  // Renumbered forever: the catalog stays at what is published plus the limit.
  for (int round = 0; round < 50; ++round) {
    const std::string name = "Interfaces/r" + std::to_string(round) + "/Rx Bytes";
    retire_all_but({});  // the old set is retired first
    c.declare(sw, name, DataType::UInt64, "B");
  }
  CHECK(c.size() <= size + 2);
  CHECK(c.metric_count(sw) == 1);
  CHECK(c.retired_count(sw) == 2);
  // The other device never lent or lost a slot.
  CHECK(c.at(ap_metric).owner == ap);
  CHECK(c.at(ap_metric).name == "System/Uptime");

  // A lower limit forgets at once; the node keeps every retired metric by default.
  c.set_retired_limit(sw, 0);
  CHECK(c.retired_count(sw) == 0);
  const MetricId n = c.declare("Network/eth0/Rx Bytes", DataType::UInt64, "B");
  c.mark_unseen(kNode);
  CHECK(c.retire_unseen(kNode) == 1);
  CHECK(c.find("Network/eth0/Rx Bytes") == n);
}

// The index by name is a hash table whose forgotten names leave no holes: a
// device that churns thousands of names finds each of the others, always.
TEST_CASE("catalog: names stay found through thousands of declared and forgotten ones") {
  Catalog c;
  const DeviceId sw = c.add_device("switch-6a");
  c.set_retired_limit(sw, 8);
  std::vector<std::string> live;
  for (int i = 0; i < 3000; ++i) live.push_back("Radios/r" + std::to_string(i) + "/Clients");
  for (const std::string& n : live) c.declare(sw, n, DataType::UInt64, "");
  uint64_t seed = 7;
  auto next = [&] {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    return static_cast<size_t>(seed >> 33);
  };
  for (int round = 0; round < 20; ++round) {
    // A third of the rows go (and past the limit are forgotten), new ones come.
    std::vector<std::string> kept;
    for (const std::string& n : live)
      if (next() % 3) kept.push_back(n);
    c.mark_unseen(sw);
    for (const std::string& n : kept) c.declare(sw, n, DataType::UInt64, "");
    c.retire_unseen(sw);
    for (size_t k = kept.size(); k < 3000; ++k)
      kept.push_back("Radios/n" + std::to_string(round) + "-" + std::to_string(k) + "/Clients");
    for (const std::string& n : kept) c.declare(sw, n, DataType::UInt64, "");
    live = kept;
    size_t found = 0;
    for (const std::string& n : live)
      if (auto id = c.find(sw, n); id && c.at(*id).name == n && !c.at(*id).retired) ++found;
    REQUIRE(found == live.size());
    REQUIRE(c.metric_count(sw) == live.size());
  }
  CHECK_FALSE(c.find(sw, "Radios/never/Clients"));
  CHECK(c.size() <= 3000 + 8 + 3000);  // slots of forgotten names reused
}
