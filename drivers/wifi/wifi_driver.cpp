#include "wifi/wifi_driver.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/nl80211.h>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "printable.hpp"

namespace classroom::drivers::wifi {
namespace {

// Nearest-rank percentile of sorted values (p in (0, 1]).
float percentile(const std::vector<float>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::max<size_t>(rank, 1) - 1];
}
float median(const std::vector<float>& sorted) {
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

netlink::Request dump_request(int family, uint8_t command) {
  netlink::Request r(static_cast<uint16_t>(family), NLM_F_DUMP);
  genlmsghdr g{};
  g.cmd = command;
  g.version = 0;
  r.header(g);
  return r;
}

// Adds to `total` what a station's counter grew by since `before`. A station
// that re-associated starts again from 0: its whole count is new.
void add_delta(uint64_t& total, std::optional<uint32_t> before, std::optional<uint32_t> now) {
  if (!now) return;
  if (before && *now >= *before)
    total += *now - *before;
  else
    total += *now;
}

}  // namespace

WifiDriver::WifiDriver(Options options, std::unique_ptr<netlink::Transport> transport)
    : options_(std::move(options)) {
  if (!transport) {
    auto socket = std::make_unique<netlink::SocketTransport>();
    open_error_ = socket->open(NETLINK_GENERIC);
    transport = std::move(socket);
  }
  client_ = std::make_unique<netlink::Client>(std::move(transport));
  found_.reserve(32);  // more wireless interfaces than this are not measured
  current_.reserve(256);
  signals_.reserve(256);
  tx_rates_.reserve(256);
  rx_rates_.reserve(256);
  problems_.reserve(256);
}

bool WifiDriver::wanted(std::string_view name) const {
  if (options_.interfaces.empty()) return true;
  return std::find(options_.interfaces.begin(), options_.interfaces.end(), name) !=
         options_.interfaces.end();
}

void WifiDriver::note(const char* what, const Iface& iface) {
  if (!problems_.empty()) problems_ += ", ";
  problems_ += what;
  problems_ += " of ";
  problems_ += iface.name;
}

WifiDriver::Iface& WifiDriver::iface_for(const InterfaceInfo& info, MetricSink& sink) {
  const std::string name = text::printable(info.name_view(), 64, text::Policy::metric_name);
  for (auto& i : ifaces_)
    if (i->ifindex == info.ifindex && i->name == name) return *i;
  auto i = std::make_unique<Iface>();
  i->ifindex = info.ifindex;
  i->name = name;
  const std::string base = "WiFi/" + name + "/";
  i->stations = sink.declare(base + "Stations", DataType::UInt64, "");
  i->frequency = sink.declare(base + "Frequency", DataType::UInt64, "MHz");
  i->channel = sink.declare(base + "Channel", DataType::UInt64, "");
  i->width = sink.declare(base + "Channel Width", DataType::UInt64, "MHz");
  i->busy = sink.declare(base + "Channel Busy", DataType::Float, "%");
  i->noise = sink.declare(base + "Noise", DataType::Int64, "dBm");
  i->tx_power = sink.declare(base + "Tx Power", DataType::Float, "dBm");
  i->signal_min = sink.declare(base + "Signal Min", DataType::Float, "dBm");
  i->signal_p10 = sink.declare(base + "Signal P10", DataType::Float, "dBm");
  i->signal_median = sink.declare(base + "Signal Median", DataType::Float, "dBm");
  i->tx_rate = sink.declare(base + "Tx Bitrate Median", DataType::Float, "Mbit/s");
  i->rx_rate = sink.declare(base + "Rx Bitrate Median", DataType::Float, "Mbit/s");
  i->weak = sink.declare(base + "Weak Stations", DataType::UInt64, "");
  i->retries = sink.declare(base + "Tx Retries", DataType::UInt64, "");
  i->failed = sink.declare(base + "Tx Failed", DataType::UInt64, "");
  i->last.reserve(256);
  if (!started_.empty()) started_ += ", ";
  started_ += name;
  ifaces_.push_back(std::move(i));
  return *ifaces_.back();
}

CollectResult WifiDriver::collect(MetricSink& sink) {
  problems_.clear();
  started_.clear();
  if (open_error_)
    return CollectResult::failure(std::string("cannot open a generic netlink socket: ") +
                                  std::strerror(open_error_));
  if (family_ <= 0) {
    family_ = netlink::resolve_family(*client_, "nl80211");
    if (family_ < 0)
      return CollectResult::failure(std::string("cannot ask the kernel for nl80211: ") +
                                    std::strerror(-family_));
    if (family_ == 0) {
      CollectResult r;
      r.note =
          "no wireless interface: the kernel has no nl80211 (no cfg80211 driver loaded); no "
          "Wi-Fi metrics";
      return r;
    }
  }

  found_.clear();
  bool truncated = false;
  auto on_interface = [&](const netlink::Message& m) {
    auto info = parse_interface(m);
    if (!info) return;
    truncated = truncated || info->truncated;
    if (wanted(info->name_view()) && found_.size() < found_.capacity()) found_.push_back(*info);
  };
  netlink::Request request = dump_request(family_, NL80211_CMD_GET_INTERFACE);
  netlink::Result r = client_->request(request, on_interface);
  if (r.error) {
    family_ = 0;  // the module may have gone: look it up again next time
    return CollectResult::failure(std::string("nl80211 interface dump failed: ") +
                                  std::strerror(r.error));
  }
  if (found_.empty()) {
    CollectResult r;
    r.note = options_.interfaces.empty()
                 ? "no wireless interface; no Wi-Fi metrics until one appears"
                 : "no wireless interface among those configured; no Wi-Fi metrics until one "
                   "appears";
    return r;
  }

  for (auto& i : ifaces_) i->seen = false;
  for (const InterfaceInfo& info : found_) {
    Iface& iface = iface_for(info, sink);
    iface.seen = true;
    if (truncated || r.truncated) note("a cut-short interface reply", iface);
    sample(iface, info, sink);
  }
  // An interface that went away forgets its stations; its metrics stop.
  for (auto& i : ifaces_) {
    if (i->seen) continue;
    i->last.clear();
    i->last_active_ms.reset();
  }
  CollectResult result;
  if (!problems_.empty()) result.warning = "skipped " + problems_;
  // Said in the one collection that starts measuring an interface.
  if (!started_.empty()) result.note = "measuring wireless interface " + started_;
  return result;
}

void WifiDriver::sample(Iface& iface, const InterfaceInfo& info, MetricSink& sink) {
  if (info.frequency_mhz) {
    sink.put(iface.frequency, uint64_t{*info.frequency_mhz});
    if (auto ch = channel_of(*info.frequency_mhz)) sink.put(iface.channel, uint64_t{*ch});
  }
  if (info.width)
    if (auto w = width_mhz(*info.width)) sink.put(iface.width, uint64_t{*w});
  if (info.tx_power_mbm) sink.put(iface.tx_power, static_cast<float>(*info.tx_power_mbm) / 100.0f);

  sample_stations(iface, sink);
  sample_survey(iface, sink);
}

// The associated stations: how many, how many weak, the spread of their
// signal and bitrates, and their retry counters.
void WifiDriver::sample_stations(Iface& iface, MetricSink& sink) {
  current_.clear();
  signals_.clear();
  tx_rates_.clear();
  rx_rates_.clear();
  uint32_t stations = 0, weak = 0;
  bool cut = false;
  auto on_station = [&](const netlink::Message& m) {
    auto s = parse_station(m);
    if (!s) return;
    cut = cut || s->truncated;
    ++stations;
    if (s->signal_dbm) {
      signals_.push_back(*s->signal_dbm);
      if (*s->signal_dbm < options_.weak_signal) ++weak;
    }
    if (s->tx_bitrate_100kbps) tx_rates_.push_back(static_cast<float>(*s->tx_bitrate_100kbps) / 10);
    if (s->rx_bitrate_100kbps) rx_rates_.push_back(static_cast<float>(*s->rx_bitrate_100kbps) / 10);
    current_.push_back(Counters{s->mac, s->tx_retries, s->tx_failed});
  };
  netlink::Request stations_request = dump_request(family_, NL80211_CMD_GET_STATION);
  stations_request.put_u32(NL80211_ATTR_IFINDEX, iface.ifindex);
  netlink::Result r = client_->request(stations_request, on_station);
  if (r.error) {
    note("the station dump", iface);
  } else {
    if (cut || r.truncated) note("a cut-short station reply", iface);
    sink.put(iface.stations, uint64_t{stations});
    sink.put(iface.weak, uint64_t{weak});
    if (!signals_.empty()) {
      std::sort(signals_.begin(), signals_.end());
      sink.put(iface.signal_min, signals_.front());
      sink.put(iface.signal_p10, percentile(signals_, 0.10));
      sink.put(iface.signal_median, median(signals_));
    }
    if (!tx_rates_.empty()) {
      std::sort(tx_rates_.begin(), tx_rates_.end());
      sink.put(iface.tx_rate, median(tx_rates_));
    }
    if (!rx_rates_.empty()) {
      std::sort(rx_rates_.begin(), rx_rates_.end());
      sink.put(iface.rx_rate, median(rx_rates_));
    }
    sum_retries(iface, sink);
  }
}

// Retry counters: per station, keyed by address, summed as deltas, so a
// station that leaves takes nothing back and one that arrives adds its own.
void WifiDriver::sum_retries(Iface& iface, MetricSink& sink) {
  auto by_mac = [](const Counters& a, const Counters& b) { return a.mac < b.mac; };
  std::sort(current_.begin(), current_.end(), by_mac);
  // The same address twice in one dump (never from a sane kernel) counts once.
  current_.erase(std::unique(current_.begin(), current_.end(),
                             [](const Counters& a, const Counters& b) { return a.mac == b.mac; }),
                 current_.end());
  if (!iface.have_baseline) {
    for (const Counters& c : current_) {
      iface.retries_total += c.retries.value_or(0);
      iface.failed_total += c.failed.value_or(0);
    }
    iface.have_baseline = true;
  } else {
    auto old = iface.last.begin();
    for (Counters& c : current_) {
      while (old != iface.last.end() && old->mac < c.mac) ++old;
      const bool known = old != iface.last.end() && old->mac == c.mac;
      add_delta(iface.retries_total, known ? old->retries : std::nullopt, c.retries);
      add_delta(iface.failed_total, known ? old->failed : std::nullopt, c.failed);
      // A counter missing from this reply keeps its last value, so its
      // return is not counted twice.
      if (known && !c.retries) c.retries = old->retries;
      if (known && !c.failed) c.failed = old->failed;
    }
  }
  iface.last.swap(current_);
  sink.put(iface.retries, iface.retries_total);
  sink.put(iface.failed, iface.failed_total);
}

void WifiDriver::sample_survey(Iface& iface, MetricSink& sink) {
  std::optional<SurveyInfo> in_use;
  bool cut = false;
  auto on_survey = [&](const netlink::Message& m) {
    auto s = parse_survey(m);
    if (!s) return;
    cut = cut || s->truncated;
    if (s->in_use) in_use = s;
  };
  netlink::Request survey_request = dump_request(family_, NL80211_CMD_GET_SURVEY);
  survey_request.put_u32(NL80211_ATTR_IFINDEX, iface.ifindex);
  const netlink::Result r = client_->request(survey_request, on_survey);
  if (r.error) {
    // Drivers without survey support answer EOPNOTSUPP: nothing to say.
    if (r.error != EOPNOTSUPP) note("the survey dump", iface);
    return;
  }
  if (cut || r.truncated) note("a cut-short survey reply", iface);
  if (!in_use) return;
  if (in_use->noise_dbm) sink.put(iface.noise, int64_t{*in_use->noise_dbm});
  const uint32_t mhz = in_use->frequency_mhz.value_or(0);
  if (in_use->active_ms && in_use->busy_ms) {
    if (iface.last_active_ms && iface.last_busy_ms && mhz == iface.last_survey_mhz &&
        *in_use->active_ms > *iface.last_active_ms && *in_use->busy_ms >= *iface.last_busy_ms) {
      const double active = static_cast<double>(*in_use->active_ms - *iface.last_active_ms);
      const double busy = static_cast<double>(*in_use->busy_ms - *iface.last_busy_ms);
      sink.put(iface.busy, static_cast<float>(std::min(100.0, 100.0 * busy / active)));
    }
    // A new channel, or counters that went back (a reset): start again.
    iface.last_active_ms = in_use->active_ms;
    iface.last_busy_ms = in_use->busy_ms;
    iface.last_survey_mhz = mhz;
  }
}

}  // namespace classroom::drivers::wifi
