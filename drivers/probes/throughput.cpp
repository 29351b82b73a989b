#include "probes/throughput.hpp"

#include <cstring>
#include "probes/curl_api.hpp"

#include "probes/http.hpp"
#include "probes/tcp.hpp"

namespace classroom::drivers::probes {

ThroughputProbe::~ThroughputProbe() {
  finish("");
}

void ThroughputProbe::start(Context& ctx, int64_t now_ms) {
  r_ = ThroughputResult{};
  done_ = false;
  down_ = up_ = 0;
  duration_s_ = 0;
  multi_ = ctx.curl;
  if (std::string why; !load_curl(&why)) return finish(why);
  if (!multi_ || !multi_->ok()) return finish("cannot start a transfer (libcurl)");
  begin(false, now_ms);
}

void ThroughputProbe::begin(bool upload, int64_t now_ms) {
  uploading_ = upload;
  capped_ = false;
  deadline_ = now_ms + o_.max_time_ms + 1000;
  easy_ = new_easy(upload ? o_.upload_url : o_.url, "", o_.ca_file, false, o_.max_time_ms, errbuf_);
  if (!easy_) return finish("cannot start a transfer (libcurl)");
  if (upload) {
    curl_api().easy_setopt(easy_, CURLOPT_POST, 1L);
    curl_api().easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                           static_cast<curl_off_t>(o_.max_bytes));
    curl_api().easy_setopt(easy_, CURLOPT_READFUNCTION, &ThroughputProbe::on_read);
    curl_api().easy_setopt(easy_, CURLOPT_READDATA, this);
  }
  curl_api().easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &ThroughputProbe::on_body);
  curl_api().easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  multi_->add(easy_, [this](int code) { done(code); });
}

size_t ThroughputProbe::on_body(char*, size_t size, size_t n, void* self_p) {
  auto* self = static_cast<ThroughputProbe*>(self_p);
  const size_t len = size * n;
  if (self->uploading_) return len;  // the upload's answer: not counted
  if (self->down_ + len > self->o_.max_bytes) {
    self->down_ = self->o_.max_bytes;
    self->capped_ = true;
    return 0;  // max_bytes reached: stop here
  }
  self->down_ += len;
  return len;
}

size_t ThroughputProbe::on_read(char* data, size_t size, size_t n, void* self_p) {
  auto* self = static_cast<ThroughputProbe*>(self_p);
  const uint64_t left = self->o_.max_bytes - self->up_;
  const size_t len = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  std::memset(data, 0, len);
  self->up_ += len;
  return len;
}

void ThroughputProbe::done(int code) {
  CURL* e = static_cast<CURL*>(easy_);
  curl_off_t pre = 0, total = 0;
  curl_api().easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
  curl_api().easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
  long status = 0;
  curl_api().easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_api().easy_cleanup(e);
  easy_ = nullptr;
  const double secs = static_cast<double>(total - pre) / 1e6;
  duration_s_ += static_cast<double>(total) / 1e6;
  // Stopped by max_bytes or max_time is a complete measurement.
  const bool stopped_by_cap = (capped_ && code == CURLE_WRITE_ERROR) ||
                              (code == CURLE_OPERATION_TIMEDOUT && (uploading_ ? up_ : down_) > 0);
  const uint64_t bytes = uploading_ ? up_ : down_;
  r_.bytes = down_ + up_;
  r_.duration_s = duration_s_;
  if (code != CURLE_OK && !stopped_by_cap) return finish(curl_error(code, errbuf_));
  if (status < 200 || status >= 300)
    return finish("status " + std::to_string(status) + " from the " +
                  (uploading_ ? "upload" : "download") + " URL");
  if (bytes == 0 || secs <= 0) return finish("nothing was transferred");
  const double mbit = static_cast<double>(bytes) * 8 / secs / 1e6;
  if (uploading_) {
    r_.upload_mbit_s = mbit;
    r_.success = true;
    return finish("");
  }
  r_.download_mbit_s = mbit;
  if (o_.upload_url.empty()) {
    r_.success = true;
    return finish("");
  }
  begin(true, steady_ns() / 1'000'000);
}

void ThroughputProbe::on_time(int64_t now_ms) {
  if (!done_ && now_ms >= deadline_) abort("transfer still running after max_time + 1 s", now_ms);
}

void ThroughputProbe::abort(std::string_view why, int64_t) {
  if (done_) return;
  finish(std::string(why));
}

void ThroughputProbe::finish(std::string error) {
  if (easy_) {
    if (multi_) multi_->remove(easy_);
    curl_api().easy_cleanup(static_cast<CURL*>(easy_));
    easy_ = nullptr;
  }
  r_.bytes = down_ + up_;
  r_.error = std::move(error);
  if (!r_.error.empty()) r_.success = false;
  done_ = true;
}

}  // namespace classroom::drivers::probes
