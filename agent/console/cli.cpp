#include "console/cli.hpp"

#include <iostream>

#include "clock.hpp"
#include "printable.hpp"
#include "registry.hpp"
#include "units.hpp"

namespace classroom::console {
namespace {

constexpr int kExitConfig = 2;
constexpr int kExitUsage = 64;

void add_connection(CLI::App* cmd, std::string& server, std::string& config_path) {
  auto* s =
      cmd->add_option("--server", server, "Broker to subscribe to, e.g. tcp://broker.example:1883");
  auto* c = cmd->add_option("-c,--config", config_path,
                            "Take the broker settings (servers, user, password, TLS, protocol) of "
                            "this agent config instead")
                ->capture_default_str();
  s->excludes(c);
}

void add_max_message(CLI::App* cmd, std::string& max_message) {
  cmd->add_option("--max-message", max_message,
                  "The largest message taken, e.g. 256KiB or 4MiB (1KiB to 256MiB); a bigger one "
                  "is dropped and said on stderr once per node")
      ->capture_default_str();
}

void add_filters(CLI::App* cmd, Filter& f, bool devices_and_metrics) {
  cmd->add_option("--group", f.groups, "Only these groups (schools); a glob, may repeat");
  cmd->add_option("--node", f.nodes, "Only these nodes (gateways); a glob, may repeat");
  if (!devices_and_metrics) return;
  cmd->add_option("--device", f.devices, "Only messages of these devices; a glob, may repeat");
  cmd->add_option("--metric", f.metrics,
                  "Only these metrics, e.g. 'System/CPU/*'; a glob (* also crosses /), may "
                  "repeat");
}

}  // namespace

Commands::Commands(CLI::App& app, std::string default_config)
    : config_path_(std::move(default_config)) {
  tail_ = app.add_subcommand(
      "tail", "Print the Sparkplug messages of a broker as lines a person reads (operator)");
  add_connection(tail_, server_, config_path_);
  tail_->add_flag("--json", options_.json, "One JSON object per message, per line");
  tail_->add_flag("--time", options_.with_time, "Start each line with the time it arrived (UTC)");
  add_filters(tail_, options_.filter, true);
  tail_->add_flag("--rebirth", options_.rebirth,
                  "Ask a node whose birth was missed for a new one (publishes an NCMD "
                  "Node Control/Rebirth to it; at most once a minute per node)");
  tail_->add_option("-n,--count", options_.count, "Stop after this many messages");
  add_max_message(tail_, max_message_);

  fleet_ = app.add_subcommand(
      "fleet", "A live table of every node and device on a broker: online, silent, key metrics");
  add_connection(fleet_, server_, config_path_);
  add_filters(fleet_, options_.filter, false);
  fleet_->add_option("--sort", sort_, "name, state (problems first) or age (oldest first)")
      ->check(CLI::IsMember({"name", "state", "age"}))
      ->capture_default_str();
  fleet_->add_option("--stale", stale_, "Mark a node SILENT after this long without a message")
      ->capture_default_str();
  fleet_->add_option("--refresh", refresh_, "Redraw the table this often (on a terminal)")
      ->capture_default_str();
  fleet_
      ->add_option("--wait", wait_,
                   "When stdout is not a terminal: listen this long, then print one table")
      ->capture_default_str();
  fleet_->add_flag("--rebirth", options_.rebirth,
                   "Ask nodes whose birth was missed for a new one (NCMD Node Control/Rebirth), "
                   "so that their bdSeq and state are known");
  add_max_message(fleet_, max_message_);
}

bool Commands::parsed() const {
  return tail_->parsed() || fleet_->parsed();
}

int Commands::run() {
  if (!server_.empty()) {
    if (std::string why = config::check_server(server_); !why.empty()) {
      std::cerr << "classroom-agent: --server " << why << "\n";
      return kExitUsage;
    }
    options_.servers = {server_};
  } else {
    auto result = config::load_file(config_path_, drivers::source_readers());
    for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
    if (!result.config) {
      std::cerr << "classroom-agent: cannot take the broker settings of "
                << text::printable(config_path_, 200)
                << "; name a broker with --server tcp://HOST:PORT instead\n";
      return kExitConfig;
    }
    broker_settings(result.config->broker, options_);
  }
  {
    const auto bytes = config::parse_size(max_message_);
    if (!bytes || *bytes < WatchOptions::kMinMaxMessage || *bytes > WatchOptions::kMaxMaxMessage) {
      std::cerr << "classroom-agent: --max-message \"" << text::printable(max_message_, 40)
                << "\" is not a size from 1KiB to 256MiB, such as 256KiB or 1MiB\n";
      return kExitUsage;
    }
    options_.max_message = static_cast<size_t>(*bytes);
  }
  const SystemClock clock;
  if (fleet_->parsed()) {
    struct {
      const char* name;
      const std::string& text;
      int64_t& into;
    } durations[] = {{"--stale", stale_, options_.stale_ms},
                     {"--refresh", refresh_, options_.refresh_ms},
                     {"--wait", wait_, options_.wait_ms}};
    for (auto& d : durations) {
      auto ms = config::parse_duration(d.text);
      if (!ms || ms->count() <= 0) {
        std::cerr << "classroom-agent: " << d.name << " \"" << text::printable(d.text, 40)
                  << "\" is not a duration such as 500ms, 10s or 5m\n";
        return kExitUsage;
      }
      d.into = ms->count();
    }
    options_.sort = sort_ == "state" ? Fleet::Sort::state
                    : sort_ == "age" ? Fleet::Sort::age
                                     : Fleet::Sort::name;
    return run_fleet(options_, clock);
  }
  return run_tail(options_, clock);
}

}  // namespace classroom::console
