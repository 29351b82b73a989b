// The durability promise, proven on a model of a disk that loses power
// (tests/unit/power_cut_fs.hpp): it keeps only what was synced, and maybe a
// torn part of the rest. The power is cut at every operation that changes the
// disk, in a run that appends, rotates, confirms, deletes and drops; after each
// cut the spool must open, read back nothing corrupt, and hold every batch that
// append() acknowledged and that was neither confirmed nor dropped.
#include <catch2/catch.hpp>
#include <set>

#include "../power_cut_fs.hpp"
#include "spool/commit_marker.hpp"
#include "spool/spool.hpp"
#include "spool_test_util.hpp"

using namespace classroom;
using namespace spool_test;

namespace {

constexpr const char* kDir = "/state/spool";

struct Run {
  std::set<uint64_t> must_survive;
  long ops = 0;
};

// One run of the workload on `fs`, which may lose power part-way.
Run workload(PowerCutFs& fs, bool sync_always, uint64_t max_bytes) {
  FakeClock clock;
  SpoolOptions o = opts(kDir, max_bytes, 300);  // four records a segment
  o.sync_always = sync_always;
  o.io = &fs;
  Run run;
  std::vector<std::pair<uint64_t, int64_t>> acked;  // id, steady time of the ack
  {
    Spool spool(o, clock);
    if (!spool.open().empty()) return run;
    for (uint64_t i = 1; i <= 40 && !fs.dead(); ++i) {
      const uint64_t id = spool.append(batch(i, 40 + i % 7), static_cast<int64_t>(i));
      if (id != 0) acked.emplace_back(id, clock.steady_ms());  // an ack is a promise, cut or not
      if (i % 6 == 0) spool.commit(id > 3 ? id - 3 : 0);       // the broker confirms, with a lag
      clock.advance(250);
      spool.maintain();
    }
    if (!fs.dead()) spool.sync_all();
    // What had to survive: acknowledged, not confirmed, not dropped; under
    // sync = 1s only what was acknowledged more than the interval ago plus one
    // step (maintain() syncs at most that late).
    for (auto [id, at] : acked) {
      if (id <= spool.committed()) continue;
      if (sync_always || clock.steady_ms() - at > 1000 + 250) run.must_survive.insert(id);
    }
    run.ops = fs.ops();
  }  // (the destructor's sync fails on a dead disk: nothing more is saved)
  return run;
}

void check_recovery(PowerCutFs& disk, const Run& run, const std::string& where) {
  FakeClock clock;
  SpoolOptions o = opts(kDir, 1 << 20, 300);
  o.io = &disk;
  Spool spool(o, clock);
  const std::string error = spool.open();
  INFO(where);
  REQUIRE(error.empty());
  std::set<uint64_t> found;
  Spool::Cursor c{1, 0, 0};
  Spool::Record r;
  while (spool.read(c, UINT64_MAX, r)) {
    REQUIRE(r.data == batch(r.id, 40 + r.id % 7));  // nothing corrupt is ever read back
    found.insert(r.id);
  }
  for (uint64_t id : run.must_survive) {
    INFO("acknowledged batch " << id << " is missing");
    REQUIRE(found.count(id));
  }
  // And the spool goes on.
  REQUIRE(spool.append("after", 1) != 0);
}

void cut_everywhere(bool sync_always, uint64_t max_bytes) {
  long total = 0;
  {
    PowerCutFs fs;
    REQUIRE(fs.mkdir("/state", 0750) == 0);
    total = workload(fs, sync_always, max_bytes).ops;
  }
  REQUIRE(total > 80);
  size_t checked = 0;
  for (long cut = 1; cut <= total; ++cut) {
    PowerCutFs fs;
    REQUIRE(fs.mkdir("/state", 0750) == 0);
    fs.cut_after(cut);
    const Run run = workload(fs, sync_always, max_bytes);
    for (auto what : PowerCutFs::kAllVariants) {
      auto disk = fs.after_power_cut(what);
      check_recovery(*disk, run,
                     "power cut at operation " + std::to_string(cut) + " of " +
                         std::to_string(total) + ", unsynced variant " +
                         std::to_string(static_cast<int>(what)));
      checked += run.must_survive.size();
    }
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("power cut at every write with sync=always: every acknowledged batch survives") {
  cut_everywhere(true, 1 << 20);
}

TEST_CASE("power cut at every write with sync=always while the spool is full and drops") {
  cut_everywhere(true, 1200);  // max_bytes: about 15 records
}

TEST_CASE("power cut at every write with sync=1s: only the last interval may be lost") {
  cut_everywhere(false, 1 << 20);
}

TEST_CASE("a full disk drops only as much of the oldest backlog as the new batch needs") {
  PowerCutFs fs(8);  // a 32 KiB disk
  REQUIRE(fs.mkdir("/state", 0750) == 0);
  FakeClock clock;
  SpoolOptions o = opts(kDir, 1 << 20);  // max_bytes beyond the disk: the disk fills first
  o.io = &fs;
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  const size_t size = 172;  // 200 B records: 20 fit in a block
  uint64_t i = 1;
  // One batch a second, the loop's maintain() after each (it syncs them).
  while (spool.stats().dropped == 0) {
    REQUIRE(spool.append(batch(i, size), 0) == i);
    clock.advance(1000);
    spool.maintain();
    ++i;
    REQUIRE(i < 1000);
  }
  // The first drop freed two blocks: one for the new batch, one for the
  // committed marker, saved for the first time (it must say what was dropped).
  // 21 batches a block at most (a record may straddle two).
  SpoolStats s = spool.stats();
  CHECK(s.dropped <= 2 * 21);
  CHECK(s.pending + s.dropped == i - 1);
  // Keep going: the disk stays full of the newest backlog, every batch is
  // either still there or counted, and each drop is small.
  for (int k = 0; k < 500; ++k, ++i) {
    const uint64_t before = spool.stats().dropped;
    REQUIRE(spool.append(batch(i, size), 0) == i);
    clock.advance(1000);
    spool.maintain();
    INFO("append " << k);
    CHECK(spool.stats().dropped - before <= 21);
  }
  s = spool.stats();
  CHECK(s.pending + s.dropped == i - 1);
  CHECK(s.pending * 200 > 6 * PowerCutFs::kBlock);  // most of the 32 KiB still holds backlog
  auto all = read_all(spool);
  REQUIRE(all.size() == s.pending);
  CHECK(all.back().id == i - 1);  // the newest survive, in order
  for (size_t k = 1; k < all.size(); ++k) REQUIRE(all[k].id == all[k - 1].id + 1);
  for (const auto& r : all) REQUIRE(r.data == batch(r.id, size));
  CHECK(s.lost == 0);
}

TEST_CASE("a full disk that cannot punch holes: the oldest whole segment goes, counted") {
  PowerCutFs fs(16);  // 64 KiB
  fs.can_punch_holes = false;
  REQUIRE(fs.mkdir("/state", 0750) == 0);
  FakeClock clock;
  SpoolOptions o = opts(kDir, 1 << 20, 8192);  // 8 KiB segments
  o.io = &fs;
  Spool full(o, clock);
  REQUIRE(full.open().empty());
  uint64_t i = 1;
  for (; i <= 1000; ++i) REQUIRE(full.append(batch(i, 172), 0) == i);
  const SpoolStats s = full.stats();
  CHECK(s.dropped > 0);
  CHECK(s.pending + s.dropped == 1000);
  CHECK(s.pending * 200 > 8 * PowerCutFs::kBlock);  // more than half the disk still holds backlog
  auto all = read_all(full);
  REQUIRE(all.size() == s.pending);
  CHECK(all.back().id == 1000);
  for (size_t k = 1; k < all.size(); ++k) REQUIRE(all[k].id == all[k - 1].id + 1);
}

TEST_CASE("a full disk while online: confirmed batches make room, unsent ones are never dropped") {
  PowerCutFs fs(8);  // a 32 KiB disk
  REQUIRE(fs.mkdir("/state", 0750) == 0);
  FakeClock clock;
  SpoolOptions o = opts(kDir, 1 << 20);  // max_bytes beyond the disk: the disk fills first
  o.io = &fs;
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  const size_t size = 172;  // 200 B records
  uint64_t i = 1;
  while (spool.stats().dropped == 0) REQUIRE(spool.append(batch(i++, size), 0) != 0);
  const uint64_t dropped = spool.stats().dropped;

  // Nothing confirmed: what room the drop left is used, then a batch is
  // refused, and nothing unsent goes.
  std::string error;
  for (int spare = 0; spool.append(batch(i, size), 0, &error, Spool::Overflow::keep_unsent) != 0;
       ++spare, ++i)
    REQUIRE(spare < 50);
  CHECK_THAT(error, Catch::Contains("full of batches still to be sent"));
  const uint64_t newest = i - 1;
  const SpoolStats full = spool.stats();
  CHECK(full.dropped == dropped);
  CHECK(full.pending + full.dropped == newest);

  // The broker confirms the oldest 30 (a block and a half): their space is
  // enough for the next batches, and still nothing unsent is dropped.
  const uint64_t oldest = read_all(spool).front().id;
  spool.commit(oldest + 29);
  int stored = 0;
  while (spool.append(batch(i, size), 0, nullptr, Spool::Overflow::keep_unsent) != 0) {
    ++stored;
    ++i;
    REQUIRE(stored < 100);
  }
  CHECK(stored >= 20);  // at least the whole block the confirmed ones held
  CHECK(spool.stats().dropped == full.dropped);
  auto all = read_all(spool);
  REQUIRE(all.size() == full.pending - 30 + static_cast<uint64_t>(stored));
  CHECK(all.front().id == oldest + 30);
  CHECK(all.back().id == newest + static_cast<uint64_t>(stored));
  for (size_t k = 1; k < all.size(); ++k) REQUIRE(all[k].id == all[k - 1].id + 1);
  for (const auto& r : all) REQUIRE(r.data == batch(r.id, size));
}

TEST_CASE("the committed marker after a power cut at any write holds a value saved, never a mix") {
  // Increasing, as confirmations are; halves of two of them would make others.
  const std::vector<uint64_t> values = {1,      9,       10,           99,           100,
                                        999999, 1000000, 123456789012, 987654321098, 987654321099};
  const std::string path = "/state/committed";
  for (const bool sync : {false, true}) {
    long total = 0;
    {
      PowerCutFs fs;
      REQUIRE(fs.mkdir("/state", 0750) == 0);
      CommitMarker m(fs, path);
      for (uint64_t v : values) REQUIRE(m.write(v, sync));
      total = fs.ops();
      CHECK(m.read().value == values.back());
    }
    for (long cut = 1; cut <= total; ++cut) {
      PowerCutFs fs;
      REQUIRE(fs.mkdir("/state", 0750) == 0);
      fs.cut_after(cut);
      std::set<uint64_t> written;
      uint64_t saved = 0;  // the last value a synced write said was on disk
      {
        CommitMarker m(fs, path);
        for (uint64_t v : values) {
          written.insert(v);
          if (m.write(v, sync) && sync) saved = v;
        }
      }
      for (auto what : PowerCutFs::kAllVariants) {
        auto disk = fs.after_power_cut(what);
        CommitMarker m(*disk, path);
        const NumberFile f = m.read();
        INFO("sync " << sync << ", cut at " << cut << " of " << total << ", variant "
                     << static_cast<int>(what) << ": " << f.reason);
        if (f.state == NumberFile::State::ok) {
          CHECK(written.count(f.value) == 1);
          CHECK(f.value >= saved);
        } else {
          CHECK(saved == 0);  // only a marker never synced may be missing or damaged
        }
        // And the marker is saved again after it.
        REQUIRE(m.write(values.back() + 1, sync));
        CHECK(m.read().value == values.back() + 1);
      }
    }
  }
}

TEST_CASE("the committed marker never points past the batches on disk after a power cut") {
  // Confirmations come some 50 ms after a batch is stored, its sync up to an
  // interval later: a marker saved (or synced, when a segment is deleted) in
  // between must not name the unsynced ones.
  for (const int64_t interval : {1000, 60'000}) {
    PowerCutFs fs;
    REQUIRE(fs.mkdir("/state", 0750) == 0);
    FakeClock clock;
    SpoolOptions o = opts(kDir, 1 << 20, 300);  // four records a segment
    o.io = &fs;
    o.sync_interval_ms = interval;
    Spool spool(o, clock);
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= 14; ++i) {
      const uint64_t id = spool.append(batch(i, 40), static_cast<int64_t>(i));
      REQUIRE(id == i);
      clock.advance(50);
      spool.commit(id);  // deletes each segment once it is all confirmed: a forced save
      spool.maintain();
      clock.advance(950);
      spool.maintain();
      INFO("interval " << interval << ", batch " << i);
      auto disk = fs.after_power_cut(PowerCutFs::Unsynced::none);
      CommitMarker marker(*disk, std::string(kDir) + "/committed");
      const NumberFile saved = marker.read();
      FakeClock clock2;
      SpoolOptions o2 = opts(kDir, 1 << 20, 300);
      o2.io = disk.get();
      Spool after(o2, clock2);
      REQUIRE(after.open().empty());
      if (saved.state != NumberFile::State::ok) continue;  // not yet durable: nothing to check
      CHECK(saved.value < after.next_id());
      CHECK(after.committed() >= saved.value);  // taken, not found past the newest record
    }
  }
}

TEST_CASE("a full disk that drops unsynced batches leaves a marker that covers them") {
  PowerCutFs fs(8);  // a 32 KiB disk
  REQUIRE(fs.mkdir("/state", 0750) == 0);
  FakeClock clock;
  SpoolOptions o = opts(kDir, 1 << 20);
  o.io = &fs;
  o.sync_interval_ms = 60'000;  // nothing synced by the interval in this test
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  uint64_t i = 1;
  for (int drops = 0; drops < 3; ++i) {
    const uint64_t before = spool.stats().dropped;
    REQUIRE(spool.append(batch(i, 172), 0) == i);
    if (spool.stats().dropped == before) continue;
    ++drops;
    INFO("batch " << i << ", drop " << drops);
    // Power cut now: what was dropped is confirmed by the marker, not lost.
    auto disk = fs.after_power_cut(PowerCutFs::Unsynced::none);
    FakeClock clock2;
    SpoolOptions o2 = opts(kDir, 1 << 20);
    o2.io = disk.get();
    Spool after(o2, clock2);
    REQUIRE(after.open().empty());
    CHECK(after.stats().lost == 0);
    CHECK(after.committed() >= spool.committed());
  }
}
