// Store and forward: nothing lost across broker outages, crashes and a full disk.
#include <sys/mount.h>
#include <unistd.h>
#include <algorithm>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "clock.hpp"
#include "harness.hpp"
#include "spool/spool.hpp"

using namespace harness;
namespace fs = std::filesystem;

namespace {

// Capture time -> historical flag of every System/Uptime value received.
std::map<uint64_t, bool> uptime_samples(Subscriber& sub) {
  return harness::uptime_samples(sub.messages());
}

// Capture time -> the historical flag of each arrival of that System/Uptime
// value, in the order they arrived (a sample delivered twice has two).
std::map<uint64_t, std::vector<bool>> uptime_arrivals(Subscriber& sub) {
  std::map<uint64_t, std::vector<bool>> out;
  std::optional<uint64_t> alias;
  for (const Message& m : sub.messages()) {
    if (m.type() == "NBIRTH") alias = alias_in_birth(m.decoded, "System/Uptime");
    if (m.type() != "NDATA" || !alias) continue;
    if (const auto* metric = find_metric(m.decoded, "", *alias))
      out[metric->timestamp()].push_back(metric->is_historical());
  }
  return out;
}

// How each sample of `wanted` arrived: "<ts>: never", "<ts>: live",
// "<ts>: historical, live" (twice), ... one line each, for a failure message.
std::string describe_arrivals(const std::vector<uint64_t>& wanted, Subscriber& sub) {
  const auto arrivals = uptime_arrivals(sub);
  std::string out;
  for (uint64_t ts : wanted) {
    out += std::to_string(ts) + ":";
    auto it = arrivals.find(ts);
    if (it == arrivals.end()) out += " never";
    for (size_t i = 0; it != arrivals.end() && i < it->second.size(); ++i)
      out += std::string(i ? ", " : " ") + (it->second[i] ? "historical" : "live");
    out += "\n";
  }
  return out;
}

// The largest step between consecutive sample times in [from, to].
int64_t largest_gap(const std::map<uint64_t, bool>& samples, uint64_t from, uint64_t to) {
  int64_t gap = 0;
  std::optional<uint64_t> prev;
  for (auto& [ts, hist] : samples) {
    if (ts < from || ts > to) continue;
    if (prev) gap = std::max<int64_t>(gap, static_cast<int64_t>(ts - *prev));
    prev = ts;
  }
  return gap;
}

// The System/Uptime capture times of every record in a spool directory. Read
// from a copy, so that the reading cannot change what the agent will find.
std::set<uint64_t> uptimes_in_spool(const std::string& spool_dir) {
  TempDir copy;
  fs::copy(spool_dir, copy.path + "/spool", fs::copy_options::recursive);
  classroom::SystemClock clock;
  classroom::Spool spool(classroom::SpoolOptions{copy.path + "/spool", 1ull << 30, 0, false, 1000},
                         clock);
  REQUIRE(spool.open().empty());
  std::set<uint64_t> out;
  classroom::Spool::Cursor c{spool.committed() + 1, 0, 0};
  classroom::Spool::Record r;
  while (spool.read(c, UINT64_MAX, r)) {
    Payload p;
    REQUIRE(p.ParseFromString(r.data));
    if (const auto* m = find_metric(p, "System/Uptime", 0)) out.insert(m->timestamp());
  }
  return out;
}

uint64_t spool_bytes(const std::string& spool_dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(spool_dir, ec))
    if (e.path().extension() == ".seg") total += e.file_size();
  return total;
}

// A small tmpfs the test mounts (root only), removed when the test ends.
struct SmallFs {
  explicit SmallFs(const std::string& path, const std::string& size) : path(path) {
    fs::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallFs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  void remount(bool read_only) {
    REQUIRE(::mount("tmpfs", path.c_str(), "tmpfs", MS_REMOUNT | (read_only ? MS_RDONLY : 0),
                    nullptr) == 0);
  }
  std::string path;
  bool mounted = false;
};

}  // namespace

TEST_CASE("a broker outage loses nothing: the backlog arrives as history, without gaps") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 5, 20s));

  broker.stop();
  const uint64_t down = static_cast<uint64_t>(now_ms());
  REQUIRE(wait_until([&] { return agent.log().find("lost broker") != std::string::npos; }, 10s));
  // The outage: the agent samples into its spool while nobody listens.
  // CLASSROOM_OUTAGE_SECONDS makes it longer than CI can afford.
  const char* env = std::getenv("CLASSROOM_OUTAGE_SECONDS");
  const int outage_s = env ? std::atoi(env) : 4;
  std::this_thread::sleep_for(std::chrono::seconds(outage_s));
  broker.start();
  const uint64_t up = static_cast<uint64_t>(now_ms());

  // Done when samples taken after the broker came back have arrived and the
  // backlog between is complete.
  const bool complete = wait_until(
      [&] {
        auto s = uptime_samples(sub);
        return !s.empty() && s.rbegin()->first > up + 1000 &&
               largest_gap(s, down - 1000, up + 1000) <= 300;
      },
      std::chrono::seconds(30 + outage_s / 2));
  auto samples = uptime_samples(sub);
  INFO("largest gap " << largest_gap(samples, down - 1000, up + 1000) << " ms");
  REQUIRE(complete);
  // Sampled during the outage -> published later, flagged historical.
  int during = 0;
  for (auto& [ts, historical] : samples) {
    if (ts > down + 500 && ts + 500 < up) {
      ++during;
      CHECK(historical);
    }
  }
  CHECK(during >= outage_s * 5 - 5);  // a sample every 200 ms
  // Live samples after the recovery are not historical.
  CHECK_FALSE(samples.rbegin()->second);
  CHECK_THAT(agent.log(), Catch::Contains("to replay at"));
}

TEST_CASE(
    "SIGKILL again and again while the broker is down: with sync=always every stored sample "
    "arrives") {
  Mosquitto broker;
  Subscriber sub(broker.url());
  broker.stop();
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "100ms";
  o.sync = "always";
  Agent agent(dir.path, o);
  const std::string spool_dir = dir.path + "/state/spool";

  std::set<uint64_t> stored;
  for (int round = 0; round < 3; ++round) {
    const uint64_t before = spool_bytes(spool_dir);
    agent.start();
    // Let it store a few batches, then kill it mid-stride.
    REQUIRE(wait_until([&] { return spool_bytes(spool_dir) > before + 2000; }, 20s));
    agent.signal(SIGKILL);
    REQUIRE(agent.wait_exit(5s));
    auto now_stored = uptimes_in_spool(spool_dir);
    CHECK(now_stored.size() > stored.size());
    stored.insert(now_stored.begin(), now_stored.end());
  }
  REQUIRE(stored.size() >= 10);

  broker.start();
  agent.start();
  LogOnFailure show_log(agent);
  const bool all = wait_until(
      [&] {
        auto got = uptime_samples(sub);
        for (uint64_t ts : stored)
          if (!got.count(ts)) return false;
        return true;
      },
      30s);
  auto got = uptime_samples(sub);
  size_t missing = 0;
  for (uint64_t ts : stored) missing += got.count(ts) ? 0 : 1;
  INFO(missing << " of " << stored.size() << " stored samples missing");
  CHECK(all);
  // Nothing corrupt was ever published: every message decodes.
  for (const Message& m : sub.messages()) CHECK(m.is_sparkplug);
}

TEST_CASE("a full disk: the agent keeps the newest backlog that fits, counts the rest, recovers") {
  if (::geteuid() != 0) {
    WARN("skipped: mounting a small filesystem needs root");
    return;
  }
  Mosquitto broker;
  Subscriber sub(broker.url());
  broker.stop();
  TempDir dir;
  SmallFs small(dir.path + "/state", "64k");
  REQUIRE(small.mounted);
  AgentOptions o;
  o.url = broker.url();
  o.interval = "100ms";
  o.max_bytes = "1MiB";  // more than the filesystem holds: the disk fills first
  // A slow replay: the disk stays full for seconds after the agent is back,
  // while live batches keep coming (10 a second).
  o.replay_rate = "20";
  o.extra = "";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string spool_dir = dir.path + "/state/spool";
  REQUIRE(wait_until([&] { return agent.log().find("dropped the") != std::string::npos; }, 60s));
  const uint64_t full = static_cast<uint64_t>(now_ms());
  // The disk stays full of the newest backlog: after the first drop the agent
  // goes on storing (samples taken after it are on disk) and most of the
  // filesystem still holds backlog (only as much as each new batch needs was
  // dropped, not a whole segment or everything).
  REQUIRE(wait_until(
      [&] {
        auto stored = uptimes_in_spool(spool_dir);
        return !stored.empty() && *stored.rbegin() > full + 2000;
      },
      20s));
  const auto kept = uptimes_in_spool(spool_dir);
  INFO(kept.size() << " batches, " << spool_bytes(spool_dir) << " B on disk after the disk filled");
  CHECK(spool_bytes(spool_dir) > 32u << 10);
  CHECK(kept.size() > 100);
  CHECK(*kept.begin() + 2000 < full);  // the backlog reaches back before the disk filled

  broker.start();
  const uint64_t up = static_cast<uint64_t>(now_ms());
  // The agent is alive, publishes live data, and says how much it dropped.
  REQUIRE(sub.wait_for("NBIRTH", 1, 20s));
  auto birth = sub.of_type("NBIRTH").back().decoded;
  auto dropped_alias = alias_in_birth(birth, "Agent/Spool/Dropped Batches");
  REQUIRE(dropped_alias);
  // The drop counter's live values (capture time, value) in the order they
  // arrived, from every birth and every NDATA that is not replayed history
  // (a replayed batch carries the value it had then).
  auto dropped_values = [&] {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    std::optional<uint64_t> alias;
    for (const Message& m : sub.messages()) {
      const Payload::Metric* d = nullptr;
      if (m.type() == "NBIRTH") {
        alias = alias_in_birth(m.decoded, "Agent/Spool/Dropped Batches");
        d = find_metric(m.decoded, "Agent/Spool/Dropped Batches", 0);
      } else if (m.type() == "NDATA" && alias) {
        d = find_metric(m.decoded, "", *alias);
      }
      if (d && !d->is_historical()) out.emplace_back(d->timestamp(), d->long_value());
    }
    return out;
  };
  // The birth shows the counter as the self-metrics source last read it, up
  // to an interval before: drops made just before the agent came online may
  // appear in the next value. Half a second after the birth it has settled.
  // (Report by exception: a value holds until the next one is sent.)
  const uint64_t settled_from = birth.timestamp() + 500;
  auto dropped_at = [&](uint64_t when) {
    std::pair<uint64_t, uint64_t> latest{0, 0};
    for (auto v : dropped_values())
      if (v.first <= when && v.first >= latest.first) latest = v;
    return latest.second;
  };
  auto dropped_settled = [&] { return dropped_at(settled_from); };
  auto dropped_now = [&] { return dropped_at(UINT64_MAX); };
  REQUIRE(wait_until(
      [&] {
        for (const Message& m : sub.of_type("NDATA"))
          if (auto* d = find_metric(m.decoded, "", *dropped_alias); d && d->long_value() > 0)
            return true;
        return find_metric(sub.of_type("NBIRTH").back().decoded, "Agent/Spool/Dropped Batches", 0)
                   ->long_value() > 0;
      },
      20s));
  REQUIRE(wait_until(
      [&] {
        auto s = uptime_samples(sub);
        return !s.empty() && s.rbegin()->first > up + 500;
      },
      20s));
  // The backlog on disk when the broker came back arrives: a run of samples
  // without a gap up to the reconnection, about as many as the disk holds.
  // Until the agent is online again the oldest of them may still be dropped
  // for new batches; once it is online nothing unsent is dropped (a live
  // batch that finds the disk full goes out unstored), so the drop counter
  // stays where it was once the agent was online.
  auto history = [&] {
    std::vector<uint64_t> out;
    for (auto& [ts, historical] : uptime_samples(sub))
      if (historical && ts < up) out.push_back(ts);
    return out;
  };
  // Every batch that was on disk when the disk had filled, from the oldest one
  // delivered on, arrives: the exact set, not a gap in time, so a sample the
  // scheduler took late on a loaded machine cannot fail the test and a lost
  // batch cannot pass it.
  auto missing = [&](const std::vector<uint64_t>& h) {
    std::vector<uint64_t> out;
    for (uint64_t ts : kept)
      if (h.empty() || (ts >= h.front() && !std::binary_search(h.begin(), h.end(), ts)))
        out.push_back(ts);
    return out;
  };
  const bool replayed = wait_until(
      [&] {
        auto h = history();
        return h.size() >= kept.size() / 2 && missing(h).empty();
      },
      30s);
  auto h = history();
  const auto lost = missing(h);
  INFO(h.size() << " historical samples arrived; " << lost.size()
                << " of those on disk missing; largest gap "
                << (h.empty() ? 0 : largest_gap(uptime_samples(sub), h.front(), up - 1000))
                << " ms; the missing ones arrived:\n"
                << describe_arrivals(lost, sub) << "Agent/Spool/Dropped Batches: "
                << dropped_values().front().second << " in the first birth, " << dropped_settled()
                << " half a second later, " << dropped_now() << " now");
  CHECK(replayed);
  CHECK(dropped_now() == dropped_settled());
}

TEST_CASE("a read-only state dir with a backlog: the backlog is still delivered") {
  if (::geteuid() != 0) {
    WARN("skipped: mounting a read-only filesystem needs root");
    return;
  }
  Mosquitto broker;
  Subscriber sub(broker.url());
  broker.stop();
  TempDir dir;
  SmallFs small(dir.path + "/state", "1m");
  REQUIRE(small.mounted);
  AgentOptions o;
  o.url = broker.url();
  o.interval = "100ms";
  Agent agent(dir.path, o);
  const std::string spool_dir = dir.path + "/state/spool";
  agent.start();
  REQUIRE(wait_until([&] { return spool_bytes(spool_dir) > 30 * 400; }, 20s));  // ~300 B a batch
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  const auto stored = uptimes_in_spool(spool_dir);
  REQUIRE(stored.size() >= 20);

  small.remount(true);
  broker.start();
  agent.start();
  LogOnFailure show_log(agent);
  const bool all = wait_until(
      [&] {
        auto got = uptime_samples(sub);
        for (uint64_t ts : stored)
          if (!got.count(ts)) return false;
        return true;
      },
      30s);
  auto got = uptime_samples(sub);
  size_t missing = 0;
  for (uint64_t ts : stored) missing += got.count(ts) ? 0 : 1;
  INFO(missing << " of " << stored.size() << " stored samples missing");
  REQUIRE(all);
  for (uint64_t ts : stored) CHECK(got[ts]);  // as history
  CHECK_THAT(agent.log(), Catch::Contains("is read-only"));
  // Live data flows meanwhile, unstored; once writable, the spool stores again.
  const uint64_t before = static_cast<uint64_t>(now_ms());
  REQUIRE(wait_until(
      [&] {
        auto s = uptime_samples(sub);
        return !s.empty() && s.rbegin()->first > before + 500;
      },
      10s));
  small.remount(false);
  REQUIRE(wait_until([&] { return agent.log().find("writable again") != std::string::npos; }, 20s));
  REQUIRE(wait_until(
      [&] { return agent.log().find("batches are stored before sending") != std::string::npos; },
      10s));
}

TEST_CASE("a read-only state dir: live data still flows, spooling resumes when it is writable") {
  if (::geteuid() != 0) {
    WARN("skipped: mounting a read-only filesystem needs root");
    return;
  }
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  SmallFs small(dir.path + "/state", "1m");
  REQUIRE(small.mounted);
  small.remount(true);
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDATA", 3, 20s));
  CHECK_THAT(agent.log(), Catch::Contains("cannot open the spool"));
  small.remount(false);
  REQUIRE(
      wait_until([&] { return agent.log().find("spool open again") != std::string::npos; }, 20s));
  REQUIRE(wait_until([&] { return spool_bytes(dir.path + "/state/spool") > 0; }, 10s));
}
