// Internal: calendar arithmetic shared by the parsers of HTTP dates (Retry-After) and RFC 3339
// times (rate-limit resets).
#ifndef INFERENCEGW_SRC_CIVIL_TIME_INTERNAL_H_
#define INFERENCEGW_SRC_CIVIL_TIME_INTERNAL_H_

#include <cstdint>

namespace inferencegw::internal {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
// REQUIRES: 1 <= month <= 12.
constexpr int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr bool IsLeapYear(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// Days in `month` (1..12) of `year`.
constexpr int DaysInMonth(int64_t year, int64_t month) {
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0);
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_CIVIL_TIME_INTERNAL_H_
