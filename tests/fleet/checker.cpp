#include "fleet/checker.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "fleet/classroom.hpp"
#include "sparkplug_b.pb.h"

namespace classroom::fleet {
namespace {

using Payload = org::eclipse::tahu::protobuf::Payload;

// "spBv1.0/<group>/<type>/<node>": the parts, or false (device topics too).
bool split_topic(std::string_view topic, std::string_view& group, std::string_view& type,
                 std::string_view& node) {
  constexpr std::string_view ns = "spBv1.0/";
  if (topic.substr(0, ns.size()) != ns) return false;
  topic.remove_prefix(ns.size());
  size_t a = topic.find('/');
  if (a == std::string_view::npos) return false;
  size_t b = topic.find('/', a + 1);
  if (b == std::string_view::npos) return false;
  group = topic.substr(0, a);
  type = topic.substr(a + 1, b - a - 1);
  node = topic.substr(b + 1);
  return node.find('/') == std::string_view::npos;
}

bool parse_number(std::string_view s, size_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string group_name(const std::string& prefix, size_t index, size_t per_group) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%04zu", index / per_group + 1);
  return prefix + buf;
}

std::string node_name(size_t index, size_t per_group) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "room-%02zu", index % per_group + 1);
  return buf;
}

SeriesChecker::SeriesChecker(std::string prefix, size_t per_group, size_t gateways,
                             size_t subscribers)
    : prefix_(std::move(prefix)),
      per_group_(per_group),
      subscribers_(std::max<size_t>(1, subscribers)),
      series_(gateways) {}

namespace {
// Sets bit n; returns whether it was set before.
bool test_and_set(std::vector<uint64_t>& bits, uint64_t n) {
  const size_t word = n / 64;
  if (bits.size() <= word) bits.resize(word + 1);
  const uint64_t bit = 1ull << (n % 64);
  const bool was = bits[word] & bit;
  bits[word] |= bit;
  return was;
}
}  // namespace

long SeriesChecker::index_of(std::string_view group, std::string_view node) const {
  if (group.size() <= prefix_.size() + 1 || group.substr(0, prefix_.size()) != prefix_ ||
      group[prefix_.size()] != '-' || node.substr(0, 5) != "room-")
    return -1;
  size_t school = 0, room = 0;
  if (!parse_number(group.substr(prefix_.size() + 1), school) ||
      !parse_number(node.substr(5), room) || school == 0 || room == 0 || room > per_group_)
    return -1;
  const size_t index = (school - 1) * per_group_ + (room - 1);
  return index < series_.size() ? static_cast<long>(index) : -1;
}

void SeriesChecker::on_message(size_t subscriber, std::string_view topic,
                               std::string_view payload) {
  std::string_view group, type, node;
  if (!split_topic(topic, group, type, node)) return;
  const long index = index_of(group, node);
  if (index < 0) return;
  Series& s = series_[static_cast<size_t>(index)];
  if (type == "NDEATH") {
    ++s.deaths;
    ++deaths_;
    return;
  }
  if (type != "NBIRTH" && type != "NDATA") return;
  Payload p;
  if (!p.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    ++undecodable_;
    return;
  }
  if (type == "NBIRTH") {
    ++s.births;
    ++births_;
    for (const auto& m : p.metrics())
      if (m.name() == kSampleMetric) s.sample_alias = m.alias();
    return;
  }
  ++data_;
  for (const auto& m : p.metrics()) {
    const bool ours = m.has_name() ? m.name() == kSampleMetric
                                   : s.sample_alias != 0 && m.alias() == s.sample_alias;
    if (!ours) continue;
    const uint64_t n = m.long_value();
    if (n == 0 || n > (1u << 24)) break;
    if (s.by_subscriber.empty()) s.by_subscriber.resize(subscribers_);
    if (test_and_set(s.by_subscriber[std::min(subscriber, subscribers_ - 1)], n)) ++duplicates_;
    if (!test_and_set(s.bits, n)) {
      ++seen_;
      ++(m.is_historical() ? historical_ : live_);
    }
    return;
  }
  ++undecodable_;  // an NDATA without the sample number (or before any NBIRTH)
}

SeriesChecker::Totals SeriesChecker::totals(const std::vector<uint64_t>& taken) const {
  Totals t;
  t.births = births_;
  t.deaths = deaths_;
  t.data = data_;
  t.seen = seen_;
  t.live = live_;
  t.historical = historical_;
  t.duplicates = duplicates_;
  t.undecodable = undecodable_;
  for (size_t i = 0; i < series_.size() && i < taken.size(); ++i) {
    const Series& s = series_[i];
    uint64_t missing = 0;
    std::string list;
    for (uint64_t n = 1; n <= taken[i]; ++n) {
      const size_t word = n / 64;
      if (word < s.bits.size() && (s.bits[word] >> (n % 64)) & 1) continue;
      ++missing;
      if (list.size() < 60) list += " " + std::to_string(n);
    }
    if (missing == 0) continue;
    t.holes += missing;
    ++t.gateways_with_holes;
    if (t.first_holes.size() < 400)
      t.first_holes += (t.first_holes.empty() ? "" : "; ") + group_name(prefix_, i, per_group_) +
                       "/" + node_name(i, per_group_) + ":" + list;
  }
  return t;
}

}  // namespace classroom::fleet
