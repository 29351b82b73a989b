// The log file of a gateway without journald: size-bounded,
// rotated, identical lines folded into one with a count. On a fake clock.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../temp_dir.hpp"
#include "clock.hpp"
#include "log.hpp"

using namespace classroom;

namespace {

std::vector<std::string> lines_in(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sends the log to a file for the test's scope, on a fake clock.
struct FileLog {
  TempDir dir;
  FakeClock clock{1'764'400'000'000};  // 2025-11-29T07:06:40Z
  std::string path = dir / "agent.log";
  explicit FileLog(uint64_t max_bytes = 1 << 20, int keep = 3, int64_t fold_ms = 60'000) {
    log::set_clock(&clock);
    log::set_level(log::Level::info);
    REQUIRE(log::open_file({path, max_bytes, keep, fold_ms}) == "");
  }
  ~FileLog() {
    log::close_file();
    log::set_clock(nullptr);
  }
  std::vector<std::string> lines() const { return lines_in(path); }
};

}  // namespace

TEST_CASE("log file: repeated identical lines fold into one line with a count") {
  FileLog f;
  constexpr log::Logger lg("uplink");
  lg.warning("ignored a malformed command on %s", "spBv1.0/s/NCMD/r");
  for (int i = 0; i < 57; ++i) {
    f.clock.advance(1000);
    lg.warning("ignored a malformed command on %s", "spBv1.0/s/NCMD/r");
  }
  // Within the window only the first is written; the count is due when the
  // window of 60 s from it ends (what the status thread sleeps until).
  CHECK(log::tick() == 60'000 - 57'000);
  auto lines = f.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] ==
        "2025-11-29T07:06:40.000Z W uplink: ignored a malformed command on "
        "spBv1.0/s/NCMD/r");
  // A different line closes the fold: first the count, then the line.
  f.clock.advance(1000);
  lg.info("rebirth requested by a host application");
  lines = f.lines();
  CHECK(log::tick() == -1);  // nothing folded
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] ==
        "2025-11-29T07:07:38.000Z W uplink: ignored a malformed command on "
        "spBv1.0/s/NCMD/r [repeated 57 more times in 58 s]");
  CHECK(lines[2] == "2025-11-29T07:07:38.000Z I uplink: rebirth requested by a host application");
}

TEST_CASE("log file: a line repeated without end gives one line per window") {
  FileLog f(1 << 20, 3, 60'000);
  constexpr log::Logger lg("scheduler");
  // Every second for five minutes.
  for (int i = 0; i <= 300; ++i) {
    lg.error("source lan failing: %s", "cannot read /proc/net/arp");
    f.clock.advance(1000);
    log::tick();
  }
  const auto lines = f.lines();
  // The first, then one line with the count at the end of each window.
  REQUIRE(lines.size() == 6);
  CHECK_THAT(lines[0],
             Catch::EndsWith("E scheduler: source lan failing: cannot read /proc/net/arp"));
  // The first window's line was written; each later window's count includes
  // the line that opened it.
  CHECK_THAT(lines[1],
             Catch::EndsWith("cannot read /proc/net/arp [repeated 59 more times in 60 s]"));
  for (size_t i = 2; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK_THAT(lines[i],
               Catch::EndsWith("cannot read /proc/net/arp [repeated 60 more times in 60 s]"));
  }
  CHECK_THAT(lines[1], Catch::StartsWith("2025-11-29T07:07:40.000Z E scheduler: "));
}

TEST_CASE("log file: tick writes the count once the window has passed, not before") {
  FileLog f(1 << 20, 3, 10'000);
  constexpr log::Logger lg("devices");
  lg.warning("device sw at 10.0.0.2: no answer");
  f.clock.advance(2000);
  lg.warning("device sw at 10.0.0.2: no answer");
  lg.warning("device sw at 10.0.0.2: no answer");
  f.clock.advance(7000);
  log::tick();
  CHECK(f.lines().size() == 1);
  f.clock.advance(1000);
  log::tick();
  const auto lines = f.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] ==
        "2025-11-29T07:06:50.000Z W devices: device sw at 10.0.0.2: no answer "
        "[repeated 2 more times in 10 s]");
  // The same line again later starts a new window: written, not counted.
  f.clock.advance(30'000);
  lg.warning("device sw at 10.0.0.2: no answer");
  CHECK(f.lines().size() == 3);
  // A different level is a different line.
  lg.error("device sw at 10.0.0.2: no answer");
  CHECK(f.lines().size() == 4);
}

TEST_CASE("log file: fold = 0 writes every line") {
  FileLog f(1 << 20, 3, 0);
  constexpr log::Logger lg("agent");
  for (int i = 0; i < 5; ++i) lg.info("same");
  CHECK(f.lines().size() == 5);
}

TEST_CASE("log file: rotates at max_bytes, keeps `keep` files, never splits a line") {
  FileLog f(16 * 1024, 2, 0);
  constexpr log::Logger lg("agent");
  // ~100 bytes a line, 2000 lines: 200 KB through 3 files of 16 KiB.
  for (int i = 0; i < 2000; ++i) {
    lg.info("line %05d %s", i, std::string(60, 'x').c_str());
    f.clock.advance(10);
  }
  namespace fs = std::filesystem;
  REQUIRE(fs::exists(f.path));
  REQUIRE(fs::exists(f.path + ".1"));
  REQUIRE(fs::exists(f.path + ".2"));
  CHECK_FALSE(fs::exists(f.path + ".3"));
  for (const std::string& p : {f.path, f.path + ".1", f.path + ".2"}) {
    INFO(p);
    CHECK(fs::file_size(p) <= 16 * 1024);
    if (p != f.path) CHECK(fs::file_size(p) > 16 * 1024 - 200);  // rotated only when full
  }
  // Oldest first across .2, .1 and the file: consecutive numbers, whole lines, the last is 1999.
  std::vector<std::string> all;
  for (const std::string& p : {f.path + ".2", f.path + ".1", f.path})
    for (const std::string& l : lines_in(p)) all.push_back(l);
  REQUIRE(!all.empty());
  int expected = -1;
  for (const std::string& l : all) {
    const size_t at = l.find("I agent: line ");
    REQUIRE(at != std::string::npos);
    REQUIRE(l.size() == at + 14 + 5 + 1 + 60);
    const int n = std::stoi(l.substr(at + 14, 5));
    if (expected >= 0) CHECK(n == expected);
    expected = n + 1;
  }
  CHECK(expected == 2000);
}

TEST_CASE("log file: a file that cannot be opened is said, and lines stay on stderr") {
  TempDir dir;
  CHECK_THAT(log::open_file({dir / "missing/agent.log", 1 << 20, 3, 0}),
             Catch::StartsWith("cannot open " + dir / "missing/agent.log" + ": No such file"));
  CHECK_THAT(log::open_file({dir.path, 1 << 20, 3, 0}), Catch::Contains("cannot open"));
}
