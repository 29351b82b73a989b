#include "probes/curl_multi.hpp"

#include <poll.h>
#include "probes/curl_api.hpp"

#include "probes/tcp.hpp"

namespace classroom::drivers::probes {

CurlMulti::CurlMulti() {
  if (!load_curl()) return;
  if (curl_api().global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return;
  CURLM* m = curl_api().multi_init();
  if (!m) return;
  curl_api().multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
  curl_api().multi_setopt(m, CURLMOPT_SOCKETDATA, this);
  curl_api().multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer);
  curl_api().multi_setopt(m, CURLMOPT_TIMERDATA, this);
  multi_ = m;
}

CurlMulti::~CurlMulti() {
  if (!multi_) return;
  for (auto& [easy, done] : transfers_) curl_api().multi_remove_handle(multi_, easy);
  curl_api().multi_cleanup(multi_);
  curl_api().global_cleanup();
}

int CurlMulti::on_socket(void*, int fd, int what, void* self_p, void*) {
  auto* self = static_cast<CurlMulti*>(self_p);
  switch (what) {
    case CURL_POLL_REMOVE:
      self->sockets_.erase(fd);
      break;
    case CURL_POLL_IN:
      self->sockets_[fd] = POLLIN;
      break;
    case CURL_POLL_OUT:
      self->sockets_[fd] = POLLOUT;
      break;
    case CURL_POLL_INOUT:
      self->sockets_[fd] = POLLIN | POLLOUT;
      break;
    default:
      break;
  }
  return 0;
}

int CurlMulti::on_timer(void*, long timeout_ms, void* self_p) {
  auto* self = static_cast<CurlMulti*>(self_p);
  self->timer_at_ = timeout_ms < 0 ? kNever : steady_ns() / 1'000'000 + timeout_ms;
  return 0;
}

void CurlMulti::add(void* easy, Done done) {
  if (!multi_) return done(CURLE_FAILED_INIT);
  transfers_[easy] = std::move(done);
  if (curl_api().multi_add_handle(multi_, easy) != CURLM_OK) {
    Done d = std::move(transfers_[easy]);
    transfers_.erase(easy);
    d(CURLE_FAILED_INIT);
  }
}

void CurlMulti::remove(void* easy) {
  if (!multi_ || !transfers_.erase(easy)) return;
  curl_api().multi_remove_handle(multi_, easy);
}

void CurlMulti::wants(std::vector<Wait>& out) const {
  for (auto [fd, ev] : sockets_) out.push_back(Wait{fd, ev});
}

void CurlMulti::on_ready(int fd, short revents) {
  if (!multi_ || !sockets_.count(fd)) return;
  int ev = 0;
  if (revents & POLLIN) ev |= CURL_CSELECT_IN;
  if (revents & POLLOUT) ev |= CURL_CSELECT_OUT;
  if (revents & (POLLERR | POLLHUP)) ev |= CURL_CSELECT_ERR;
  int running = 0;
  curl_api().multi_socket_action(multi_, fd, ev, &running);
  check_done();
}

void CurlMulti::on_time(int64_t now_ms) {
  if (!multi_ || now_ms < timer_at_) return;
  timer_at_ = kNever;
  int running = 0;
  curl_api().multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done();
}

void CurlMulti::check_done() {
  int left = 0;
  while (CURLMsg* msg = curl_api().multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    auto it = transfers_.find(easy);
    curl_api().multi_remove_handle(multi_, easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    done(code);  // may add a new transfer
  }
}

}  // namespace classroom::drivers::probes
