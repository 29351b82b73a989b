// What the gateway is: its hardware and its operating system, published once
// in the node's birth as Properties/... strings, so an operator can tell a
// Raspberry Pi on Debian 12 from a PC on Ubuntu without a visit. Reads below
// a configurable /sys root and os-release path; pure parsers for each format.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace classroom::drivers::system {

struct MachineInfo {
  std::string make, model;     // empty where the machine does not say
  std::string os, os_version;  // from os-release
};

// os-release(5): NAME and VERSION (VERSION_ID where VERSION is missing),
// shell-quoted values unquoted.
struct OsRelease {
  std::string name, version;
};
OsRelease parse_os_release(std::string_view text);

// A device tree's `compatible` (NUL-separated "vendor,board" strings): the
// first entry's vendor ("raspberrypi,4-model-b" -> "raspberrypi").
std::string devicetree_vendor(std::string_view compatible);

// DMI (x86: /sys/class/dmi/id/sys_vendor, product_name) first, else the
// device tree (ARM: /sys/firmware/devicetree/base/model, compatible); the
// first os-release path that can be read. Every value is bounded and escaped.
MachineInfo read_machine_info(const std::string& sys_root,
                              const std::vector<std::string>& os_release_paths);

}  // namespace classroom::drivers::system
