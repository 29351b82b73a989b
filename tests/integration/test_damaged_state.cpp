// A state dir damaged as a field gateway's may be, then a real agent and a real
// broker: everything still readable arrives, flagged historical; what cannot
// be read is counted exactly in Agent/Spool/Lost Batches and said once.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "clock.hpp"
#include "harness.hpp"
#include "spool/spool.hpp"

using namespace harness;
namespace fs = std::filesystem;

namespace {

// id -> System/Uptime capture time of every record in a spool.
std::map<uint64_t, uint64_t> records_by_id(const std::string& spool_dir) {
  classroom::SystemClock clock;
  classroom::Spool spool(classroom::SpoolOptions{spool_dir, 1ull << 30, 0, false, 1000}, clock);
  REQUIRE(spool.open().empty());
  std::map<uint64_t, uint64_t> out;
  classroom::Spool::Cursor c{spool.committed() + 1, 0, 0};
  classroom::Spool::Record r;
  while (spool.read(c, UINT64_MAX, r)) {
    Payload p;
    REQUIRE(p.ParseFromString(r.data));
    if (const auto* m = find_metric(p, "System/Uptime", 0)) out[r.id] = m->timestamp();
  }
  return out;
}

// Every System/Uptime capture time received, and whether it came as history.
std::map<uint64_t, bool> received_uptimes(Subscriber& sub) {
  std::map<uint64_t, bool> out;
  std::optional<uint64_t> alias;
  for (const Message& m : sub.messages()) {
    if (m.type() == "NBIRTH") alias = alias_in_birth(m.decoded, "System/Uptime");
    if (m.type() != "NDATA" || !alias) continue;
    if (const auto* metric = find_metric(m.decoded, "", *alias))
      out.emplace(metric->timestamp(), metric->is_historical());
  }
  return out;
}

// The newest live value of a metric, from births and data (the replayed
// backlog carries old values of the agent's own metrics, flagged historical).
std::optional<uint64_t> latest(Subscriber& sub, const std::string& name) {
  std::optional<uint64_t> alias, value;
  for (const Message& m : sub.messages()) {
    if (m.type() == "NBIRTH") {
      alias = alias_in_birth(m.decoded, name);
      if (const auto* metric = find_metric(m.decoded, name, 0)) value = metric->long_value();
    } else if (m.type() == "NDATA" && alias) {
      if (const auto* metric = find_metric(m.decoded, "", *alias);
          metric && !metric->is_historical())
        value = metric->long_value();
    }
  }
  return value;
}

// (id, offset, end) of each record in a segment file, from the headers.
struct Framed {
  uint64_t id, offset, end;
};
std::vector<Framed> framing(const fs::path& seg) {
  const std::string data = read_file(seg.string());
  std::vector<Framed> out;
  uint64_t off = 0;
  while (off + classroom::Spool::kHeaderSize <= data.size()) {
    uint32_t len;
    uint64_t id;
    std::memcpy(&len, data.data() + off + 4, 4);
    std::memcpy(&id, data.data() + off + 8, 8);
    out.push_back({id, off, off + classroom::Spool::kHeaderSize + len});
    off = out.back().end;
  }
  return out;
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a damaged state dir: all that is readable arrives, the rest is counted once") {
  Mosquitto broker;
  Subscriber sub(broker.url());
  broker.stop();
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "100ms";
  Agent agent(dir.path, o);
  const std::string spool_dir = dir.path + "/state/spool";

  // A backlog, stored by the agent itself while the broker is down.
  agent.start();
  REQUIRE(wait_until([&] { return agent.log().find("unreachable") != std::string::npos; }, 10s));
  REQUIRE(wait_until(
      [&] {
        std::error_code ec;
        uint64_t bytes = 0;
        for (auto& e : fs::directory_iterator(spool_dir, ec)) bytes += e.file_size(ec);
        return bytes > 40 * 400;  // ~300 B a batch
      },
      20s));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);

  // Re-store the same records in small segments (4 records each; the ids and
  // capture times stay), as a long outage leaves many segments.
  const auto stored = records_by_id(spool_dir);
  REQUIRE(stored.size() >= 40);
  REQUIRE(stored.begin()->first == 1);
  {
    TempDir copy;
    fs::copy(spool_dir, copy.path + "/spool", fs::copy_options::recursive);
    fs::remove_all(spool_dir);
    classroom::FakeClock clock;
    classroom::Spool from(classroom::SpoolOptions{copy.path + "/spool", 1ull << 30, 0, false, 1000},
                          clock);
    REQUIRE(from.open().empty());
    uint64_t size = 0;
    {
      classroom::Spool::Cursor c{1, 0, 0};
      classroom::Spool::Record r;
      REQUIRE(from.read(c, UINT64_MAX, r));  // the first batch holds every metric
      REQUIRE(from.read(c, UINT64_MAX, r));  // the others only what changed
      size = classroom::Spool::kHeaderSize + r.data.size();
    }
    classroom::Spool to(
        classroom::SpoolOptions{spool_dir, 1ull << 30, 4 * size + size / 2, true, 0}, clock);
    REQUIRE(to.open().empty());
    classroom::Spool::Cursor c{1, 0, 0};
    classroom::Spool::Record r;
    while (from.read(c, UINT64_MAX, r)) REQUIRE(to.append(r.data, r.ts_ms) == r.id);
  }
  std::vector<fs::path> segs;
  for (auto& e : fs::directory_iterator(spool_dir))
    if (e.path().extension() == ".seg") segs.push_back(e.path());
  std::sort(segs.begin(), segs.end());
  REQUIRE(segs.size() >= 8);
  auto first_id = [](const fs::path& p) { return std::stoull(p.stem().string()); };

  // The damage, and the ids it costs.
  std::set<uint64_t> lost;
  // 1. The committed marker says something absurd.
  write_file(spool_dir + "/committed", "-5\n");
  // 2. The second segment is cut in the middle of its third record: that
  //    record and the ones after it go.
  {
    const auto records = framing(segs[1]);
    REQUIRE(records.size() >= 3);
    fs::resize_file(segs[1], records[2].offset + 40);
    for (size_t k = 2; k < records.size(); ++k) lost.insert(records[k].id);
  }
  // 3. A byte in the payload of the fourth segment's first record flips.
  {
    const auto records = framing(segs[3]);
    std::string data = read_file(segs[3].string());
    data[40] ^= 0x10;
    std::ofstream(segs[3], std::ios::binary | std::ios::trunc) << data;
    lost.insert(records[0].id);
  }
  // 4. The sixth segment is a directory now.
  {
    const uint64_t f = first_id(segs[5]), next = first_id(segs[6]);
    fs::remove(segs[5]);
    fs::create_directory(segs[5]);
    for (uint64_t id = f; id < next; ++id) lost.insert(id);
  }
  // 5. A stray file whose name would wrap the ids.
  write_file(spool_dir + "/18446744073709551615.seg", "");

  broker.start();
  const uint64_t up = static_cast<uint64_t>(now_ms());
  agent.start();
  LogOnFailure show_log(agent);
  // Everything still readable arrives, as history.
  auto all_arrived = [&] {
    auto got = received_uptimes(sub);
    for (auto [id, ts] : stored)
      if (!lost.count(id) && !got.count(ts)) return false;
    return true;
  };
  const bool complete = wait_until(all_arrived, 30s);
  auto got = received_uptimes(sub);
  size_t missing = 0;
  for (auto [id, ts] : stored) {
    if (lost.count(id)) continue;
    if (!got.count(ts))
      ++missing;
    else
      CHECK(got[ts]);  // historical
  }
  INFO(missing << " of " << stored.size() - lost.size() << " readable batches missing");
  REQUIRE(complete);
  // Exactly what could not be read is counted, and live data flows.
  std::string lost_ids;
  for (uint64_t id : lost) lost_ids += std::to_string(id) + " ";
  INFO("lost by the damage: " << lost_ids << "; counted: "
                              << latest(sub, "Agent/Spool/Lost Batches").value_or(999999));
  REQUIRE(wait_until([&] { return latest(sub, "Agent/Spool/Lost Batches") == lost.size(); }, 10s));
  REQUIRE(wait_until(
      [&] {
        auto g = received_uptimes(sub);
        return !g.empty() && g.rbegin()->first > up + 1000 && !g.rbegin()->second;
      },
      20s));
  // The backlog is delivered: nothing waits any more.
  REQUIRE(wait_until([&] { return latest(sub, "Agent/Spool/Pending Batches") == 0u; }, 20s));
  // Said once each.
  const std::string log = agent.log();
  CHECK(count(log, "committed marker") == 1);
  CHECK(count(log, "cannot be sent") == 1);
  CHECK(count(log, "not spool segments") == 1);
  CHECK(count(log, "cannot use ") == 1);
  CHECK(count(log, "18446744073709551615.seg") == 1);
  // A lost batch is never counted again: a restart finds nothing new.
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
}
