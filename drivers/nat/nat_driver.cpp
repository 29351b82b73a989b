#include "nat/nat_driver.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <charconv>

namespace classroom::drivers::nat {

std::optional<uint64_t> parse_sysctl_number(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> used_percent(uint64_t entries, uint64_t max) {
  if (max == 0) return std::nullopt;
  return 100.0 * static_cast<double>(entries) / static_cast<double>(max);
}

NatDriver::NatDriver(Options options) {
  const std::string dir = options.proc_root + "/sys/net/netfilter/";
  path_count_ = dir + "nf_conntrack_count";
  path_max_ = dir + "nf_conntrack_max";
}

std::optional<uint64_t> NatDriver::read_number(const std::string& path, bool& missing,
                                               bool& garbled) {
  missing = false;
  garbled = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    missing = errno == ENOENT;
    garbled = !missing;
    return std::nullopt;
  }
  char buf[32];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  // A number of 32 bytes or more is no sysctl counter.
  std::optional<uint64_t> value;
  if (n > 0 && static_cast<size_t>(n) < sizeof buf)
    value = parse_sysctl_number(std::string_view(buf, static_cast<size_t>(n)));
  garbled = !value;
  return value;
}

CollectResult NatDriver::collect(MetricSink& sink) {
  if (!declared_) {
    entries_ = sink.declare("NAT/Conntrack Entries", DataType::UInt64, "");
    max_ = sink.declare("NAT/Conntrack Max", DataType::UInt64, "");
    used_ = sink.declare("NAT/Conntrack Used", DataType::Float, "%");
    declared_ = true;
  }
  bool count_missing = false, max_missing = false, count_garbled = false, max_garbled = false;
  const auto count = read_number(path_count_, count_missing, count_garbled);
  const auto max = read_number(path_max_, max_missing, max_garbled);

  CollectResult r;
  if (count_missing && max_missing) {
    r.note =
        "connection tracking is not available (no " + path_count_ + "): no NAT metrics until it is";
    return r;
  }
  if (count) sink.put(entries_, *count);
  if (max) sink.put(max_, *max);
  if (count && max) {
    if (auto pct = used_percent(*count, *max)) sink.put(used_, static_cast<float>(*pct));
  }
  if (!count && !max)
    return CollectResult::failure("cannot read " + path_count_ + " or " + path_max_);
  if (!count) r.warning = "skipped " + path_count_ + (count_garbled ? " (not a number)" : "");
  if (!max) r.warning = "skipped " + path_max_ + (max_garbled ? " (not a number)" : "");
  return r;
}

}  // namespace classroom::drivers::nat
