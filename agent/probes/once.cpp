#include "probes/once.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "clock.hpp"
#include "printable.hpp"
#include "probes/resolver.hpp"
#include "probes/runner.hpp"
#include "probes/throughput_plan.hpp"

namespace classroom::probes {

struct OnceRun::Wait {
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;
};

OnceRun::OnceRun(const config::Probes& cfg, const std::string& state_dir)
    : cfg_(cfg), state_dir_(state_dir), wait_(std::make_shared<Wait>()) {
  config::Probes now = cfg;
  now.throughput.clear();
  if (!now.any()) return;
  // All at once: a technician waits for the slowest probe, not for their sum.
  now.concurrency =
      static_cast<int>(now.icmp.size() + now.dns.size() + now.tcp.size() + now.http.size());
  std::shared_ptr<Wait> w = wait_;
  runner_ = std::make_unique<Runner>(now, "", [w] {
    std::lock_guard lock(w->mutex);
    w->woken = true;
    w->cv.notify_all();
  });
  runner_->start();
}

OnceRun::~OnceRun() = default;

void OnceRun::finish(Catalog& catalog, std::ostream& out) {
  if (runner_) {
    runner_->declare(catalog);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(runner_->longest_run_ms() + 500);
    auto all_reported = [&] {
      for (const Runner::Outcome& o : runner_->outcomes())
        if (!o.reported) return false;
      return true;
    };
    for (;;) {
      runner_->drain(catalog);
      if (all_reported() || std::chrono::steady_clock::now() >= deadline) break;
      std::unique_lock lock(wait_->mutex);
      wait_->cv.wait_until(lock, deadline, [&] { return wait_->woken; });
      wait_->woken = false;
    }
    runner_->stop(Runner::kStopBoundMs);
    for (const Runner::Outcome& o : runner_->outcomes()) {
      out << "# probe " << text::printable(o.name, 200) << " (" << text::printable(o.what, 200)
          << "): ";
      if (!o.reported)
        out << "no result in time\n";
      else if (!o.error.empty())
        out << o.error << "\n";
      else
        out << "ok\n";
    }
  }
  SystemClock clock;
  for (const config::ThroughputProbe& p : cfg_.throughput) {
    PlanOptions po;
    po.monthly_budget = p.monthly_budget;
    if (!state_dir_.empty()) po.state_path = plan_state_path(state_dir_, p.name);
    ThroughputPlan plan(std::move(po));
    const std::string problem = plan.load();
    char used[32];
    std::snprintf(used, sizeof used, "%.1f", plan.used_percent(clock.wall_ms()));
    out << "# probe " << text::printable(p.name, 200) << " (throughput "
        << text::printable(p.url, 200)
        << "): not run by once (it would spend the monthly budget; the running agent runs it "
           "inside its windows); "
        << (problem.empty() ? std::string(used) + " % of this month's budget used" : problem)
        << "\n";
  }
}

}  // namespace classroom::probes
