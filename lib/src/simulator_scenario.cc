// Simulated backend behaviour: latency distributions and scenario checks.
#include <cmath>
#include <limits>
#include <numbers>

#include "fmt/format.h"
#include "inferencegw/simulator.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {

namespace {

// Latencies are capped here (about 11.6 days), far beyond any attempt timeout, so sums of
// latencies and timestamps never overflow.
constexpr DurationNs kMaxLatency = Seconds(1'000'000);

// A uniform double in the open interval (0, 1) from 53 bits of `r`.
double OpenUnit(uint64_t r) { return (static_cast<double>(r >> 11) + 0.5) * 0x1.0p-53; }

}  // namespace

LatencyModel LatencyModel::Fixed(DurationNs d) {
  LatencyModel m;
  m.kind = Kind::kFixed;
  m.value = d;
  return m;
}

LatencyModel LatencyModel::Uniform(DurationNs low, DurationNs high) {
  LatencyModel m;
  m.kind = Kind::kUniform;
  m.low = low;
  m.high = high;
  return m;
}

LatencyModel LatencyModel::LogNormal(DurationNs median, double sigma) {
  LatencyModel m;
  m.kind = Kind::kLogNormal;
  m.value = median;
  m.sigma = sigma;
  return m;
}

absl::Status LatencyModel::Validate() const {
  if (per_output_token < 0 || per_output_token > kMaxLatency) {
    return absl::InvalidArgumentError(
        fmt::format("latency per output token must be in [0, {} s]", ToSeconds(kMaxLatency)));
  }
  switch (kind) {
    case Kind::kFixed:
    case Kind::kLogNormal:
      if (value < 0 || value > kMaxLatency) {
        return absl::InvalidArgumentError(fmt::format("latency {} must be in [0, {} s]",
                                                      kind == Kind::kFixed ? "value" : "median",
                                                      ToSeconds(kMaxLatency)));
      }
      if (kind == Kind::kLogNormal && !(std::isfinite(sigma) && sigma >= 0 && sigma <= 10)) {
        return absl::InvalidArgumentError("lognormal sigma must be in [0, 10]");
      }
      return absl::OkStatus();
    case Kind::kUniform:
      if (low < 0 || high > kMaxLatency || low > high) {
        return absl::InvalidArgumentError(
            fmt::format("uniform latency needs 0 <= low <= high <= {} s", ToSeconds(kMaxLatency)));
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown latency distribution");
}

DurationNs LatencyModel::Sample(uint64_t r1, uint64_t r2, int64_t output_tokens) const {
  DurationNs base = 0;
  switch (kind) {
    case Kind::kFixed:
      base = value;
      break;
    case Kind::kUniform:
      base = low + static_cast<DurationNs>(MulHigh64(r1, static_cast<uint64_t>(high - low) + 1));
      break;
    case Kind::kLogNormal: {
      // Box-Muller: one standard normal draw from two uniforms.
      const double z = std::sqrt(-2.0 * std::log(OpenUnit(r1))) *
                       std::cos(2.0 * std::numbers::pi * OpenUnit(r2));
      const double d = static_cast<double>(value) * std::exp(sigma * z);
      base = d >= static_cast<double>(kMaxLatency) ? kMaxLatency : static_cast<DurationNs>(d);
      break;
    }
  }
  if (per_output_token > 0 && output_tokens > 0) {
    const int64_t room = (kMaxLatency - base) / per_output_token;
    base = output_tokens >= room ? kMaxLatency : base + output_tokens * per_output_token;
  }
  return base;
}

absl::Status BackendScenario::Validate() const {
  if (absl::Status s = latency.Validate(); !s.ok()) return s;
  const auto rate_ok = [](double r) { return std::isfinite(r) && r >= 0 && r <= 1; };
  if (!rate_ok(failure_rate)) return absl::InvalidArgumentError("failure_rate must be in [0, 1]");
  if (!rate_ok(rate_429)) return absl::InvalidArgumentError("rate_429 must be in [0, 1]");
  if (failure_rate + rate_429 > 1.0 + 1e-12) {
    return absl::InvalidArgumentError("failure_rate + rate_429 must not exceed 1");
  }
  if (error_status < 500 || error_status > 599) {
    return absl::InvalidArgumentError(
        fmt::format("error_status must be in 500..599, got {}", error_status));
  }
  const auto time_ok = [](DurationNs d) { return d >= 0 && d <= kMaxLatency; };
  if (!time_ok(retry_after) || !time_ok(error_latency) || !time_ok(connect_latency)) {
    return absl::InvalidArgumentError(
        fmt::format("retry_after, error_latency and connect_latency must be in [0, {} s]",
                    ToSeconds(kMaxLatency)));
  }
  for (size_t i = 0; i < outages.size(); ++i) {
    if (outages[i].start < 0 || outages[i].end < outages[i].start) {
      return absl::InvalidArgumentError(fmt::format("outages[{}]: needs 0 <= start <= end", i));
    }
  }
  return absl::OkStatus();
}

bool BackendScenario::InOutage(TimeNs t) const {
  for (const TimeWindow& w : outages) {
    if (t >= w.start && t < w.end) return true;
  }
  return false;
}

}  // namespace inferencegw
