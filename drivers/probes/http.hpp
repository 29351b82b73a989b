// HTTP(S) with libcurl: the phases of one request (DNS, TCP connect, TLS,
// time to first byte, total), the status code, and for https the days until
// the server's certificate expires. Verification is on unless `insecure`.
#pragma once

#include "probes/curl_multi.hpp"
#include "probes/probe.hpp"

namespace classroom::drivers::probes {

struct HttpOptions {
  std::string url;
  int64_t timeout_ms = 10'000;
  int expected_status = 0;  // 0: any 2xx or 3xx
  std::string proxy;        // empty: none (environment proxies are ignored)
  std::string ca_file;
  bool insecure = false;
};

class HttpProbe final : public Probe {
 public:
  explicit HttpProbe(HttpOptions o) : o_(std::move(o)) {}
  ~HttpProbe() override;
  void start(Context& ctx, int64_t now_ms) override;
  void wants(std::vector<Wait>&) const override {}  // curl's sockets are the multi's
  void on_ready(int, short, int64_t) override {}
  void on_time(int64_t now_ms) override;
  int64_t next_wake() const override { return done_ ? kNever : deadline_; }
  bool done() const override { return done_; }
  void abort(std::string_view why, int64_t now_ms) override;
  Result result() const override { return r_; }
  int64_t budget_ms() const override { return o_.timeout_ms; }

  static constexpr uint64_t kMaxBody = 1 << 20;  // read at most this much of a body

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  void done(int code);
  void finish(std::string error);

  HttpOptions o_;
  HttpResult r_;
  CurlMulti* multi_ = nullptr;
  void* easy_ = nullptr;
  char errbuf_[256] = {};
  bool capped_ = false;
  int64_t deadline_ = 0;
  bool done_ = true;
};

// Options every probe transfer shares: no signals, fresh connection and DNS
// lookup each run (the phases are what is measured), http(s) only, no
// environment proxies, quick exit on shutdown. Returns the CURL*.
void* new_easy(const std::string& url, const std::string& proxy, const std::string& ca_file,
               bool insecure, int64_t timeout_ms, char* errbuf);
// "Mar 10 12:00:00 2026 GMT" or "2026-03-10 12:00:00 GMT" -> seconds since the epoch.
std::optional<int64_t> parse_cert_time(std::string_view text);
// CURLcode and curl's error buffer in words, escaped.
std::string curl_error(int code, const char* errbuf);

}  // namespace classroom::drivers::probes
