#include "probes/report.hpp"

#include <span>

namespace classroom::drivers::probes {
namespace {

struct Def {
  const char* measure;
  MetricType type;
  const char* unit;
};

// The order is the index into ids_ for each kind.
constexpr Def kIcmp[] = {{"Loss", DataType::Double, "%"},     {"RTT Min", DataType::Double, "ms"},
                         {"RTT Avg", DataType::Double, "ms"}, {"RTT Max", DataType::Double, "ms"},
                         {"Jitter", DataType::Double, "ms"},  {"Reachable", DataType::Boolean, ""}};
constexpr Def kDns[] = {{"Resolve Time", DataType::Double, "ms"},
                        {"Success", DataType::Boolean, ""},
                        {"Answers", DataType::UInt64, ""}};
constexpr Def kTcp[] = {{"Connect Time", DataType::Double, "ms"},
                        {"Success", DataType::Boolean, ""}};
constexpr Def kHttp[] = {
    {"DNS Time", DataType::Double, "ms"},       {"Connect Time", DataType::Double, "ms"},
    {"TLS Time", DataType::Double, "ms"},       {"TTFB", DataType::Double, "ms"},
    {"Total Time", DataType::Double, "ms"},     {"Status Code", DataType::UInt64, ""},
    {"Success", DataType::Boolean, ""},         {"Bytes", DataType::UInt64, "B"},
    {"Cert Expiry Days", DataType::Double, "d"}};
constexpr Def kThroughput[] = {{"Download Rate", DataType::Double, "Mbit/s"},
                               {"Upload Rate", DataType::Double, "Mbit/s"},
                               {"Bytes", DataType::UInt64, "B"},
                               {"Duration", DataType::Double, "s"},
                               {"Success", DataType::Boolean, ""},
                               {"Budget Used", DataType::Double, "%"}};

Value opt(const std::optional<double>& v) {
  return v ? Value(*v) : Value(std::monostate{});
}

}  // namespace

void ProbeMetrics::declare(MetricSink& sink, Kind kind, const std::string& name, bool https) {
  https_ = https;
  const std::string base = "Connectivity/" + name + "/";
  std::span<const Def> defs;
  switch (kind) {
    case Kind::icmp:
      defs = kIcmp;
      break;
    case Kind::dns:
      defs = kDns;
      break;
    case Kind::tcp:
      defs = kTcp;
      break;
    case Kind::http:
      defs = std::span<const Def>(kHttp).first(std::size(kHttp) - (https ? 0 : 1));
      break;
    case Kind::throughput:
      defs = kThroughput;
      break;
  }
  for (size_t i = 0; i < defs.size() && i < kMax; ++i)
    ids_[i] = sink.declare(base + defs[i].measure, defs[i].type, defs[i].unit);
}

void ProbeMetrics::put(MetricSink& sink, const Result& result) const {
  if (const auto* r = std::get_if<IcmpResult>(&result)) {
    sink.put(ids_[0], r->loss_percent());
    sink.put(ids_[1], opt(r->rtt_min));
    sink.put(ids_[2], opt(r->rtt_avg));
    sink.put(ids_[3], opt(r->rtt_max));
    sink.put(ids_[4], opt(r->jitter));
    sink.put(ids_[5], r->reachable());
  } else if (const auto* r = std::get_if<DnsResult>(&result)) {
    sink.put(ids_[0], opt(r->resolve_ms));
    sink.put(ids_[1], r->success);
    sink.put(ids_[2], r->answers);
  } else if (const auto* r = std::get_if<TcpResult>(&result)) {
    sink.put(ids_[0], opt(r->connect_ms));
    sink.put(ids_[1], r->success);
  } else if (const auto* r = std::get_if<HttpResult>(&result)) {
    sink.put(ids_[0], opt(r->dns_ms));
    sink.put(ids_[1], opt(r->connect_ms));
    sink.put(ids_[2], opt(r->tls_ms));
    sink.put(ids_[3], opt(r->ttfb_ms));
    sink.put(ids_[4], opt(r->total_ms));
    sink.put(ids_[5], r->status ? Value(*r->status) : Value(std::monostate{}));
    sink.put(ids_[6], r->success);
    sink.put(ids_[7], r->bytes);
    if (https_) sink.put(ids_[8], opt(r->cert_expiry_days));
  } else if (const auto* r = std::get_if<ThroughputResult>(&result)) {
    sink.put(ids_[0], opt(r->download_mbit_s));
    sink.put(ids_[1], opt(r->upload_mbit_s));
    sink.put(ids_[2], r->bytes);
    sink.put(ids_[3], opt(r->duration_s));
    sink.put(ids_[4], r->success);
  }
}

void ProbeMetrics::put_budget_used(MetricSink& sink, double percent) const {
  sink.put(ids_[5], percent);
}

}  // namespace classroom::drivers::probes
