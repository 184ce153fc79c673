#include "inferencegw/clock.h"

#include <catch2/catch.hpp>

namespace inferencegw {
namespace {

// A simulated clock moves only when told to, and its wall time follows its monotonic time.
TEST_CASE("SimulatedClock advances only on request") {
  SimulatedClock clock(Seconds(5));
  CHECK(clock.Now() == Seconds(5));
  CHECK(clock.Now() == Seconds(5));
  clock.AdvanceBy(Milliseconds(250));
  CHECK(clock.Now() == Seconds(5) + Milliseconds(250));
  clock.SetTo(Seconds(10));
  CHECK(clock.Now() == Seconds(10));
  CHECK(clock.UnixNanos() == 1'700'000'000LL * kNanosPerSecond + Seconds(10));
}

// The real clock is monotonic and its wall time is after 2020.
TEST_CASE("RealClock is monotonic") {
  const Clock& clock = RealClock::Get();
  TimeNs a = clock.Now();
  TimeNs b = clock.Now();
  CHECK(b >= a);
  CHECK(clock.UnixNanos() > 1'577'836'800LL * kNanosPerSecond);
}

}  // namespace
}  // namespace inferencegw
