#include "network/network_config.hpp"

namespace classroom::drivers::network {
namespace {

// An interface-name pattern: what `ip link` could show, plus glob characters.
std::string check_interface_glob(const std::string& pattern) {
  if (pattern.empty() || pattern.size() > 64)
    return config::quoted(pattern) + " is not an interface name pattern (1 to 64 characters)";
  for (char c : pattern) {
    if (c <= ' ' || c > '~' || c == '/' || c == ':')
      return config::quoted(pattern) +
             " is not an interface name pattern: printable characters without space, / or :";
  }
  return "";
}

}  // namespace

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool) {
  s.expect_keys({"include", "exclude", "max_interfaces"});
  Settings out;
  s.strings("include", out.include, check_interface_glob);
  s.strings("exclude", out.exclude, check_interface_glob);
  int64_t max = 0;
  if (s.integer("max_interfaces", max, 1, 1024)) out.max_interfaces = static_cast<uint64_t>(max);
  return std::make_shared<config::SettingsOf<Settings>>(std::move(out));
}

std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source) {
  Options o(source.settings_as<Settings>());
  o.proc_root = cfg.host.proc;
  o.sys_root = cfg.host.sys;
  return std::make_unique<NetworkDriver>(std::move(o));
}

}  // namespace classroom::drivers::network
