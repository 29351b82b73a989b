#include "lan/lan_config.hpp"

namespace classroom::drivers::lan {
namespace {

// One [[sources.lan.dhcp]]: a lease file and the name its metrics go under.
DhcpOptions read_dhcp(config::Section& d) {
  d.expect_keys({"name", "file", "format", "pool_size"});
  DhcpOptions out;
  if (d.string("name", out.name, true, "a name for DHCP/<name>/..., such as \"classroom\"") &&
      !config::valid_sparkplug_id(out.name))
    d.wrong("name", config::quoted(out.name) + " must be non-empty, without + / #");
  if (d.string("file", out.file, true,
               "the lease file, such as \"/var/lib/misc/dnsmasq.leases\"")) {
    if (out.file.empty())
      d.wrong("file", "must not be empty");
    else
      out.file = d.absolute(out.file);
  }
  std::string format;
  if (d.string("format", format, true, "\"dnsmasq\", \"isc\" or \"kea\"")) {
    if (format == "dnsmasq")
      out.format = LeaseFormat::dnsmasq;
    else if (format == "isc")
      out.format = LeaseFormat::isc;
    else if (format == "kea")
      out.format = LeaseFormat::kea;
    else
      d.wrong("format",
              config::quoted(format) + " is not a lease file format; use dnsmasq, isc or kea");
  }
  int64_t pool = 0;
  if (d.integer("pool_size", pool, 1, 16'777'216)) out.pool_size = static_cast<uint64_t>(pool);
  return out;
}

}  // namespace

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled) {
  s.expect_keys({"interfaces", "inventory", "inventory_secret_file", "dhcp"});
  Settings out;
  s.strings("interfaces", out.interfaces, config::check_interface_name);
  s.boolean("inventory", out.inventory);
  if (s.string("inventory_secret_file", out.inventory_secret_file) &&
      !out.inventory_secret_file.empty())
    out.inventory_secret_file = s.absolute(out.inventory_secret_file);
  // The secret is checked only when it would be used.
  if (out.inventory && enabled) {
    if (out.inventory_secret_file.empty()) {
      s.wrong("inventory",
              "needs inventory_secret_file: a file with a site secret (at least 16 bytes), "
              "readable by the agent only; create one with `openssl rand -hex 32 > FILE && "
              "chmod 600 FILE`");
    } else if (std::string problem = config::read_secret_file(out.inventory_secret_file, nullptr,
                                                              config::kMinSiteSecretBytes);
               !problem.empty()) {
      s.wrong("inventory_secret_file", problem);
    }
  }
  s.tables("dhcp", [&out](config::Section& d) {
    DhcpOptions leases = read_dhcp(d);
    for (const DhcpOptions& other : out.dhcp)
      if (other.name == leases.name && !leases.name.empty())
        d.wrong("name", config::quoted(leases.name) +
                            " is used twice; every lease file needs its own name");
    out.dhcp.push_back(std::move(leases));
  });
  return std::make_shared<config::SettingsOf<Settings>>(std::move(out));
}

std::unique_ptr<Driver> make(const config::Config&, const config::Source& source) {
  Options o(source.settings_as<Settings>());
  if (o.inventory) {
    // Checked when the config was loaded; if it changed since, publish no inventory.
    if (std::string problem = config::read_secret_file(o.inventory_secret_file, &o.secret,
                                                       config::kMinSiteSecretBytes);
        !problem.empty()) {
      o.inventory_off = problem;  // reported with every collection's warning
      o.inventory = false;
    }
  }
  return std::make_unique<LanDriver>(std::move(o));
}

}  // namespace classroom::drivers::lan
