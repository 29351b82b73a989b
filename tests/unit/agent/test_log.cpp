#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "../log_capture.hpp"
#include "printable.hpp"

using namespace classroom;

TEST_CASE("log: terminal lines carry a UTC timestamp, a level letter and the tag") {
  LogCapture logs;
  constexpr log::Logger lg("uplink");
  lg.warning("broker %s unreachable (%s); retrying in %d s", "tcp://10.0.0.5:1883",
             "connection refused", 8);
  const std::string line = logs.text();
  CHECK(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z W uplink: )"
                                          R"(broker tcp://10\.0\.0\.5:1883 unreachable )"
                                          R"(\(connection refused\); retrying in 8 s\n)")));
}

TEST_CASE("log: under systemd, journald priorities and no timestamp") {
  LogCapture logs;
  log::set_journal(true);
  constexpr log::Logger lg("spool");
  lg.error("cannot write");
  lg.warning("dropped");
  lg.info("open");
  CHECK(logs.text() == "<3>spool: cannot write\n<4>spool: dropped\n<6>spool: open\n");
}

TEST_CASE("log: lines below the configured level are not written") {
  LogCapture logs;
  log::set_level(log::Level::warning);
  constexpr log::Logger lg("agent");
  lg.debug("noise");
  lg.info("noise");
  lg.warning("signal");
  CHECK(logs.count("noise") == 0);
  CHECK(logs.count("signal") == 1);
}

// What a broker, a config file or a file on disk hands the agent must never
// forge a line, a journald priority or a terminal escape.
namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}
}  // namespace

TEST_CASE("log: a newline from outside cannot start a forged line") {
  LogCapture logs;
  constexpr log::Logger lg("uplink");
  lg.warning("ignored unsupported command metric(s): %s",
             "x\n2026-01-01T00:00:00.000Z E agent: FORGED LINE\r\n");
  const auto lines = lines_of(logs.text());
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0],
             Catch::EndsWith("metric(s): x\\n2026-01-01T00:00:00.000Z E agent: FORGED LINE\\r\\n"));
}

TEST_CASE("log: under journald, outside text cannot carry a priority of its own") {
  LogCapture logs;
  log::set_journal(true);
  constexpr log::Logger lg("uplink");
  lg.info("name %s", "a\n<3>forged error");
  lg.info("%s", "<3>at the start");
  const auto lines = lines_of(logs.text());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "<6>uplink: name a\\n<3>forged error");
  CHECK(lines[1] == "<6>uplink: <3>at the start");  // journald reads only the first prefix
}

TEST_CASE("log: control characters and bytes that are not UTF-8 are escaped") {
  LogCapture logs;
  constexpr log::Logger lg("agent");
  // (A NUL ends a %s argument: text that may hold one goes through text::printable.)
  lg.info("[%s]", "esc\x1b[31mred tab\t del\x7f bad\xff\xfe back\\slash");
  // Valid UTF-8 stays as it is; C1 controls and Unicode line separators do not.
  lg.info("[%s]", "Trường 44.00 °C nel\xc2\x85 ls\xe2\x80\xa8 ps\xe2\x80\xa9 rlo\xe2\x80\xae");
  // Overlong and surrogate encodings are not UTF-8.
  lg.info("[%s]", "overlong\xc0\xaf surrogate\xed\xa0\x80 cut\xe2\x82");
  const auto lines = lines_of(logs.text());
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0],
             Catch::EndsWith("[esc\\x1b[31mred tab\\t del\\x7f bad\\xff\\xfe back\\slash]"));
  CHECK_THAT(lines[1],
             Catch::EndsWith("[Trường 44.00 °C nel\\u0085 ls\\u2028 ps\\u2029 rlo\\u202e]"));
  CHECK_THAT(lines[2],
             Catch::EndsWith("[overlong\\xc0\\xaf surrogate\\xed\\xa0\\x80 cut\\xe2\\x82]"));
}

TEST_CASE("log: a huge message is one bounded line that says it was cut") {
  LogCapture logs;
  constexpr log::Logger lg("agent");
  const std::string big(100'000, '\n');
  lg.warning("name %s", big.c_str());
  lg.info("after");
  const auto lines = lines_of(logs.text());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() <= 2048);
  CHECK_THAT(lines[0], Catch::EndsWith("\\n [cut]"));
  CHECK_THAT(lines[1], Catch::EndsWith("I agent: after"));
}

TEST_CASE("text::printable: escapes like the log and bounds what it shows") {
  CHECK(text::printable("plain") == "plain");
  CHECK(text::printable(std::string("a\nb\0c", 5)) == "a\\nb\\x00c");
  CHECK(text::printable("a\\n") == "a\\\\n");  // a backslash from outside is doubled
  const std::string long_name(500, 'x');
  const std::string shown = text::printable(long_name, 64);
  CHECK(shown == std::string(64, 'x') + "... (500 bytes)");
  // A cut never splits a UTF-8 character or an escape.
  CHECK(text::printable("ééé", 3) == "é... (6 bytes)");
  CHECK(text::printable("\n\n\n", 2) == "\\n\\n... (3 bytes)");
}
