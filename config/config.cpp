#include "config.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string_view>

#include "printable.hpp"
#include "section.hpp"
#include "tls_files.hpp"
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

// A string from the file as an error message shows it: escaped, bounded.
std::string in_quotes(std::string_view value) {
  return "\"" + text::printable(value, 80) + "\"";
}

// Why `value` cannot be a path ("" when it can): empty, or holding a NUL or
// another control character, which the file system would cut or keep.
std::string path_problem(const std::string& value) {
  if (value.empty()) return "must not be empty";
  if (text::has_unprintable(value))
    return in_quotes(value) + " holds a control character or bytes that are not UTF-8";
  return "";
}

// The first existing part of `path` that is not a directory ("" when none):
// the agent could never create or use the directory below it.
std::string not_a_directory(const std::filesystem::path& path) {
  std::error_code ec;
  for (std::filesystem::path p = path; !p.empty(); p = p.parent_path()) {
    const auto st = std::filesystem::status(p, ec);
    if (!ec && std::filesystem::exists(st))
      return std::filesystem::is_directory(st) ? "" : p.string();
    if (p == p.parent_path()) break;
  }
  return "";
}

}  // namespace

// The table reader behind every key of the file: the agent's own tables read
// with it directly, a source's through the Section it hands to its driver.
namespace detail {

// Collects errors for one file.
struct Reporter {
  std::string file;
  std::vector<Error> errors;
  std::vector<Error> warnings;  // works, but should be changed

  void add(const toml::source_region& where, std::string key, std::string message) {
    // A table that is absent entirely has no position: point at the file's start.
    errors.push_back(Error{file, std::max(1, static_cast<int>(where.begin.line)),
                           std::max(1, static_cast<int>(where.begin.column)), std::move(key),
                           std::move(message)});
  }
};

// One TOML table being read: every key it hands out is marked as used, and
// finish() reports the keys nobody asked for (typos, keys of another version).
class TableReader {
 public:
  TableReader(Reporter& rep, const toml::table* table, std::string prefix)
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

  // A problem with `key`: at its value, or at the table's header when absent.
  void wrong_key(std::string_view key, std::string message) {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    rep_.add(node ? node->source() : where(), key_path(key), std::move(message));
  }

  // A problem with the table as a whole, reported at its header.
  void wrong_here(std::string message) { rep_.add(where(), key_path(""), std::move(message)); }

  void missing(std::string_view key, std::string_view what) {
    rep_.add(where(), key_path(key), "missing; " + std::string(what));
  }
  void wrong(const toml::node& node, std::string_view key, std::string message) {
    rep_.add(node.source(), key_path(key), std::move(message));
  }
  void warn(const toml::node& node, std::string_view key, std::string message) {
    rep_.warnings.push_back(Error{rep_.file, static_cast<int>(node.source().begin.line),
                                  static_cast<int>(node.source().begin.column), key_path(key),
                                  std::move(message)});
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

  bool boolean(std::string_view key, bool& out) {
    const toml::node* node = take(key);
    if (!node) return false;
    if (!node->is_boolean()) {
      wrong(*node, key, "expected true or false, found " + type_name(*node));
      return false;
    }
    out = node->as_boolean()->get();
    return true;
  }

  bool duration(std::string_view key, milliseconds& out, milliseconds min, milliseconds max) {
    const toml::node* node = take(key);
    if (!node) return false;
    if (!node->is_string()) {
      wrong(*node, key,
            "expected a duration string such as \"10s\", \"250ms\" or \"5m\", found " +
                type_name(*node));
      return false;
    }
    const std::string& text = node->as_string()->get();
    auto parsed = parse_duration(text);
    if (!parsed) {
      wrong(*node, key,
            in_quotes(text) + " is not a duration; use a whole number with ms, s, m, h or d, " +
                "such as \"10s\"");
      return false;
    }
    if (*parsed < min || *parsed > max) {
      wrong(*node, key,
            in_quotes(text) + " is out of range; allowed " + format_duration(min) + " to " +
                format_duration(max));
      return false;
    }
    out = *parsed;
    return true;
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
            in_quotes(text) + " is not a size; use a whole number with B, KiB, MiB or GiB, " +
                "such as \"64MiB\"");
      return;
    }
    if (*parsed < min) {
      wrong(*node, key, in_quotes(text) + " is too small; at least " + std::to_string(min) + " B");
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

  // An integer from min to max; false when absent or wrong (reported).
  bool integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* node = take(key);
    if (!node) return false;
    if (!node->is_integer()) {
      wrong(*node, key, "expected a whole number, found " + type_name(*node));
      return false;
    }
    const int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      wrong(*node, key,
            std::to_string(v) + " is out of range; allowed " + std::to_string(min) + " to " +
                std::to_string(max));
      return false;
    }
    out = v;
    return true;
  }

  // ---- probes: integers and arrays of tables ----
  void integer(std::string_view key, int& out, int min, int max) {
    const toml::node* node = take(key);
    if (!node) return;
    if (!node->is_integer()) {
      wrong(*node, key, "expected a whole number, found " + type_name(*node));
      return;
    }
    const int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      wrong(*node, key,
            std::to_string(v) + " is out of range; allowed " + std::to_string(min) + " to " +
                std::to_string(max));
      return;
    }
    out = static_cast<int>(v);
  }

  // `[[key]]`: one TableReader per table of the array (none when absent or wrong).
  std::vector<TableReader> tables(std::string_view key) {
    std::vector<TableReader> out;
    const toml::node* node = take(key);
    if (!node) return out;
    const toml::array* arr = node->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      wrong(*node, key,
            "expected tables written [[" + key_path(key) + "]], found " + type_name(*node));
      return out;
    }
    for (size_t i = 0; i < arr->size(); ++i)
      out.emplace_back(rep_, arr->get(i)->as_table(),
                       key_path(key) + "[" + std::to_string(i) + "]");
    return out;
  }
  // `[[key]]` of a source (an empty array allowed): one reader per table.
  std::vector<TableReader> array_of_tables(std::string_view key) {
    std::vector<TableReader> out;
    const toml::node* node = take(key);
    if (!node) return out;
    const toml::array* arr = node->as_array();
    if (!arr || (!arr->empty() && !arr->is_array_of_tables())) {
      wrong(*node, key, "expected [[" + key_path(key) + "]] tables, found " + type_name(*node));
      return out;
    }
    for (size_t i = 0; i < arr->size(); ++i)
      out.emplace_back(rep_, arr->get(i)->as_table(),
                       key_path(key) + "[" + std::to_string(i) + "]");
    return out;
  }
  // The table itself, to point an error at when its key is absent.
  const toml::node* node_or_table() const { return table_; }
  // ---- end of probes ----

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
  TableReader table(std::string_view key) {
    const toml::node* node = take(key);
    if (node && !node->is_table()) {
      wrong(*node, key, "expected a table ([" + key_path(key) + "]), found " + type_name(*node));
      node = nullptr;
    }
    return TableReader(rep_, node ? node->as_table() : nullptr, key_path(key));
  }

  // Reports every key of this table that no reader took.
  void finish() {
    if (!table_) return;
    for (auto&& [key, node] : *table_) {
      if (std::find(used_.begin(), used_.end(), key.str()) != used_.end()) continue;
      rep_.add(key.source(), key_path(key.str()), "unknown key" + known_keys());
    }
  }

  // The keys this table may hold, named when an unknown one is reported
  // (added to those named before).
  void expect_keys(std::initializer_list<std::string_view> keys) {
    known_.insert(known_.end(), keys.begin(), keys.end());
  }
  void expect_keys(const std::vector<std::string_view>& keys) {
    known_.insert(known_.end(), keys.begin(), keys.end());
  }

  const std::string& file() const { return rep_.file; }

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

}  // namespace detail

namespace {

using detail::Reporter;
using detail::TableReader;

// An IPv6 literal as it may stand in brackets: hex digits, colons and dots
// (an embedded IPv4 address), and an optional %zone of letters and digits.
bool ipv6_literal(std::string_view host) {
  const std::string_view zone_sep = "%";
  const size_t pct = host.find(zone_sep);
  const std::string_view addr = host.substr(0, pct);
  if (addr.find(':') == std::string_view::npos) return false;
  for (char c : addr)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  if (pct != std::string_view::npos) {
    const std::string_view zone = host.substr(pct + 1);
    if (zone.empty()) return false;
    for (char c : zone)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        return false;
  }
  return true;
}

}  // namespace

std::string check_server(const std::string& uri) {
  const std::string shown = in_quotes(uri);
  static const char* const schemes[] = {"tcp://", "mqtt://",  "ws://",
                                        "ssl://", "mqtts://", "wss://"};
  for (const char* scheme : schemes) {
    std::string_view s(scheme);
    if (uri.compare(0, s.size(), s) != 0) continue;
    std::string_view rest = std::string_view(uri).substr(s.size());
    std::string_view host;
    if (!rest.empty() && rest[0] == '[') {
      // An IPv6 literal: tcp://[::1]:1883
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return shown + " has no ] after its IPv6 address";
      host = rest.substr(1, close - 1);
      if (!ipv6_literal(host)) return shown + " has no IPv6 address between [ and ]";
      // Paho checks the certificate against "[::1" (bracket included): it
      // could never match. A host name works.
      if (is_tls_server(uri))
        return shown + ": TLS to an IPv6 address in brackets cannot be verified by the MQTT " +
               "library; use the broker's host name";
      rest = rest.substr(close + 1);
      if (!rest.empty() && rest[0] != ':' && rest[0] != '/')
        return shown + " has something other than :PORT after its IPv6 address";
    } else {
      host = rest.substr(0, rest.find_first_of(":/"));
      if (host.empty()) return shown + " has no host name";
      for (char c : host)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '[' || c == ']')
          return shown + " has a blank, a control character or a bracket in its host name";
      rest = rest.substr(host.size());
    }
    if (!rest.empty() && rest[0] == ':') {
      std::string_view port = rest.substr(1);
      port = port.substr(0, port.find('/'));
      int value = 0;
      for (char c : port) {
        if (c < '0' || c > '9') return shown + " has a bad port";
        value = value * 10 + (c - '0');
        if (value > 65535) break;
      }
      if (port.empty() || value < 1 || value > 65535) return shown + " has a bad port (1 to 65535)";
    }
    if (text::has_unprintable(uri)) return shown + " holds a control character";
    return "";
  }
  return shown + " is not a broker address; use ssl://HOST:8883 (TLS) or tcp://HOST:1883";
}

namespace {

void read_identity(TableReader s, Config& cfg) {
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
              in_quotes(*out) + " is not a valid Sparkplug id: it must be UTF-8 text without " +
                  "+ / #, control characters, or blanks at either end");
  }
  s.finish();
}

std::string resolve(const std::string& file, const std::string& path);

// [broker.tls]: the files TLS needs, each checked now so that a bad one is
// named by check-config, not by a failed handshake at 3 a.m.
void read_broker_tls(TableReader t, Config& cfg, const std::string& file, bool tls_server) {
  t.expect_keys({"ca_file", "cert_file", "key_file", "verify"});
  BrokerTls& tls = cfg.broker.tls;
  if (!t.present()) return;
  if (!tls_server)
    t.wrong_here(
        "no server in servers uses TLS: write them as ssl://HOST:8883 (or mqtts://), "
        "or remove [broker.tls]");
  auto path_key = [&](std::string_view key, std::string& out) {
    if (!t.string(key, out, false)) return false;
    const toml::node* node = t.take(key);
    if (out.empty() || text::has_unprintable(out)) {
      t.wrong(*node, key, "must name a file");
      out.clear();
      return false;
    }
    out = resolve(file, out);
    return true;
  };
  if (path_key("ca_file", tls.ca_file))
    if (std::string problem = check_ca_file(tls.ca_file); !problem.empty())
      t.wrong(*t.take("ca_file"), "ca_file", problem);
  const bool cert = path_key("cert_file", tls.cert_file);
  const bool key = path_key("key_file", tls.key_file);
  if (cert && !key) {
    t.wrong(*t.take("cert_file"), "cert_file",
            "a client certificate needs its key: add key_file (a file of mode 600)");
  } else if (key && !cert) {
    t.wrong(*t.take("key_file"), "key_file", "a client key needs its certificate: add cert_file");
  } else if (cert && key) {
    std::string cert_problem, key_problem;
    check_client_pair(tls.cert_file, tls.key_file, cert_problem, key_problem);
    if (!cert_problem.empty()) t.wrong(*t.take("cert_file"), "cert_file", cert_problem);
    if (!key_problem.empty()) t.wrong(*t.take("key_file"), "key_file", key_problem);
  }
  t.boolean("verify", tls.verify);
  if (!tls.verify)
    t.warn(*t.take("verify"), "verify",
           "the broker's certificate is not checked: anyone on the way to the broker can "
           "pose as it and read or change what this gateway sends; set ca_file instead");
  t.finish();
}

// The largest packet MQTT's length field can describe.
constexpr uint64_t kMqttMaxPacketSize = 268'435'455;

// The broker's `servers`: at least one, each an address the agent can use.
void read_broker_servers(TableReader& s, Broker& b) {
  if (!s.strings("servers", b.servers, check_server)) {
    if (!s.present() || !s.take("servers"))
      s.missing("servers", "a list of broker addresses such as [\"tcp://127.0.0.1:1883\"]");
  } else if (b.servers.empty()) {
    s.wrong(*s.take("servers"), "servers", "must list at least one broker");
  }
}

// Who the agent is to the broker: client_id, username, and the password
// from password_file (or, warned about, written in the file).
void read_broker_login(TableReader& s, Broker& b, const std::string& file) {
  s.string("client_id", b.client_id, false);
  s.string("username", b.username, false);
  if (s.string("password_file", b.password_file, false)) {
    const toml::node* node = s.take("password_file");
    if (b.password_file.empty() || text::has_unprintable(b.password_file)) {
      s.wrong(*node, "password_file", "must name a file (mode 600) holding the password");
    } else {
      b.password_file = resolve(file, b.password_file);
      if (std::string error = read_secret_file(b.password_file, &b.password); !error.empty())
        s.wrong(*node, "password_file", error);
    }
    if (const toml::node* inline_password = s.take("password"))
      s.wrong(*inline_password, "password",
              "set either password or password_file, not both (password_file is the safe one)");
  } else if (s.string("password", b.password, false)) {
    s.warn(*s.take("password"), "password",
           "the broker password is written in the config file; put it in a file readable by "
           "the agent only (`chmod 600`) and name that file with password_file");
  }
}

// Whether the servers use TLS; reported when they mix it with clear text.
bool broker_uses_tls(TableReader& s, const Broker& b) {
  bool tls_server = false, plain_server = false;
  for (const std::string& server : b.servers) {
    tls_server = tls_server || is_tls_server(server);
    plain_server = plain_server || !is_tls_server(server);
  }
  // A clear-text fallback would hand the password to anyone who can block
  // the TLS port; Paho also cannot switch between the two on one client.
  if (tls_server && plain_server)
    s.wrong(*s.take("servers"), "servers",
            "mixes TLS (ssl://, mqtts://, wss://) and clear-text (tcp://, mqtt://, ws://) "
            "brokers: a fallback in clear text would send the password and data unencrypted; "
            "list brokers of one kind");
  return tls_server;
}

// keepalive, connect_timeout and the reconnect backoff retry_min..retry_max.
void read_broker_timing(TableReader& s, Broker& b) {
  s.duration("keepalive", b.keepalive, milliseconds(1000), milliseconds(3600'000));
  s.duration("connect_timeout", b.connect_timeout, milliseconds(1000), milliseconds(600'000));
  s.duration("retry_min", b.retry_min, milliseconds(100), milliseconds(3600'000));
  s.duration("retry_max", b.retry_max, milliseconds(100), milliseconds(86'400'000));
  if (b.retry_max < b.retry_min) {
    // Reported where the file sets one of them (a default has no line).
    const bool max_set = s.take("retry_max") != nullptr;
    const toml::node* node = max_set ? s.take("retry_max") : s.take("retry_min");
    if (node)
      s.wrong(*node, max_set ? "retry_max" : "retry_min",
              "retry_min (" + format_duration(b.retry_min) + ") is greater than retry_max (" +
                  format_duration(b.retry_max) + (max_set ? "" : ", the default") +
                  "); retry_max must be at least retry_min");
  }
}

// client_id and username as MQTT carries them, and the receipt topic.
void check_broker_names(TableReader& s, Broker& b) {
  for (auto [key, value] : {std::pair<std::string_view, std::string*>{"client_id", &b.client_id},
                            {"username", &b.username}}) {
    if (const toml::node* node = s.take(key); node && value->find('\0') != std::string::npos)
      s.wrong(*node, key, in_quotes(*value) + " holds a NUL character");
  }
  if (s.string("receipt_topic", b.receipt_topic, false)) {
    const toml::node* node = s.take("receipt_topic");
    if (b.receipt_topic.empty() || b.receipt_topic.find_first_of("+#") != std::string::npos ||
        b.receipt_topic.rfind("spBv1.0/", 0) == 0 || b.receipt_topic[0] == '$' ||
        text::has_unprintable(b.receipt_topic))
      s.wrong(*node, "receipt_topic",
              "must be a plain topic name: UTF-8 without + or #, control characters or NUL, "
              "not starting with $ or spBv1.0/");
  }
}

// max_packet_size: 1 KiB leaves room for a node's smallest birth; MQTT
// cannot carry more than 256 MiB - 1.
void read_max_packet_size(TableReader& s, Broker& b) {
  s.size("max_packet_size", b.max_packet_size, 1 << 10);
  if (b.max_packet_size > kMqttMaxPacketSize) {
    s.wrong(*s.take("max_packet_size"), "max_packet_size",
            "is over MQTT's own limit of 268435455 B (256 MiB - 1)");
    b.max_packet_size = kMqttMaxPacketSize;
  }
}

// The Sparkplug primary host application to wait for, and how long.
void read_primary_host(TableReader& s, Broker& b) {
  if (s.string("primary_host", b.primary_host, false) && !valid_sparkplug_id(b.primary_host))
    s.wrong(*s.take("primary_host"), "primary_host",
            in_quotes(b.primary_host) +
                " is not a valid Sparkplug host id: it must be UTF-8 text without + / #, "
                "control characters, or blanks at either end");
  s.duration("primary_host_wait", b.primary_host_wait, milliseconds(1000),
             milliseconds(30 * 86'400'000LL));
  if (b.primary_host.empty() && s.take("primary_host_wait"))
    s.wrong(*s.take("primary_host_wait"), "primary_host_wait",
            "is only meaningful with primary_host (the host application to wait for)");
}

// The MQTT version to speak.
void read_broker_protocol(TableReader& s, Broker& b) {
  std::string protocol;
  if (!s.string("protocol", protocol, false)) return;
  if (protocol == "auto")
    b.protocol = Broker::Protocol::automatic;
  else if (protocol == "5")
    b.protocol = Broker::Protocol::v5;
  else if (protocol == "3.1.1")
    b.protocol = Broker::Protocol::v311;
  else
    s.wrong(*s.take("protocol"), "protocol",
            in_quotes(protocol) +
                " is not an MQTT version the agent speaks; use \"auto\", "
                "\"5\" or \"3.1.1\"");
}

void read_broker(TableReader s, Config& cfg, const std::string& file) {
  s.expect_keys({"servers", "client_id", "username", "password", "password_file", "keepalive",
                 "connect_timeout", "retry_min", "retry_max", "receipt_topic", "max_packet_size",
                 "primary_host", "primary_host_wait", "protocol", "tls"});
  if (!s.present()) {
    s.missing("", "the [broker] table with servers is required");
    return;
  }
  Broker& b = cfg.broker;
  read_broker_servers(s, b);
  read_broker_login(s, b, file);
  const bool tls_server = broker_uses_tls(s, b);
  read_broker_tls(s.table("tls"), cfg, file, tls_server);
  read_broker_timing(s, b);
  check_broker_names(s, b);
  read_max_packet_size(s, b);
  read_primary_host(s, b);
  read_broker_protocol(s, b);
  s.finish();
}

void read_state(TableReader s, Config& cfg, const std::string& file) {
  s.expect_keys({"dir"});
  if (!s.present()) {
    s.missing("", "the [state] table with dir is required");
    return;
  }
  if (s.string("dir", cfg.state.dir, true,
               "the directory for bdSeq and the spool, such as \"/var/lib/classroom-agent\"")) {
    if (std::string problem = path_problem(cfg.state.dir); !problem.empty()) {
      s.wrong(*s.take("dir"), "dir", problem);
    } else {
      // A relative dir is relative to the config file, not to wherever the
      // agent happened to be started.
      std::filesystem::path p(cfg.state.dir);
      if (p.is_relative())
        cfg.state.dir = (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
      // It need not exist yet, but nothing on its way may be a file.
      if (std::string blocker = not_a_directory(cfg.state.dir); blocker == cfg.state.dir)
        s.wrong(*s.take("dir"), "dir", in_quotes(blocker) + " exists and is not a directory");
      else if (!blocker.empty())
        s.wrong(*s.take("dir"), "dir",
                in_quotes(blocker) + " is not a directory, so the state dir " +
                    in_quotes(cfg.state.dir) + " cannot be one");
    }
  }
  s.finish();
}

void read_spool(TableReader s, Config& cfg) {
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
                in_quotes(text) + " is neither \"always\" nor a duration from 10ms to 1h");
      }
    }
  }
  s.positive_number("replay_rate", cfg.spool.replay_rate);
  s.finish();
}

void read_log(TableReader s, Config& cfg, const std::string& file) {
  s.expect_keys({"level", "file", "max_bytes", "keep", "fold"});
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
              in_quotes(level) + " is not a level; use debug, info, warning or error");
  }
  // ---- log file ([log] file and its rotation) ----
  if (s.string("file", cfg.log.file, false)) {
    const toml::node& node = *s.take("file");
    if (std::string problem = path_problem(cfg.log.file); !problem.empty()) {
      s.wrong(node, "file", problem);
    } else {
      std::filesystem::path p(cfg.log.file);
      if (p.is_relative())
        cfg.log.file = (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
      std::error_code ec;
      const auto st = std::filesystem::status(cfg.log.file, ec);
      if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
        s.wrong(node, "file", in_quotes(cfg.log.file) + " exists and is not a regular file");
      else if (std::string blocker =
                   not_a_directory(std::filesystem::path(cfg.log.file).parent_path());
               !blocker.empty())
        s.wrong(node, "file",
                in_quotes(blocker) + " is not a directory, so the log file cannot be in it");
    }
  }
  s.size("max_bytes", cfg.log.max_bytes, 16 << 10);
  s.integer("keep", cfg.log.keep, 1, 100);
  s.duration("fold", cfg.log.fold, milliseconds(0), milliseconds(3600'000));
  s.finish();
}

// ---- status socket ([status]) ----
// sockaddr_un holds 108 bytes with the terminating NUL.
constexpr size_t kMaxSocketPath = 107;

std::string socket_path_problem(const std::string& path) {
  if (std::string problem = path_problem(path); !problem.empty()) return problem;
  if (path.size() > kMaxSocketPath)
    return in_quotes(path) + " is longer than a UNIX socket path may be (" +
           std::to_string(kMaxSocketPath) + " bytes)";
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_socket(st))
    return in_quotes(path) + " exists and is not a socket";
  if (std::string blocker = not_a_directory(std::filesystem::path(path).parent_path());
      !blocker.empty())
    return in_quotes(blocker) + " is not a directory, so the socket cannot be in it";
  return "";
}

// Relative to the config file (defined below, with the sources).
std::string absolute_to(const std::string& path, const std::string& file);

void read_status(TableReader s, Config& cfg, const std::string& file) {
  s.expect_keys({"enabled", "socket", "group"});
  if (!s.present()) return;
  s.boolean("enabled", cfg.status.enabled);
  if (s.string("socket", cfg.status.socket, false)) {
    const toml::node& node = *s.take("socket");
    if (std::string problem = path_problem(cfg.status.socket); !problem.empty()) {
      s.wrong(node, "socket", problem);
    } else {
      cfg.status.socket = absolute_to(cfg.status.socket, file);
      if (std::string problem = socket_path_problem(cfg.status.socket); !problem.empty())
        s.wrong(node, "socket", problem);
    }
  }
  if (s.string("group", cfg.status.group, false)) {
    const toml::node& node = *s.take("group");
    group buf{};
    group* found = nullptr;
    char scratch[16384];
    if (cfg.status.group.empty() || text::has_unprintable(cfg.status.group)) {
      s.wrong(node, "group", in_quotes(cfg.status.group) + " is not a group name");
    } else if (getgrnam_r(cfg.status.group.c_str(), &buf, scratch, sizeof scratch, &found) != 0 ||
               !found) {
      s.wrong(node, "group",
              "no group " + in_quotes(cfg.status.group) +
                  " on this system; create it (groupadd) or name an existing one");
    } else {
      cfg.status.gid = found->gr_gid;
    }
  }
  s.finish();
}

void read_host(TableReader s, Config& cfg, const std::string& file) {
  s.expect_keys({"proc", "sys"});
  if (!s.present()) return;
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"proc", &cfg.host.proc},
                          {"sys", &cfg.host.sys}}) {
    if (!s.string(key, *out, false)) continue;
    if (std::string problem = path_problem(*out); !problem.empty()) {
      s.wrong(*s.take(key), key, problem);
      continue;
    }
    // Relative to the config file, as the state dir.
    if (std::filesystem::path p(*out); p.is_relative())
      *out = (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
  }
  s.finish();
}

std::string absolute_to(const std::string& path, const std::string& file) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

// [sources.<name>]: each table read by the reader of that name (its driver's,
// passed in by the caller), after the keys every source has. A source whose
// table is absent is read too, so that its settings hold their defaults.
void read_sources(TableReader s, Config& cfg, std::span<const SourceReader> readers) {
  std::vector<std::string_view> names;
  for (const SourceReader& r : readers) names.push_back(r.name);
  s.expect_keys(names);
  for (const SourceReader& r : readers) {
    TableReader t = s.table(r.name);
    Source source;
    source.name = std::string(r.name);
    source.enabled = r.on_without_table || t.present();
    source.interval = r.interval;
    t.expect_keys({"enabled", "interval"});
    t.boolean("enabled", source.enabled);
    t.duration("interval", source.interval, kMinSourceInterval, kMaxSourceInterval);
    if (r.read) {
      Section section(t);
      source.settings = r.read(section, source.enabled);
    }
    t.finish();
    cfg.sources.push_back(std::move(source));
  }
  s.finish();
}

std::string resolve(const std::string& file, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) return (std::filesystem::path(file).parent_path() / p).lexically_normal();
  return path;
}

// `key` names a file holding a secret: read it into `out`.
void secret_file(TableReader& s, std::string_view key, std::string& out, const std::string& file,
                 bool required, std::string_view hint) {
  std::string path;
  if (!s.string(key, path, required, hint)) return;
  const toml::node* node = s.take(key);
  if (std::string error = read_secret_file(resolve(file, path), &out); !error.empty())
    s.wrong(*node, key, error);
}

// ---- SNMP profiles written as tables ([[snmp.profiles]]) ----
// The same reader takes the config's profiles and the built-in ones
// (drivers/snmp/profiles.toml), so that a brand added there is checked as a
// user's profile is.

// The names a profile would publish: whole names, and the prefixes of its
// tables (ending in '/'), with where each comes from for a message.
struct Claim {
  std::string name;  // a whole name, or a prefix ending in '/'
  std::string from;  // "scalar \"X\"", "table \"Radios\""
};

bool claims_overlap(const std::string& a, const std::string& b) {
  const bool pa = !a.empty() && a.back() == '/';
  const bool pb = !b.empty() && b.back() == '/';
  if (!pa && !pb) return a == b;
  if (pa && !pb) return b.rfind(a, 0) == 0;
  if (!pa && pb) return a.rfind(b, 0) == 0;
  return a.rfind(b, 0) == 0 || b.rfind(a, 0) == 0;
}

std::vector<Claim> claims_of(const SnmpProfile& p) {
  std::vector<Claim> out;
  for (const SnmpObject& s : p.scalars) {
    out.push_back({s.name, "\"" + s.name + "\""});
    if (s.counter) out.push_back({s.name + " Rate", "\"" + s.name + " Rate\""});
  }
  for (const SnmpTable& t : p.tables) {
    out.push_back({t.name + "/", "table \"" + t.name + "\""});
    for (const SnmpObject& c : t.columns)
      if (!c.sum.empty()) out.push_back({c.sum, "\"" + c.sum + "\""});
  }
  return out;
}

std::optional<SnmpObject::Type> object_type(const std::string& text) {
  using T = SnmpObject::Type;
  static const std::pair<const char*, T> types[] = {{"UInt64", T::uint64},   {"Int64", T::int64},
                                                    {"Float", T::float32},   {"Double", T::float64},
                                                    {"Boolean", T::boolean}, {"String", T::string}};
  for (const auto& [name, type] : types)
    if (text == name) return type;
  return std::nullopt;
}

// `key` holds an OID: parsed into `out`, or an error.
bool oid_key(TableReader& s, std::string_view key, std::vector<uint32_t>& out, bool required) {
  std::string text;
  if (!s.string(key, text, required, "an OID such as \"1.3.6.1.2.1.1.3.0\"")) return false;
  out = parse_oid(text);
  if (out.empty()) {
    s.wrong(*s.take(key), key,
            in_quotes(text) + " is not an OID: numbers separated by dots, such as " +
                "\"1.3.6.1.4.1.318.1.1.1.2.2.1.0\" (names from a MIB are not read)");
    return false;
  }
  return true;
}

// A metric name (or a part of one) under `key`.
bool metric_name_key(TableReader& s, std::string_view key, std::string& out, bool required,
                     std::string_view hint) {
  if (!s.string(key, out, required, hint)) return false;
  if (std::string problem = check_metric_name(out); !problem.empty()) {
    s.wrong(*s.take(key), key, in_quotes(out) + " " + problem);
    return false;
  }
  return true;
}

void integers_key(TableReader& s, std::string_view key, std::vector<int64_t>& out) {
  const toml::node* node = s.take(key);
  if (!node) return;
  const toml::array* arr = node->as_array();
  if (!arr || arr->empty() || arr->size() > 64) {
    s.wrong(*node, key, "expected a list of 1 to 64 whole numbers, such as [1]");
    return;
  }
  std::vector<int64_t> values;
  for (const toml::node& e : *arr) {
    if (!e.is_integer()) {
      s.wrong(e, key, "expected a whole number, found " + type_name(e));
      return;
    }
    values.push_back(e.as_integer()->get());
  }
  out = std::move(values);
}

// An object's `type`; false when absent or not a type (reported).
bool read_object_type(TableReader& o, SnmpObject& out) {
  std::string type;
  if (!o.string("type", type, true, "UInt64, Int64, Float, Double, Boolean or String"))
    return false;
  if (auto t = object_type(type)) {
    out.type = *t;
    return true;
  }
  o.wrong(
      *o.take("type"), "type",
      in_quotes(type) + " is not a type; use UInt64, Int64, Float, Double, Boolean or " + "String");
  return false;
}

// An object's `unit` and `scale`; false when one is wrong (reported).
bool read_object_unit_and_scale(TableReader& o, SnmpObject& out) {
  bool ok = true;
  if (o.string("unit", out.unit, false)) {
    if (out.unit.size() > 16 || text::has_unprintable(out.unit)) {
      o.wrong(*o.take("unit"), "unit", "a unit is at most 16 printable characters, such as \"W\"");
      ok = false;
    }
  }
  if (const toml::node* node = o.take("scale")) {
    const double v = node->is_integer()          ? static_cast<double>(node->as_integer()->get())
                     : node->is_floating_point() ? node->as_floating_point()->get()
                                                 : 0.0;
    if (!(v > 0) || !std::isfinite(v)) {
      o.wrong(*node, "scale", "expected a number greater than 0, such as 0.01");
      ok = false;
    } else {
      out.scale = v;
    }
  }
  return ok;
}

// An object's `counter` and `true_values`, each only for its type; false
// when one is wrong (reported).
bool read_object_counter_and_truth(TableReader& o, SnmpObject& out) {
  using T = SnmpObject::Type;
  bool ok = true;
  o.boolean("counter", out.counter);
  if (out.counter && out.type != T::uint64) {
    o.wrong(*o.take("counter"), "counter", "a counter is a UInt64 (type = \"UInt64\")");
    ok = false;
  }
  if (const toml::node* node = o.take("true_values")) {
    if (out.type != T::boolean) {
      o.wrong(*node, "true_values", "only for type = \"Boolean\"");
      ok = false;
    } else {
      integers_key(o, "true_values", out.true_values);
    }
  }
  return ok;
}

// A scale_by table's `factors`: the factor of each value of its OID; false
// when absent or wrong (reported).
bool read_scale_factors(TableReader& b, SnmpScaleBy& by) {
  const toml::node* f = b.take("factors");
  if (!f || !f->is_table() || f->as_table()->empty()) {
    if (f)
      b.wrong(*f, "factors", "expected a table of factors, such as { \"8\" = 0.001, \"9\" = 1 }");
    else
      b.missing("factors", "the factor of each value, such as { \"8\" = 0.001, \"9\" = 1 }");
    return false;
  }
  bool good = true;
  for (auto&& [k, v] : *f->as_table()) {
    char* end = nullptr;
    const std::string key(k.str());
    errno = 0;
    const long long n = std::strtoll(key.c_str(), &end, 10);
    const double factor = v.is_integer()          ? static_cast<double>(v.as_integer()->get())
                          : v.is_floating_point() ? v.as_floating_point()->get()
                                                  : 0.0;
    if (key.empty() || *end != '\0' || errno == ERANGE || !(factor > 0) || !std::isfinite(factor)) {
      b.wrong(v, "factors." + key,
              "expected a whole number as the key and a number greater than 0, such as "
              "\"8\" = 0.001");
      good = false;
      continue;
    }
    by.factors.emplace_back(n, factor);
  }
  return good;
}

// One [[...scale_by]] table of a column into `out`; false when it is wrong
// (reported, and the table left out).
bool read_scale_by(TableReader b, SnmpObject& out) {
  using T = SnmpObject::Type;
  b.expect_keys({"oid", "factors"});
  SnmpScaleBy by;
  bool good = oid_key(b, "oid", by.oid, true);
  good = read_scale_factors(b, by) && good;
  if (out.type != T::float32 && out.type != T::float64) {
    b.wrong_here("scale_by is only for a column of type Float or Double");
    good = false;
  }
  b.finish();
  if (good) out.scale_by.push_back(std::move(by));
  return good;
}

// What only a column has: `sum` and `scale_by`; false when one is wrong (reported).
bool read_column_keys(TableReader& o, SnmpObject& out) {
  using T = SnmpObject::Type;
  bool ok = true;
  if (metric_name_key(o, "sum", out.sum, false, "")) {
    if (out.type == T::boolean || out.type == T::string || out.counter) {
      o.wrong(*o.take("sum"), "sum", "only a column of numbers that is not a counter is summed");
      ok = false;
    }
  }
  for (TableReader b : o.tables("scale_by")) ok = read_scale_by(b, out) && ok;
  return ok;
}

// One scalar, or one column of a table (`column`).
bool read_snmp_object(TableReader o, SnmpObject& out, bool column) {
  if (column) {
    o.expect_keys(
        {"name", "oid", "type", "unit", "scale", "counter", "true_values", "sum", "scale_by"});
  } else {
    o.expect_keys({"name", "oid", "type", "unit", "scale", "counter", "true_values"});
  }
  bool ok = metric_name_key(o, "name", out.name, true,
                            column ? "the column's name, the last part of its metrics' names"
                                   : "the metric name, such as \"WiFi/Clients\"");
  ok = oid_key(o, "oid", out.oid, true) && ok;
  ok = read_object_type(o, out) && ok;
  ok = read_object_unit_and_scale(o, out) && ok;
  ok = read_object_counter_and_truth(o, out) && ok;
  if (column) ok = read_column_keys(o, out) && ok;
  o.finish();
  return ok;
}

void read_snmp_table(TableReader t, SnmpTable& out, bool& ok) {
  t.expect_keys({"name", "label_oid", "label_index", "max_rows", "count", "max_labels", "columns"});
  ok = metric_name_key(t, "name", out.name, true,
                       "the first part of its metrics' names, such as \"WiFi/VAPs\"") &&
       ok;
  if (t.take("label_oid")) ok = oid_key(t, "label_oid", out.label_oid, false) && ok;
  int index = 0;
  t.integer("label_index", index, 1, 128);
  out.label_index = static_cast<uint32_t>(index);
  if (!out.label_oid.empty() && out.label_index)
    t.wrong(*t.take("label_index"), "label_index", "set either label_oid or label_index, not both");
  int max_rows = static_cast<int>(out.max_rows);
  t.integer("max_rows", max_rows, 1, 10'000);
  out.max_rows = static_cast<uint64_t>(max_rows);
  const bool counted = metric_name_key(t, "count", out.count, false, "");
  int max_labels = static_cast<int>(out.max_labels);
  t.integer("max_labels", max_labels, 1, 1024);
  out.max_labels = static_cast<uint64_t>(max_labels);
  if (t.take("max_labels") && !counted)
    t.wrong(*t.take("max_labels"), "max_labels", "only with count");
  std::vector<std::string> names;
  for (TableReader c : t.tables("columns")) {
    SnmpObject col;
    const bool good = read_snmp_object(c, col, true);
    if (!col.name.empty() && std::find(names.begin(), names.end(), col.name) != names.end()) {
      c.wrong(*c.take("name"), "name", in_quotes(col.name) + " names another column already");
      ok = false;
      continue;
    }
    if (good && col.counter &&
        std::find(names.begin(), names.end(), col.name + " Rate") != names.end()) {
      c.wrong(*c.take("name"), "name",
              "its rate \"" + col.name + " Rate\" is the name of another column");
      ok = false;
      continue;
    }
    names.push_back(col.name);
    if (col.counter) names.push_back(col.name + " Rate");
    ok = ok && good;
    if (good) out.columns.push_back(std::move(col));
  }
  if (counted) {
    if (t.take("columns")) {
      t.wrong(*t.take("columns"), "columns", "a table with count has no columns");
      ok = false;
    }
    if (out.label_oid.empty()) {
      t.wrong(*t.take("count"), "count",
              "rows are counted per value of label_oid (such as the port each address is learnt "
              "on): set it");
      ok = false;
    }
  } else if (!t.take("columns")) {
    t.missing("columns", "at least one [[...columns]] table (or count)");
    ok = false;
  }
  t.finish();
}

// One [[snmp.profiles]] table into `out`, unless its name is taken by
// `taken` (the profiles read before it, the built-in ones, those in code).
void read_snmp_profile(TableReader p, std::vector<SnmpProfile>& out,
                       const std::vector<SnmpProfile>* builtin) {
  p.expect_keys({"name", "scalars", "tables", "enterprise", "auto_if_served"});
  SnmpProfile profile;
  bool ok = true;  // its name can be used: kept (even with errors elsewhere: no second error
                   // for a device that lists it)
  if (p.string("name", profile.name, true,
               "the name a device's `profiles` uses, such as \"ruijie-ap\"")) {
    const toml::node* node = p.take("name");
    bool good = !profile.name.empty() && profile.name.size() <= 64;
    for (char c : profile.name)
      good =
          good && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
    if (!good) {
      p.wrong(*node, "name",
              in_quotes(profile.name) + " is not a profile name: 1 to 64 letters, digits, - _ .");
      ok = false;
    } else if (!snmp_code_profile_metrics(profile.name).empty() || profile.name == "auto") {
      p.wrong(*node, "name", in_quotes(profile.name) + " is a profile of the agent's own");
      ok = false;
    } else if (builtin && std::any_of(builtin->begin(), builtin->end(), [&](const SnmpProfile& b) {
                 return b.name == profile.name;
               })) {
      p.wrong(*node, "name",
              in_quotes(profile.name) +
                  " is a built-in profile (drivers/README.md); give yours another name");
      ok = false;
    } else if (std::any_of(out.begin(), out.end(),
                           [&](const SnmpProfile& o) { return o.name == profile.name; })) {
      p.wrong(*node, "name", in_quotes(profile.name) + " names another profile already");
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const toml::node* node = p.take("enterprise")) {
    if (!node->is_integer() || node->as_integer()->get() < 1 ||
        node->as_integer()->get() > UINT32_MAX)
      p.wrong(*node, "enterprise",
              "expected an enterprise number (1.3.6.1.4.1.<enterprise>), such as 41112");
    else
      profile.enterprise = static_cast<uint32_t>(node->as_integer()->get());
  }
  p.boolean("auto_if_served", profile.auto_if_served);
  std::vector<Claim> claims;
  // A name this profile publishes twice.
  auto claim = [&](TableReader& s, std::string_view key, const Claim& c) {
    for (const Claim& other : claims)
      if (claims_overlap(c.name, other.name)) {
        s.wrong(*s.take(key), key,
                "metrics of " + c.from + " and of " + other.from + " would have the same names");
        return false;
      }
    claims.push_back(c);
    return true;
  };
  for (TableReader s : p.tables("scalars")) {
    SnmpObject o;
    if (!read_snmp_object(s, o, false)) continue;
    bool good = claim(s, "name", {o.name, "\"" + o.name + "\""});
    if (good && o.counter) good = claim(s, "name", {o.name + " Rate", "\"" + o.name + " Rate\""});
    if (good) profile.scalars.push_back(std::move(o));
  }
  for (TableReader s : p.tables("tables")) {
    SnmpTable t;
    bool good = true;
    read_snmp_table(s, t, good);
    if (!good) continue;
    good = claim(s, "name", {t.name + "/", "table \"" + t.name + "\""});
    for (const SnmpObject& c : t.columns)
      if (!c.sum.empty()) good = claim(s, "name", {c.sum, "\"" + c.sum + "\""}) && good;
    if (good) profile.tables.push_back(std::move(t));
  }
  if (!p.take("scalars") && !p.take("tables"))
    p.wrong_here("a profile needs at least one [[...scalars]] or [[...tables]] table");
  p.finish();
  if (ok) out.push_back(std::move(profile));
}

// [snmp]: the config's own profiles.
void read_snmp(TableReader s, Config& cfg) {
  s.expect_keys({"profiles"});
  if (!s.present()) return;
  for (TableReader p : s.tables("profiles"))
    read_snmp_profile(p, cfg.snmp.profiles, &builtin_snmp_profiles().profiles);
  s.finish();
}

// `p` as a device holds it: a built-in profile is shared by every device
// (the list lives as long as the process); one of the config's is copied.
SharedSnmpProfile shared_profile(const SnmpProfile& p) {
  const auto& builtin = builtin_snmp_profiles().profiles;
  const std::less<const SnmpProfile*> before;
  if (!before(&p, builtin.data()) && before(&p, builtin.data() + builtin.size()))
    return {std::shared_ptr<const SnmpProfile>(std::shared_ptr<const SnmpProfile>(), &p)};
  return {std::make_shared<const SnmpProfile>(p)};
}

// The profiles a device lists so far, each with the names it publishes.
using TakenProfiles = std::vector<std::pair<std::string, std::vector<Claim>>>;

// The profile `name` a device lists at `element`: one in code or one written
// as a table, set on `dev` and its names put in `claims`; false (reported)
// when there is no such profile.
bool listed_profile(TableReader& d, const toml::node& element, const std::string& key,
                    const std::string& name, SnmpDevice& dev, const Config& cfg,
                    std::vector<Claim>& claims) {
  if (auto code = snmp_code_profile_metrics(name); !code.empty()) {
    dev.system |= name == "system";
    dev.interfaces |= name == "interfaces";
    dev.host |= name == "host";
    dev.ups |= name == "ups";
    for (std::string& m : code) claims.push_back({m, "\"" + m + "\""});
    return true;
  }
  const SnmpProfile* found = nullptr;
  for (const auto* list : {&cfg.snmp.profiles, &builtin_snmp_profiles().profiles})
    for (const SnmpProfile& p : *list)
      if (!found && p.name == name) found = &p;
  if (!found) {
    std::string known = "system, interfaces, host, ups, auto";
    for (const SnmpProfile& p : builtin_snmp_profiles().profiles) known += ", " + p.name;
    for (const SnmpProfile& p : cfg.snmp.profiles) known += ", " + p.name;
    d.wrong(element, key, in_quotes(name) + " is not a profile; known: " + known);
    return false;
  }
  claims = claims_of(*found);
  dev.table_profiles.push_back(shared_profile(*found));
  return true;
}

// Reports (once) when `name` would publish a name a profile listed before it does.
void report_profile_clash(TableReader& d, const toml::node& element, const std::string& key,
                          const std::string& name, const std::vector<Claim>& claims,
                          const TakenProfiles& taken) {
  bool clash = false;
  for (const auto& [other, other_claims] : taken)
    for (const Claim& a : claims)
      for (const Claim& b : other_claims)
        if (!clash && claims_overlap(a.name, b.name)) {
          d.wrong(element, key,
                  "profiles " + in_quotes(other) + " and " + in_quotes(name) +
                      " would both publish " + (a.name.back() == '/' ? b.from : a.from) +
                      " (metric names are per device); list one of them");
          clash = true;
        }
}

// What "auto" may add: the profiles that say when they fit, unless listed
// or publishing a name a listed one does.
void add_auto_candidates(SnmpDevice& dev, const Config& cfg, const TakenProfiles& taken) {
  for (const auto* list : {&builtin_snmp_profiles().profiles, &cfg.snmp.profiles})
    for (const SnmpProfile& p : *list) {
      if (!p.enterprise && !p.auto_if_served) continue;
      bool clash = false;
      for (const auto& [other, other_claims] : taken) {
        clash = clash || other == p.name;
        for (const Claim& a : claims_of(p))
          for (const Claim& b : other_claims) clash = clash || claims_overlap(a.name, b.name);
      }
      if (clash) continue;
      std::vector<size_t> with;
      for (size_t k = 0; k < dev.auto_candidates.size(); ++k) {
        bool overlap = false;
        for (const Claim& a : claims_of(p))
          for (const Claim& b : claims_of(*dev.auto_candidates[k]))
            overlap = overlap || claims_overlap(a.name, b.name);
        if (overlap) with.push_back(k);
      }
      dev.auto_candidates.push_back(shared_profile(p));
      dev.auto_clashes.push_back(std::move(with));
    }
}

// A device's `profiles`: the four in code, and the built-in and the config's
// profiles written as tables; none twice, none whose metrics would have the
// names of another's.
void read_device_profiles(TableReader& d, SnmpDevice& dev, const Config& cfg) {
  const toml::node* node = d.take("profiles");
  if (!node) return;
  std::vector<std::string> names;
  if (!d.strings("profiles", names, [](const std::string&) { return std::string(); })) return;
  if (names.empty()) {
    d.wrong(*node, "profiles", "must name at least one profile");
    return;
  }
  dev.system = dev.interfaces = dev.host = dev.ups = false;
  const toml::array& arr = *node->as_array();
  TakenProfiles taken;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const toml::node& element = *arr.get(i);
    const std::string key = "profiles[" + std::to_string(i) + "]";
    if (std::any_of(taken.begin(), taken.end(), [&](const auto& t) { return t.first == name; })) {
      d.wrong(element, key, in_quotes(name) + " is listed twice");
      continue;
    }
    std::vector<Claim> claims;
    if (name == "auto") {
      dev.auto_profiles = true;
      taken.emplace_back(name, std::move(claims));
      continue;
    }
    if (!listed_profile(d, element, key, name, dev, cfg, claims)) continue;
    report_profile_clash(d, element, key, name, claims, taken);
    taken.emplace_back(name, std::move(claims));
  }
  if (dev.auto_profiles) add_auto_candidates(dev, cfg, taken);
}
// ---- end of SNMP profiles ----

// A device's `name`: its Sparkplug device_id, unique among the devices.
void read_device_name(TableReader& d, SnmpDevice& dev, const Config& cfg) {
  if (!d.string("name", dev.name, true, "the Sparkplug device_id, such as \"switch-6a\"")) return;
  const toml::node* node = d.take("name");
  if (!valid_sparkplug_id(dev.name))
    d.wrong(*node, "name",
            "\"" + dev.name + "\" is not a valid Sparkplug id: it must be non-empty and " +
                "contain none of + / #");
  else if (dev.name.size() > 64)
    d.wrong(*node, "name", "longer than 64 characters");
  for (const SnmpDevice& other : cfg.devices.snmp)
    if (other.name == dev.name)
      d.wrong(*node, "name", "\"" + dev.name + "\" names another device already");
}

// A device's `address` and SNMP `version`.
void read_device_address(TableReader& d, SnmpDevice& dev) {
  if (d.string("address", dev.address, true,
               "the device's host or host:port, such as \"10.0.6.2\"")) {
    std::string host;
    int port = 0;
    if (!split_snmp_address(dev.address, host, port))
      d.wrong(*d.take("address"), "address",
              "\"" + dev.address + "\" is not an address; use HOST, HOST:PORT or [IPv6]:PORT");
  }
  std::string version = "2c";
  if (d.string("version", version, false)) {
    if (version == "2c")
      dev.version = SnmpDevice::Version::v2c;
    else if (version == "3")
      dev.version = SnmpDevice::Version::v3;
    else
      d.wrong(*d.take("version"), "version",
              "\"" + version + "\" is not supported; use \"2c\" or \"3\"");
  }
}

// Version 2c: the community, and none of version 3's keys.
void read_v2c_credentials(TableReader& d, SnmpDevice& dev, const std::string& file) {
  secret_file(d, "community_file", dev.community, file, true,
              "version 2c needs community_file: a file (mode 600) holding the community");
  for (const char* k :
       {"user", "auth_protocol", "auth_password_file", "priv_protocol", "priv_password_file"})
    if (const toml::node* node = d.take(k)) d.wrong(*node, k, "only for version = \"3\"");
}

// Version 3: the user, its authentication and, with priv_protocol, its privacy.
void read_v3_credentials(TableReader& d, SnmpDevice& dev, const std::string& file) {
  if (const toml::node* node = d.take("community_file"))
    d.wrong(*node, "community_file", "only for version = \"2c\"");
  d.string("user", dev.user, true, "version 3 needs the user name");
  std::string auth = "SHA";
  if (d.string("auth_protocol", auth, false)) {
    if (auth == "SHA")
      dev.auth = SnmpDevice::Auth::sha;
    else if (auth == "SHA-256")
      dev.auth = SnmpDevice::Auth::sha256;
    else
      d.wrong(*d.take("auth_protocol"), "auth_protocol",
              "\"" + auth + "\" is not supported; use \"SHA\" or \"SHA-256\"");
  }
  secret_file(d, "auth_password_file", dev.auth_password, file, true,
              "version 3 needs auth_password_file: a file (mode 600) holding the password");
  if (!dev.auth_password.empty() && dev.auth_password.size() < 8)
    d.wrong(*d.take("auth_password_file"), "auth_password_file",
            "the password in the file is shorter than 8 characters (SNMPv3 refuses it)");
  std::string priv;
  if (d.string("priv_protocol", priv, false)) {
    if (priv == "AES")
      dev.priv = true;
    else
      d.wrong(*d.take("priv_protocol"), "priv_protocol",
              "\"" + priv + "\" is not supported; use \"AES\"");
  }
  if (dev.priv) {
    secret_file(d, "priv_password_file", dev.priv_password, file, true,
                "priv_protocol needs priv_password_file: a file (mode 600) holding the password");
    if (!dev.priv_password.empty() && dev.priv_password.size() < 8)
      d.wrong(*d.take("priv_password_file"), "priv_password_file",
              "the password in the file is shorter than 8 characters (SNMPv3 refuses it)");
  } else if (const toml::node* node = d.take("priv_password_file")) {
    d.wrong(*node, "priv_password_file", "set priv_protocol = \"AES\" to use it");
  }
}

// How often a device is polled, and how long and how often a request is tried.
void read_device_timing(TableReader& d, SnmpDevice& dev) {
  d.duration("interval", dev.interval, milliseconds(1000), milliseconds(86'400'000));
  d.duration("timeout", dev.timeout, milliseconds(100), milliseconds(60'000));
  if (const toml::node* node = d.take("retries")) {
    if (!node->is_integer() || node->as_integer()->get() < 0 || node->as_integer()->get() > 10)
      d.wrong(*node, "retries", "expected a whole number from 0 to 10");
    else
      dev.retries = static_cast<int>(node->as_integer()->get());
  }
  if (dev.timeout >= dev.interval)
    if (const toml::node* node = d.take("timeout"))
      d.wrong(*node, "timeout", "must be shorter than the interval");
}

// Which interfaces are read, and how many interfaces and metrics at most.
void read_device_limits(TableReader& d, SnmpDevice& dev) {
  auto glob = [](const std::string& g) -> std::string {
    if (g.empty() || g.size() > 64) return "a glob of 1 to 64 characters, such as \"ge-*\"";
    return "";
  };
  d.strings("include", dev.include, glob);
  d.strings("exclude", dev.exclude, glob);
  if (const toml::node* node = d.take("max_interfaces")) {
    if (!node->is_integer() || node->as_integer()->get() < 1 || node->as_integer()->get() > 1024)
      d.wrong(*node, "max_interfaces", "expected a whole number from 1 to 1024");
    else
      dev.max_interfaces = static_cast<uint64_t>(node->as_integer()->get());
  }
  if (const toml::node* node = d.take("max_metrics")) {
    if (!node->is_integer() || node->as_integer()->get() < 10 ||
        node->as_integer()->get() > 100'000)
      d.wrong(*node, "max_metrics", "expected a whole number from 10 to 100000");
    else
      dev.max_metrics = static_cast<uint64_t>(node->as_integer()->get());
  }
}

// One [[devices.snmp]] table.
void read_snmp_device(TableReader d, Config& cfg, const std::string& file) {
  d.expect_keys({"name", "address", "version", "community_file", "user", "auth_protocol",
                 "auth_password_file", "priv_protocol", "priv_password_file", "interval", "timeout",
                 "retries", "profiles", "include", "exclude", "max_interfaces", "max_metrics"});
  SnmpDevice dev;
  read_device_name(d, dev, cfg);
  read_device_address(d, dev);
  if (dev.version == SnmpDevice::Version::v2c)
    read_v2c_credentials(d, dev, file);
  else
    read_v3_credentials(d, dev, file);
  read_device_timing(d, dev);
  read_device_profiles(d, dev, cfg);
  read_device_limits(d, dev);
  d.finish();
  cfg.devices.snmp.push_back(std::move(dev));
}

void read_devices(TableReader s, Config& cfg, const std::string& file, Reporter& rep) {
  s.expect_keys({"snmp"});
  if (!s.present()) return;
  if (const toml::node* node = s.take("snmp")) {
    const toml::array* arr = node->as_array();
    if (!arr) {
      s.wrong(*node, "snmp", "expected [[devices.snmp]] tables, found " + type_name(*node));
    } else {
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& element = *arr->get(i);
        const std::string key = "devices.snmp[" + std::to_string(i) + "]";
        if (!element.is_table()) {
          s.wrong(element, "snmp[" + std::to_string(i) + "]",
                  "expected a table, found " + type_name(element));
          continue;
        }
        read_snmp_device(TableReader(rep, element.as_table(), key), cfg, file);
      }
    }
  }
  s.finish();
}

// ---- probes ([[probes.<kind>]]) ----
// "host:port", "[v6]:port": false when it is not one.
bool split_host_port(const std::string& text, std::string& host, int& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    return false;  // an IPv6 address needs brackets
  if (host.empty()) return false;
  int value = 0;
  for (size_t i = colon + 1; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9' || value > 65535) return false;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return false;
  port = value;
  return true;
}

bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string check_host(const std::string& host) {
  if (host.empty()) return "must not be empty";
  if (host.size() > 253) return "is longer than 253 characters";
  if (has_control(host) || host.find_first_of(" /") != std::string::npos)
    return "is not a host name or address";
  return "";
}

std::string check_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return "must start with http:// or https://";
  if (url.size() > 2048) return "is longer than 2048 characters";
  if (has_control(url) || url.find(' ') != std::string::npos)
    return "must not contain spaces or control characters";
  const size_t host_at = url.find("://") + 3;
  if (host_at >= url.size() || url[host_at] == '/' || url[host_at] == ':')
    return "has no host name";
  return "";
}

class ProbeReader {
 public:
  ProbeReader(TableReader& s, std::vector<std::string>& names) : s_(s), names_(names) {}

  // The name every kind has: valid in metric names and unique across probes.
  void name(std::string& out) {
    if (!s_.string("name", out, true, "a name is required; it is used in metric names")) return;
    const toml::node* node = s_.take("name");
    if (std::string problem = check_probe_name(out); !problem.empty()) {
      s_.wrong(*node, "name", problem);
    } else if (std::find(names_.begin(), names_.end(), out) != names_.end()) {
      s_.wrong(*node, "name", "\"" + out + "\" is used by another probe; names must be unique");
    } else {
      names_.push_back(out);
    }
  }

  template <typename Check>
  void checked(std::string_view key, std::string& out, bool required, std::string_view hint,
               Check check) {
    if (!s_.string(key, out, required, hint)) return;
    if (std::string problem = check(out); !problem.empty())
      s_.wrong(*s_.take(key), key, "\"" + text::printable(out, 200) + "\" " + problem);
  }

 private:
  TableReader& s_;
  std::vector<std::string>& names_;
};

constexpr milliseconds kMinProbeInterval{1000};
constexpr milliseconds kMaxProbeInterval{86'400'000};
constexpr milliseconds kMinProbeTimeout{10};
constexpr milliseconds kMaxProbeTimeout{120'000};

// One [[probes.icmp]] table.
void read_icmp_probe(TableReader& t, std::vector<std::string>& names, Probes& p) {
  t.expect_keys({"name", "target", "count", "spacing", "timeout", "interval"});
  IcmpProbe probe;
  ProbeReader r(t, names);
  r.name(probe.name);
  r.checked("target", probe.target, true, "the host to ping, such as \"192.0.2.1\"", check_host);
  t.integer("count", probe.count, 1, 100);
  t.duration("spacing", probe.spacing, milliseconds(10), milliseconds(10'000));
  t.duration("timeout", probe.timeout, kMinProbeTimeout, milliseconds(60'000));
  t.duration("interval", probe.interval, kMinProbeInterval, kMaxProbeInterval);
  const auto run = probe.spacing * (probe.count - 1) + probe.timeout;
  if (run >= probe.interval)
    t.wrong(t.take("interval") ? *t.take("interval") : *t.node_or_table(), "interval",
            "a run takes up to (count - 1) x spacing + timeout = " + format_duration(run) +
                "; the interval must be longer");
  t.finish();
  p.icmp.push_back(std::move(probe));
}

// One [[probes.dns]] table.
void read_dns_probe(TableReader& t, std::vector<std::string>& names, Probes& p) {
  t.expect_keys({"name", "query", "server", "type", "timeout", "interval"});
  DnsProbe probe;
  ProbeReader r(t, names);
  r.name(probe.name);
  r.checked("query", probe.query, true, "the name to resolve, such as \"example.org\"",
            [](const std::string& q) -> std::string {
              if (q.empty() || q.size() > 253) return "is not a DNS name (1 to 253 characters)";
              if (has_control(q) || q.find_first_of(" /") != std::string::npos)
                return "is not a DNS name";
              return "";
            });
  r.checked("server", probe.server, false, "", [](const std::string& sv) -> std::string {
    if (sv.empty() || has_control(sv) || sv.find_first_of(" /") != std::string::npos ||
        sv.size() > 64)
      return "is not a server address such as \"192.0.2.53\" or \"192.0.2.53:53\"";
    return "";
  });
  std::string type;
  if (t.string("type", type, false)) {
    if (type == "A")
      probe.aaaa = false;
    else if (type == "AAAA")
      probe.aaaa = true;
    else
      t.wrong(*t.take("type"), "type", "\"" + text::printable(type, 200) + "\" is not A or AAAA");
  }
  t.duration("timeout", probe.timeout, kMinProbeTimeout, kMaxProbeTimeout);
  t.duration("interval", probe.interval, kMinProbeInterval, kMaxProbeInterval);
  t.finish();
  p.dns.push_back(std::move(probe));
}

// One [[probes.tcp]] table.
void read_tcp_probe(TableReader& t, std::vector<std::string>& names, Probes& p) {
  t.expect_keys({"name", "target", "timeout", "interval"});
  TcpProbe probe;
  ProbeReader r(t, names);
  r.name(probe.name);
  std::string target;
  r.checked("target", target, true, "\"host:port\", such as \"192.0.2.1:443\"",
            [&](const std::string& text) -> std::string {
              if (!split_host_port(text, probe.host, probe.port))
                return "is not \"host:port\" (an IPv6 address in brackets: \"[2001:db8::1]:443\")";
              return check_host(probe.host).empty() ? "" : "has a bad host name";
            });
  t.duration("timeout", probe.timeout, kMinProbeTimeout, kMaxProbeTimeout);
  t.duration("interval", probe.interval, kMinProbeInterval, kMaxProbeInterval);
  t.finish();
  p.tcp.push_back(std::move(probe));
}

// One [[probes.http]] table.
void read_http_probe(TableReader& t, std::vector<std::string>& names, Probes& p) {
  t.expect_keys(
      {"name", "url", "timeout", "expected_status", "proxy", "ca_file", "insecure", "interval"});
  HttpProbe probe;
  ProbeReader r(t, names);
  r.name(probe.name);
  r.checked("url", probe.url, true, "an http:// or https:// URL",
            [](const std::string& u) { return check_url(u); });
  t.duration("timeout", probe.timeout, milliseconds(100), kMaxProbeTimeout);
  t.integer("expected_status", probe.expected_status, 100, 599);
  r.checked("proxy", probe.proxy, false, "", [](const std::string& x) -> std::string {
    if (x.empty() || has_control(x) || x.find(' ') != std::string::npos)
      return "is not a proxy address such as \"http://proxy:3128\"";
    return "";
  });
  t.string("ca_file", probe.ca_file, false);
  t.boolean("insecure", probe.insecure);
  t.duration("interval", probe.interval, kMinProbeInterval, kMaxProbeInterval);
  if (probe.timeout >= probe.interval)
    t.wrong(t.take("interval") ? *t.take("interval") : *t.node_or_table(), "interval",
            "must be longer than the timeout (" + format_duration(probe.timeout) + ")");
  t.finish();
  p.http.push_back(std::move(probe));
}

// A throughput probe's `windows`: the school hours it may run in.
void read_probe_windows(TableReader& t, ThroughputProbe& probe) {
  std::vector<std::string> window_texts;
  if (!t.strings("windows", window_texts, [&](const std::string& w) -> std::string {
        auto parsed = parse_window(w);
        if (!parsed)
          return "\"" + text::printable(w, 200) +
                 "\" is not a window such as \"Mon-Fri 07:30-11:30\"";
        probe.windows.push_back(*parsed);
        return "";
      })) {
    if (!t.take("windows"))
      t.missing("windows", "the school-hours windows, such as [\"Mon-Fri 07:30-11:30\"]");
  } else if (probe.windows.empty()) {
    t.wrong(*t.take("windows"), "windows", "must list at least one window");
  }
}

// One [[probes.throughput]] table.
void read_throughput_probe(TableReader& t, std::vector<std::string>& names, Probes& p) {
  t.expect_keys({"name", "url", "upload_url", "ca_file", "max_bytes", "max_time", "windows",
                 "per_day", "monthly_budget"});
  ThroughputProbe probe;
  ProbeReader r(t, names);
  r.name(probe.name);
  r.checked("url", probe.url, true, "the http(s) URL of a large file to download",
            [](const std::string& u) { return check_url(u); });
  r.checked("upload_url", probe.upload_url, false, "",
            [](const std::string& u) { return check_url(u); });
  t.string("ca_file", probe.ca_file, false);
  t.size("max_bytes", probe.max_bytes, 1024);
  t.duration("max_time", probe.max_time, milliseconds(100), milliseconds(600'000));
  read_probe_windows(t, probe);
  t.integer("per_day", probe.per_day, 1, 48);
  t.size("monthly_budget", probe.monthly_budget, 1024);
  if (probe.monthly_budget < probe.max_bytes * (probe.upload_url.empty() ? 1 : 2) &&
      t.take("monthly_budget"))
    t.wrong(*t.take("monthly_budget"), "monthly_budget",
            "is smaller than one run (max_bytes" +
                std::string(probe.upload_url.empty() ? ")" : " down and up)"));
  t.finish();
  p.throughput.push_back(std::move(probe));
}

void read_probes(TableReader s, Config& cfg) {
  s.expect_keys({"concurrency", "icmp", "dns", "tcp", "http", "throughput"});
  if (!s.present()) return;
  Probes& p = cfg.probes;
  std::vector<std::string> names;  // every probe's, unique across kinds
  s.integer("concurrency", p.concurrency, 1, 64);
  for (TableReader& t : s.tables("icmp")) read_icmp_probe(t, names, p);
  for (TableReader& t : s.tables("dns")) read_dns_probe(t, names, p);
  for (TableReader& t : s.tables("tcp")) read_tcp_probe(t, names, p);
  for (TableReader& t : s.tables("http")) read_http_probe(t, names, p);
  for (TableReader& t : s.tables("throughput")) read_throughput_probe(t, names, p);
  s.finish();
}
// ---- end of probes ----

// `classroom-agent status` prints what answers on the socket, often to root:
// whoever may write in the socket's directory could put a socket of their own
// there. Warns unless only root and the agent's user (the state directory's
// owner; without one yet, whoever loads the config) may. The nearest directory
// that exists is the one that counts: the agent creates the socket's own.
void warn_socket_dir(const Config& cfg, const toml::table& root, Reporter& rep) {
  if (!cfg.status.enabled) return;
  std::filesystem::path dir = std::filesystem::path(cfg.status.socket).parent_path();
  struct stat st {};
  while (::stat(dir.c_str(), &st) != 0) {
    if (dir == dir.parent_path()) return;
    dir = dir.parent_path();
  }
  struct stat state {};
  const uid_t agent = ::stat(cfg.state.dir.c_str(), &state) == 0 ? state.st_uid : ::geteuid();
  std::string who;
  if (st.st_uid != 0 && st.st_uid != agent)
    who = "its owner (uid " + std::to_string(st.st_uid) + ")";
  else if (st.st_mode & S_IWOTH)
    who = "every user";
  else if (st.st_mode & S_IWGRP)
    who = "its group (gid " + std::to_string(st.st_gid) + ")";
  if (who.empty()) return;
  const toml::node* node = root["status"]["socket"].node();
  rep.warnings.push_back(
      Error{rep.file, node ? static_cast<int>(node->source().begin.line) : 0,
            node ? static_cast<int>(node->source().begin.column) : 0, "status.socket",
            "the status socket's directory " + text::printable(dir.string(), 256) +
                " may be written by " + who +
                ", who could then answer `classroom-agent status` in the agent's place; use a "
                "directory only root and the agent's user may write, such as the unit's "
                "/run/classroom-agent"});
}

LoadResult validate(const toml::table& root, const std::string& path,
                    std::span<const SourceReader> sources) {
  Reporter rep{path, {}, {}};
  Config cfg;
  cfg.path = path;
  TableReader top(rep, &root, "");
  top.expect_keys({"identity", "broker", "state", "spool", "log", "status", "host", "sources",
                   "devices", "snmp", "probes"});
  read_identity(top.table("identity"), cfg);
  read_broker(top.table("broker"), cfg, path);
  read_state(top.table("state"), cfg, path);
  read_spool(top.table("spool"), cfg);
  read_log(top.table("log"), cfg, path);
  read_status(top.table("status"), cfg, path);
  read_host(top.table("host"), cfg, path);
  read_sources(top.table("sources"), cfg, sources);
  read_snmp(top.table("snmp"), cfg);  // before the devices that name its profiles
  read_devices(top.table("devices"), cfg, path, rep);
  read_probes(top.table("probes"), cfg);
  top.finish();
  warn_socket_dir(cfg, root, rep);

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
  for (const Error& w : rep.warnings) cfg.warnings.push_back(w.to_string());
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

}  // namespace

std::string Error::to_string() const {
  std::ostringstream out;
  // The file name is the user's own (a command-line argument), shown escaped
  // all the same; a problem with the whole file has no position.
  out << text::printable(file, 4096) << ":";
  if (line > 0) out << line << ":" << column << ": " << (key.empty() ? "(file)" : key) << ":";
  out << " " << message;
  return out.str();
}

namespace {
// Blanks that must not start or end an id (they would be invisible in a topic).
bool blank_at(std::string_view id, bool at_end) {
  static constexpr std::string_view blanks[] = {" ",
                                                "\xc2\xa0" /* U+00A0 */,
                                                "\xe2\x80\x80" /* U+2000.. */,
                                                "\xe2\x80\x8b" /* ZWSP */,
                                                "\xe3\x80\x80" /* U+3000 */,
                                                "\xef\xbb\xbf" /* BOM */};
  for (std::string_view b : blanks) {
    if (at_end ? id.ends_with(b) : id.starts_with(b)) return true;
  }
  // U+2000 to U+200A are all spaces of some width.
  const size_t n = id.size();
  if (n >= 3) {
    const std::string_view c = at_end ? id.substr(n - 3) : id.substr(0, 3);
    if (c[0] == '\xe2' && c[1] == '\x80' && static_cast<unsigned char>(c[2]) >= 0x80 &&
        static_cast<unsigned char>(c[2]) <= 0x8a)
      return true;
  }
  return false;
}
}  // namespace
std::string read_secret_file(const std::string& path, std::string* secret, size_t min_bytes) {
  // Checked on the open file: no window between the check and the read.
  struct stat st {};
  std::string problem;
  const int fd = open_owner_only(path, problem, st);
  if (fd < 0) return problem;
  if (static_cast<uint64_t>(st.st_size) > kMaxSecretBytes) {
    problem =
        path + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes: not a secret file?";
  } else {
    char buf[kMaxSecretBytes];
    ssize_t n = ::read(fd, buf, sizeof buf);
    size_t len = n > 0 ? static_cast<size_t>(n) : 0;
    // One line; the newline an editor or `echo` adds is not part of the secret.
    if (len > 0 && buf[len - 1] == '\n') --len;
    if (len > 0 && buf[len - 1] == '\r') --len;
    if (n < 0)
      problem = "cannot read " + path + ": " + std::strerror(errno);
    else if (len == 0)
      problem = path + " is empty";
    else if (std::memchr(buf, '\n', len) || std::memchr(buf, '\0', len))
      problem = path + " must hold the secret on one line";
    else if (len < min_bytes)
      problem = path + " holds " + std::to_string(len) + " bytes; at least " +
                std::to_string(min_bytes) + " are needed";
    else if (secret)
      secret->assign(buf, len);
    std::memset(buf, 0, sizeof buf);
  }
  ::close(fd);
  return problem;
}

bool is_tls_server(const std::string& uri) {
  for (const char* scheme : {"ssl://", "mqtts://", "wss://"})
    if (uri.rfind(scheme, 0) == 0) return true;
  return false;
}

bool valid_sparkplug_id(const std::string& id) {
  // Sparkplug: a UTF-8 string without the MQTT separators and wildcards. The
  // agent also refuses what would make a topic that no one can type or see:
  // control characters (NUL cuts the topic short on the wire), and blanks at
  // either end. Blanks inside are fine ("Trường THPT Nguyễn Du").
  return !id.empty() && id.find_first_of("+/#") == std::string::npos && text::valid_utf8(id) &&
         !text::has_unprintable(id) && !blank_at(id, false) && !blank_at(id, true);
}

bool split_snmp_address(const std::string& address, std::string& host, int& port) {
  std::string_view a = address;
  std::string_view port_text;
  port = 161;
  if (a.empty() || a.size() > 255) return false;
  if (a.front() == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = std::string(a.substr(1, close - 1));
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) return false;
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
      if (port_text.empty()) return false;
    }
  } else {
    const size_t colon = a.find(':');
    if (colon != std::string_view::npos && a.find(':', colon + 1) != std::string_view::npos)
      return false;  // a bare IPv6 literal: brackets are needed to tell the port
    host = std::string(a.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = a.substr(colon + 1);
      if (port_text.empty()) return false;
    }
    if (host.empty()) return false;
    for (char c : host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
        return false;
  }
  if (!port_text.empty()) {
    int value = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || value > 65535) return false;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return false;
    port = value;
  }
  return true;
}

// ---- probes ([[probes.<kind>]]) ----
std::vector<uint32_t> parse_oid(std::string_view text) {
  std::vector<uint32_t> out;
  if (!text.empty() && text.front() == '.') text.remove_prefix(1);
  uint64_t n = 0;
  bool digit = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint64_t>(c - '0');
      if (n > UINT32_MAX) return {};
      digit = true;
    } else if (c == '.' && digit) {
      out.push_back(static_cast<uint32_t>(n));
      n = 0;
      digit = false;
    } else {
      return {};
    }
  }
  if (!digit) return {};
  out.push_back(static_cast<uint32_t>(n));
  // What a BER-encoded OID can be (net-snmp takes at most 128 numbers).
  if (out.size() < 2 || out.size() > 128 || out[0] > 2) return {};
  return out;
}

std::string check_metric_name(const std::string& name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 200) return "is longer than 200 bytes";
  if (!text::valid_utf8(name) || text::has_unprintable(name))
    return "holds a control character or bytes that are not UTF-8";
  if (name.find_first_of("+#") != std::string::npos)
    return "holds + or #, which no metric name may";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view level = std::string_view(name).substr(start, end - start);
    if (level.empty()) return "has an empty level (// or a / at either end)";
    if (level.front() == ' ' || level.back() == ' ')
      return "has a level that starts or ends with a space";
    start = end + 1;
  }
  return "";
}

std::vector<std::string> snmp_code_profile_metrics(std::string_view profile) {
  // As drivers/snmp/snmp_model.cpp declares them (a unit test compares).
  if (profile == "system") return {"System/Uptime", "System/Name", "System/Description"};
  if (profile == "interfaces") return {"Interfaces/"};
  if (profile == "host") return {"CPU/Usage", "Memory/Used"};
  if (profile == "ups")
    return {"UPS/On Battery", "UPS/Battery Charge", "UPS/Runtime Remaining", "UPS/Input Voltage",
            "UPS/Load"};
  return {};
}

// drivers/snmp/profiles.toml, as the build put it in (snmp_profiles.cpp.in).
extern const char* const kBuiltinSnmpProfiles;

const BuiltinSnmpProfiles& builtin_snmp_profiles() {
  static const BuiltinSnmpProfiles loaded = [] {
    BuiltinSnmpProfiles b;
    const std::string file = "drivers/snmp/profiles.toml";
    Reporter rep{file, {}, {}};
    try {
      const toml::table root = toml::parse(std::string_view(kBuiltinSnmpProfiles), file);
      TableReader top(rep, &root, "");
      top.expect_keys({"snmp"});
      TableReader snmp = top.table("snmp");
      snmp.expect_keys({"profiles"});
      for (TableReader p : snmp.tables("profiles")) read_snmp_profile(p, b.profiles, nullptr);
      snmp.finish();
      top.finish();
    } catch (const toml::parse_error& err) {
      rep.errors.push_back(Error{file, static_cast<int>(err.source().begin.line),
                                 static_cast<int>(err.source().begin.column), "",
                                 "not valid TOML: " + text::printable(err.description(), 200)});
    }
    b.errors = std::move(rep.errors);
    return b;
  }();
  return loaded;
}

std::string check_probe_name(const std::string& name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 64) return "is longer than 64 characters";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
    if (c == '/' || c == '+' || c == '#')
      return "\"" + name + "\" contains / + or #, which cannot be part of a metric name";
  }
  if (name.front() == ' ' || name.back() == ' ') return "must not start or end with a space";
  return "";
}

std::optional<Window> parse_window(std::string_view text) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  auto day = [](std::string_view d) -> int {
    for (int i = 0; i < 7; ++i)
      if (kDays[i] == d) return i;
    return -1;
  };
  auto hhmm = [](std::string_view t) -> int {
    if (t.size() != 5 || t[2] != ':') return -1;
    for (size_t i : {0, 1, 3, 4})
      if (t[i] < '0' || t[i] > '9') return -1;
    int h = (t[0] - '0') * 10 + (t[1] - '0'), m = (t[3] - '0') * 10 + (t[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
  };
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view days = text.substr(0, space), times = text.substr(space + 1);
  Window w;
  // Days: "Mon-Fri", "Sat", "Mon,Wed,Fri" (a list of days or ranges).
  while (!days.empty()) {
    const size_t comma = days.find(',');
    std::string_view part = days.substr(0, comma);
    days = comma == std::string_view::npos ? std::string_view{} : days.substr(comma + 1);
    if (comma != std::string_view::npos && days.empty()) return std::nullopt;
    const size_t dash = part.find('-');
    int from = day(part.substr(0, dash));
    int to = dash == std::string_view::npos ? from : day(part.substr(dash + 1));
    if (from < 0 || to < 0) return std::nullopt;
    for (int d = from;; d = (d + 1) % 7) {
      w.days |= static_cast<uint8_t>(1u << d);
      if (d == to) break;
    }
  }
  const size_t dash = times.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  w.start_min = hhmm(times.substr(0, dash));
  w.end_min = hhmm(times.substr(dash + 1));
  if (w.start_min < 0 || w.end_min < 0 || w.end_min <= w.start_min || w.days == 0)
    return std::nullopt;
  return w;
}
// ---- end of probes ----

// ---- Section: a source's table, for its driver's reader ----
std::string quoted(std::string_view value) {
  return in_quotes(value);
}
std::string check_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != std::string::npos)
    return in_quotes(name) + " is not an interface name (1 to 15 characters, no / : or spaces)";
  return "";
}
bool Section::present() const {
  return table_.present();
}
void Section::expect_keys(std::initializer_list<std::string_view> keys) {
  table_.expect_keys(keys);
}
bool Section::boolean(std::string_view key, bool& out) {
  return table_.boolean(key, out);
}
bool Section::string(std::string_view key, std::string& out, bool required, std::string_view hint) {
  return table_.string(key, out, required, hint);
}
bool Section::integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
  return table_.integer(key, out, min, max);
}
bool Section::duration(std::string_view key, milliseconds& out, milliseconds min,
                       milliseconds max) {
  return table_.duration(key, out, min, max);
}
bool Section::strings(std::string_view key, std::vector<std::string>& out,
                      const std::function<std::string(const std::string&)>& check) {
  return table_.strings(key, out, check);
}
void Section::tables(std::string_view key, const std::function<void(Section&)>& read) {
  for (TableReader& element : table_.array_of_tables(key)) {
    Section section(element);
    read(section);
    element.finish();
  }
}
std::string Section::absolute(const std::string& path) const {
  return absolute_to(path, table_.file());
}
void Section::wrong(std::string_view key, std::string message) {
  table_.wrong_key(key, std::move(message));
}

LoadResult load_string(const std::string& text, const std::string& path,
                       std::span<const SourceReader> sources) {
  try {
    toml::table root = toml::parse(text, path);
    return validate(root, path, sources);
  } catch (const toml::parse_error& err) {
    LoadResult result;
    const auto& where = err.source().begin;
    result.errors.push_back(Error{path, static_cast<int>(where.line),
                                  static_cast<int>(where.column), "",
                                  "not valid TOML: " + text::printable(err.description(), 200)});
    return result;
  }
}

namespace {
// The text of a config file, or "" and what is wrong with the file.
std::string read_config_text(const std::string& path, std::string& content) {
  // A config is a few KiB; anything past this is not one (and /dev/zero never ends).
  constexpr size_t kMaxFile = 1 << 20;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return "is a directory, not a config file";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read the file: " + std::string(std::strerror(errno));
  content.assign(kMaxFile + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return "cannot read the file: " + std::string(std::strerror(errno));
  const size_t got = static_cast<size_t>(in.gcount());
  if (got > kMaxFile) return "is larger than 1 MiB; not a config file";
  content.resize(got);
  return "";
}
}  // namespace

LoadResult load_file(const std::string& path, std::span<const SourceReader> sources) {
  std::string content;
  if (std::string problem = read_config_text(path, content); !problem.empty()) {
    LoadResult result;
    result.errors.push_back(Error{path, 0, 0, "", std::move(problem)});
    return result;
  }
  return load_string(content, path, sources);
}

std::optional<std::string> status_socket_of(const std::string& path, std::string& error) {
  std::string content;
  if (std::string problem = read_config_text(path, content); !problem.empty()) {
    error = text::printable(path, 4096) + ": " + problem;
    return std::nullopt;
  }
  try {
    toml::table root = toml::parse(content, path);
    Reporter rep{path, {}, {}};
    Config cfg;
    TableReader top(rep, &root, "");
    read_status(top.table("status"), cfg, path);
    if (!rep.errors.empty()) {
      error = rep.errors.front().to_string();
      return std::nullopt;
    }
    return cfg.status.enabled ? cfg.status.socket : std::string();
  } catch (const toml::parse_error& err) {
    error = text::printable(path, 4096) +
            ": not valid TOML: " + text::printable(err.description(), 200);
    return std::nullopt;
  }
}

}  // namespace classroom::config
