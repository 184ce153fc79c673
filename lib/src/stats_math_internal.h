// Internal: the distributions behind experiment_compare.cc. Normal and Student t tail
// probabilities and quantiles, and a seeded stream of uniform, normal, gamma and beta draws.
#ifndef INFERENCEGW_SRC_STATS_MATH_INTERNAL_H_
#define INFERENCEGW_SRC_STATS_MATH_INTERNAL_H_

#include <cstdint>

namespace inferencegw::internal {

// The standard normal CDF, and its inverse for p in (0, 1) (to double precision; +-infinity at
// 0 and 1, NaN outside).
double NormalCdf(double x);
double NormalQuantile(double p);

// The CDF of Student's t with `df` > 0 degrees of freedom (the normal CDF when df is infinite),
// and its inverse for p in (0, 1).
double StudentTCdf(double t, double df);
double StudentTQuantile(double p, double df);

// The regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
double RegularizedIncompleteBeta(double a, double b, double x);

// Not thread-safe. Draws from one 64-bit seed: the k-th 64-bit value is
// SplitMix64(seed + k * kGoldenGamma), so a seed always gives the same draws on every platform
// (no std:: distribution, whose algorithms differ between standard libraries).
class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : next_(seed) {}

  uint64_t NextU64();
  double OpenUnit();                // uniform in (0, 1)
  double StandardNormal();          // Box-Muller
  double Gamma(double shape);       // REQUIRES: shape > 0. Marsaglia-Tsang.
  double Beta(double a, double b);  // REQUIRES: a, b > 0

 private:
  uint64_t next_;
};

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_STATS_MATH_INTERNAL_H_
