// classroom-agent: the command line. Everything else lives in the core library.
#include <malloc.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <iostream>

#include "config.hpp"
#include "console/cli.hpp"
#include "daemon/agent.hpp"
#include "log.hpp"
#include "mqtt/mqtt_client.hpp"
#include "printable.hpp"
#include "probes/shared_library.hpp"
#include "registry.hpp"
#include "status/client.hpp"
#include "tls_files.hpp"
#include "version.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/classroom-agent/agent.toml";

// Exit statuses (README.md, "Command line"): one per kind of failure, so that a
// script or systemd can tell them apart.
constexpr int kExitConfig = 2;  // the config file is unreadable or has mistakes
constexpr int kExitUsage = 64;  // a usage mistake on the command line (sysexits EX_USAGE)
constexpr const char* kExitStatusHelp =
    "Exit status: 0 done (run: stopped by SIGTERM or SIGINT); 1 the agent could not run\n"
    "(another agent holds the state dir) or, for once, a source failed; 2 the config\n"
    "has mistakes or cannot be read; 64 a usage mistake on the command line.\n"
    "status: 0 all well, 1 degraded, 2 not running, 3 cannot tell (no permission, no answer).";

// Every usage mistake: what is wrong, then how it is used; one exit status.
int usage_error(const CLI::App& app, const std::string& what) {
  std::cerr << "classroom-agent: " << what << "\n\n"
            << app.help() << "\nCommands: run, once, check-config, status, version, tail, fleet; "
            << "classroom-agent COMMAND --help tells more.\n";
  return kExitUsage;
}

// Loads and validates; prints every problem as FILE:LINE:COL: key: message.
std::optional<classroom::config::Config> load(const std::string& path) {
  auto result = classroom::config::load_file(path, classroom::drivers::source_readers());
  // Errors under journald (ExecReload, `run`): at priority err, so that
  // `journalctl -p warning` shows why the config was refused.
  const char* err = classroom::log::priority_prefix(classroom::log::Level::error);
  for (const auto& e : result.errors) std::cerr << err << e.to_string() << "\n";
  if (!result.errors.empty())
    std::cerr << err << path << ": " << result.errors.size() << " problem"
              << (result.errors.size() == 1 ? "" : "s") << "; nothing was started\n";
  return std::move(result.config);
}

// check-config run as root (sudo) checks the secrets for the agent's user,
// the owner of [state] dir: a root-owned file of mode 600 passes for root and
// fails for the agent. Loads again with that check; false on a mistake.
bool check_as_agent_user(const std::string& path, std::optional<classroom::config::Config>& cfg) {
  struct stat st {};
  const std::string state_dir = cfg->state.dir;
  if (::geteuid() != 0 || ::stat(state_dir.c_str(), &st) != 0 || st.st_uid == 0) return true;
  classroom::config::expect_secret_owner(st.st_uid);
  cfg = load(path);
  return cfg.has_value();
}

// What main() does once the command line is read. The command line parser is
// gone by then: `run` lives for months, and CLI11's tables (tens of KiB) would
// live as long.
struct Command {
  enum Kind { done, run, once, check_config } kind = done;
  int exit_status = 0;  // for done: the command already ran (or failed to parse)
  std::string config_path;
  classroom::RunDiagnostics diagnostics;  // run only
};

// The agent's own commands and what they were given.
struct Commands {
  std::string config_path = kDefaultConfig;
  classroom::RunDiagnostics diagnostics;
  std::vector<std::string> missing_libraries;
  bool status_json = false;
  CLI::App *run = nullptr, *once = nullptr, *check = nullptr, *version = nullptr, *status = nullptr;
};

// `run`, with its options hidden from --help for the tests.
CLI::App* add_run(CLI::App& app, Commands& c) {
  auto* run = app.add_subcommand("run", "Run the agent in the foreground (as systemd does)");
  run->add_option("-c,--config", c.config_path, "Config file")->capture_default_str();
  // Hidden (no group): for the tests of the watchdog and of `status`.
  run->add_option("--diagnostic-stall-loop-ms", c.diagnostics.stall_loop_ms,
                  "Block the loop's first turn this long, as a stuck loop would")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}))
      ->group("");
  // Hidden: for the tests of a gateway without net-snmp, libcurl or c-ares.
  run->add_option("--diagnostic-missing-library", c.missing_libraries,
                  "Fail to load this library, as where its package is not installed")
      ->check(CLI::IsMember({"libnetsnmp.so.40", "libcurl.so.4", "libcares.so.2"}))
      ->group("");
  return run;
}

void add_commands(CLI::App& app, Commands& c) {
  c.run = add_run(app, c);
  c.once = app.add_subcommand("once", "Collect every source once and print it; no broker");
  c.once->add_option("-c,--config", c.config_path, "Config file")->capture_default_str();
  c.check = app.add_subcommand("check-config", "Validate a config file and explain mistakes");
  c.check->add_option("-c,--config", c.config_path, "Config file")->capture_default_str();
  c.version = app.add_subcommand("version", "Print the version");
  c.status = app.add_subcommand(
      "status",
      "Ask the running agent what is wrong, in plain words (exit 0 well, 1 degraded, "
      "2 not running, 3 cannot tell)");
  c.status
      ->add_option("-c,--config", c.config_path, "Config file (only its [status] table is read)")
      ->capture_default_str();
  c.status->add_flag("--json", c.status_json, "One JSON object, for scripts");
}

// CLI11 calls an unknown command only "A subcommand is required".
bool unknown_command(int argc, char** argv) {
  if (argc <= 1 || argv[1][0] == '-') return false;
  const std::string_view command = argv[1];
  return command != "run" && command != "once" && command != "check-config" &&
         command != "version" && command != "status" &&
         !classroom::console::Commands::is_command(command);
}

Command parse_command_line(int argc, char** argv) {
  CLI::App app{
      "classroom-agent: gateway and classroom network telemetry, published as "
      "Sparkplug B over MQTT"};
  app.require_subcommand(1);
  app.footer(kExitStatusHelp);
  app.set_version_flag("--version", std::string(classroom::kVersion));
  Commands c;
  add_commands(app, c);
  classroom::console::Commands console(app, kDefaultConfig);  // tail, fleet (operator)

  if (unknown_command(argc, argv))
    return {Command::done,
            usage_error(app, "unknown command \"" + classroom::text::printable(argv[1]) + "\""),
            {},
            {}};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that end in success.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
      return {Command::done, app.exit(e), {}, {}};
    return {Command::done, usage_error(app, e.what()), {}, {}};
  }

  if (c.version->parsed()) {
    std::cout << "classroom-agent " << classroom::kVersion << "\n";
    return {};
  }
  if (c.status->parsed())
    return {Command::done,
            classroom::status::status_command(c.config_path, c.status_json, std::cout, std::cerr),
            {},
            {}};
  if (console.parsed()) return {Command::done, console.run(), {}, {}};
  if (c.check->parsed()) return {Command::check_config, 0, c.config_path, {}};
  if (c.once->parsed()) return {Command::once, 0, c.config_path, {}};
  if (c.run->parsed()) {
    classroom::drivers::probes::libraries_made_missing() = std::move(c.missing_libraries);
    return {Command::run, 0, c.config_path, c.diagnostics};
  }
  return {Command::done, usage_error(app, "A subcommand is required"), {}, {}};
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for every thread. glibc gives each thread that allocates
  // an arena of its own, and malloc_trim() never gives back the top of a
  // thread's arena: the probe thread's would keep its busiest round (some
  // 130 KiB, measured) for good. This agent allocates little and rarely off the
  // main loop, so sharing costs nothing (docs/performance.md, "Figures").
  ::mallopt(M_ARENA_MAX, 1);
  classroom::mqtt::skip_eager_openssl_init();  // before any MQTT client
  classroom::mqtt::quiet_paho_trace();
  // OpenSSL's random generator, for the whole process: Hash_DRBG with
  // SHA-256 (NIST SP 800-90A, as the default CTR-DRBG is), which builds
  // OpenSSL's digests only; the default builds every cipher of the provider
  // on first use, some 140 KiB of heap that a gateway without TLS pays when
  // net-snmp seeds its USM salts (docs/performance.md). Here, before any
  // thread: OpenSSL reads the setting without a lock when it makes the
  // generator (a TLS handshake, an HTTPS probe, net-snmp's start).
  ::RAND_set_DRBG_type(nullptr, "HASH-DRBG", nullptr, nullptr, "SHA256");
  classroom::log::init_from_environment();
  const Command command = parse_command_line(argc, argv);
  if (command.kind == Command::done) return command.exit_status;
  const std::string& config_path = command.config_path;
  auto cfg = load(config_path);
  if (!cfg) return kExitConfig;
  if (command.kind == Command::check_config && !check_as_agent_user(config_path, cfg))
    return kExitConfig;
  if (command.kind == Command::check_config) {
    const char* warn = classroom::log::priority_prefix(classroom::log::Level::warning);
    for (const std::string& w : cfg->warnings) std::cout << warn << "warning: " << w << "\n";
    std::cout << config_path << ": OK (group " << cfg->identity.group << ", node "
              << cfg->identity.node << ", " << cfg->broker.servers.size() << " broker"
              << (cfg->broker.servers.size() == 1 ? "" : "s") << ")\n";
    return 0;
  }
  if (command.kind == Command::once) return classroom::collect_once(*cfg, std::cout);
  return classroom::run_agent(*cfg, command.diagnostics);
}
