// The scripted SNMPv2c agent of the tests (snmp_responder.py), started on a
// free loopback port for one test.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace harness {

// The scripted SNMPv2c agent (tests/integration/snmp_responder.py) on a free
// loopback port, serving `scenario` (JSON, fields in the script's header).
class Responder {
 public:
  explicit Responder(const std::string& scenario) {
    write_file(dir_.path + "/scenario.json", scenario);
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/python3",
                                 SOURCE_DIR "/tests/integration/snmp_responder.py",
                                 dir_.path + "/port", dir_.path + "/scenario.json"},
        dir_.path + "/responder.log");
    REQUIRE(wait_until([&] { return std::filesystem::exists(dir_.path + "/port"); }, 10s));
    port_ = std::stoi(read_file(dir_.path + "/port"));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // What it logged: "poll N: a GET of M OIDs" for each poll.
  std::string log() const { return read_file(dir_.path + "/responder.log"); }
  // Polls started so far (each begins with a GET of sysUpTime).
  size_t polls() const {
    const std::string log = read_file(dir_.path + "/responder.log");
    size_t n = 0;
    for (size_t p = log.find("poll "); p != std::string::npos; p = log.find("poll ", p + 1)) ++n;
    return n;
  }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace harness
