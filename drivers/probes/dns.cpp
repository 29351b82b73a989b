#include "probes/dns.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include "printable.hpp"
#include "probes/ares_api.hpp"
#include "probes/tcp.hpp"

namespace classroom::drivers::probes {

std::optional<uint64_t> count_answers(const unsigned char* abuf, int alen, bool aaaa) {
  if (!abuf || alen <= 0 || alen > 65535) return std::nullopt;
  const AresApi* ares = load_ares();
  if (!ares) return std::nullopt;
  constexpr int kMax = 64;
  int n = kMax;
  if (aaaa) {
    ares_addr6ttl ttls[kMax];
    const int rc = ares->parse_aaaa_reply(abuf, alen, nullptr, ttls, &n);
    if (rc == ARES_ENODATA) return 0;
    if (rc != ARES_SUCCESS) return std::nullopt;
  } else {
    ares_addrttl ttls[kMax];
    const int rc = ares->parse_a_reply(abuf, alen, nullptr, ttls, &n);
    if (rc == ARES_ENODATA) return 0;
    if (rc != ARES_SUCCESS) return std::nullopt;
  }
  return static_cast<uint64_t>(n);
}

DnsProbe::~DnsProbe() {
  done_ = true;
  channel_.reset();  // its callback sees ARES_EDESTRUCTION and does nothing
}

void DnsProbe::start(Context&, int64_t now_ms) {
  r_ = DnsResult{};
  done_ = false;
  deadline_ = now_ms + o_.timeout_ms;
  channel_ = std::make_unique<AresChannel>();
  // One try with the whole timeout: a probe measures one query, not a retry policy.
  if (std::string e = channel_->init(o_.server, static_cast<int>(o_.timeout_ms), 1, true);
      !e.empty())
    return finish(e);
  started_ns_ = steady_ns();
  ares_api().query(channel_->get(), o_.query.c_str(), ns_c_in, o_.aaaa ? ns_t_aaaa : ns_t_a,
                   &DnsProbe::on_answer, this);
}

void DnsProbe::on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
  auto* self = static_cast<DnsProbe*>(arg);
  if (self->done_) return;
  const double ms = static_cast<double>(steady_ns() - self->started_ns_) / 1e6;
  const std::string what =
      "\"" + text::printable(self->o_.query, 200) + "\" (" + (self->o_.aaaa ? "AAAA" : "A") +
      (self->o_.server.empty() ? "" : " at " + text::printable(self->o_.server, 200)) + ")";
  switch (status) {
    case ARES_SUCCESS: {
      self->r_.resolve_ms = ms;
      auto n = count_answers(abuf, alen, self->o_.aaaa);
      if (!n) return self->finish("unreadable answer for " + what);
      self->r_.answers = *n;
      if (*n == 0)
        return self->finish("no " + std::string(self->o_.aaaa ? "AAAA" : "A") + " record for " +
                            what);
      self->r_.success = true;
      return self->finish("");
    }
    case ARES_ENODATA:
      self->r_.resolve_ms = ms;
      return self->finish("no " + std::string(self->o_.aaaa ? "AAAA" : "A") + " record for " +
                          what);
    case ARES_ENOTFOUND:
      self->r_.resolve_ms = ms;
      return self->finish("NXDOMAIN: no such name " + what);
    case ARES_ESERVFAIL:
      self->r_.resolve_ms = ms;
      return self->finish("SERVFAIL: the server could not resolve " + what);
    case ARES_EREFUSED:
      self->r_.resolve_ms = ms;
      return self->finish("REFUSED: the server refused to resolve " + what);
    case ARES_ETIMEOUT:
      return self->finish("timeout: no answer within " + std::to_string(self->o_.timeout_ms) +
                          " ms for " + what);
    case ARES_ECONNREFUSED:
      return self->finish("no DNS server answers there (connection refused) for " + what);
    default:
      return self->finish(std::string(ares_api().strerror(status)) + " for " + what);
  }
}

void DnsProbe::wants(std::vector<Wait>& out) const {
  if (!done_ && channel_) channel_->wants(out);
}

void DnsProbe::on_ready(int fd, short revents, int64_t) {
  if (done_ || !channel_) return;
  channel_->on_ready(fd, revents);
  if (done_) channel_.reset();  // the answer came: c-ares has returned from its callback
}

void DnsProbe::on_time(int64_t now_ms) {
  if (done_ || !channel_) return;
  channel_->on_time();
  if (!done_ && now_ms >= deadline_ + 200)  // c-ares's own timeout normally comes first
    abort("timeout: no answer within " + std::to_string(o_.timeout_ms) + " ms for \"" +
              text::printable(o_.query, 200) + "\"",
          now_ms);
  if (done_) channel_.reset();
}

int64_t DnsProbe::next_wake() const {
  if (done_ || !channel_) return kNever;
  return std::min(deadline_ + 200, channel_->next_wake(steady_ns() / 1'000'000));
}

void DnsProbe::abort(std::string_view why, int64_t) {
  if (done_) return;
  finish(std::string(why));
  channel_.reset();  // never called from inside a c-ares callback
}

void DnsProbe::finish(std::string error) {
  r_.error = std::move(error);
  if (!r_.error.empty()) r_.success = false;
  done_ = true;
  // The channel is closed once c-ares has returned (on_ready, on_time, abort),
  // not from inside its own callback: a channel is some 70 KiB of c-ares's
  // tables, and a probe between runs needs none.
}

}  // namespace classroom::drivers::probes
