#include "system/system_config.hpp"

#include "printable.hpp"

namespace classroom::drivers::system {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool) {
  s.expect_keys({"mounts"});
  Settings out;
  s.strings("mounts", out.mounts, [](const std::string& m) -> std::string {
    if (m.empty() || m[0] != '/') return config::quoted(m) + " is not an absolute path";
    if (text::has_unprintable(m)) return config::quoted(m) + " holds a control character";
    return "";
  });
  return std::make_shared<config::SettingsOf<Settings>>(std::move(out));
}

std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source) {
  Options o(source.settings_as<Settings>());
  o.proc_root = cfg.host.proc;
  o.sys_root = cfg.host.sys;
  o.clock = cfg.host.proc == "/proc";  // a captured /proc tree is another machine
  o.properties = o.clock;
  o.agent_version = CLASSROOM_VERSION;
  return std::make_unique<SystemDriver>(std::move(o));
}

}  // namespace classroom::drivers::system
