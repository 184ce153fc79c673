// Internal: calendar arithmetic shared by the parsers of HTTP dates (Retry-After) and RFC 3339
// times (rate-limit resets, client-key expiry) and by FormatRfc3339.
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

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's civil_from_days): the
// inverse of DaysFromCivil.
constexpr CivilDate CivilFromDays(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  return {yoe + era * 400 + (month <= 2), month, day};
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
static_assert(CivilFromDays(11017).year == 2000 && CivilFromDays(11017).month == 3 &&
              CivilFromDays(11017).day == 1);
static_assert(CivilFromDays(-1).year == 1969 && CivilFromDays(-1).day == 31);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_CIVIL_TIME_INTERNAL_H_
