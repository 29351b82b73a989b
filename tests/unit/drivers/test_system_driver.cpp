#include <catch2/catch.hpp>
#include <concepts>
#include <filesystem>
#include <type_traits>

#include "../config/config_text.hpp"
#include "../map_sink.hpp"
#include "../temp_dir.hpp"
#include "system/machine.hpp"
#include "system/system_config.hpp"
#include "system/system_driver.hpp"

using namespace classroom;
using namespace classroom::drivers::system;
namespace fs = std::filesystem;

namespace {
const std::string kFixtures = FIXTURES_DIR;

Options options(const std::string& proc, const std::string& sys = "/nonexistent") {
  Options o;
  o.proc_root = proc;
  o.sys_root = sys;
  o.mounts = {"/"};
  return o;
}
}  // namespace

// A key added to Settings reaches the driver without make() copying it.
static_assert(std::is_base_of_v<Settings, Options>);
// Made from Settings only when asked, and never compared as if it were them.
static_assert(!std::is_convertible_v<Settings, Options>);
static_assert(!std::equality_comparable<Options>);

TEST_CASE("system driver: make() hands over the mounts of sources.system") {
  TempDir tmp;
  fs::copy(kFixtures + "/proc-synthetic-4cpu", tmp.path, fs::copy_options::recursive);
  const auto loaded = config::testing::load_with(
      "[host]\nproc = \"" + tmp.path + "\"\n[sources.system]\nmounts = [\"" + tmp.path + "\"]\n");
  INFO(config::testing::errors_text(loaded));
  REQUIRE(loaded.config);
  auto driver = make(*loaded.config, *loaded.config->source("system"));
  MapSink sink;
  REQUIRE(driver->collect(sink).ok);
  CHECK(sink.measured("Disk/" + mount_label(tmp.path) + "/Free"));
  CHECK_FALSE(sink.has("Disk/Root/Free"));
  // [host] proc is not the live /proc: neither the clock nor the properties are read.
  CHECK_FALSE(sink.has("System/Clock/Synchronized"));
  CHECK(sink.get<float>("System/Load/1m") == Approx(0.52));
}

TEST_CASE("system driver: every metric from a synthetic 4-core /proc") {
  TempDir tmp;
  fs::copy(kFixtures + "/proc-synthetic-4cpu", tmp.path, fs::copy_options::recursive);
  SystemDriver driver(options(tmp.path, kFixtures + "/sys-synthetic-sensors"));
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());

  CHECK(sink.get<float>("System/Load/1m") == Approx(0.52));
  CHECK(sink.get<float>("System/Load/15m") == Approx(0.59));
  CHECK(sink.get<uint64_t>("System/Memory/Total") == 3884344ull * 1024);
  CHECK(sink.get<uint64_t>("System/Memory/Available") == 3324160ull * 1024);
  CHECK(sink.get<float>("System/Memory/Used") ==
        Approx(100.0 * (3884344 - 3324160) / 3884344.0).epsilon(1e-4));
  CHECK(sink.get<float>("System/Swap/Used") == Approx(25.0).epsilon(1e-3));
  CHECK(sink.get<double>("System/Uptime") == Approx(14063.82));
  CHECK(sink.get<uint64_t>("Agent/Memory/RSS") == 4040ull * 1024);
  CHECK(sink.get<double>("Agent/CPU/Time") == Approx(49.0 / sysconf(_SC_CLK_TCK)));
  CHECK(sink.at("System/Memory/Used").unit == "%");
  CHECK(sink.at("System/Memory/Total").type == DataType::UInt64);
  // Rates need two samples: declared (for the birth) but no value yet.
  CHECK(sink.has("System/CPU/Usage"));
  CHECK_FALSE(sink.measured("System/CPU/Usage"));
  CHECK(sink.measured("Disk/Root/Used"));
  CHECK(sink.measured("Disk/Root/Free"));

  // Temperatures: zones by type (a repeated type numbered), hwmon by chip and label,
  // and a sensor reading -273 C has no value rather than a wrong one.
  CHECK(sink.get<float>("System/Temperature/x86_pkg_temp") == Approx(45.0));
  CHECK(sink.get<float>("System/Temperature/acpitz") == Approx(27.8));
  CHECK(sink.has("System/Temperature/acpitz 2"));
  CHECK_FALSE(sink.measured("System/Temperature/acpitz 2"));
  CHECK(sink.get<float>("System/Temperature/coretemp Package id 0") == Approx(46.0));
  CHECK(sink.get<float>("System/Temperature/coretemp Core 0") == Approx(44.0));
  CHECK(sink.get<float>("System/Temperature/nvme Composite") == Approx(38.85));
  CHECK(sink.at("System/Temperature/nvme Composite").unit == "°C");

  // The second sample: 25 % busy, and the agent used 4 of the 400 ticks.
  for (const char* f : {"stat", "self/stat", "uptime"})
    fs::copy_file(kFixtures + "/proc-synthetic-4cpu-later/" + f, tmp / f,
                  fs::copy_options::overwrite_existing);
  const int before = sink.declarations;
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.declarations == before);  // metrics are declared once, not per cycle
  CHECK(sink.get<float>("System/CPU/Usage") == Approx(25.0));
  CHECK(sink.get<float>("Agent/CPU/Usage") == Approx(1.0));
  CHECK(sink.get<double>("System/Uptime") == Approx(14064.82));
}

TEST_CASE("system driver: a broken file costs its metrics, not the sample") {
  SystemDriver driver(options(kFixtures + "/proc-broken"));
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);  // uptime could still be read
  CHECK_THAT(r.warning, Catch::Contains("load") && Catch::Contains("memory"));
  CHECK(sink.get<double>("System/Uptime") == Approx(14063.82));
  CHECK(sink.get<uint64_t>("System/Memory/Total") == 3884344ull * 1024);
  CHECK_FALSE(sink.measured("System/Memory/Available"));
  CHECK_FALSE(sink.measured("System/Load/1m"));
  CHECK_FALSE(sink.measured("Agent/Memory/RSS"));
}

TEST_CASE("system driver: truncated files") {
  SystemDriver driver(options(kFixtures + "/proc-truncated"));
  MapSink sink;
  auto r = driver.collect(sink);
  CHECK_FALSE(r.ok);  // nothing at all could be read
  CHECK_THAT(r.error, Catch::Contains("proc-truncated"));
  CHECK(sink.measured("Disk/Root/Used"));  // disks do not depend on /proc
}

TEST_CASE("system driver: no /proc at all fails with the path") {
  SystemDriver driver(options("/nonexistent-proc"));
  MapSink sink;
  auto r = driver.collect(sink);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("/nonexistent-proc"));
}

TEST_CASE("system driver: the live /proc of this machine") {
  SystemDriver driver(options("/proc", "/sys"));
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<uint64_t>("System/Memory/Total") > 0);
  CHECK(sink.get<double>("System/Uptime") > 0);
  CHECK(sink.get<uint64_t>("Agent/Memory/RSS") > 0);
}

TEST_CASE("mount labels") {
  CHECK(mount_label("/") == "Root");
  CHECK(mount_label("/var/lib") == "var/lib");
  CHECK(mount_label("/srv/") == "srv");
}

namespace {
std::optional<ClockStatus> g_fake_clock;
std::optional<ClockStatus> fake_clock() {
  return g_fake_clock;
}
}  // namespace

TEST_CASE("system driver: an unsynchronised clock is explained once, and its return once") {
  TempDir tmp;
  fs::copy(kFixtures + "/proc-synthetic-4cpu", tmp.path, fs::copy_options::recursive);
  Options o = options(tmp.path);
  o.clock = true;
  o.clock_reader = fake_clock;
  SystemDriver driver(o);
  MapSink sink;
  CHECK_FALSE(driver.clock_synchronized().has_value());  // not read yet
  g_fake_clock = ClockStatus{false, 16000.0};
  std::string warning;
  for (int i = 0; i < 3; ++i) {
    auto r = driver.collect(sink);
    REQUIRE(r.ok);
    if (i > 0) CHECK(r.warning == warning);  // the same words: the scheduler logs them once
    warning = r.warning;
    CHECK(r.note.empty());
  }
  CHECK_FALSE(sink.get<bool>("System/Clock/Synchronized"));
  CHECK(driver.clock_synchronized() == false);
  CHECK(sink.get<double>("System/Clock/Max Error") == 16000.0);
  INFO(warning);
  CHECK(warning.rfind("the system clock is not synchronised to any time source", 0) == 0);
  CHECK(warning.find("off by up to 16 s") != std::string::npos);
  CHECK(warning.find("the timestamp of every metric this agent publishes may be wrong") !=
        std::string::npos);
  CHECK(warning.find("timedatectl status") != std::string::npos);
  CHECK(warning.find("systemd-timesyncd") != std::string::npos);
  CHECK(warning.find("NTP server") != std::string::npos);

  // Its end is said once, in the collection that sees it.
  g_fake_clock = ClockStatus{true, 12.0};
  auto back = driver.collect(sink);
  CHECK(back.warning.empty());
  CHECK(back.note.rfind("the system clock is synchronised again (max error 12 ms)", 0) == 0);
  auto after = driver.collect(sink);
  CHECK(after.note.empty());
  CHECK(sink.get<bool>("System/Clock/Synchronized"));
  CHECK(driver.clock_synchronized() == true);

  // A new episode is a new warning; a clock the kernel cannot report changes nothing.
  g_fake_clock = ClockStatus{false, 16000.0};
  CHECK(driver.collect(sink).warning == warning);
  g_fake_clock.reset();
  auto unknown = driver.collect(sink);
  CHECK(unknown.warning == warning);
  CHECK(unknown.note.empty());
}

TEST_CASE("system driver: Properties from DMI, a device tree and os-release, put once") {
  Options o = options(kFixtures + "/proc-synthetic-4cpu", kFixtures + "/sys-synthetic-dmi");
  o.properties = true;
  o.os_release = {"/nonexistent/os-release", kFixtures + "/etc-debian12/os-release"};
  o.agent_version = "9.8.7";
  SystemDriver pc(o);
  MapSink sink;
  REQUIRE(pc.collect(sink).ok);
  CHECK(sink.get<std::string>("Properties/Hardware Make") == "LENOVO");
  CHECK(sink.get<std::string>("Properties/Hardware Model") == "ThinkCentre M75q Gen 2");
  CHECK(sink.get<std::string>("Properties/OS") == "Debian GNU/Linux");
  CHECK(sink.get<std::string>("Properties/OS Version") == "12 (bookworm)");
  CHECK(sink.get<std::string>("Properties/Agent Version") == "9.8.7");

  o.sys_root = kFixtures + "/sys-synthetic-devicetree";
  o.os_release = {"/nonexistent/os-release"};
  SystemDriver board(o);
  MapSink arm;
  REQUIRE(board.collect(arm).ok);
  CHECK(arm.get<std::string>("Properties/Hardware Make") == "raspberrypi");
  CHECK(arm.get<std::string>("Properties/Hardware Model") == "Raspberry Pi 4 Model B Rev 1.4");
  CHECK(arm.has("Properties/OS"));  // declared (null in the birth), no value
  CHECK_FALSE(arm.measured("Properties/OS"));
}

TEST_CASE("system driver: os-release quoting, VERSION_ID fallback, hostile bytes escaped") {
  auto r = parse_os_release("NAME='Alpine Linux'\nVERSION_ID=3.19.1\n");
  CHECK(r.name == "Alpine Linux");
  CHECK(r.version == "3.19.1");
  r = parse_os_release("# comment\nNAME=\"Evil \\\"OS\\\"\x1b[2J\"\nVERSION=\"" +
                       std::string(500, 'x') + "\"\n");
  CHECK(r.name.find('\x1b') == std::string::npos);
  CHECK(r.name.rfind("Evil \"OS\"", 0) == 0);
  CHECK(r.version.size() <= 128);  // 96 bytes and the mark of the cut
  CHECK(devicetree_vendor(std::string("fsl,imx8mm-evk\0fsl,imx8mm", 26)) == "fsl");
  CHECK(devicetree_vendor("nocomma").empty());
  CHECK(parse_os_release("").name.empty());
}
