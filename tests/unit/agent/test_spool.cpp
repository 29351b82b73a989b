#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../temp_dir.hpp"
#include "spool/spool.hpp"
#include "spool_test_util.hpp"

using namespace classroom;
namespace fs = std::filesystem;

using namespace spool_test;

TEST_CASE("spool: append and read back in order, with ids and capture times") {
  TempDir dir;
  FakeClock clock;
  Spool spool(opts(dir.path), clock);
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= 5; ++i) CHECK(spool.append(batch(i), 1000 + i) == i);
  auto all = read_all(spool);
  REQUIRE(all.size() == 5);
  for (uint64_t i = 1; i <= 5; ++i) {
    CHECK(all[i - 1].id == i);
    CHECK(all[i - 1].ts_ms == static_cast<int64_t>(1000 + i));
    CHECK(all[i - 1].data == batch(i));
  }
  SpoolStats s = spool.stats();
  CHECK(s.pending == 5);
  CHECK(s.oldest_ts_ms == 1001);
  CHECK(s.bytes == 5 * (Spool::kHeaderSize + 40));
}

TEST_CASE("spool: two cursors read independently, bounded by end_id") {
  TempDir dir;
  FakeClock clock;
  Spool spool(opts(dir.path), clock);
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= 6; ++i) spool.append(batch(i), static_cast<int64_t>(i));
  Spool::Cursor backlog{1, 0, 0}, live{4, 0, 0};
  Spool::Record r;
  std::vector<uint64_t> seen;
  while (spool.read(backlog, 4, r)) seen.push_back(r.id);
  CHECK(seen == std::vector<uint64_t>{1, 2, 3});
  seen.clear();
  while (spool.read(live, UINT64_MAX, r)) seen.push_back(r.id);
  CHECK(seen == std::vector<uint64_t>{4, 5, 6});
  spool.append(batch(7), 7);
  REQUIRE(spool.read(live, UINT64_MAX, r));
  CHECK(r.id == 7);
}

TEST_CASE("spool: survives a restart, remembers the commit, deletes confirmed segments") {
  TempDir dir;
  FakeClock clock;
  {
    Spool spool(opts(dir.path, 1 << 20, 200), clock);  // ~3 records per segment
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= 10; ++i) spool.append(batch(i), static_cast<int64_t>(i));
    CHECK(segments(dir.path).size() == 5);  // two records per segment
    spool.commit(7);
    spool.sync_all();
    CHECK(segments(dir.path).size() == 2);  // 1-2, 3-4 and 5-6 were fully confirmed
  }
  Spool again(opts(dir.path, 1 << 20, 200), clock);
  REQUIRE(again.open().empty());
  CHECK(again.committed() == 7);
  CHECK(again.next_id() == 11);
  auto all = read_all(again);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == 8);
  CHECK(all[2].data == batch(10));
  CHECK(again.append(batch(11), 11) == 11);
}

TEST_CASE("spool: once all is confirmed, a grown active segment is recycled") {
  TempDir dir;
  FakeClock clock;
  Spool spool(opts(dir.path), clock);  // 128 KiB segments
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= 400; ++i) spool.append(batch(i, 200), 0);  // 91 KB
  spool.commit(399);
  CHECK(spool.stats().bytes > Spool::kRecycleBytes);  // one batch still pending
  spool.commit(400);
  CHECK(spool.stats().bytes == 0);
  CHECK(spool.append(batch(401, 200), 0) == 401);
  CHECK(read_all(spool).size() == 1);
}

TEST_CASE("spool: rotation and reading across segments") {
  TempDir dir;
  FakeClock clock;
  Spool spool(opts(dir.path, 1 << 20, 1000), clock);
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= 100; ++i) spool.append(batch(i, 100), static_cast<int64_t>(i));
  CHECK(segments(dir.path).size() > 10);
  auto all = read_all(spool);
  REQUIRE(all.size() == 100);
  for (uint64_t i = 0; i < 100; ++i) REQUIRE(all[i].id == i + 1);
}

TEST_CASE("spool: when full, the oldest batches are dropped and counted") {
  TempDir dir;
  FakeClock clock;
  const uint64_t max = 64 << 10;
  Spool spool(opts(dir.path, max), clock);  // 16 KiB segments
  REQUIRE(spool.open().empty());
  const uint64_t n = 2000;  // 2000 * 228 B = 456 KiB, seven times the bound
  for (uint64_t i = 1; i <= n; ++i)
    REQUIRE(spool.append(batch(i, 200), static_cast<int64_t>(i)) == i);
  SpoolStats s = spool.stats();
  CHECK(s.bytes <= max);
  CHECK(s.dropped > 0);
  CHECK(s.dropped + s.pending == n);  // every batch is either still here or counted
  auto all = read_all(spool);
  REQUIRE(all.size() == s.pending);
  CHECK(all.back().id == n);  // the newest survive
  for (size_t i = 1; i < all.size(); ++i) REQUIRE(all[i].id == all[i - 1].id + 1);
  // Dropping confirmed data is not a loss.
  spool.commit(n);
  const uint64_t dropped = spool.stats().dropped;
  for (uint64_t i = 1; i <= 150; ++i) spool.append(batch(i, 200), 0);  // 34 KB: fits
  CHECK(spool.stats().dropped == dropped);
}

TEST_CASE("spool: a torn tail at every byte is cut, everything before it survives") {
  TempDir master;
  FakeClock clock;
  std::vector<uint64_t> ends;  // file size after each record
  {
    Spool spool(opts(master.path), clock);
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= 4; ++i) {
      spool.append(batch(i, 10 + 7 * i), static_cast<int64_t>(i));
      ends.push_back(fs::file_size(segments(master.path).back()));
    }
  }
  const fs::path seg = segments(master.path).back();
  const std::string full = slurp(seg);
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    TempDir dir;
    spit(fs::path(dir.path) / seg.filename(), full.substr(0, cut));
    Spool spool(opts(dir.path), clock);
    REQUIRE(spool.open().empty());
    const uint64_t whole =
        static_cast<uint64_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    auto all = read_all(spool);
    INFO("cut at byte " << cut);
    REQUIRE(all.size() == whole);
    for (uint64_t i = 0; i < whole; ++i) REQUIRE(all[i].data == batch(i + 1, 10 + 7 * (i + 1)));
    // The spool goes on from there.
    REQUIRE(spool.append("after", 99) == whole + 1);
    REQUIRE(read_all(spool).size() == whole + 1);
  }
}

TEST_CASE("spool: a corrupt byte anywhere costs only the record that holds it") {
  TempDir master;
  FakeClock clock;
  const int n = 5;
  {
    Spool spool(opts(master.path), clock);
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= n; ++i) spool.append(batch(i, 30), static_cast<int64_t>(i));
  }
  const fs::path seg = segments(master.path).back();
  const std::string full = slurp(seg);
  const size_t rec = Spool::kHeaderSize + 30;
  REQUIRE(full.size() == n * rec);
  for (size_t pos = 0; pos < full.size(); ++pos) {
    TempDir dir;
    std::string bad = full;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5A);
    spit(fs::path(dir.path) / seg.filename(), bad);
    Spool spool(opts(dir.path), clock);
    REQUIRE(spool.open().empty());
    const uint64_t hit = pos / rec + 1;  // the record that holds the byte
    auto all = read_all(spool);
    INFO("byte " << pos << " of record " << hit);
    REQUIRE(all.size() == n - 1);
    uint64_t expect = 1;
    for (const auto& r : all) {
      if (expect == hit) ++expect;
      REQUIRE(r.id == expect);
      REQUIRE(r.data == batch(expect, 30));
      ++expect;
    }
    // Counted once (a damaged last record is a torn tail instead, cut at open).
    if (hit != n) CHECK(spool.stats().corrupt == 1);
  }
}

TEST_CASE("spool: a corrupt record in an older segment is skipped when read") {
  TempDir dir;
  FakeClock clock;
  {
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= 9; ++i) spool.append(batch(i), static_cast<int64_t>(i));
  }
  const fs::path first = segments(dir.path).front();
  std::string data = slurp(first);
  data[Spool::kHeaderSize + 70 + 5] ^= 1;  // inside record 2's payload
  spit(first, data);
  Spool spool(opts(dir.path, 1 << 20, 200), clock);
  REQUIRE(spool.open().empty());
  auto all = read_all(spool);
  REQUIRE(all.size() == 8);
  CHECK(all[0].id == 1);
  CHECK(all[1].id == 3);
  CHECK(spool.stats().corrupt == 1);
  read_all(spool);
  CHECK(spool.stats().corrupt == 1);  // a second reader does not count it again
}

TEST_CASE("spool: crash between the steps of a write") {
  TempDir dir;
  FakeClock clock;
  {
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= 6; ++i) spool.append(batch(i), static_cast<int64_t>(i));
    spool.commit(2);
    spool.sync_all();
  }
  SECTION("a new segment was created but nothing written to it") {
    spit(fs::path(dir.path) / "00000000000000000007.seg", "");
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(spool.next_id() == 7);
    CHECK(read_all(spool).size() == 4);
  }
  SECTION("the committed marker's temporary file was written but not renamed") {
    spit(fs::path(dir.path) / "committed.tmp", "6\n");
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(spool.committed() == 2);  // at least once: 3..6 are sent again
    CHECK(read_all(spool).size() == 4);
  }
  SECTION("a segment was deleted before the marker was saved") {
    fs::remove(segments(dir.path).front());  // records 3-4 (1-2 were confirmed and deleted)
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(spool.committed() == 4);
    CHECK(read_all(spool).front().id == 5);
  }
  SECTION("the marker is lost altogether") {
    fs::remove(fs::path(dir.path) / "committed");
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(read_all(spool).size() == 4);  // all that is on disk: duplicates, never a loss
  }
}

TEST_CASE("spool: interval sync policy is driven by the clock") {
  TempDir dir;
  FakeClock clock;
  SpoolOptions o = opts(dir.path);
  o.sync_interval_ms = 1000;
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  spool.append("x", 1);
  const int64_t due = spool.maintain();
  CHECK(due == clock.steady_ms() + 1000);
  clock.advance(1000);
  CHECK(spool.maintain() > clock.steady_ms() + 1000);  // synced: nothing due soon
}

TEST_CASE("spool: full while online, only confirmed batches make room") {
  TempDir dir;
  FakeClock clock;
  const uint64_t max = 64 << 10;
  Spool spool(opts(dir.path, max), clock);
  REQUIRE(spool.open().empty());
  uint64_t i = 1;
  for (; spool.stats().dropped == 0; ++i) REQUIRE(spool.append(batch(i, 200), 0) == i);
  const SpoolStats full = spool.stats();
  std::string error;
  CHECK(spool.append(batch(i, 200), 0, &error, Spool::Overflow::keep_unsent) == 0);
  CHECK_THAT(error, Catch::Contains("still to be sent"));
  CHECK(spool.stats().dropped == full.dropped);
  CHECK(spool.stats().pending == full.pending);
  spool.commit(read_all(spool).front().id + 9);  // ten confirmed: room for ten
  for (int k = 0; k < 10; ++k, ++i)
    REQUIRE(spool.append(batch(i, 200), 0, nullptr, Spool::Overflow::keep_unsent) == i);
  CHECK(spool.append(batch(i, 200), 0, nullptr, Spool::Overflow::keep_unsent) == 0);
  CHECK(spool.stats().dropped == full.dropped);
  CHECK(spool.stats().pending == full.pending);
  CHECK(spool.stats().bytes <= max);
}

namespace {
// The real filesystem, counting reads.
class CountingIo final : public FileIo {
 public:
  long preads = 0, syncs = 0, writes = 0;
  int open(const char* p, int f, mode_t m) override { return real_.open(p, f, m); }
  int close(int fd) override { return real_.close(fd); }
  ssize_t pread(int fd, void* b, size_t n, off_t o) override {
    ++preads;
    return real_.pread(fd, b, n, o);
  }
  ssize_t pwritev(int fd, const iovec* v, int c, off_t o) override {
    ++writes;
    return real_.pwritev(fd, v, c, o);
  }
  int ftruncate(int fd, off_t s) override { return real_.ftruncate(fd, s); }
  int fdatasync(int fd) override {
    ++syncs;
    return real_.fdatasync(fd);
  }
  int fstat(int fd, struct stat* st) override { return real_.fstat(fd, st); }
  int punch_hole(int fd, off_t o, off_t l) override { return real_.punch_hole(fd, o, l); }
  int rename(const char* a, const char* b) override { return real_.rename(a, b); }
  int unlink(const char* p) override { return real_.unlink(p); }
  int mkdir(const char* p, mode_t m) override { return real_.mkdir(p, m); }
  int fsync_dir(const char* p) override { return real_.fsync_dir(p); }
  bool list_dir(const char* p, std::vector<std::string>& n) override {
    return real_.list_dir(p, n);
  }

 private:
  FileIo& real_ = posix_file_io();
};
}  // namespace

TEST_CASE("spool: stats read nothing while the oldest batch stays and little once it goes") {
  TempDir dir;
  FakeClock clock;
  CountingIo io;
  SpoolOptions o = opts(dir.path, 1 << 20, 4096);  // several segments of ~60 records
  o.io = &io;
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  const uint64_t n = 300;
  for (uint64_t i = 1; i <= n; ++i) spool.append(batch(i), static_cast<int64_t>(1000 + i));
  // As the status asks every second while receipts come one by one.
  for (uint64_t i = 1; i <= n; ++i) {
    CHECK(spool.stats().oldest_ts_ms == static_cast<int64_t>(1000 + i));
    const long before = io.preads;
    CHECK(spool.stats().oldest_ts_ms == static_cast<int64_t>(1000 + i));
    CHECK(io.preads == before);  // unchanged: nothing read
    spool.commit(i);
  }
  CHECK(spool.stats().oldest_ts_ms == 0);
  // Each record is read about once (a header and its data), not once per
  // question from the segment's start (~n * n / 2 reads).
  CHECK(io.preads <= static_cast<long>(4 * n));

  // A new record after everything was confirmed, then dropped ones.
  spool.append(batch(n + 1), 5000);
  CHECK(spool.stats().oldest_ts_ms == 5000);
  spool.append(batch(n + 2), 5001);
  spool.commit(n + 1);
  CHECK(spool.stats().oldest_ts_ms == 5001);
}

TEST_CASE("spool: a committed marker deleted while running is made again at the next save") {
  TempDir dir;
  FakeClock clock;
  Spool spool(opts(dir.path), clock);
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= 4; ++i) spool.append(batch(i), static_cast<int64_t>(i));
  const fs::path marker = fs::path(dir.path) / "committed";
  spool.commit(1);
  clock.advance(1000);
  spool.maintain();  // made, and kept open
  REQUIRE(fs::exists(marker));
  spool.commit(2);
  clock.advance(1000);
  spool.maintain();  // saved in place
  fs::remove(marker);
  spool.commit(3);
  clock.advance(1000);
  spool.maintain();
  REQUIRE(fs::exists(marker));
  CommitMarker read_back(posix_file_io(), marker.string());
  CHECK(read_back.read().value == 3);
}

TEST_CASE("spool: a round of appends and confirmations costs one sync and one marker save") {
  TempDir dir;
  FakeClock clock;
  CountingIo io;
  SpoolOptions o = opts(dir.path);
  o.io = &io;
  o.sync_interval_ms = 1000;
  Spool spool(o, clock);
  REQUIRE(spool.open().empty());
  uint64_t id = 0;
  for (int round = 0; round < 5; ++round) {
    const long syncs = io.syncs, writes = io.writes;
    // The node's batch, then each device's as its poll ends, a few ms apart,
    // each confirmed some 40 ms later; the loop calls maintain() every turn.
    int64_t wake = INT64_MAX;
    for (int i = 0; i < 3; ++i) {
      id = spool.append(batch(id + 1), clock.wall_ms());
      wake = spool.maintain();
      clock.advance(3);
    }
    clock.advance(40);
    for (uint64_t c = id - 2; c <= id; ++c) {
      spool.commit(c);
      wake = spool.maintain();
    }
    // Nothing is synced or saved before the oldest is a second old...
    CHECK(io.syncs == syncs);
    CHECK(io.writes == writes + 3);  // the three records
    // ...and then all of it at once, at the time maintain() asked for.
    clock.advance(wake - clock.steady_ms());
    wake = spool.maintain();
    clock.advance(wake - clock.steady_ms());
    spool.maintain();
    CHECK(io.syncs == syncs + 1);
    CHECK(io.writes == writes + 3 + 1);                         // one save of the marker
    CHECK(spool.maintain() >= clock.steady_ms() + 60'000 - 1);  // nothing due
    clock.advance(5000);                                        // the next round
  }
}
