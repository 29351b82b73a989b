// The agent's configuration: a plain data model, and the parser/validator that
// builds it from a TOML file. Config is data: it knows no running component.
// Every key is documented in config/README.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace classroom::config {

using std::chrono::milliseconds;

enum class LogLevel { debug, info, warning, error };

struct Identity {
  std::string group;  // Sparkplug group_id: the school
  std::string node;   // Sparkplug edge_node_id: this gateway
  bool operator==(const Identity&) const = default;
};

// TLS to the broker, for ssl://, mqtts:// and wss:// servers ([broker.tls]).
struct BrokerTls {
  std::string ca_file;    // the CAs the broker's certificate must chain to; "" = system store
  std::string cert_file;  // the agent's own certificate (mutual TLS); optional
  std::string key_file;   // its private key: a file only the agent's user can read
  bool verify = true;     // false: no check of the broker's certificate (warned at start)
  bool operator==(const BrokerTls&) const = default;
};

struct Broker {
  std::vector<std::string> servers;  // tried in order, one at a time
  std::string client_id;             // default "<group>-<node>"
  std::string username;
  std::string password;       // from password_file, or (discouraged) inline
  std::string password_file;  // where the password came from ("" when inline or none)
  BrokerTls tls;
  milliseconds keepalive{30'000};
  milliseconds connect_timeout{10'000};
  milliseconds retry_min{1'000};   // first reconnect delay
  milliseconds retry_max{60'000};  // reconnect delay cap
  std::string receipt_topic;       // default "classroom-agent/<group>/<node>/receipt"
  // The largest MQTT packet the broker takes, when it does not say so itself
  // (an MQTT 3.1.1 broker; an MQTT 5 one states its own in the CONNACK).
  uint64_t max_packet_size = 256 << 10;
  // Sparkplug Primary Host: the host_id of the host application
  // whose STATE (spBv1.0/STATE/<id>) must say online before the node births;
  // "" = none. How long to wait on one server for it (0 = forever).
  std::string primary_host;
  milliseconds primary_host_wait{0};
  // The MQTT version spoken: auto (MQTT 5, and 3.1.1 at once on a server that
  // refuses it, remembered for that server), or only "5", or only "3.1.1".
  enum class Protocol { automatic, v5, v311 };
  Protocol protocol = Protocol::automatic;
  bool operator==(const Broker&) const = default;
};

struct State {
  std::string dir;  // bdSeq and the spool live here
  bool operator==(const State&) const = default;
};

struct Spool {
  uint64_t max_bytes = 64ull << 20;
  bool sync_always = false;          // sync = "always"
  milliseconds sync_interval{1000};  // sync = "<duration>" (when !sync_always)
  double replay_rate = 50;           // historical messages per second after an outage
  bool operator==(const Spool&) const = default;
};

struct Log {
  LogLevel level = LogLevel::info;
  // [log] file: lines go to this file (rotated) instead of stderr; "": stderr.
  std::string file;
  uint64_t max_bytes = 1u << 20;  // one file; rotated past this
  int keep = 3;                   // rotated files kept beside it
  milliseconds fold{60'000};      // identical lines within this are counted; 0: never
  bool operator==(const Log&) const = default;
};

// [status]: the local socket `classroom-agent status` asks.
struct Status {
  bool enabled = true;
  std::string socket = "/run/classroom-agent/status.sock";
  std::string group;  // may connect (mode 0660); "": the agent's user and root (0600)
  int64_t gid = -1;   // `group` resolved when the config is loaded
  bool operator==(const Status&) const = default;
};

// Where the system driver reads the kernel's view of the machine; tests point
// these at captured fixture trees.
struct Host {
  std::string proc = "/proc";
  std::string sys = "/sys";
  bool operator==(const Host&) const = default;
};

// ---- Metric sources ([sources.<name>]) ----
// Each source's table is read by its driver (drivers/<name>/, registered in
// drivers/registry.cpp), which the caller of load_file names: the config
// knows no driver. What every source has (enabled, interval) is read here;
// the rest is the driver's own settings struct, held type-erased.

class Section;  // a table as a driver's reader sees it (section.hpp)

// What a driver's reader made of its table: SettingsOf<its struct>.
class SourceSettings {
 public:
  virtual ~SourceSettings() = default;
  // Same type and same values: a reload that changes nothing here keeps the source.
  virtual bool equals(const SourceSettings& other) const = 0;
};

template <typename T>
class SettingsOf final : public SourceSettings {
 public:
  explicit SettingsOf(T v) : value(std::move(v)) {}
  bool equals(const SourceSettings& other) const override {
    const auto* o = dynamic_cast<const SettingsOf*>(&other);
    return o && o->value == value;
  }
  T value;
};

// One [sources.<name>] as loaded: there is one for every reader passed to
// load_file, whether the file has its table or not.
struct Source {
  std::string name;
  bool enabled = false;
  milliseconds interval{0};
  std::shared_ptr<const SourceSettings> settings;  // the driver's; null when it has none

  // The driver's settings; its defaults when the reader made none of type T.
  template <typename T>
  const T& settings_as() const {
    static const T defaults{};
    const auto* s = dynamic_cast<const SettingsOf<T>*>(settings.get());
    return s ? s->value : defaults;
  }
  bool operator==(const Source& o) const {
    return name == o.name && enabled == o.enabled && interval == o.interval &&
           (settings == o.settings || (settings && o.settings && settings->equals(*o.settings)));
  }
};

// How a source's table is read: the registry's entry of its driver.
struct SourceReader {
  std::string_view name;  // [sources.<name>]
  bool on_without_table;  // runs when the file has no such table (else: when it has one)
  milliseconds interval;  // when the table sets none
  // Reads the driver's own keys (enabled and interval are read for it) and
  // returns its settings; `enabled` is the source's, for checks that matter
  // only when it runs. Mistakes go to the section, which reports them.
  std::shared_ptr<const SourceSettings> (*read)(Section& section, bool enabled);
};

// Every source's interval lies in this range.
constexpr milliseconds kMinSourceInterval{100};
constexpr milliseconds kMaxSourceInterval{86'400'000};

// ---- SNMP profiles written as tables ([[snmp.profiles]]) ----
// A profile names OIDs and the metrics they become: the config's own, and the
// built-in ones (drivers/snmp/profiles.toml, read with the same code). OIDs
// are checked and parsed here; drivers/snmp publishes them.
struct SnmpScaleBy {
  // A column of the same table, and the factor each of its values stands for
  // (ENTITY-SENSOR-MIB's entPhySensorScale: 8 = 0.001, 9 = 1, ...).
  std::vector<uint32_t> oid;
  std::vector<std::pair<int64_t, double>> factors;
  bool operator==(const SnmpScaleBy&) const = default;
};

// One OBJECT-TYPE: a scalar, or a column of a table.
struct SnmpObject {
  std::string name;  // the metric name (a column's: the last part of it)
  std::vector<uint32_t> oid;
  enum class Type { uint64, int64, float32, float64, boolean, string } type = Type::uint64;
  std::string unit;
  double scale = 1.0;
  bool counter = false;                 // a rate beside the total (UInt64 only)
  std::vector<int64_t> true_values{1};  // Boolean: the values that mean true
  std::string sum;                      // a column: also publish the sum of its rows
  std::vector<SnmpScaleBy> scale_by;    // a column: per-row factors
  bool operator==(const SnmpObject&) const = default;
};

struct SnmpTable {
  std::string name;                 // metrics "<name>/<row label>/<column>"
  std::vector<uint32_t> label_oid;  // empty: the row's index
  uint32_t label_index = 0;         // 1..: that part of the row's index; 0: all of it
  uint64_t max_rows = 64;           // rows read at most
  std::string count;                // set: rows counted per label, no columns
  uint64_t max_labels = 64;         // with count: labels published at most
  std::vector<SnmpObject> columns;
  bool operator==(const SnmpTable&) const = default;
};

struct SnmpProfile {
  std::string name;
  std::vector<SnmpObject> scalars;
  std::vector<SnmpTable> tables;
  // For a device's "auto": picked when its sysObjectID is under
  // 1.3.6.1.4.1.<enterprise> (0: never so), or when it answers any of the
  // profile's OIDs (auto_if_served).
  uint32_t enterprise = 0;
  bool auto_if_served = false;
  bool operator==(const SnmpProfile&) const = default;
};

// A profile as devices hold it: shared, never copied per device (twenty
// devices with "auto" hold the built-in profiles once); equal when the
// profiles are.
struct SharedSnmpProfile {
  std::shared_ptr<const SnmpProfile> profile;
  const SnmpProfile& operator*() const { return *profile; }
  const SnmpProfile* operator->() const { return profile.get(); }
  bool operator==(const SharedSnmpProfile& o) const {
    return profile == o.profile || (profile && o.profile && *profile == *o.profile);
  }
};

struct Snmp {
  std::vector<SnmpProfile> profiles;  // the config's own [[snmp.profiles]]
  bool operator==(const Snmp&) const = default;
};

// One SNMP agent polled as a Sparkplug device of this node ([[devices.snmp]]).
// Secrets are read from their files when the config is loaded; they are never
// in the config text and never logged.
struct SnmpDevice {
  std::string name;     // the Sparkplug device_id
  std::string address;  // host, host:port, [v6] or [v6]:port (UDP, default port 161)
  enum class Version { v2c, v3 } version = Version::v2c;
  std::string community;  // v2c, from community_file
  std::string user;       // v3
  enum class Auth { sha, sha256 } auth = Auth::sha;
  std::string auth_password;  // from auth_password_file
  bool priv = false;          // priv_protocol = "AES"
  std::string priv_password;  // from priv_password_file
  milliseconds interval{30'000};
  milliseconds timeout{2'000};
  int retries = 2;  // polls in a row that may go unanswered before its DDEATH
  bool system = true, interfaces = true, host = false, ups = false;  // profiles
  std::vector<std::string> include;  // interface name globs; empty: all
  std::vector<std::string> exclude;
  uint64_t max_interfaces = 64;  // published at most
  // The profiles written as tables (built-in or the config's) it polls, in
  // the order `profiles` lists them.
  std::vector<SharedSnmpProfile> table_profiles;
  // "auto" in `profiles`: the profiles it may pick at the device's first
  // answer (those with enterprise or auto_if_served, not listed, whose names
  // the listed ones do not publish).
  bool auto_profiles = false;
  std::vector<SharedSnmpProfile> auto_candidates;
  // Per candidate, the earlier candidates whose metric names it would publish
  // too (unifi-ap and mikrotik: WiFi/Clients): auto never picks both.
  std::vector<std::vector<size_t>> auto_clashes;
  uint64_t max_metrics = 2000;  // the table profiles that would go past it are left out
  bool operator==(const SnmpDevice&) const = default;
};

struct Devices {
  std::vector<SnmpDevice> snmp;
  bool operator==(const Devices&) const = default;
};

// ---- Connectivity probes ([[probes.<kind>]]) ----
// A school-hours window, local time: the days it applies to (bit 0 = Monday)
// and minutes since midnight [start, end).
struct Window {
  uint8_t days = 0;
  int start_min = 0;
  int end_min = 0;
  bool operator==(const Window&) const = default;
};

struct IcmpProbe {
  std::string name;
  std::string target;  // host name, IPv4 or IPv6 address
  int count = 5;       // echoes per run
  milliseconds spacing{200};
  milliseconds timeout{1000};  // per echo, from its send
  milliseconds interval{30'000};
  bool operator==(const IcmpProbe&) const = default;
};

struct DnsProbe {
  std::string name;
  std::string query;   // the name to resolve
  std::string server;  // "IP" or "IP:port"; empty: the system's resolvers
  bool aaaa = false;   // type = "AAAA"
  milliseconds timeout{2000};
  milliseconds interval{60'000};
  bool operator==(const DnsProbe&) const = default;
};

struct TcpProbe {
  std::string name;
  std::string host;
  int port = 0;
  milliseconds timeout{3000};
  milliseconds interval{60'000};
  bool operator==(const TcpProbe&) const = default;
};

struct HttpProbe {
  std::string name;
  std::string url;
  milliseconds timeout{10'000};
  int expected_status = 0;  // 0: any 2xx or 3xx
  std::string proxy;
  std::string ca_file;  // empty: the system's CA store
  bool insecure = false;
  milliseconds interval{60'000};
  bool operator==(const HttpProbe&) const = default;
};

struct ThroughputProbe {
  std::string name;
  std::string url;
  std::string upload_url;
  std::string ca_file;
  uint64_t max_bytes = 10ull << 20;
  milliseconds max_time{10'000};
  std::vector<Window> windows;
  int per_day = 1;
  uint64_t monthly_budget = 1ull << 30;
  bool operator==(const ThroughputProbe&) const = default;
};

struct Probes {
  int concurrency = 4;
  std::vector<IcmpProbe> icmp;
  std::vector<DnsProbe> dns;
  std::vector<TcpProbe> tcp;
  std::vector<HttpProbe> http;
  std::vector<ThroughputProbe> throughput;
  bool any() const {
    return !icmp.empty() || !dns.empty() || !tcp.empty() || !http.empty() || !throughput.empty();
  }
  bool needs_curl() const { return !http.empty() || !throughput.empty(); }
  bool operator==(const Probes&) const = default;
};
// ---- end of probes ----

struct Config {
  std::string path;  // the file it came from
  Identity identity;
  Broker broker;
  State state;
  Spool spool;
  Log log;
  Status status;  // the local socket `classroom-agent status` asks
  Host host;
  std::vector<Source> sources;  // one per reader passed to load_file, in its order
  Devices devices;
  Snmp snmp;      // profiles written as tables
  Probes probes;  // connectivity probes
  // Things that work but should be changed (an inline password, TLS without
  // verification), as `FILE:LINE:COL: key: what to do`: check-config prints
  // them, and the agent logs them at warning on every start and reload.
  std::vector<std::string> warnings;
  bool operator==(const Config&) const = default;

  // The source named so; nullptr when no reader of that name was passed.
  const Source* source(std::string_view name) const {
    for (const Source& s : sources)
      if (s.name == name) return &s;
    return nullptr;
  }
};

// One problem in a config file, as `FILE:LINE:COL: key: what is wrong`.
struct Error {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;
  std::string message;
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;  // set when there are no errors
  std::vector<Error> errors;     // every problem found, in file order
};

// Parses and validates a config file, each [sources.<name>] table with the
// reader of that name in `sources` (drivers::source_readers()); a table no
// reader takes is an unknown key. Never throws.
LoadResult load_file(const std::string& path, std::span<const SourceReader> sources);
// Same, from text (`path` only names the source in messages).
LoadResult load_string(const std::string& text, const std::string& path,
                       std::span<const SourceReader> sources);

// Every secret (SNMP community and passwords, the LAN inventory's site
// secret) comes from a file: a regular file, not a link, that only its owner
// can read or write, holding one line of `min_bytes` to 4096 bytes (a trailing
// newline is not part of it). Returns what is wrong, naming the file and the
// `chmod` that fixes it, or "" (and the secret, when asked for). The secret is
// never put in a message.
constexpr size_t kMaxSecretBytes = 4096;
constexpr size_t kMinSiteSecretBytes = 16;  // the inventory's HMAC key
std::string read_secret_file(const std::string& path, std::string* secret, size_t min_bytes = 1);

// True when the server URI is one the agent reaches over TLS (ssl://, mqtts://, wss://).
bool is_tls_server(const std::string& uri);
// What is wrong with a broker address (scheme, host, port, IPv6 brackets,
// control characters), quoted and escaped for a message; "" when it is usable.
// The config's `servers` and the console's --server share it.
std::string check_server(const std::string& uri);
// The [status] socket of a config file, read without the rest of the file
// (whose secrets a technician's user cannot read): the default when the file
// has no [status] table; "" when it says `enabled = false`; nullopt, with `error` set, when the
// file cannot be read or parsed, or the key is wrong.
std::optional<std::string> status_socket_of(const std::string& path, std::string& error);

// True for a valid Sparkplug id (group, node): non-empty UTF-8 without + / #.
bool valid_sparkplug_id(const std::string& id);

// Splits an SNMP address (host, host:port, [v6], [v6]:port) into host and
// port; false when it is none of these.
bool split_snmp_address(const std::string& address, std::string& host, int& port);

// The profiles written as tables that come with the agent
// (drivers/snmp/profiles.toml, built in), read once; `errors` is empty unless
// that file is broken (a unit test reads it).
struct BuiltinSnmpProfiles {
  std::vector<SnmpProfile> profiles;
  std::vector<Error> errors;
};
const BuiltinSnmpProfiles& builtin_snmp_profiles();

// The metrics of the profiles written in code (system, interfaces, host,
// ups), for the check of names two profiles of a device would both publish:
// whole names, and prefixes ending in '/'. Empty for another name.
std::vector<std::string> snmp_code_profile_metrics(std::string_view profile);

// "1.3.6.1.2.1.1.3.0" (a leading dot allowed) -> its numbers; empty when it
// is not an OID (2 to 128 numbers below 2^32, the first 0, 1 or 2).
std::vector<uint32_t> parse_oid(std::string_view text);

// What is wrong with a metric name ("" when nothing): levels separated by
// '/', none empty or with blanks at either end, no + or #, no control
// characters, UTF-8, at most 200 bytes.
std::string check_metric_name(const std::string& name);

// A probe name as it appears in metric names (Connectivity/<name>/...): an
// empty string when it is fine, else what is wrong with it.
std::string check_probe_name(const std::string& name);

// "Mon-Fri 07:30-11:30", "Sat 08:00-12:00", "Mon,Wed 13:00-15:00": nullopt
// when it is not a window.
std::optional<Window> parse_window(std::string_view text);

}  // namespace classroom::config
