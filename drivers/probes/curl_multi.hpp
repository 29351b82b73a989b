// libcurl's multi interface inside the probe thread's poll: curl says which
// sockets to watch and when to call it back; the thread polls them with every
// other probe's descriptors. Created only when an http or throughput probe is
// configured (curl_global_init is not free).
#pragma once

#include <functional>
#include <map>

#include "probes/probe.hpp"

namespace classroom::drivers::probes {

class CurlMulti {
 public:
  // The easy handle's transfer ended with this CURLcode.
  using Done = std::function<void(int code)>;
  CurlMulti();
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;
  bool ok() const { return multi_ != nullptr; }
  // Starts a transfer of a configured easy handle (CURL*).
  void add(void* easy, Done done);
  // Stops it without a callback.
  void remove(void* easy);
  void wants(std::vector<Wait>& out) const;
  void on_ready(int fd, short revents);
  void on_time(int64_t now_ms);
  int64_t next_wake() const { return timer_at_; }

 private:
  static int on_socket(void* easy, int fd, int what, void* self, void* socketp);
  static int on_timer(void* multi, long timeout_ms, void* self);
  void check_done();

  void* multi_ = nullptr;
  std::map<int, short> sockets_;
  std::map<void*, Done> transfers_;
  int64_t timer_at_ = kNever;
};

}  // namespace classroom::drivers::probes
