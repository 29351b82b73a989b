// The command line of `classroom-agent tail` and `classroom-agent fleet`,
// kept here so that agent/main.cpp only adds them and runs them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "console/watch.hpp"

namespace classroom::console {

class Commands {
 public:
  // Adds tail and fleet to `app`; `default_config` is used when neither
  // --server nor -c is given.
  Commands(CLI::App& app, std::string default_config);
  static bool is_command(std::string_view name) { return name == "tail" || name == "fleet"; }
  bool parsed() const;
  // Runs the parsed command; its exit status (2: the config cannot be used,
  // 64: a bad --server or duration).
  int run();

 private:
  CLI::App* tail_ = nullptr;
  CLI::App* fleet_ = nullptr;
  std::string config_path_, server_, sort_ = "name", stale_ = "60s", refresh_ = "1s", wait_ = "5s",
                                     max_message_ = "1MiB";
  WatchOptions options_;
};

}  // namespace classroom::console
