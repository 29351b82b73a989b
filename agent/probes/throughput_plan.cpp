#include "probes/throughput_plan.hpp"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace classroom::probes {
namespace {

constexpr int64_t kDayMs = 86'400'000;

int month_key(const std::tm& t) {
  return (t.tm_year + 1900) * 100 + t.tm_mon + 1;
}
int day_key(const std::tm& t) {
  return month_key(t) * 100 + t.tm_mday;
}
// Monday = 0, as config::Window::days.
int weekday(const std::tm& t) {
  return (t.tm_wday + 6) % 7;
}

}  // namespace

std::string plan_state_path(const std::string& state_dir, const std::string& probe_name) {
  std::string clean;
  uint32_t hash = 2166136261u;
  for (unsigned char c : probe_name) {
    hash = (hash ^ c) * 16777619u;
    clean += std::isalnum(c) ? static_cast<char>(c) : '_';
  }
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", hash);
  return state_dir + "/probes/" + clean.substr(0, 40) + suffix + ".throughput";
}

std::tm system_local_time(int64_t wall_s) {
  std::tm t{};
  const time_t s = static_cast<time_t>(wall_s);
  localtime_r(&s, &t);
  return t;
}

ThroughputPlan::ThroughputPlan(PlanOptions o, LocalTime local, uint64_t seed)
    : o_(std::move(o)), local_(std::move(local)), rng_(seed ? seed : std::random_device{}()) {}

std::string ThroughputPlan::load() {
  if (o_.state_path.empty()) return "";
  std::ifstream in(o_.state_path);
  if (!in) return "";  // first run
  std::string key;
  int64_t value = 0;
  int month = 0, day = 0, runs = 0;
  uint64_t used = 0;
  int seen = 0;
  while (in >> key >> value) {
    if (value < 0) break;
    if (key == "month") month = static_cast<int>(value), ++seen;
    if (key == "used") used = static_cast<uint64_t>(value), ++seen;
    if (key == "day") day = static_cast<int>(value), ++seen;
    if (key == "runs") runs = static_cast<int>(value), ++seen;
  }
  if (seen != 4) return "cannot read " + o_.state_path + "; counting this month's budget from zero";
  month_ = month;
  used_ = used;
  day_ = day;
  runs_ = runs;
  return "";
}

std::string ThroughputPlan::save() const {
  if (o_.state_path.empty()) return "";
  const std::string tmp = o_.state_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "month " << month_ << "\nused " << used_ << "\nday " << day_ << "\nruns " << runs_
        << "\n";
    out.flush();
    if (!out) return "cannot write " + tmp;
  }
  if (std::rename(tmp.c_str(), o_.state_path.c_str()) != 0)
    return "cannot replace " + o_.state_path;
  return "";
}

void ThroughputPlan::roll(int64_t now_ms) {
  const std::tm t = local_(now_ms / 1000);
  if (month_key(t) != month_) {
    month_ = month_key(t);
    used_ = 0;
  }
  if (day_key(t) != day_) {
    day_ = day_key(t);
    runs_ = 0;
  }
}

int64_t ThroughputPlan::plan_from(int64_t now_ms, bool skip_today) {
  const std::tm now_tm = local_(now_ms / 1000);
  const int64_t since_midnight =
      (now_tm.tm_hour * 3600 + now_tm.tm_min * 60 + now_tm.tm_sec) * 1000LL + now_ms % 1000;
  const int64_t midnight = now_ms - since_midnight;
  for (int d = skip_today ? 1 : 0; d <= 7; ++d) {
    const int64_t day_start = midnight + d * kDayMs;
    // Noon of that day gives its weekday even across a DST change.
    const int wd = weekday(local_((day_start + kDayMs / 2) / 1000));
    std::vector<std::pair<int64_t, int64_t>> open;
    int64_t total = 0;
    for (const config::Window& w : o_.windows) {
      if (!(w.days & (1u << wd))) continue;
      int64_t from = day_start + w.start_min * 60'000LL, to = day_start + w.end_min * 60'000LL;
      from = std::max(from, now_ms);
      if (to <= from) continue;
      open.emplace_back(from, to);
      total += to - from;
    }
    if (total <= 0) continue;
    // A random moment in what is left of the day's windows, uniformly.
    int64_t pick = std::uniform_int_distribution<int64_t>(0, total - 1)(rng_);
    for (auto [from, to] : open) {
      if (pick < to - from) return from + pick;
      pick -= to - from;
    }
  }
  return now_ms + kDayMs;  // unreachable with a valid window; try again tomorrow
}

int64_t ThroughputPlan::next_run(int64_t now_ms) {
  roll(now_ms);
  // None yet, or one that was missed (the agent was down): plan from now.
  if (planned_ < now_ms) planned_ = plan_from(now_ms, runs_ >= o_.per_day);
  return planned_;
}

bool ThroughputPlan::may_run(int64_t now_ms, std::string& why) {
  roll(now_ms);
  if (runs_ >= o_.per_day) {
    why = "already ran " + std::to_string(runs_) + " time" + (runs_ == 1 ? "" : "s") + " today";
    planned_ = plan_from(now_ms, true);
    return false;
  }
  if (used_ + o_.run_bytes + kOverheadBytes > o_.monthly_budget) {
    why = "the monthly budget is spent (" + std::to_string(used_ >> 10) + " of " +
          std::to_string(o_.monthly_budget >> 10) + " KiB used; a run may take " +
          std::to_string((o_.run_bytes + kOverheadBytes) >> 10) + " KiB)";
    planned_ = plan_from(now_ms, true);
    return false;
  }
  return true;
}

std::string ThroughputPlan::record(int64_t now_ms, uint64_t bytes) {
  roll(now_ms);
  ++runs_;
  used_ += bytes + kOverheadBytes;
  planned_ = plan_from(now_ms + 1000, runs_ >= o_.per_day);
  return save();
}

double ThroughputPlan::used_percent(int64_t now_ms) {
  roll(now_ms);
  return o_.monthly_budget
             ? 100.0 * static_cast<double>(used_) / static_cast<double>(o_.monthly_budget)
             : 0.0;
}

uint64_t ThroughputPlan::used_bytes(int64_t now_ms) {
  roll(now_ms);
  return used_;
}

int ThroughputPlan::runs_today(int64_t now_ms) {
  roll(now_ms);
  return runs_;
}

}  // namespace classroom::probes
