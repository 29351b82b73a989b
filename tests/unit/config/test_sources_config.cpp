// [sources.<name>]: each table read by the reader of that name the caller
// passes (the config knows no driver), with the file, line and key of every
// mistake; a source's settings take part in Config's ==, which a reload
// compares; every registered source and each of its keys is documented.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "config.hpp"
#include "config_text.hpp"
#include "registry.hpp"
#include "section.hpp"

using namespace classroom::config;
using namespace std::chrono_literals;

namespace {

// A source of the test's own, with one key.
struct FakeSettings {
  int64_t level = 3;
  bool operator==(const FakeSettings&) const = default;
};

std::shared_ptr<const SourceSettings> read_fake(Section& s, bool enabled) {
  s.expect_keys({"level"});
  FakeSettings out;
  s.integer("level", out.level, 1, 9);
  if (enabled && out.level == 9) s.wrong("level", "9 only with enabled = false");
  return std::make_shared<SettingsOf<FakeSettings>>(out);
}

const SourceReader kFake[] = {{"fake", false, 7s, &read_fake}};

LoadResult load_fake(const std::string& extra) {
  return load_string(testing::kMinimal + extra, "agent.toml", kFake);
}

}  // namespace

TEST_CASE("a sources table no reader takes is an unknown key", "[config]") {
  LoadResult r =
      load_string(testing::kMinimal + "[sources.system]\ninterval = \"10s\"\n", "agent.toml", {});
  REQUIRE_FALSE(r.config);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 9);
  CHECK(r.errors[0].key == "sources.system");
  CHECK_THAT(r.errors[0].message, Catch::StartsWith("unknown key"));

  r = load_fake("[sources.system]\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].key == "sources.system");
  CHECK_THAT(r.errors[0].message, Catch::Contains("known keys here: fake"));
}

TEST_CASE("a source's reader gets its table and the config its enabled and interval", "[config]") {
  LoadResult r = load_fake("");
  REQUIRE(r.config);
  const Source* s = r.config->source("fake");
  REQUIRE(s);
  CHECK_FALSE(s->enabled);  // off without its table
  CHECK(s->interval == 7s);
  CHECK(s->settings_as<FakeSettings>().level == 3);
  CHECK(r.config->source("system") == nullptr);

  r = load_fake("[sources.fake]\nlevel = 5\ninterval = \"2s\"\n");
  REQUIRE(r.config);
  s = r.config->source("fake");
  REQUIRE(s);
  CHECK(s->enabled);
  CHECK(s->interval == 2s);
  CHECK(s->settings_as<FakeSettings>().level == 5);

  // The reader's check that depends on enabled.
  CHECK(load_fake("[sources.fake]\nlevel = 9\nenabled = false\n").config);
  r = load_fake("[sources.fake]\nlevel = 9\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].to_string() ==
        "agent.toml:10:9: sources.fake.level: 9 only with enabled = false");
}

TEST_CASE("a source's mistakes name file, line and key, in file order", "[config]") {
  LoadResult r = load_fake("[sources.fake]\nlevle = 1\ninterval = \"1ms\"\nlevel = 10\n");
  REQUIRE_FALSE(r.config);
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].to_string() ==
        "agent.toml:10:1: sources.fake.levle: unknown key (known keys here: enabled, interval, "
        "level)");
  CHECK(r.errors[1].to_string() ==
        "agent.toml:11:12: sources.fake.interval: \"1ms\" is out of range; allowed 100ms to "
        "86400s");
  CHECK(r.errors[2].to_string() ==
        "agent.toml:12:9: sources.fake.level: 10 is out of range; allowed 1 to 9");
}

TEST_CASE("configs differ when a source's settings differ", "[config]") {
  const LoadResult a = load_fake("[sources.fake]\nlevel = 5\n");
  const LoadResult same = load_fake("[sources.fake]\nlevel = 5\n");
  const LoadResult other = load_fake("[sources.fake]\nlevel = 6\n");
  const LoadResult slower = load_fake("[sources.fake]\nlevel = 5\ninterval = \"8s\"\n");
  const LoadResult off = load_fake("[sources.fake]\nlevel = 5\nenabled = false\n");
  REQUIRE((a.config && same.config && other.config && slower.config && off.config));
  CHECK(*a.config == *same.config);
  CHECK_FALSE(*a.config == *other.config);
  CHECK_FALSE(*a.config == *slower.config);
  CHECK_FALSE(*a.config == *off.config);

  // The same through the registered drivers' own settings.
  auto lan = [](const std::string& interfaces) {
    return testing::load_with("[sources.lan]\ninterfaces = " + interfaces + "\n");
  };
  const LoadResult one = lan("[\"br-lan\"]"), again = lan("[\"br-lan\"]"), two = lan("[\"br0\"]");
  REQUIRE((one.config && again.config && two.config));
  CHECK(*one.config == *again.config);
  CHECK_FALSE(*one.config == *two.config);
}

TEST_CASE("every registered source and its keys are in config/README.md", "[config]") {
  std::ifstream in(std::string(FIXTURES_DIR) + "/../../config/README.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  REQUIRE(classroom::drivers::source_readers().size() ==
          classroom::drivers::registered_drivers().size());
  for (const SourceReader& reader : classroom::drivers::source_readers()) {
    const std::string name(reader.name);
    INFO("[sources." + name + "]");
    const std::string heading = "## `[sources." + name + "]`";
    const size_t at = readme.find(heading);
    REQUIRE(at != std::string::npos);
    const std::string section = readme.substr(at, readme.find("\n## ", at + 1) - at);
    // The keys the reader takes, as the message about an unknown one names them.
    LoadResult r = testing::load_with("[sources." + name + "]\nno_such_key = 1\n");
    REQUIRE(r.errors.size() == 1);
    const std::string& message = r.errors[0].message;
    const std::string intro = "known keys here: ";
    const size_t from = message.find(intro);
    REQUIRE(from != std::string::npos);
    std::stringstream keys(
        message.substr(from + intro.size(), message.rfind(')') - from - intro.size()));
    for (std::string key; std::getline(keys >> std::ws, key, ',');) {
      INFO(key);
      CHECK((section.find("| `" + key + "` |") != std::string::npos ||
             section.find("[[sources." + name + "." + key + "]]") != std::string::npos));
    }
  }
}
