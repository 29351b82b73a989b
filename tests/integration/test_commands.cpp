// Commands a host application sends: the test is the host. It
// publishes NCMD payloads to the real Mosquitto, built as hosts build them
// (harness::command, and the reference JavaScript codec), and checks what the
// agent does: births, the next server, samples at a new interval, a reload,
// and that every malformed command is refused with one log line and nothing
// else. Probe Now is in test_probes.cpp, Device Control/Rebirth in
// test_devices.cpp.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace harness;

namespace {

const std::string kNcmd = "spBv1.0/school-test/NCMD/room-1";

using Rig = BrokerRig;

// Every value of the node metric `name` in arrival order: from each NBIRTH
// (by name) and the NDATA after it (by the birth's alias).
struct Seen {
  std::string type;
  Payload::Metric metric;
};
std::vector<Seen> series(Subscriber& sub, const std::string& name) {
  std::vector<Seen> out;
  std::optional<uint64_t> alias;
  for (const Message& m : sub.messages()) {
    const std::string type = m.type();
    if (type == "NBIRTH") {
      alias = alias_in_birth(m.decoded, name);
      if (const auto* x = find_metric(m.decoded, name, 0)) out.push_back({type, *x});
    } else if (type == "NDATA" && alias) {
      if (const auto* x = find_metric(m.decoded, "", *alias)) out.push_back({type, *x});
    }
  }
  return out;
}

// Capture times of live System/Uptime samples taken after `after_ms`.
std::vector<int64_t> samples_after(Subscriber& sub, int64_t after_ms) {
  std::vector<int64_t> out;
  for (const Seen& s : series(sub, "System/Uptime"))
    if (s.type == "NDATA" && !s.metric.is_historical() &&
        static_cast<int64_t>(s.metric.timestamp()) > after_ms)
      out.push_back(static_cast<int64_t>(s.metric.timestamp()));
  return out;
}

// The Scan Rate values published as data, in order.
std::vector<int64_t> scan_rates_in_data(Subscriber& sub) {
  std::vector<int64_t> out;
  for (const Seen& s : series(sub, "Node Control/Scan Rate"))
    if (s.type == "NDATA") out.push_back(static_cast<int64_t>(s.metric.long_value()));
  return out;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Consecutive differences of `ts`, from the second sample on (the first one
// after a change of interval may be on the old grid).
std::vector<int64_t> steps(const std::vector<int64_t>& ts) {
  std::vector<int64_t> out;
  for (size_t i = 2; i < ts.size(); ++i) out.push_back(ts[i] - ts[i - 1]);
  return out;
}

}  // namespace

TEST_CASE("commands: the NBIRTH lists them with datatypes and the reference codec reads them") {
  const std::string interop = SOURCE_DIR "/tests/interop";
  REQUIRE(std::filesystem::exists(interop + "/node_modules/sparkplug-payload"));
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  const Message birth = rig.sub.of_type("NBIRTH")[0];
  write_file(rig.dir.path + "/nbirth.bin", birth.payload);
  auto [rc, out] = run_shell("node " + interop + "/reference_decoder.js --decode " + rig.dir.path +
                             "/nbirth.bin");
  INFO(out);
  REQUIRE(rc == 0);
  // Name, type and value as the codec reads them (tab-separated).
  CHECK_THAT(out, Catch::Contains("Node Control/Rebirth\tBoolean\tfalse\n"));
  CHECK_THAT(out, Catch::Contains("Node Control/Next Server\tBoolean\tfalse\n"));
  CHECK_THAT(out, Catch::Contains("Node Control/Scan Rate\tInt64\t500\n"));
  CHECK_THAT(out, Catch::Contains("Node Control/Probe Now\tString\t\n"));
  CHECK_THAT(out, Catch::Contains("Node Control/Reload\tBoolean\tfalse\n"));
  // Rebirth by name alone: a host that knows no alias can ask for a birth
  // (tck-id-operational-behavior-data-commands-rebirth-name-aliases); every
  // other command has its alias.
  for (const auto& m : birth.decoded.metrics())
    if (m.name() == "Node Control/Rebirth") CHECK_FALSE(m.has_alias());
  const auto* scan = find_metric(birth.decoded, "Node Control/Scan Rate", 0);
  REQUIRE(scan);
  CHECK(scan->properties().keys(0) == "engUnit");
  CHECK(scan->properties().values(0).string_value() == "ms");

  // A command as a JavaScript host encodes it (with the datatype the codec
  // always writes) is taken, and the new value comes back as data the codec reads.
  auto [sent, why] = run_shell(
      "node " + interop + "/host_command.js " + rig.broker.url() + " " + kNcmd +
      " '[{\"name\": \"Node Control/Scan Rate\", \"type\": \"Int64\", \"value\": 2000}]'");
  INFO(why);
  REQUIRE(sent == 0);
  REQUIRE(wait_until([&] { return !scan_rates_in_data(rig.sub).empty(); }, 10s));
  CHECK(scan_rates_in_data(rig.sub) == std::vector<int64_t>{2000});
  for (const Message& m : rig.sub.of_type("NDATA")) {
    if (!find_metric(m.decoded, "", *alias_in_birth(birth.decoded, "Node Control/Scan Rate")))
      continue;
    write_file(rig.dir.path + "/ndata.bin", m.payload);
    auto [rc2, data] = run_shell("node " + interop + "/reference_decoder.js --decode " +
                                 rig.dir.path + "/ndata.bin");
    INFO(data);
    CHECK(rc2 == 0);
    CHECK_THAT(data, Catch::Contains("\tInt64\t2000\n"));
  }
}

TEST_CASE("commands: Scan Rate sets the interval until the next reload and its value is data") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());  // sources every 500 ms
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  CHECK(series(rig.sub, "Node Control/Scan Rate").at(0).metric.long_value() == 500);

  // As Tahu's host sends it: no datatype.
  rig.sub.publish(kNcmd, command("Node Control/Scan Rate", int64_t{2000}).SerializeAsString());
  REQUIRE(wait_until([&] { return !scan_rates_in_data(rig.sub).empty(); }, 10s));
  const auto set = series(rig.sub, "Node Control/Scan Rate").back().metric;
  CHECK(set.long_value() == 2000);
  CHECK_FALSE(set.is_historical());
  // Out of range, of another type, with another datatype: refused, nothing changes.
  rig.sub.publish(kNcmd, command("Node Control/Scan Rate", int64_t{999}).SerializeAsString());
  rig.sub.publish(kNcmd, command("Node Control/Scan Rate", int64_t{3'600'001}).SerializeAsString());
  rig.sub.publish(kNcmd, command("Node Control/Scan Rate", std::string("500")).SerializeAsString());
  rig.sub.publish(kNcmd, command("Node Control/Scan Rate", int64_t{500}, 12).SerializeAsString());
  // Samples on the 2 s grid.
  const int64_t since = static_cast<int64_t>(set.timestamp());
  REQUIRE(wait_until([&] { return samples_after(rig.sub, since).size() >= 5; }, 20s));
  for (int64_t step : steps(samples_after(rig.sub, since))) {
    INFO("samples " << step << " ms apart");
    CHECK(step >= 1800);
    CHECK(step <= 2200);
  }
  CHECK(scan_rates_in_data(rig.sub) == std::vector<int64_t>{2000});
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("command Node Control/Scan Rate = 2000 ms: 1 source of the node "
                                  "sample every 2 s until the next reload or restart"));
  CHECK_THAT(log, Catch::Contains("Node Control/Scan Rate = 999 ms: out of range (1000 to "
                                  "3600000 ms)"));
  CHECK_THAT(log, Catch::Contains("Node Control/Scan Rate = 3600001 ms: out of range"));
  CHECK_THAT(log, Catch::Contains("Node Control/Scan Rate without an Int64 value"));
  CHECK_THAT(log, Catch::Contains("Node Control/Scan Rate with datatype 12; it takes Int64 (4) "
                                  "or none"));

  // A reload (here by the Reload command) goes back to the config's interval.
  rig.sub.publish(kNcmd, command("Node Control/Reload", true).SerializeAsString());
  REQUIRE(wait_until([&] { return scan_rates_in_data(rig.sub).size() >= 2; }, 10s));
  CHECK(scan_rates_in_data(rig.sub) == std::vector<int64_t>{2000, 500});
  const int64_t back =
      static_cast<int64_t>(series(rig.sub, "Node Control/Scan Rate").back().metric.timestamp());
  REQUIRE(wait_until([&] { return samples_after(rig.sub, back).size() >= 5; }, 10s));
  for (int64_t step : steps(samples_after(rig.sub, back))) {
    INFO("samples " << step << " ms apart");
    CHECK(step >= 350);
    CHECK(step <= 650);
  }
  CHECK_THAT(agent.log(), Catch::Contains("reload: the node samples at its config's intervals "
                                          "again (a host had set 2 s)"));
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);  // the same metrics: no rebirth
  CHECK(rig.sub.of_type("NDEATH").empty());
}

TEST_CASE("commands: Reload reads the config again as SIGHUP does and a burst gives one reload") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  const Payload first = rig.sub.of_type("NBIRTH")[0].decoded;
  CHECK_FALSE(alias_in_birth(first, "Network/lo/Rx Bytes"));

  // false asks for nothing.
  rig.sub.publish(kNcmd, command("Node Control/Reload", false).SerializeAsString());
  // The admin adds a source; a host asks for the reload, three times at once,
  // by the birth's alias with its datatype.
  write_file(agent.config_path(), read_file(agent.config_path()) +
                                      "[sources.network]\ninterval = \"500ms\"\nexclude = []\n");
  const uint64_t alias = *alias_in_birth(first, "Node Control/Reload");
  for (int i = 0; i < 3; ++i)
    rig.sub.publish(kNcmd, command("", true, 11, alias).SerializeAsString());
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  const Payload second = rig.sub.of_type("NBIRTH")[1].decoded;
  CHECK(alias_in_birth(second, "Network/lo/Rx Bytes"));
  CHECK(bdseq(second) == bdseq(first));  // the same session
  CHECK(rig.sub.of_type("NDEATH").empty());
  // The rebirth is the reload's; data goes on after it.
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 2, 10s));
  CHECK(rig.sub.of_type("NBIRTH").size() == 2);
  const std::string log = agent.log();
  CHECK(count(log, "command Node Control/Reload = true: reading the config again, as for SIGHUP") ==
        1);
  CHECK(count(log, "reload requested again within 1 s: the reload just done answers it") == 2);
  CHECK(count(log, "command Node Control/Reload = false: nothing to do") == 1);
  CHECK(count(log, "reloaded: 2 sources") == 1);
}

TEST_CASE("commands: Next Server ends the session with its NDEATH and the next server takes over") {
  Mosquitto a, b;
  Subscriber sub_a(a.url()), sub_b(b.url());
  TempDir dir;
  AgentOptions o;
  o.first_server = a.url();
  o.url = b.url();
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub_a.wait_for("NDATA", 1, 20s));
  const Payload birth = sub_a.of_type("NBIRTH")[0].decoded;
  sub_a.publish(kNcmd, command("Node Control/Next Server", false).SerializeAsString());
  sub_a.publish(kNcmd, command("Node Control/Next Server", true).SerializeAsString());
  // On A: the agent's own NDEATH (timestamp: now) and the broker's copy of the
  // Will (DISCONNECT 0x04), both with the birth's bdSeq.
  REQUIRE(sub_a.wait_for("NDEATH", 2, 10s));
  const auto deaths = sub_a.of_type("NDEATH");
  CHECK(bdseq(deaths[0].decoded) == bdseq(birth));
  CHECK(bdseq(deaths[1].decoded) == bdseq(birth));
  CHECK(deaths[0].decoded.timestamp() >= birth.timestamp());
  // On B: a new session, the next bdSeq, data.
  REQUIRE(sub_b.wait_for("NDATA", 1, 15s));
  CHECK(bdseq(sub_b.of_type("NBIRTH")[0].decoded) == (bdseq(birth) + 1) % 256);
  CHECK(sub_a.of_type("NBIRTH").size() == 1);
  const std::string log = agent.log();
  CHECK(count(log, "Node Control/Next Server = false: nothing to do") == 1);
  CHECK(count(log, "Node Control/Next Server = true: ending this session for " + b.url()) == 1);
  CHECK_THAT(log, Catch::Contains("lost broker " + a.url() +
                                  " (a host application asked for the next server"));
  CHECK_THAT(log, Catch::Contains("connected to " + b.url()));
}

TEST_CASE("commands: malformed ones are refused with one line each and nothing else happens") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  Payload nine;
  for (int i = 0; i < 9; ++i)
    *nine.add_metrics() = command("Node Control/Rebirth", true).metrics(0);
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {std::string("\xff\x01garbage", 9), "not a Sparkplug B payload (9 bytes)"},
      {command("Node Control/Probe Now", std::string(5000, 'p')).SerializeAsString(),
       "bytes; one has at most 4096"},
      {command("Node Control/Next Server", true, 12).SerializeAsString(),
       "Node Control/Next Server with datatype 12; it takes Boolean (11) or none"},
      {command("Node Control/Next Server", std::string("true")).SerializeAsString(),
       "Node Control/Next Server without a Boolean value"},
      {command("Node Control/Reboot", true).SerializeAsString(),
       "\"Node Control/Reboot\" is not a command of this node"},
      {command("System/Uptime", true).SerializeAsString(),
       "\"System/Uptime\" is a measurement of this node, not a command"},
      {command("Device Control/Rebirth", true).SerializeAsString(),
       "\"Device Control/Rebirth\" is not a command of this node"},
      {command("Node Control/Scan Rate", int64_t{0}).SerializeAsString(),
       "Node Control/Scan Rate = 0 ms: out of range"},
      {command("x\n2026-01-01T00:00:00.000Z E agent: FORGED", true).SerializeAsString(),
       "\"x\\n2026-01-01T00:00:00.000Z E agent: FORGED\" is not a command of this node"},
      {nine.SerializeAsString(), "9 metrics; a command has at most 8"},
  };
  for (const auto& [payload, reason] : malformed) rig.sub.publish(kNcmd, payload);
  rig.sub.publish("spBv1.0/school-test/DCMD/room-1/ghost",
                  command("Device Control/Rebirth", true).SerializeAsString());
  // A good command after them: once it is answered, they have all been handled.
  rig.sub.publish(kNcmd, rebirth_command().SerializeAsString());
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  const std::string log = agent.log();
  for (const auto& [payload, reason] : malformed) {
    INFO(reason);
    CHECK(count(log, "ignored a malformed command on " + kNcmd + ": ") >= 1);
    CHECK(count(log, reason) == 1);
  }
  CHECK(count(log, "ignored a malformed command on " + kNcmd + ": ") == malformed.size());
  CHECK(count(log,
              "ignored a command on spBv1.0/school-test/DCMD/room-1/ghost: this node has no "
              "device \"ghost\"") == 1);
  // Nothing else happened: one rebirth (the good command's), no death, no new
  // interval, no probe, no reload.
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 3, 10s));
  CHECK(rig.sub.of_type("NBIRTH").size() == 2);
  CHECK(rig.sub.of_type("NDEATH").empty());
  CHECK(scan_rates_in_data(rig.sub).empty());
  CHECK(count(agent.log(), "reload") == 0);
  for (int64_t step : steps(samples_after(rig.sub, 0))) CHECK(step <= 650);
}

TEST_CASE(
    "commands: a flood is cut by the rate limit and the loop keeps its grid without a birth "
    "storm") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  const std::string rebirth = rebirth_command().SerializeAsString();
  const int64_t start = now_ms();
  for (int i = 0; i < 3000; ++i) rig.sub.publish(kNcmd, rebirth, 0);
  const int64_t end = now_ms();
  const int64_t flood_s = (end - start) / 1000 + 1;
  // Data keeps its 500 ms grid through the flood, and births come at most one
  // a second (the coalescing), far fewer than the commands. A sample taken
  // well after the flood: the loop has handled all of it.
  REQUIRE(wait_until([&] { return !samples_after(rig.sub, end + 1500).empty(); }, 10s));
  const auto births = rig.sub.of_type("NBIRTH").size();
  INFO(births << " births for a flood of " << flood_s << " s");
  CHECK(births >= 2);
  CHECK(static_cast<int64_t>(births) <= 1 + flood_s + 2);
  for (int64_t step : steps(samples_after(rig.sub, start))) {
    INFO("samples " << step << " ms apart");
    CHECK(step <= 1000);
  }
  CHECK(count(agent.log(), "ignoring commands: more than 5 a second") == 1);
  // A command after the flood is taken, and the count of what was dropped is said once.
  rig.sub.publish(kNcmd, rebirth);
  REQUIRE(rig.sub.wait_for("NBIRTH", births + 1, 10s));
  CHECK(count(agent.log(), "taking commands again; ") == 1);
  std::smatch dropped;
  const std::string log = agent.log();
  REQUIRE(std::regex_search(log, dropped, std::regex("taking commands again; (\\d+) dropped")));
  INFO(dropped[0]);
  CHECK(std::stoi(dropped[1]) > 3000 - 20 - 5 * flood_s - 10);  // all but the burst and the rate
}
