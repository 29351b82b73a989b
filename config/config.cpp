#include "config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "units.hpp"

namespace classroom::config {
namespace {

using namespace std::string_literals;

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Collects errors for one file.
struct Reporter {
  std::string file;
  std::vector<Error> errors;

  void add(const toml::source_region& where, std::string key, std::string message) {
    // A table that is absent entirely has no position: point at the file's start.
    errors.push_back(Error{file, std::max(1, static_cast<int>(where.begin.line)),
                           std::max(1, static_cast<int>(where.begin.column)), std::move(key),
                           std::move(message)});
  }
};

// One TOML table being read: every key it hands out is marked as used, and
// finish() reports the keys nobody asked for (typos, keys of another version).
class Section {
 public:
  Section(Reporter& rep, const toml::table* table, std::string prefix)
      : rep_(rep), table_(table), prefix_(std::move(prefix)) {}

  bool present() const { return table_ != nullptr; }
  std::string key_path(std::string_view key) const {
    if (key.empty()) return prefix_;
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }
  toml::source_region where() const { return table_ ? table_->source() : toml::source_region{}; }

  const toml::node* take(std::string_view key) {
    if (!table_) return nullptr;
    used_.emplace_back(key);
    return table_->get(key);
  }

  void missing(std::string_view key, std::string_view what) {
    rep_.add(where(), key_path(key), "missing; " + std::string(what));
  }
  void wrong(const toml::node& node, std::string_view key, std::string message) {
    rep_.add(node.source(), key_path(key), std::move(message));
  }

  bool string(std::string_view key, std::string& out, bool required, std::string_view hint = "") {
    const toml::node* node = take(key);
    if (!node) {
      if (required) missing(key, hint.empty() ? "a string is required" : hint);
      return false;
    }
    if (!node->is_string()) {
      wrong(*node, key, "expected a string, found " + type_name(*node));
      return false;
    }
    out = node->as_string()->get();
    return true;
  }

  void boolean(std::string_view key, bool& out) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_boolean()) {
      wrong(*node, key, "expected true or false, found " + type_name(*node));
      return;
    }
    out = node->as_boolean()->get();
  }

  void duration(std::string_view key, milliseconds& out, milliseconds min, milliseconds max) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_string()) {
      wrong(*node, key,
            "expected a duration string such as \"10s\", \"250ms\" or \"5m\", found " +
                type_name(*node));
      return;
    }
    const std::string& text = node->as_string()->get();
    auto parsed = parse_duration(text);
    if (!parsed) {
      wrong(*node, key,
            "\"" + text + "\" is not a duration; use a whole number with ms, s, m, h or d, " +
                "such as \"10s\"");
      return;
    }
    if (*parsed < min || *parsed > max) {
      wrong(*node, key,
            "\"" + text + "\" is out of range; allowed " + format_duration(min) + " to " +
                format_duration(max));
      return;
    }
    out = *parsed;
  }

  void size(std::string_view key, uint64_t& out, uint64_t min) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_string()) {
      wrong(*node, key,
            "expected a size string such as \"64MiB\" or \"512KiB\", found " + type_name(*node));
      return;
    }
    const std::string& text = node->as_string()->get();
    auto parsed = parse_size(text);
    if (!parsed) {
      wrong(*node, key,
            "\"" + text + "\" is not a size; use a whole number with B, KiB, MiB or GiB, " +
                "such as \"64MiB\"");
      return;
    }
    if (*parsed < min) {
      wrong(*node, key, "\"" + text + "\" is too small; at least " + std::to_string(min) + " B");
      return;
    }
    out = *parsed;
  }

  void positive_number(std::string_view key, double& out) {
    const toml::node* node = take(key);
    if (!node) return;
    double value = 0;
    if (node->is_integer())
      value = static_cast<double>(node->as_integer()->get());
    else if (node->is_floating_point())
      value = node->as_floating_point()->get();
    else {
      wrong(*node, key, "expected a number, found " + type_name(*node));
      return;
    }
    if (!(value > 0)) {
      wrong(*node, key, "must be greater than 0");
      return;
    }
    out = value;
  }

  // An array of strings; `check` returns an error message for a bad element.
  template <typename Check>
  bool strings(std::string_view key, std::vector<std::string>& out, Check check) {
    const toml::node* node = take(key);
    if (!node) return false;
    const toml::array* arr = node->as_array();
    if (!arr) {
      wrong(*node, key, "expected an array of strings, found " + type_name(*node));
      return false;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& element = *arr->get(i);
      std::string element_key = std::string(key) + "[" + std::to_string(i) + "]";
      if (!element.is_string()) {
        wrong(element, element_key, "expected a string, found " + type_name(element));
        ok = false;
        continue;
      }
      std::string value = element.as_string()->get();
      std::string problem = check(value);
      if (!problem.empty()) {
        wrong(element, element_key, problem);
        ok = false;
        continue;
      }
      values.push_back(std::move(value));
    }
    if (ok) out = std::move(values);
    return ok;
  }

  // A sub-table; reports a type error when the key holds something else.
  Section table(std::string_view key) {
    const toml::node* node = take(key);
    if (node && !node->is_table()) {
      wrong(*node, key, "expected a table ([" + key_path(key) + "]), found " + type_name(*node));
      node = nullptr;
    }
    return Section(rep_, node ? node->as_table() : nullptr, key_path(key));
  }

  // An element of an array of tables ([[a.b]]), as a section named "b[i]".
  Section element(const toml::table& table, std::string key) {
    return Section(rep_, &table, key_path(key));
  }

  // Reports every key of this table that no reader took.
  void finish() {
    if (!table_) return;
    for (auto&& [key, node] : *table_) {
      if (std::find(used_.begin(), used_.end(), key.str()) != used_.end()) continue;
      rep_.add(key.source(), key_path(key.str()), "unknown key" + known_keys());
    }
  }

  void expect_keys(std::initializer_list<std::string_view> keys) { known_ = keys; }

 private:
  std::string known_keys() const {
    if (known_.empty()) return "";
    std::string s = " (known keys here: ";
    for (size_t i = 0; i < known_.size(); ++i) s += (i ? ", " : "") + std::string(known_[i]);
    return s + ")";
  }

  Reporter& rep_;
  const toml::table* table_;
  std::string prefix_;
  std::vector<std::string> used_;
  std::vector<std::string_view> known_;
};

std::string check_server(const std::string& uri) {
  for (const char* tls : {"ssl://", "mqtts://", "wss://"}) {
    if (uri.rfind(tls, 0) == 0)
      return "\"" + uri + "\": TLS is not supported yet (it comes with certificate settings " +
             "in a later release); use tcp:// on a trusted network for now";
  }
  static const char* const schemes[] = {"tcp://", "mqtt://", "ws://"};
  for (const char* scheme : schemes) {
    std::string_view s(scheme);
    if (uri.compare(0, s.size(), s) != 0) continue;
    std::string_view rest = std::string_view(uri).substr(s.size());
    std::string_view host = rest.substr(0, rest.find_first_of(":/"));
    if (host.empty()) return "\"" + uri + "\" has no host name";
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      std::string_view port = rest.substr(colon + 1);
      port = port.substr(0, port.find('/'));
      int value = 0;
      for (char c : port) {
        if (c < '0' || c > '9') return "\"" + uri + "\" has a bad port";
        value = value * 10 + (c - '0');
        if (value > 65535) break;
      }
      if (port.empty() || value < 1 || value > 65535)
        return "\"" + uri + "\" has a bad port (1 to 65535)";
    }
    return "";
  }
  return "\"" + uri + "\" is not a broker address; use tcp://HOST:PORT";
}

void read_identity(Section s, Config& cfg) {
  s.expect_keys({"group", "node"});
  if (!s.present()) {
    s.missing("", "the [identity] table with group and node is required");
    return;
  }
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"group", &cfg.identity.group},
                          {"node", &cfg.identity.node}}) {
    const toml::node* node = s.take(key);
    if (!node) {
      s.missing(key, "the Sparkplug " +
                         std::string(key == "group" ? "group_id (the school)"
                                                    : "edge_node_id (this gateway)") +
                         " is required");
      continue;
    }
    if (!node->is_string()) {
      s.wrong(*node, key, "expected a string, found " + type_name(*node));
      continue;
    }
    *out = node->as_string()->get();
    if (!valid_sparkplug_id(*out))
      s.wrong(*node, key,
              "\"" + *out + "\" is not a valid Sparkplug id: it must be non-empty and " +
                  "contain none of + / #");
  }
  s.finish();
}

void read_broker(Section s, Config& cfg) {
  s.expect_keys({"servers", "client_id", "username", "password", "keepalive", "connect_timeout",
                 "retry_min", "retry_max", "receipt_topic"});
  if (!s.present()) {
    s.missing("", "the [broker] table with servers is required");
    return;
  }
  Broker& b = cfg.broker;
  if (!s.strings("servers", b.servers, check_server)) {
    if (!s.present() || !s.take("servers"))
      s.missing("servers", "a list of broker addresses such as [\"tcp://127.0.0.1:1883\"]");
  } else if (b.servers.empty()) {
    s.wrong(*s.take("servers"), "servers", "must list at least one broker");
  }
  s.string("client_id", b.client_id, false);
  s.string("username", b.username, false);
  s.string("password", b.password, false);
  s.duration("keepalive", b.keepalive, milliseconds(1000), milliseconds(3600'000));
  s.duration("connect_timeout", b.connect_timeout, milliseconds(1000), milliseconds(600'000));
  s.duration("retry_min", b.retry_min, milliseconds(100), milliseconds(3600'000));
  s.duration("retry_max", b.retry_max, milliseconds(100), milliseconds(86'400'000));
  if (b.retry_max < b.retry_min) {
    const toml::node* node = s.take("retry_max");
    if (node) s.wrong(*node, "retry_max", "must not be smaller than retry_min");
  }
  if (s.string("receipt_topic", b.receipt_topic, false)) {
    const toml::node* node = s.take("receipt_topic");
    if (b.receipt_topic.empty() || b.receipt_topic.find_first_of("+#") != std::string::npos ||
        b.receipt_topic.rfind("spBv1.0/", 0) == 0 || b.receipt_topic[0] == '$')
      s.wrong(*node, "receipt_topic",
              "must be a plain topic name: no + or #, not starting with $ or spBv1.0/");
  }
  s.finish();
}

void read_state(Section s, Config& cfg, const std::string& file) {
  s.expect_keys({"dir"});
  if (!s.present()) {
    s.missing("", "the [state] table with dir is required");
    return;
  }
  if (s.string("dir", cfg.state.dir, true,
               "the directory for bdSeq and the spool, such as \"/var/lib/classroom-agent\"")) {
    if (cfg.state.dir.empty()) {
      s.wrong(*s.take("dir"), "dir", "must not be empty");
    } else {
      // A relative dir is relative to the config file, not to wherever the
      // agent happened to be started.
      std::filesystem::path p(cfg.state.dir);
      if (p.is_relative())
        cfg.state.dir = (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
    }
  }
  s.finish();
}

void read_spool(Section s, Config& cfg) {
  s.expect_keys({"max_bytes", "sync", "replay_rate"});
  if (!s.present()) return;
  s.size("max_bytes", cfg.spool.max_bytes, 64 << 10);
  if (const toml::node* node = s.take("sync")) {
    if (!node->is_string()) {
      s.wrong(*node, "sync",
              "expected \"always\" or a duration such as \"1s\", found " + type_name(*node));
    } else {
      const std::string& text = node->as_string()->get();
      if (text == "always") {
        cfg.spool.sync_always = true;
      } else if (auto d = parse_duration(text);
                 d && *d >= milliseconds(10) && *d <= milliseconds(3600'000)) {
        cfg.spool.sync_always = false;
        cfg.spool.sync_interval = *d;
      } else {
        s.wrong(*node, "sync",
                "\"" + text + "\" is neither \"always\" nor a duration from 10ms to 1h");
      }
    }
  }
  s.positive_number("replay_rate", cfg.spool.replay_rate);
  s.finish();
}

void read_log(Section s, Config& cfg) {
  s.expect_keys({"level"});
  if (!s.present()) return;
  std::string level;
  if (s.string("level", level, false)) {
    if (level == "debug")
      cfg.log.level = LogLevel::debug;
    else if (level == "info")
      cfg.log.level = LogLevel::info;
    else if (level == "warning")
      cfg.log.level = LogLevel::warning;
    else if (level == "error")
      cfg.log.level = LogLevel::error;
    else
      s.wrong(*s.take("level"), "level",
              "\"" + level + "\" is not a level; use debug, info, warning or error");
  }
  s.finish();
}

void read_host(Section s, Config& cfg) {
  s.expect_keys({"proc", "sys"});
  if (!s.present()) return;
  s.string("proc", cfg.host.proc, false);
  s.string("sys", cfg.host.sys, false);
  s.finish();
}

// An integer from min to max; false when absent or wrong (reported).
bool integer(Section& s, std::string_view key, int64_t& out, int64_t min, int64_t max) {
  const toml::node* node = s.take(key);
  if (!node) return false;
  if (!node->is_integer()) {
    s.wrong(*node, key, "expected a whole number, found " + type_name(*node));
    return false;
  }
  const int64_t v = node->as_integer()->get();
  if (v < min || v > max) {
    s.wrong(*node, key,
            std::to_string(v) + " is out of range; allowed " + std::to_string(min) + " to " +
                std::to_string(max));
    return false;
  }
  out = v;
  return true;
}

std::string check_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != std::string::npos)
    return "\"" + name + "\" is not an interface name (1 to 15 characters, no / : or spaces)";
  return "";
}

std::string absolute_to(const std::string& path, const std::string& file) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

void read_wifi(Section s, Config& cfg) {
  if (!s.present()) return;
  s.expect_keys({"enabled", "interval", "interfaces", "weak_signal"});
  WifiSource& out = cfg.sources.wifi;
  out.enabled = true;
  s.boolean("enabled", out.enabled);
  s.duration("interval", out.interval, milliseconds(100), milliseconds(86'400'000));
  s.strings("interfaces", out.interfaces, check_interface_name);
  int64_t weak = out.weak_signal;
  if (integer(s, "weak_signal", weak, -120, 0)) out.weak_signal = static_cast<int>(weak);
  s.finish();
}

void read_dhcp(Section d, DhcpLeases& out, const std::string& file) {
  d.expect_keys({"name", "file", "format", "pool_size"});
  if (d.string("name", out.name, true, "a name for DHCP/<name>/..., such as \"classroom\"") &&
      !valid_sparkplug_id(out.name))
    d.wrong(*d.take("name"), "name", "\"" + out.name + "\" must be non-empty, without + / #");
  if (d.string("file", out.file, true,
               "the lease file, such as \"/var/lib/misc/dnsmasq.leases\"")) {
    if (out.file.empty())
      d.wrong(*d.take("file"), "file", "must not be empty");
    else
      out.file = absolute_to(out.file, file);
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
      d.wrong(*d.take("format"), "format",
              "\"" + format + "\" is not a lease file format; use dnsmasq, isc or kea");
  }
  int64_t pool = 0;
  if (integer(d, "pool_size", pool, 1, 16'777'216)) out.pool_size = static_cast<uint64_t>(pool);
  d.finish();
}

void read_lan(Section s, Config& cfg, const std::string& file) {
  if (!s.present()) return;
  s.expect_keys(
      {"enabled", "interval", "interfaces", "inventory", "inventory_secret_file", "dhcp"});
  LanSource& out = cfg.sources.lan;
  out.enabled = true;
  s.boolean("enabled", out.enabled);
  s.duration("interval", out.interval, milliseconds(100), milliseconds(86'400'000));
  s.strings("interfaces", out.interfaces, check_interface_name);
  s.boolean("inventory", out.inventory);
  if (s.string("inventory_secret_file", out.inventory_secret_file, false) &&
      !out.inventory_secret_file.empty())
    out.inventory_secret_file = absolute_to(out.inventory_secret_file, file);
  if (out.inventory && out.enabled) {
    if (out.inventory_secret_file.empty()) {
      const toml::node* node = s.take("inventory");
      s.wrong(*node, "inventory",
              "needs inventory_secret_file: a file with a site secret (at least 16 bytes), "
              "readable by the agent only; create one with `openssl rand -hex 32 > FILE && "
              "chmod 600 FILE`");
    } else if (std::string problem = load_secret_file(out.inventory_secret_file, nullptr);
               !problem.empty()) {
      s.wrong(*s.take("inventory_secret_file"), "inventory_secret_file", problem);
    }
  }
  if (const toml::node* node = s.take("dhcp")) {
    const toml::array* arr = node->as_array();
    if (!arr || (!arr->empty() && !arr->is_array_of_tables())) {
      s.wrong(*node, "dhcp", "expected [[sources.lan.dhcp]] tables, found " + type_name(*node));
    } else {
      for (size_t i = 0; i < arr->size(); ++i) {
        DhcpLeases leases;
        read_dhcp(s.element(*arr->get(i)->as_table(), "dhcp[" + std::to_string(i) + "]"), leases,
                  file);
        for (const DhcpLeases& other : out.dhcp)
          if (other.name == leases.name && !leases.name.empty())
            s.wrong(*arr->get(i), "dhcp[" + std::to_string(i) + "].name",
                    "\"" + leases.name + "\" is used twice; every lease file needs its own name");
        out.dhcp.push_back(std::move(leases));
      }
    }
  }
  s.finish();
}

void read_sources(Section s, Config& cfg, const std::string& file) {
  s.expect_keys({"system", "wifi", "lan"});
  if (!s.present()) return;
  Section sys = s.table("system");
  if (sys.present()) {
    sys.expect_keys({"enabled", "interval", "mounts"});
    SystemSource& out = cfg.sources.system;
    sys.boolean("enabled", out.enabled);
    sys.duration("interval", out.interval, milliseconds(100), milliseconds(86'400'000));
    sys.strings("mounts", out.mounts, [](const std::string& m) -> std::string {
      if (m.empty() || m[0] != '/') return "\"" + m + "\" is not an absolute path";
      return "";
    });
    sys.finish();
  }
  read_wifi(s.table("wifi"), cfg);
  read_lan(s.table("lan"), cfg, file);
  s.finish();
}

LoadResult validate(const toml::table& root, const std::string& path) {
  Reporter rep{path, {}};
  Config cfg;
  cfg.path = path;
  Section top(rep, &root, "");
  top.expect_keys({"identity", "broker", "state", "spool", "log", "host", "sources"});
  read_identity(top.table("identity"), cfg);
  read_broker(top.table("broker"), cfg);
  read_state(top.table("state"), cfg, path);
  read_spool(top.table("spool"), cfg);
  read_log(top.table("log"), cfg);
  read_host(top.table("host"), cfg);
  read_sources(top.table("sources"), cfg, path);
  top.finish();

  if (cfg.broker.client_id.empty())
    cfg.broker.client_id = cfg.identity.group + "-" + cfg.identity.node;
  if (cfg.broker.receipt_topic.empty())
    cfg.broker.receipt_topic =
        "classroom-agent/" + cfg.identity.group + "/" + cfg.identity.node + "/receipt";

  LoadResult result;
  std::stable_sort(rep.errors.begin(), rep.errors.end(), [](const Error& a, const Error& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  result.errors = std::move(rep.errors);
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

}  // namespace

std::string Error::to_string() const {
  std::ostringstream out;
  out << file << ":" << line << ":" << column << ": " << (key.empty() ? "(file)" : key) << ": "
      << message;
  return out.str();
}

std::string load_secret_file(const std::string& path, std::string* secret) {
  const std::string fix = "`chmod 600 " + path + "`";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return "cannot read " + path + " (" + std::strerror(errno) +
           "); create it with `openssl rand -hex 32 > " + path + "` and " + fix;
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = path + " is not a regular file";
  } else if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problem = path + " is open to group or others (mode " + mode +
              "): the site secret must be readable by the agent only; fix it with " + fix;
  } else if (static_cast<uint64_t>(st.st_size) > kMaxSecretBytes) {
    problem =
        path + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes: not a secret file?";
  } else {
    char buf[kMaxSecretBytes];
    ssize_t n = ::read(fd, buf, sizeof buf);
    size_t len = n > 0 ? static_cast<size_t>(n) : 0;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
      --len;
    if (len < kMinSecretBytes)
      problem = path + " holds " + std::to_string(len) + " bytes; a site secret needs at least " +
                std::to_string(kMinSecretBytes) + " (`openssl rand -hex 32 > " + path + "`)";
    else if (secret)
      secret->assign(buf, len);
    std::memset(buf, 0, sizeof buf);
  }
  ::close(fd);
  return problem;
}

bool valid_sparkplug_id(const std::string& id) {
  return !id.empty() && id.find_first_of("+/#") == std::string::npos;
}

LoadResult load_string(const std::string& text, const std::string& path) {
  try {
    toml::table root = toml::parse(text, path);
    return validate(root, path);
  } catch (const toml::parse_error& err) {
    LoadResult result;
    const auto& where = err.source().begin;
    result.errors.push_back(Error{path, static_cast<int>(where.line),
                                  static_cast<int>(where.column), "",
                                  "not valid TOML: " + std::string(err.description())});
    return result;
  }
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(
        Error{path, 0, 0, "", "cannot read the file: " + std::string(std::strerror(errno))});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_string(text.str(), path);
}

}  // namespace classroom::config
