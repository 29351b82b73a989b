// Throughput: download (and optionally upload) up to max_bytes or max_time and
// report the rate. When it may run (school-hours windows, per day, the monthly
// budget) is the runner's business (agent/probes/throughput_plan.hpp).
#pragma once

#include "probes/curl_multi.hpp"
#include "probes/probe.hpp"

namespace classroom::drivers::probes {

struct ThroughputOptions {
  std::string url;
  std::string upload_url;  // empty: download only
  std::string ca_file;
  uint64_t max_bytes = 10ull << 20;
  int64_t max_time_ms = 10'000;
};

class ThroughputProbe final : public Probe {
 public:
  explicit ThroughputProbe(ThroughputOptions o) : o_(std::move(o)) {}
  ~ThroughputProbe() override;
  void start(Context& ctx, int64_t now_ms) override;
  void wants(std::vector<Wait>&) const override {}
  void on_ready(int, short, int64_t) override {}
  void on_time(int64_t now_ms) override;
  int64_t next_wake() const override { return done_ ? kNever : deadline_; }
  bool done() const override { return done_; }
  void abort(std::string_view why, int64_t now_ms) override;
  Result result() const override { return r_; }
  int64_t budget_ms() const override { return 2 * o_.max_time_ms + 2000; }
  // The most a run can transfer (the budget is checked against it before a run).
  uint64_t max_run_bytes() const { return o_.max_bytes * (o_.upload_url.empty() ? 1 : 2); }

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static size_t on_read(char* data, size_t size, size_t n, void* self);
  void begin(bool upload, int64_t now_ms);
  void done(int code);
  void finish(std::string error);

  ThroughputOptions o_;
  ThroughputResult r_;
  CurlMulti* multi_ = nullptr;
  void* easy_ = nullptr;
  bool uploading_ = false;
  uint64_t down_ = 0, up_ = 0;
  bool capped_ = false;
  double duration_s_ = 0;
  char errbuf_[256] = {};
  int64_t deadline_ = 0;
  bool done_ = true;
};

}  // namespace classroom::drivers::probes
