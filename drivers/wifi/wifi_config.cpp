#include "wifi/wifi_config.hpp"

namespace classroom::drivers::wifi {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool) {
  s.expect_keys({"interfaces", "weak_signal"});
  Settings out;
  s.strings("interfaces", out.interfaces, config::check_interface_name);
  int64_t weak = out.weak_signal;
  if (s.integer("weak_signal", weak, -120, 0)) out.weak_signal = static_cast<int>(weak);
  return std::make_shared<config::SettingsOf<Settings>>(std::move(out));
}

std::unique_ptr<Driver> make(const config::Config&, const config::Source& source) {
  return std::make_unique<WifiDriver>(source.settings_as<Settings>());
}

}  // namespace classroom::drivers::wifi
