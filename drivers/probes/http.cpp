#include "probes/http.hpp"

#include <ctime>
#include "printable.hpp"
#include "probes/curl_api.hpp"

namespace classroom::drivers::probes {

void* new_easy(const std::string& url, const std::string& proxy, const std::string& ca_file,
               bool insecure, int64_t timeout_ms, char* errbuf) {
  if (!load_curl()) return nullptr;  // no table to call through
  CURL* e = curl_api().easy_init();
  if (!e) return nullptr;
  curl_api().easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_api().easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_api().easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_api().easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_api().easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_api().easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
  curl_api().easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_api().easy_setopt(e, CURLOPT_PROXY, proxy.c_str());  // "" disables environment proxies
  curl_api().easy_setopt(e, CURLOPT_USERAGENT, "classroom-agent probe");
  curl_api().easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_api().easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);  // never wait for a hung resolver thread
  if (!ca_file.empty()) curl_api().easy_setopt(e, CURLOPT_CAINFO, ca_file.c_str());
  if (insecure) {
    curl_api().easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_api().easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  errbuf[0] = '\0';
  return e;
}

std::string curl_error(int code, const char* errbuf) {
  std::string s = curl_api().easy_strerror(static_cast<CURLcode>(code));
  if (errbuf && errbuf[0]) s += ": " + text::printable(errbuf, 200);
  return s;
}

std::optional<int64_t> parse_cert_time(std::string_view text) {
  std::string s(text.substr(0, 64));
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%b %d %H:%M:%S %Y GMT", &tm);
  if (!end) {
    tm = std::tm{};
    end = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S GMT", &tm);
  }
  if (!end) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

HttpProbe::~HttpProbe() {
  if (easy_) {
    if (multi_) multi_->remove(easy_);
    curl_api().easy_cleanup(static_cast<CURL*>(easy_));
  }
}

void HttpProbe::start(Context& ctx, int64_t now_ms) {
  r_ = HttpResult{};
  done_ = false;
  capped_ = false;
  deadline_ = now_ms + o_.timeout_ms + 1000;  // curl's own timeout comes first
  multi_ = ctx.curl;
  if (std::string why; !load_curl(&why)) return finish(why);
  if (!multi_ || !multi_->ok()) return finish("cannot start an HTTP transfer (libcurl)");
  easy_ = new_easy(o_.url, o_.proxy, o_.ca_file, o_.insecure, o_.timeout_ms, errbuf_);
  if (!easy_) return finish("cannot start an HTTP transfer (libcurl)");
  curl_api().easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &HttpProbe::on_body);
  curl_api().easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_api().easy_setopt(easy_, CURLOPT_CERTINFO, 1L);
  multi_->add(easy_, [this](int code) { done(code); });
}

size_t HttpProbe::on_body(char*, size_t size, size_t n, void* self_p) {
  auto* self = static_cast<HttpProbe*>(self_p);
  const size_t len = size * n;
  if (self->r_.bytes + len > kMaxBody) {
    self->capped_ = true;
    return 0;  // enough: the probe measures reachability, not bandwidth
  }
  self->r_.bytes += len;
  return len;
}

void HttpProbe::done(int code) {
  CURL* e = static_cast<CURL*>(easy_);
  curl_off_t dns = 0, connect = 0, tls = 0, pre = 0, first = 0, total = 0;
  curl_api().easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &dns);
  curl_api().easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect);
  curl_api().easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &tls);
  curl_api().easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
  curl_api().easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &first);
  curl_api().easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
  long status = 0;
  curl_api().easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  auto ms = [](curl_off_t us) { return static_cast<double>(us) / 1000.0; };
  // Each phase on its own (curl's times are cumulative from the start).
  if (dns > 0) r_.dns_ms = ms(dns);
  if (connect > 0) r_.connect_ms = ms(connect - dns);
  const bool https = o_.url.rfind("https://", 0) == 0;
  if (https && tls > 0) r_.tls_ms = ms(tls - connect);
  if (!https && connect > 0) r_.tls_ms = 0.0;
  if (first > 0) r_.ttfb_ms = ms(first - pre);  // request sent -> first byte of the answer
  if (total > 0) r_.total_ms = ms(total);
  if (status > 0) r_.status = static_cast<uint64_t>(status);

  if (https) {
    curl_certinfo* ci = nullptr;
    if (curl_api().easy_getinfo(e, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci &&
        ci->num_of_certs > 0) {
      for (curl_slist* s = ci->certinfo[0]; s; s = s->next) {
        std::string_view line(s->data);
        constexpr std::string_view key = "Expire date:";
        if (line.substr(0, key.size()) != key) continue;
        if (auto t = parse_cert_time(line.substr(key.size())))
          r_.cert_expiry_days = static_cast<double>(*t - std::time(nullptr)) / 86400.0;
      }
    }
  }

  if (code != CURLE_OK && !(capped_ && code == CURLE_WRITE_ERROR)) {
    // The phases that completed stay; a total of a transfer that did not end is
    // no total.
    r_.total_ms.reset();
    return finish(curl_error(code, errbuf_));
  }
  const bool status_ok =
      o_.expected_status ? status == o_.expected_status : (status >= 200 && status < 400);
  if (!status_ok)
    return finish("status " + std::to_string(status) + ", expected " +
                  (o_.expected_status ? std::to_string(o_.expected_status) : "2xx or 3xx"));
  r_.success = true;
  finish("");
}

void HttpProbe::on_time(int64_t now_ms) {
  if (!done_ && now_ms >= deadline_)
    abort("no complete answer within " + std::to_string(o_.timeout_ms) + " ms", now_ms);
}

void HttpProbe::abort(std::string_view why, int64_t) {
  if (done_) return;
  finish(std::string(why));
}

void HttpProbe::finish(std::string error) {
  if (easy_) {
    if (multi_) multi_->remove(easy_);
    curl_api().easy_cleanup(static_cast<CURL*>(easy_));
    easy_ = nullptr;
  }
  r_.error = std::move(error);
  if (!r_.error.empty()) r_.success = false;
  done_ = true;
}

}  // namespace classroom::drivers::probes
