#include "nat/nat_config.hpp"

#include "nat/nat_driver.hpp"

namespace classroom::drivers::nat {

// Only enabled and interval, which every source has: any other key is unknown.
std::shared_ptr<const config::SourceSettings> read_settings(config::Section&, bool) {
  return nullptr;
}

std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source&) {
  Options o;
  o.proc_root = cfg.host.proc;
  return std::make_unique<NatDriver>(std::move(o));
}

}  // namespace classroom::drivers::nat
