#include "system/machine.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "printable.hpp"

namespace classroom::drivers::system {
namespace {

constexpr size_t kMaxValue = 96;       // bytes of a published value
constexpr size_t kMaxFile = 16 << 10;  // os-release is a few hundred bytes

// The first `max` bytes of a file, or empty.
std::string read_head(const std::string& path, size_t max) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  text.resize(max);
  size_t got = 0;
  while (got < max) {
    const ssize_t n = ::read(fd, text.data() + got, max - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

// Without trailing NULs (device tree strings), white space and line ends,
// bounded and escaped for any display.
std::string clean(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\0' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return text::printable(s, kMaxValue);
}

// os-release's shell-like quoting: "..." or '...' around the value, \ escapes
// inside double quotes.
std::string unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'')
    return std::string(v.substr(1, v.size() - 2));
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  v = v.substr(1, v.size() - 2);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

}  // namespace

OsRelease parse_os_release(std::string_view text) {
  OsRelease r;
  std::string version_id;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos || line.front() == '#') continue;
    const std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    if (key == "NAME") r.name = clean(unquote(value));
    if (key == "VERSION") r.version = clean(unquote(value));
    if (key == "VERSION_ID") version_id = clean(unquote(value));
  }
  if (r.version.empty()) r.version = version_id;
  return r;
}

std::string devicetree_vendor(std::string_view compatible) {
  const std::string_view first = compatible.substr(0, compatible.find('\0'));
  const size_t comma = first.find(',');
  return comma == std::string_view::npos ? std::string{} : clean(first.substr(0, comma));
}

MachineInfo read_machine_info(const std::string& sys_root,
                              const std::vector<std::string>& os_release_paths) {
  MachineInfo m;
  const std::string dmi = sys_root + "/class/dmi/id/";
  m.make = clean(read_head(dmi + "sys_vendor", kMaxFile));
  m.model = clean(read_head(dmi + "product_name", kMaxFile));
  if (m.make.empty() && m.model.empty()) {
    const std::string dt = sys_root + "/firmware/devicetree/base/";
    m.model = clean(read_head(dt + "model", kMaxFile));
    m.make = devicetree_vendor(read_head(dt + "compatible", kMaxFile));
  }
  for (const std::string& path : os_release_paths) {
    const std::string text = read_head(path, kMaxFile);
    if (text.empty()) continue;
    const OsRelease os = parse_os_release(text);
    m.os = os.name;
    m.os_version = os.version;
    break;
  }
  return m;
}

}  // namespace classroom::drivers::system
