#include <cmath>
#include <limits>
#include <numbers>

#include "inferencegw/stable_hash.h"
#include "stats_math_internal.h"

namespace inferencegw::internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Beyond this many degrees of freedom the t distribution is taken as normal (the difference in
// any quantile is below 1e-7).
constexpr double kNormalDf = 1e7;

// The x where a monotone `cdf` reaches p, by bisection from [-1, 1] widened until it brackets
// p: 200 halvings reach the double nearest the answer whatever the bracket.
template <typename Cdf>
double InvertCdf(double p, Cdf cdf) {
  if (!(p > 0 && p < 1)) return p == 0 ? -kInf : (p == 1 ? kInf : kNaN);
  double lo = -1, hi = 1;
  while (cdf(lo) > p && lo > -1e300) lo *= 2;
  while (cdf(hi) < p && hi < 1e300) hi *= 2;
  for (int i = 0; i < 200 && lo < hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (cdf(mid) < p ? lo : hi) = mid;
  }
  return lo + (hi - lo) / 2;
}

// The continued fraction F of I_x(a, b) = x^a (1-x)^b / (a B(a, b) F), evaluated by Lentz's
// method: F = 1 + d1 / (1 + d2 / (1 + ...)), d(2i+1) = -(a+i)(a+b+i)x / ((a+2i)(a+2i+1)),
// d(2i) = i(b-i)x / ((a+2i-1)(a+2i)). Converges fast for x < (a+1)/(a+b+2).
double BetaFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  double f = 1, c = 1, d = 0;
  for (int m = 1; m < 200000; ++m) {
    double term;
    if (m % 2 == 1) {
      const double i = (m - 1) / 2;
      term = -(a + i) * (a + b + i) * x / ((a + 2 * i) * (a + 2 * i + 1));
    } else {
      const double i = m / 2;
      term = i * (b - i) * x / ((a + 2 * i - 1) * (a + 2 * i));
    }
    d = 1 + term * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + term / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = c * d;
    f *= delta;
    if (std::fabs(delta - 1) < kEps) break;
  }
  return f;
}

}  // namespace

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

double NormalQuantile(double p) { return InvertCdf(p, NormalCdf); }

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return kNaN;
  if (x == 0 || x == 1) return x;
  if (x > (a + 1) / (a + b + 2)) return 1 - RegularizedIncompleteBeta(b, a, 1 - x);
  const double log_front =
      a * std::log(x) + b * std::log1p(-x) - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  return std::exp(log_front) / a / BetaFraction(a, b, x);
}

double StudentTCdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (df > kNormalDf) return NormalCdf(t);
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2).
  const double tail = 0.5 * RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t));
  return t > 0 ? 1 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  if (!(df > 0)) return kNaN;
  if (df > kNormalDf) return NormalQuantile(p);
  return InvertCdf(p, [df](double t) { return StudentTCdf(t, df); });
}

uint64_t RandomStream::NextU64() {
  const uint64_t r = SplitMix64(next_);
  next_ += kGoldenGamma;
  return r;
}

double RandomStream::OpenUnit() { return (static_cast<double>(NextU64() >> 11) + 0.5) * 0x1.0p-53; }

double RandomStream::StandardNormal() {
  const double radius = std::sqrt(-2.0 * std::log(OpenUnit()));
  return radius * std::cos(2.0 * std::numbers::pi * OpenUnit());
}

double RandomStream::Gamma(double shape) {
  if (shape < 1) {
    // Gamma(shape) = Gamma(shape + 1) * U^(1/shape).
    const double g = Gamma(shape + 1);
    return g * std::pow(OpenUnit(), 1 / shape);
  }
  // Marsaglia and Tsang (2000): a squeezed rejection from a cubed normal.
  const double d = shape - 1.0 / 3.0;
  const double c = 1 / std::sqrt(9 * d);
  while (true) {
    const double z = StandardNormal();
    const double v0 = 1 + c * z;
    if (v0 <= 0) continue;
    const double v = v0 * v0 * v0;
    const double u = OpenUnit();
    if (std::log(u) < 0.5 * z * z + d - d * v + d * std::log(v)) return d * v;
  }
}

double RandomStream::Beta(double a, double b) {
  const double x = Gamma(a);
  const double y = Gamma(b);
  return x / (x + y);
}

}  // namespace inferencegw::internal
