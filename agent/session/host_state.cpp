#include "session/host_state.hpp"

#include <cctype>

namespace classroom::sparkplug {
namespace {

// A forward-only reader over a JSON text: just enough JSON for one flat
// object whose values may be anything (skipped unless they are ours).
class Json {
 public:
  explicit Json(std::string_view s) : s_(s) {}

  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool at_end() {
    space();
    return i_ == s_.size();
  }
  // A string; escapes are kept as written (keys we look for have none).
  std::optional<std::string_view> string() {
    if (!eat('"')) return std::nullopt;
    const size_t begin = i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') ++i_;
      ++i_;
    }
    if (i_ >= s_.size()) return std::nullopt;
    return s_.substr(begin, i_++ - begin);
  }
  bool word(std::string_view w) {
    space();
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::optional<bool> boolean() {
    if (word("true")) return true;
    if (word("false")) return false;
    return std::nullopt;
  }
  // A whole number that fits in 63 bits (a JSON number written without a
  // fraction or exponent).
  std::optional<uint64_t> whole() {
    space();
    const size_t begin = i_;
    uint64_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      if (v > (INT64_MAX - 9) / 10) return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
    }
    if (i_ == begin || (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')))
      return std::nullopt;
    return v;
  }
  // Any value: a string, a word, a number, or a nested array or object.
  bool skip_value() {
    space();
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '"') return string().has_value();
    if (s_[i_] != '{' && s_[i_] != '[') {
      const size_t begin = i_;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ')
        ++i_;
      return i_ > begin;
    }
    int depth = 0;
    do {
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '"') {
        if (!string()) return false;
        continue;
      }
      if (s_[i_] == '{' || s_[i_] == '[') ++depth;
      if (s_[i_] == '}' || s_[i_] == ']') --depth;
      ++i_;
    } while (depth > 0);
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<HostState> parse_host_state(std::string_view body) {
  if (body.size() > kMaxHostStateBytes) return std::nullopt;
  const std::string_view plain = trimmed(body);
  if (plain == "ONLINE") return HostState{true, std::nullopt};
  if (plain == "OFFLINE") return HostState{false, std::nullopt};

  Json j(body);
  if (!j.eat('{')) return std::nullopt;
  std::optional<bool> online;
  std::optional<uint64_t> timestamp;
  if (!j.eat('}')) {
    do {
      const auto key = j.string();
      if (!key || !j.eat(':')) return std::nullopt;
      if (*key == "online") {
        online = j.boolean();
        if (!online) return std::nullopt;
      } else if (*key == "timestamp") {
        timestamp = j.whole();
        if (!timestamp) return std::nullopt;
      } else if (!j.skip_value()) {
        return std::nullopt;
      }
    } while (j.eat(','));
    if (!j.eat('}')) return std::nullopt;
  }
  if (!j.at_end() || !online) return std::nullopt;
  return HostState{*online, timestamp};
}

bool supersedes(const HostState& next, const std::optional<HostState>& current) {
  if (!current || !next.timestamp || !current->timestamp) return true;
  return *next.timestamp >= *current->timestamp;
}

}  // namespace classroom::sparkplug
