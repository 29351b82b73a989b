// [status] and the [log] file keys.
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../temp_dir.hpp"
#include "config_text.hpp"

using namespace classroom::config;
using namespace classroom::config::testing;

TEST_CASE("config: [status] defaults to the unit's runtime directory, mode 0600") {
  LoadResult r = load_with("");
  REQUIRE(r.config);
  CHECK(r.config->status.enabled);
  CHECK(r.config->status.socket == "/run/classroom-agent/status.sock");
  CHECK(r.config->status.group.empty());
  CHECK(r.config->status.gid == -1);
}

TEST_CASE("config: [status] socket relative to the config, group resolved") {
  LoadResult r = load_with("[status]\nsocket = \"run/status.sock\"\ngroup = \"root\"\n",
                           "/etc/classroom-agent/agent.toml");
  INFO(errors_text(r));
  REQUIRE(r.config);
  CHECK(r.config->status.socket == "/etc/classroom-agent/run/status.sock");
  CHECK(r.config->status.gid == 0);
}

TEST_CASE("config: [status] mistakes name the key and the fix") {
  TempDir dir;
  std::ofstream(dir / "file") << "x";
  const std::string long_path = "/run/" + std::string(120, 'a') + "/status.sock";
  LoadResult r = load_with("[status]\nsocket = \"" + long_path +
                           "\"\ngroup = \"no-such-group-s13\"\nenabled = 1\n");
  const std::string text = errors_text(r);
  CHECK_THAT(text, Catch::Contains("status.socket: \"/run/aaa"));
  CHECK_THAT(text, Catch::Contains("is longer than a UNIX socket path may be (107 bytes)"));
  CHECK_THAT(text, Catch::Contains("status.group: no group \"no-such-group-s13\" on this system"));
  CHECK_THAT(text, Catch::Contains("status.enabled: expected true or false"));

  LoadResult r2 = load_with("[status]\nsocket = \"" + dir / "file" + "\"\n");
  CHECK_THAT(errors_text(r2), Catch::Contains("exists and is not a socket"));
  LoadResult r3 = load_with("[status]\nsocket = \"" + dir / "file/status.sock" + "\"\n");
  CHECK_THAT(errors_text(r3), Catch::Contains("is not a directory, so the socket cannot be in it"));
  LoadResult r4 = load_with("[status]\nsocket = \"a\\nb\"\n");
  CHECK_THAT(errors_text(r4), Catch::Contains("holds a control character"));
}

TEST_CASE("config: status_socket_of reads only [status]") {
  TempDir dir;
  // The rest of the file names a secret this user might not read: not looked at.
  std::ofstream(dir / "agent.toml")
      << "[identity]\ngroup = \"g\"\nnode = \"n\"\n[[devices.snmp]]\nname = \"sw\"\n"
         "address = \"10.0.0.2\"\ncommunity_file = \"/nonexistent/secret\"\n"
         "[status]\nsocket = \"s.sock\"\n";
  std::string error;
  auto socket = status_socket_of(dir / "agent.toml", error);
  INFO(error);
  REQUIRE(socket);
  CHECK(*socket == dir / "s.sock");

  std::ofstream(dir / "off.toml") << "[status]\nenabled = false\n";
  socket = status_socket_of(dir / "off.toml", error);
  REQUIRE(socket);
  CHECK(socket->empty());

  std::ofstream(dir / "none.toml") << "[identity]\n";
  socket = status_socket_of(dir / "none.toml", error);
  REQUIRE(socket);
  CHECK(*socket == "/run/classroom-agent/status.sock");

  std::ofstream(dir / "bad.toml") << "[status]\nsocket = 5\n";
  CHECK_FALSE(status_socket_of(dir / "bad.toml", error));
  CHECK_THAT(error, Catch::Contains("bad.toml:2:10: status.socket: expected a string"));
}

TEST_CASE("config: [log] file, max_bytes, keep and fold") {
  LoadResult r = load_with(
      "[log]\nfile = \"log/agent.log\"\nmax_bytes = \"256KiB\"\nkeep = 5\nfold = \"30s\"\n",
      "/etc/classroom-agent/agent.toml");
  INFO(errors_text(r));
  REQUIRE(r.config);
  CHECK(r.config->log.file == "/etc/classroom-agent/log/agent.log");
  CHECK(r.config->log.max_bytes == 256u << 10);
  CHECK(r.config->log.keep == 5);
  CHECK(r.config->log.fold.count() == 30'000);

  LoadResult d = load_with("");
  REQUIRE(d.config);
  CHECK(d.config->log.file.empty());
  CHECK(d.config->log.max_bytes == 1u << 20);
  CHECK(d.config->log.keep == 3);
  CHECK(d.config->log.fold.count() == 60'000);

  TempDir dir;
  LoadResult bad = load_with("[log]\nfile = \"" + dir.path +
                             "\"\nmax_bytes = \"1KiB\"\nkeep = 0\nfold = \"2h\"\n");
  const std::string text = errors_text(bad);
  CHECK_THAT(text,
             Catch::Contains("log.file: \"" + dir.path + "\" exists and is not a regular file"));
  CHECK_THAT(text, Catch::Contains("log.max_bytes: \"1KiB\" is too small"));
  CHECK_THAT(text, Catch::Contains("log.keep: 0 is out of range; allowed 1 to 100"));
  CHECK_THAT(text, Catch::Contains("log.fold: \"2h\" is out of range"));
}

TEST_CASE("config: a status socket directory others may write in is warned about") {
  TempDir dir;
  auto make = [&](const std::string& name, mode_t mode) {
    std::filesystem::create_directories(dir / name);
    ::chmod((dir / name).c_str(), mode);
  };
  auto warnings_for = [&](const std::string& socket_dir) {
    LoadResult r = load_with("[status]\nsocket = \"" + socket_dir + "/status.sock\"\n");
    INFO(errors_text(r));
    REQUIRE(r.config);
    std::string out;
    for (const std::string& w : r.config->warnings) out += w + "\n";
    return out;
  };
  make("fine", 0755);
  CHECK(warnings_for(dir / "fine").empty());
  make("open", 01777);
  CHECK_THAT(
      warnings_for(dir / "open"),
      Catch::Contains("agent.toml:10:10: status.socket: the status socket's directory " +
                      dir / "open" + " may be written by every user, who could then answer"));
  make("group", 0775);
  CHECK_THAT(warnings_for(dir / "group"), Catch::Contains("may be written by its group (gid "));
  // Not there yet: the agent would create it in the directory above, which counts.
  CHECK_THAT(warnings_for(dir / "open/classroom-agent"),
             Catch::Contains("directory " + dir / "open" + " may be written by every user"));
  if (::geteuid() == 0) {  // CI runs as root: a directory given to another user
    make("theirs", 0755);
    REQUIRE(::chown((dir / "theirs").c_str(), 65534, 65534) == 0);
    CHECK_THAT(warnings_for(dir / "theirs"), Catch::Contains("by its owner (uid 65534)"));
  }
}
