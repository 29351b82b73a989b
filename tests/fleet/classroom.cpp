#include "fleet/classroom.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "version.hpp"

namespace classroom::fleet {
namespace {

enum class Kind {
  constant,   // never changes (a = the number, text = the string)
  null,       // never has a value (a Wi-Fi interface's Speed)
  gauge,      // random walk within [a, b], steps up to c
  sometimes,  // whole numbers in [a, b]: +-1 with probability c per run
  counter,    // grows by about a per second
  rare,       // a counter that grows by 1 with probability c per run
  rate,       // bit/s of the byte counter `a` entries before it, over the last run
  uptime,     // seconds, grows with the clock
  countdown,  // days, shrinks with the clock (a certificate's expiry)
  sample,     // Simulator/Sample/Number: +1 per run
  spool,      // Agent/Spool/<a>: the gateway's real spool
};

struct Spec {
  std::string name;
  DataType type;
  const char* unit;
  Kind kind;
  double a = 0, b = 0, c = 0;
  std::string text = {};
};

struct Source {
  SourceInfo info;
  std::vector<Spec> specs;
};

constexpr MetricType kF = DataType::Float, kD = DataType::Double, kU = DataType::UInt64,
                     kI = DataType::Int64, kB = DataType::Boolean, kS = DataType::String;

std::vector<Source> make_sources() {
  std::vector<Source> out;
  // system (10 s), with the agent's own spool metrics and the sample number.
  Source sys{{"system", 1}, {}};
  auto& s = sys.specs;
  s.push_back({"System/CPU/Usage", kF, "%", Kind::gauge, 2, 70, 8});
  s.push_back({"System/Load/1m", kF, "", Kind::gauge, 0, 4, 0.4});
  s.push_back({"System/Load/5m", kF, "", Kind::gauge, 0, 3, 0.15});
  s.push_back({"System/Load/15m", kF, "", Kind::gauge, 0, 2, 0.05});
  s.push_back({"System/Memory/Total", kU, "B", Kind::constant, 4294967296.0});
  s.push_back({"System/Memory/Available", kU, "B", Kind::gauge, 1.5e9, 3.5e9, 2e7});
  s.push_back({"System/Memory/Used", kF, "%", Kind::gauge, 15, 60, 0.5});
  s.push_back({"System/Swap/Used", kF, "%", Kind::constant, 0});
  s.push_back({"System/Uptime", kD, "s", Kind::uptime});
  s.push_back({"System/Temperature/cpu-thermal", kF, "°C", Kind::gauge, 40, 75, 0.8});
  s.push_back({"System/Temperature/nvme Composite", kF, "°C", Kind::gauge, 35, 55, 0.4});
  s.push_back({"Disk/Root/Used", kF, "%", Kind::gauge, 20, 60, 0.01});
  s.push_back({"Disk/Root/Free", kU, "B", Kind::gauge, 1e10, 3e10, 2e5});
  s.push_back({"Agent/Memory/RSS", kU, "B", Kind::sometimes, 7.5e6, 8.5e6, 0.3});
  s.push_back({"Agent/CPU/Usage", kF, "%", Kind::gauge, 0.01, 0.5, 0.05});
  s.push_back({"Agent/CPU/Time", kD, "s", Kind::counter, 0.002});
  s.push_back({"Properties/Hardware Make", kS, "", Kind::constant, 0, 0, 0, "raspberrypi"});
  s.push_back({"Properties/Hardware Model", kS, "", Kind::constant, 0, 0, 0,
               "Raspberry Pi 4 Model B Rev 1.4"});
  s.push_back({"Properties/OS", kS, "", Kind::constant, 0, 0, 0, "Debian GNU/Linux"});
  s.push_back({"Properties/OS Version", kS, "", Kind::constant, 0, 0, 0, "12 (bookworm)"});
  s.push_back({"Properties/Agent Version", kS, "", Kind::constant, 0, 0, 0, kVersion});
  s.push_back({"System/Clock/Synchronized", kB, "", Kind::constant, 1});
  s.push_back({"System/Clock/Max Error", kD, "ms", Kind::gauge, 1, 30, 2});
  s.push_back({kSampleMetric, kU, "", Kind::sample});
  const char* spool[] = {"Pending Batches", "Bytes",        "Dropped Batches", "Oldest Age",
                         "Corrupt Records", "Write Errors", "Lost Batches"};
  const char* spool_units[] = {"", "B", "", "s", "", "", ""};
  for (int i = 0; i < 7; ++i)
    s.push_back({std::string("Agent/Spool/") + spool[i], kU, spool_units[i], Kind::spool, 1.0 * i});
  out.push_back(std::move(sys));

  // network (10 s): the uplink, the classroom LAN, two radios, the bridge.
  Source net{{"network", 1}, {}};
  struct If {
    const char* name;
    double rx, tx;  // bytes per second, on average
    double speed;   // 0: none known
  };
  for (const If& i :
       {If{"eth0", 4e5, 1e5, 1000}, If{"eth1", 1e5, 3.5e5, 1000}, If{"wlan0", 1.5e5, 2e5, 0},
        If{"wlan1", 2e5, 4e5, 0}, If{"br-lan", 3e5, 9e5, 0}}) {
    const std::string p = std::string("Network/") + i.name + "/";
    net.specs.push_back({p + "Rx Bytes", kU, "B", Kind::counter, i.rx});
    net.specs.push_back({p + "Tx Bytes", kU, "B", Kind::counter, i.tx});
    net.specs.push_back({p + "Rx Packets", kU, "", Kind::counter, i.rx / 700});
    net.specs.push_back({p + "Tx Packets", kU, "", Kind::counter, i.tx / 700});
    net.specs.push_back({p + "Rx Errors", kU, "", Kind::rare, 0, 0, 0.02});
    net.specs.push_back({p + "Tx Errors", kU, "", Kind::rare, 0, 0, 0.01});
    net.specs.push_back({p + "Rx Dropped", kU, "", Kind::rare, 0, 0, 0.1});
    net.specs.push_back({p + "Tx Dropped", kU, "", Kind::rare, 0, 0, 0.02});
    net.specs.push_back({p + "Rx Rate", kD, "bit/s", Kind::rate, 8});
    net.specs.push_back({p + "Tx Rate", kD, "bit/s", Kind::rate, 8});
    net.specs.push_back({p + "Link Up", kB, "", Kind::constant, 1});
    net.specs.push_back(
        {p + "Speed", kU, "Mbit/s", i.speed > 0 ? Kind::constant : Kind::null, i.speed});
  }
  net.specs.push_back({"Network/Uplink/Interface", kS, "", Kind::constant, 0, 0, 0, "eth0"});
  net.specs.push_back({"Network/Uplink/Changes", kU, "", Kind::constant, 0});
  out.push_back(std::move(net));

  Source nat{{"nat", 3}, {}};
  nat.specs.push_back({"NAT/Conntrack Entries", kU, "", Kind::gauge, 200, 3000, 150});
  nat.specs.push_back({"NAT/Conntrack Max", kU, "", Kind::constant, 262144});
  nat.specs.push_back({"NAT/Conntrack Used", kF, "%", Kind::gauge, 0.08, 1.2, 0.06});
  out.push_back(std::move(nat));

  Source wifi{{"wifi", 3}, {}};
  struct Radio {
    const char* name;
    double freq, channel, width;
  };
  for (const Radio& r : {Radio{"wlan0", 2437, 6, 20}, Radio{"wlan1", 5180, 36, 80}}) {
    const std::string p = std::string("WiFi/") + r.name + "/";
    wifi.specs.push_back({p + "Stations", kU, "", Kind::sometimes, 5, 35, 0.5});
    wifi.specs.push_back({p + "Frequency", kU, "MHz", Kind::constant, r.freq});
    wifi.specs.push_back({p + "Channel", kU, "", Kind::constant, r.channel});
    wifi.specs.push_back({p + "Channel Width", kU, "MHz", Kind::constant, r.width});
    wifi.specs.push_back({p + "Channel Busy", kF, "%", Kind::gauge, 10, 80, 5});
    wifi.specs.push_back({p + "Noise", kI, "dBm", Kind::sometimes, -95, -85, 0.3});
    wifi.specs.push_back({p + "Tx Power", kF, "dBm", Kind::constant, 20});
    wifi.specs.push_back({p + "Signal Min", kF, "dBm", Kind::gauge, -88, -65, 3});
    wifi.specs.push_back({p + "Signal P10", kF, "dBm", Kind::gauge, -80, -60, 2});
    wifi.specs.push_back({p + "Signal Median", kF, "dBm", Kind::gauge, -65, -45, 2});
    wifi.specs.push_back({p + "Tx Bitrate Median", kF, "Mbit/s", Kind::gauge, 50, 400, 20});
    wifi.specs.push_back({p + "Rx Bitrate Median", kF, "Mbit/s", Kind::gauge, 30, 300, 20});
    wifi.specs.push_back({p + "Weak Stations", kU, "", Kind::sometimes, 0, 5, 0.3});
    wifi.specs.push_back({p + "Tx Retries", kU, "", Kind::counter, 3});
    wifi.specs.push_back({p + "Tx Failed", kU, "", Kind::rare, 0, 0, 0.3});
  }
  out.push_back(std::move(wifi));

  Source lan{{"lan", 3}, {}};
  lan.specs.push_back({"LAN/br-lan/Devices", kU, "", Kind::sometimes, 10, 40, 0.5});
  lan.specs.push_back({"LAN/br-lan/Devices Reachable", kU, "", Kind::sometimes, 5, 35, 0.6});
  lan.specs.push_back({"LAN/eth1/Devices", kU, "", Kind::sometimes, 1, 6, 0.1});
  lan.specs.push_back({"LAN/eth1/Devices Reachable", kU, "", Kind::sometimes, 1, 6, 0.2});
  lan.specs.push_back({"DHCP/lan/Active Leases", kU, "", Kind::sometimes, 15, 60, 0.4});
  lan.specs.push_back({"DHCP/lan/Pool Used", kF, "%", Kind::gauge, 6, 24, 0.8});
  lan.specs.push_back({"DHCP/lan/Garbled Lines", kU, "", Kind::constant, 0});
  out.push_back(std::move(lan));

  // Three probes (60 s): the school's router, its resolver, its learning platform.
  Source probes{{"probes", 6}, {}};
  auto& pr = probes.specs;
  pr.push_back({"Connectivity/gateway/Loss", kD, "%", Kind::sometimes, 0, 2, 0.05});
  pr.push_back({"Connectivity/gateway/RTT Min", kD, "ms", Kind::gauge, 0.3, 2, 0.2});
  pr.push_back({"Connectivity/gateway/RTT Avg", kD, "ms", Kind::gauge, 0.5, 4, 0.3});
  pr.push_back({"Connectivity/gateway/RTT Max", kD, "ms", Kind::gauge, 1, 20, 2});
  pr.push_back({"Connectivity/gateway/Jitter", kD, "ms", Kind::gauge, 0.05, 3, 0.3});
  pr.push_back({"Connectivity/gateway/Reachable", kB, "", Kind::constant, 1});
  pr.push_back({"Connectivity/resolver/Resolve Time", kD, "ms", Kind::gauge, 2, 60, 6});
  pr.push_back({"Connectivity/resolver/Success", kB, "", Kind::constant, 1});
  pr.push_back({"Connectivity/resolver/Answers", kU, "", Kind::constant, 2});
  pr.push_back({"Connectivity/moodle/Success", kB, "", Kind::constant, 1});
  pr.push_back({"Connectivity/moodle/Connect Time", kD, "ms", Kind::gauge, 8, 80, 6});
  pr.push_back({"Connectivity/moodle/DNS Time", kD, "ms", Kind::gauge, 0.5, 40, 4});
  pr.push_back({"Connectivity/moodle/TLS Time", kD, "ms", Kind::gauge, 20, 160, 12});
  pr.push_back({"Connectivity/moodle/TTFB", kD, "ms", Kind::gauge, 40, 600, 40});
  pr.push_back({"Connectivity/moodle/Total Time", kD, "ms", Kind::gauge, 80, 900, 60});
  pr.push_back({"Connectivity/moodle/Status Code", kU, "", Kind::constant, 200});
  pr.push_back({"Connectivity/moodle/Bytes", kU, "B", Kind::sometimes, 48000, 49000, 0.2});
  pr.push_back({"Connectivity/moodle/Cert Expiry Days", kD, "d", Kind::countdown, 40, 80});
  out.push_back(std::move(probes));
  return out;
}

const std::vector<Source>& all_sources() {
  static const std::vector<Source> sources = make_sources();
  return sources;
}

// splitmix64: small, fast, and a gateway's own sequence from its seed.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double between(double lo, double hi) { return lo + (hi - lo) * uniform(); }
};

}  // namespace

// One source of one gateway: declares its metrics once, then puts their next values.
class SimulatedSource final : public drivers::Driver {
 public:
  SimulatedSource(const Source& source, Random& random, Spool& spool, uint64_t& samples)
      : source_(source), random_(random), spool_(spool), samples_(samples) {
    const size_t n = source.specs.size();
    ids_.resize(n);
    value_.resize(n);
    step_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      value_[i] = start_value(source.specs[i]);
      has_spool_ = has_spool_ || source.specs[i].kind == Kind::spool;
    }
  }

  drivers::CollectResult collect(drivers::MetricSink& sink) override {
    const auto& specs = source_.specs;
    if (!declared_) {
      for (size_t i = 0; i < specs.size(); ++i)
        ids_[i] =
            sink.declare(specs[i].name, MetricType::published_as(specs[i].type), specs[i].unit);
      declared_ = true;
    }
    const double dt = 10.0 * source_.info.interval_factor;  // seconds, nominal
    const bool first = runs_++ == 0;
    SpoolStats spool{};
    if (has_spool_) spool = spool_.stats();  // as the agent's SelfMetrics, every run
    for (size_t i = 0; i < specs.size(); ++i) {
      const Spec& s = specs[i];
      double& v = value_[i];
      switch (s.kind) {
        case Kind::constant:
          break;
        case Kind::null:
          sink.put(ids_[i], Value{});
          continue;
        case Kind::gauge:
          v = std::clamp(v + random_.between(-s.c, s.c), s.a, s.b);
          break;
        case Kind::sometimes:
          if (random_.uniform() < s.c)
            v = std::clamp(v + (random_.uniform() < 0.5 ? -1 : 1), s.a, s.b);
          break;
        case Kind::counter:
          step_[i] = s.a * dt * random_.between(0.3, 1.7);
          v += step_[i];
          break;
        case Kind::rare:
          if (random_.uniform() < s.c) v += 1;
          break;
        case Kind::rate:
          // The counter `a` entries before this one moved step_ in dt seconds.
          if (first) {
            sink.put(ids_[i], Value{});  // no rate before a second sample
            continue;
          }
          v = 8 * step_[i - static_cast<size_t>(s.a)] / dt;
          break;
        case Kind::uptime:
          v += dt;
          break;
        case Kind::countdown:
          v -= dt / 86400.0;
          break;
        case Kind::sample:
          v = static_cast<double>(++samples_);
          break;
        case Kind::spool: {
          const int64_t age = spool.oldest_ts_ms ? (wall_ms() - spool.oldest_ts_ms) / 1000 : 0;
          const uint64_t field[] = {spool.pending, spool.bytes,
                                    spool.dropped, static_cast<uint64_t>(std::max<int64_t>(0, age)),
                                    spool.corrupt, spool.write_errors,
                                    spool.lost};
          sink.put(ids_[i], field[static_cast<int>(s.a)]);
          continue;
        }
      }
      put(sink, ids_[i], s, v);
    }
    return {};
  }

 private:
  double start_value(const Spec& s) {
    switch (s.kind) {
      case Kind::gauge:
        return random_.between(s.a, s.b);
      case Kind::sometimes:
        return std::round(random_.between(s.a, s.b));
      case Kind::counter:
        return std::round(random_.between(1e6, 1e9) * s.a / 1e5);
      case Kind::rare:
        return std::round(random_.between(0, 50));
      case Kind::uptime:
        return random_.between(3600, 30 * 86400.0);
      case Kind::countdown:
        return random_.between(s.a, s.b);
      default:
        return s.a;
    }
  }

  static int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }

  static void put(drivers::MetricSink& sink, MetricId id, const Spec& s, double v) {
    switch (s.type) {
      case DataType::Float:
        sink.put(id, static_cast<float>(std::round(v * 100) / 100));  // as the drivers round
        return;
      case DataType::Double:
        sink.put(id, std::round(v * 100) / 100);
        return;
      case DataType::UInt64:
        sink.put(id, static_cast<uint64_t>(std::max(0.0, std::round(v))));
        return;
      case DataType::Int64:
        sink.put(id, static_cast<int64_t>(std::round(v)));
        return;
      case DataType::Boolean:
        sink.put(id, v != 0);
        return;
      case DataType::String:
        sink.put(id, s.text);
        return;
      default:
        return;
    }
  }

  const Source& source_;
  Random& random_;
  Spool& spool_;
  uint64_t& samples_;
  bool declared_ = false, has_spool_ = false;
  uint64_t runs_ = 0;
  std::vector<MetricId> ids_;
  std::vector<double> value_, step_;
};

struct Classroom::State {
  Random random;
  uint64_t samples = 0;
  std::vector<std::unique_ptr<SimulatedSource>> sources;
};

const std::vector<SourceInfo>& sources() {
  static const std::vector<SourceInfo> infos = [] {
    std::vector<SourceInfo> out;
    for (const Source& s : all_sources()) out.push_back(s.info);
    return out;
  }();
  return infos;
}

size_t metric_count() {
  size_t n = 0;
  for (const Source& s : all_sources()) n += s.specs.size();
  return n;
}

Classroom::Classroom(uint64_t seed, Spool& spool) : state_(std::make_unique<State>()) {
  state_->random.state = seed * 0x2545F4914F6CDD1Dull + 1;
  for (const Source& s : all_sources())
    state_->sources.push_back(
        std::make_unique<SimulatedSource>(s, state_->random, spool, state_->samples));
}

Classroom::~Classroom() = default;

drivers::Driver& Classroom::source(size_t i) {
  return *state_->sources[i];
}

uint64_t Classroom::samples() const {
  return state_->samples;
}

}  // namespace classroom::fleet
