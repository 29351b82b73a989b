#include <catch2/catch.hpp>
#include <regex>

#include "../log_capture.hpp"

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
