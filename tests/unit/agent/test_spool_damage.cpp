// A state dir damaged in every way a field gateway meets: a damaged committed
// marker, segments cut short or bit-flipped, entries that are not segments, a
// read-only disk. The spool delivers everything still readable, counts exactly
// what it cannot (by id), and says so once.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "../log_capture.hpp"
#include "../read_only.hpp"
#include "../temp_dir.hpp"
#include "session/bdseq_store.hpp"
#include "spool/number_file.hpp"
#include "spool/spool.hpp"
#include "spool_test_util.hpp"

using namespace classroom;
using namespace spool_test;
namespace fs = std::filesystem;

namespace {

// A spool of `n` batches of 40 B in segments of 200 B: two records each, so
// segment k (1-based) holds ids 2k-1 and 2k and is named after 2k-1.
void fill(const std::string& dir, uint64_t n, uint64_t commit = 0) {
  FakeClock clock;
  Spool spool(opts(dir, 1 << 20, 200), clock);
  REQUIRE(spool.open().empty());
  for (uint64_t i = 1; i <= n; ++i) REQUIRE(spool.append(batch(i), static_cast<int64_t>(i)) == i);
  if (commit) spool.commit(commit);
  spool.sync_all();
}

std::vector<uint64_t> ids(const std::vector<Spool::Record>& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) {
    REQUIRE(r.data == batch(r.id));  // nothing corrupt is ever read back
    out.push_back(r.id);
  }
  return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

}  // namespace

TEST_CASE("number files are read strictly") {
  CHECK(parse_number_text("0") == 0u);
  CHECK(parse_number_text("42\n") == 42u);
  CHECK(parse_number_text("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"", "\n", "-5", "-5\n", "+5", " 5", "5 ", "5\n\n", "1e3", "0x10", "5a",
                          "18446744073709551616", "99999999999999999999999", "\xff"})
    CHECK_FALSE(parse_number_text(bad).has_value());
}

TEST_CASE("bdSeq: a damaged file starts at 0, a good one is used") {
  TempDir dir;
  BdSeqStore store(dir / "bdseq");
  CHECK(store.peek() == 0);  // missing
  for (const char* bad : {"-5\n", "99999999999999999999999\n", "garbage", "", "256\n", "7 \n"}) {
    spit(dir / "bdseq", bad);
    INFO("bdseq file holds '" << bad << "'");
    CHECK(store.peek() == 0);
  }
  spit(dir / "bdseq", "7\n");
  BdSeqStore restarted(dir / "bdseq");  // read once, at the start
  uint64_t bdseq = 99;
  REQUIRE(restarted.take(bdseq));
  CHECK(bdseq == 7);
  CHECK(restarted.peek() == 8);
}

TEST_CASE("spool: a damaged committed marker is unknown: all on disk is sent again, said once") {
  for (const char* text : {"-5\n", "99999999999999999999999\n", "garbage\n", "", "7 8\n", "0x10\n",
                           "1000\n", "11\n"}) {
    TempDir dir;
    fill(dir.path, 10, 4);  // 1-4 confirmed: their segments are gone
    spit(dir / "committed", text);
    LogCapture log;
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    INFO("committed holds '" << text << "'");
    CHECK(ids(read_all(spool)) == range(5, 10));  // duplicates, never a loss
    CHECK(spool.stats().pending == 6);
    CHECK(log.count("committed marker") == 1);
    CHECK(spool.append(batch(11), 11) == 11);
  }
}

TEST_CASE("spool: a good committed marker is trusted, a missing one is not an error") {
  TempDir dir;
  fill(dir.path, 10, 4);
  SECTION("the marker as saved") {
    LogCapture log;
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(ids(read_all(spool)) == range(5, 10));
    CHECK(log.count("committed marker") == 0);
  }
  SECTION("a marker that covers part of the oldest segment") {
    spit(dir / "committed", "5\n");
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(ids(read_all(spool)) == range(6, 10));
  }
  SECTION("the marker is the newest record") {
    spit(dir / "committed", "10\n");
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(read_all(spool).empty());
    CHECK(spool.stats().pending == 0);
  }
}

TEST_CASE("spool: an older segment cut short: the lost batches are counted by id, said once") {
  TempDir dir;
  fill(dir.path, 20);
  const auto segs = segments(dir.path);
  REQUIRE(segs.size() == 10);
  fs::resize_file(segs[2], Spool::kHeaderSize + 40 + 10);  // 5 intact, 6 torn
  fs::resize_file(segs[4], 0);                             // 9 and 10 gone
  LogCapture log;
  FakeClock clock;
  Spool spool(opts(dir.path, 1 << 20, 200), clock);
  REQUIRE(spool.open().empty());
  std::vector<uint64_t> expect = range(1, 20);
  std::erase_if(expect, [](uint64_t id) { return id == 6 || id == 9 || id == 10; });
  CHECK(ids(read_all(spool)) == expect);
  SpoolStats s = spool.stats();
  CHECK(s.lost == 3);
  CHECK(s.pending == 17);
  CHECK(log.count("cannot be sent") == 1);
  read_all(spool);  // a second reader counts nothing again
  CHECK(spool.stats().lost == 3);
  CHECK(log.count("cannot be sent") == 1);
}

TEST_CASE("spool: bit flips in older segments: every batch is read intact or counted lost") {
  TempDir master;
  const uint64_t n = 120;
  {
    FakeClock clock;
    Spool spool(opts(master.path, 1 << 20, 1000), clock);  // 14 records a segment
    REQUIRE(spool.open().empty());
    for (uint64_t i = 1; i <= n; ++i) REQUIRE(spool.append(batch(i), 0) == i);
  }
  for (unsigned seed = 1; seed <= 20; ++seed) {
    TempDir dir;
    fs::copy(master.path, dir.path, fs::copy_options::recursive);
    std::mt19937 rng(seed);
    const auto segs = segments(dir.path);
    for (size_t k = 0; k + 1 < segs.size(); ++k) {  // the newest: see the torn-tail test
      std::string data = slurp(segs[k]);
      for (int flip = 0; flip < 20; ++flip)
        data[rng() % data.size()] ^= static_cast<char>(1u << (rng() % 8));
      spit(segs[k], data);
    }
    LogCapture log;
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 1000), clock);
    REQUIRE(spool.open().empty());
    const auto read = ids(read_all(spool));
    const SpoolStats s = spool.stats();
    INFO("seed " << seed << ": " << read.size() << " read, " << s.lost << " counted lost");
    CHECK(read.size() + s.lost == n);
    CHECK(s.lost > 0);
    CHECK(s.pending == read.size());
    CHECK(log.count("cannot be sent") == 1);
  }
}

TEST_CASE("spool: every segment cut to 0 B: what the names tell is counted lost") {
  TempDir dir;
  fill(dir.path, 20);
  for (const auto& seg : segments(dir.path)) fs::resize_file(seg, 0);
  LogCapture log;
  FakeClock clock;
  Spool spool(opts(dir.path, 1 << 20, 200), clock);
  REQUIRE(spool.open().empty());
  CHECK(read_all(spool).empty());
  const SpoolStats s = spool.stats();
  // Ids 1-18 are known from the segment names; what the newest segment (19.seg)
  // held is not knowable.
  CHECK(s.lost == 18);
  CHECK(s.pending == 0);
  CHECK(log.count("cannot be sent") == 1);
  CHECK(spool.append(batch(19), 19) == 19);
  CHECK(ids(read_all(spool)) == range(19, 19));
}

TEST_CASE("spool: a segment replaced by a directory costs that segment, not the spool") {
  TempDir dir;
  fill(dir.path, 20);
  SECTION("an older segment") {
    fs::remove(dir / seg_name(7));
    fs::create_directory(dir / seg_name(7));
    LogCapture log;
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    std::vector<uint64_t> expect = range(1, 20);
    std::erase_if(expect, [](uint64_t id) { return id == 7 || id == 8; });
    CHECK(ids(read_all(spool)) == expect);
    CHECK(spool.stats().lost == 2);
    CHECK(log.count(seg_name(7)) == 1);
    CHECK(spool.append(batch(21), 21) == 21);
    CHECK(ids(read_all(spool)).back() == 21);
  }
  SECTION("the newest segment") {
    fs::remove(dir / seg_name(19));
    fs::create_directory(dir / seg_name(19));
    LogCapture log;
    FakeClock clock;
    Spool spool(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(spool.open().empty());
    CHECK(ids(read_all(spool)) == range(1, 18));
    CHECK(spool.stats().lost == 1);  // 19 is known by the name; what followed is not
    CHECK(log.count(seg_name(19)) == 1);
    const uint64_t id = spool.append(batch(20), 20);
    CHECK(id == 20);
    CHECK(ids(read_all(spool)).back() == 20);
    spool.sync_all();
    // And again after a restart: nothing read twice, nothing new lost.
    Spool again(opts(dir.path, 1 << 20, 200), clock);
    REQUIRE(again.open().empty());
    std::vector<uint64_t> expect = range(1, 18);
    expect.push_back(20);
    CHECK(ids(read_all(again)) == expect);
    CHECK(again.append(batch(21), 21) == 21);
  }
}

TEST_CASE("spool: names that are not segments are ignored and said once") {
  TempDir dir;
  fill(dir.path, 10);
  for (const char* stray :
       {"18446744073709551615.seg", "99999999999999999999.seg", "00000000000000000001.seg.bak",
        "abc.seg", "0000000000000000001.seg", "-0000000000000000001.seg", "notes.txt"})
    spit(dir / stray, "");
  LogCapture log;
  FakeClock clock;
  Spool spool(opts(dir.path, 1 << 20, 200), clock);
  REQUIRE(spool.open().empty());
  CHECK(ids(read_all(spool)) == range(1, 10));
  CHECK(spool.next_id() == 11);  // no wrap: live data stays live
  CHECK(spool.append(batch(11), 11) == 11);
  CHECK(log.count("not spool segments") == 1);
  CHECK(log.count("18446744073709551615.seg") == 1);
  CHECK(spool.stats().lost == 0);
}

TEST_CASE("spool: a read-only state dir still replays what it holds") {
  TempDir dir;
  fill(dir.path + "/spool", 10, 2);
  const std::string result = with_read_only(dir.path, [&](const ReadOnlyView& view) -> std::string {
    FakeClock clock;
    Spool spool(opts(dir.path + "/spool", 1 << 20, 200), clock);
    if (std::string e = spool.open(); !e.empty()) return "open failed: " + e;
    std::vector<uint64_t> got;
    for (const auto& r : read_all(spool)) got.push_back(r.id);
    if (got != range(3, 10)) return "read " + std::to_string(got.size()) + " records, not 3-10";
    std::string error;
    if (spool.append("new", 1, &error) != 0) return "an append succeeded on a read-only disk";
    if (error.find("read-only") == std::string::npos) return "append error: " + error;
    spool.commit(10);  // delivered: cannot be saved, must not fail
    if (spool.stats().pending != 0) return "pending after commit";
    // Writable again: the spool notices and stores again.
    if (!view.make_writable()) return "cannot make it writable again";
    clock.advance(5000);
    const uint64_t id = spool.append("new", 1, &error);
    if (id != 11)
      return "append after the disk became writable: " + std::to_string(id) + " " + error;
    return "";
  });
  CHECK(result == "");
}

TEST_CASE("spool: a read-only state dir without a spool fails to open with the reason") {
  TempDir dir;
  const std::string result = with_read_only(dir.path, [&](const ReadOnlyView&) -> std::string {
    FakeClock clock;
    Spool spool(opts(dir.path + "/spool"), clock);
    const std::string e = spool.open();
    if (e.find("cannot create") == std::string::npos) return "open said: '" + e + "'";
    if (spool.is_open()) return "open";
    if (spool.append("x", 1) != 0) return "append succeeded";
    return "";
  });
  CHECK(result == "");
}
