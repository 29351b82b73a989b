// NAT pressure from the conntrack sysctl files of a fixture /proc.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../map_sink.hpp"
#include "../temp_dir.hpp"
#include "nat/nat_driver.hpp"

using namespace classroom;
using namespace classroom::drivers::nat;
namespace fs = std::filesystem;

namespace {
const std::string kFixtures = FIXTURES_DIR;

struct Proc {
  TempDir tmp;
  Proc() { fs::create_directories(tmp.path + "/sys/net/netfilter"); }
  void write(const std::string& file, const std::string& text) {
    std::ofstream(tmp.path + "/sys/net/netfilter/" + file, std::ios::trunc) << text;
  }
  NatDriver driver() {
    Options o;
    o.proc_root = tmp.path;
    return NatDriver(o);
  }
};
}  // namespace

TEST_CASE("nat: entries, max and used from a gateway's conntrack files") {
  Options o;
  o.proc_root = kFixtures + "/net-gateway/proc";
  NatDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());
  CHECK(r.note.empty());
  CHECK(sink.get<uint64_t>("NAT/Conntrack Entries") == 1234);
  CHECK(sink.get<uint64_t>("NAT/Conntrack Max") == 262144);
  CHECK(sink.get<float>("NAT/Conntrack Used") == Approx(100.0 * 1234 / 262144));
  CHECK(sink.at("NAT/Conntrack Used").unit == "%");
  CHECK(sink.at("NAT/Conntrack Used").type == DataType::Float);
  CHECK(sink.at("NAT/Conntrack Entries").type == DataType::UInt64);
}

TEST_CASE("nat: a full table is 100 %, and the values follow the files") {
  Proc proc;
  proc.write("nf_conntrack_count", "65536\n");
  proc.write("nf_conntrack_max", "65536\n");
  NatDriver driver = proc.driver();
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<float>("NAT/Conntrack Used") == Approx(100.0));
  proc.write("nf_conntrack_count", "16384\n");
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<uint64_t>("NAT/Conntrack Entries") == 16384);
  CHECK(sink.get<float>("NAT/Conntrack Used") == Approx(25.0));
}

TEST_CASE("nat: no conntrack in the kernel: no value and a note, not a fault") {
  Proc proc;  // sys/net/netfilter exists but holds no conntrack files
  NatDriver driver = proc.driver();
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());
  CHECK_THAT(r.note, Catch::Contains("connection tracking is not available"));
  CHECK_THAT(r.note, Catch::Contains("nf_conntrack_count"));
  CHECK(sink.has("NAT/Conntrack Entries"));  // declared: null in the birth
  CHECK_FALSE(sink.measured("NAT/Conntrack Entries"));
  CHECK_FALSE(sink.measured("NAT/Conntrack Max"));
  CHECK_FALSE(sink.measured("NAT/Conntrack Used"));

  // The module is loaded later: the metrics appear, the note clears.
  proc.write("nf_conntrack_count", "3\n");
  proc.write("nf_conntrack_max", "1000\n");
  r = driver.collect(sink);
  CHECK(r.note.empty());
  CHECK(sink.get<float>("NAT/Conntrack Used") == Approx(0.3));
}

TEST_CASE("nat: a garbled file costs its own value") {
  Proc proc;
  proc.write("nf_conntrack_count", "lots\n");
  proc.write("nf_conntrack_max", "262144\n");
  NatDriver driver = proc.driver();
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("nf_conntrack_count (not a number)"));
  CHECK(sink.get<uint64_t>("NAT/Conntrack Max") == 262144);
  CHECK_FALSE(sink.measured("NAT/Conntrack Entries"));
  CHECK_FALSE(sink.measured("NAT/Conntrack Used"));

  proc.write("nf_conntrack_count", std::string(40, '9') + "\n");  // longer than any counter
  proc.write("nf_conntrack_max", "");
  r = driver.collect(sink);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("nf_conntrack_count"));
}

TEST_CASE("nat: parsing the sysctl numbers") {
  CHECK(parse_sysctl_number("262144\n") == 262144u);
  CHECK(parse_sysctl_number("0") == 0u);
  CHECK_FALSE(parse_sysctl_number(""));
  CHECK_FALSE(parse_sysctl_number("\n"));
  CHECK_FALSE(parse_sysctl_number("-1\n"));
  CHECK_FALSE(parse_sysctl_number("12 34\n"));
  CHECK_FALSE(parse_sysctl_number("99999999999999999999999\n"));
  CHECK(used_percent(50, 200) == Approx(25.0));
  CHECK_FALSE(used_percent(50, 0));  // max 0: no limit
}

TEST_CASE("nat: the live kernel's files, where it has them") {
  Options o;
  NatDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  const bool available = fs::exists("/proc/sys/net/netfilter/nf_conntrack_max");
  CHECK(sink.measured("NAT/Conntrack Max") == available);
  CHECK(r.note.empty() == available);
}
