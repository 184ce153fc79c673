#include "inferencegw/clock.h"

#include <chrono>

namespace inferencegw {

TimeNs RealClock::Now() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t RealClock::UnixNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const RealClock& RealClock::Get() {
  static const RealClock* const clock = new RealClock();
  return *clock;
}

}  // namespace inferencegw
