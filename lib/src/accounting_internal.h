// Internal: arithmetic and formatting shared by the cost ledger and the experiment statistics.
#ifndef INFERENCEGW_SRC_ACCOUNTING_INTERNAL_H_
#define INFERENCEGW_SRC_ACCOUNTING_INTERNAL_H_

#include <cstdint>
#include <limits>
#include <string>

#include "inferencegw/cost_ledger.h"

namespace inferencegw::internal {

// a + b, clamped to the int64 range instead of wrapping.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

// a * b, clamped to the int64 range instead of wrapping.
inline int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t product;
  if (__builtin_mul_overflow(a, b, &product)) {
    return (a < 0) != (b < 0) ? std::numeric_limits<int64_t>::min()
                              : std::numeric_limits<int64_t>::max();
  }
  return product;
}

// A cost as exact JSON number text: all 12 decimals, trailing zeros dropped ("0.06", "12", "-1.5").
std::string CostJsonNumber(PicoUnits cost);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_ACCOUNTING_INTERNAL_H_
