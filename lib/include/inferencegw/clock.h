// Time for the library. Nothing in lib/ reads the time by itself: a caller owns a Clock and
// passes `clock.Now()` into every call that needs the time.
//
//   inferencegw::SimulatedClock clock;            // starts at 0
//   clock.AdvanceBy(inferencegw::Seconds(2));
//   limiter.Admit(policy, key, 0, clock.Now());   // sees 2 s of refill
#ifndef INFERENCEGW_CLOCK_H_
#define INFERENCEGW_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace inferencegw {

// A point on a monotonic clock, in nanoseconds from an arbitrary epoch.
using TimeNs = int64_t;
// A span of time in nanoseconds.
using DurationNs = int64_t;

inline constexpr DurationNs kNanosPerMicro = 1'000;
inline constexpr DurationNs kNanosPerMilli = 1'000'000;
inline constexpr DurationNs kNanosPerSecond = 1'000'000'000;

constexpr DurationNs Milliseconds(int64_t ms) { return ms * kNanosPerMilli; }
constexpr DurationNs Seconds(int64_t s) { return s * kNanosPerSecond; }
constexpr double ToSeconds(DurationNs d) { return static_cast<double>(d) / kNanosPerSecond; }

// Thread-safe. The source of time for a frontend or a simulation.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time. Never goes backwards.
  virtual TimeNs Now() const = 0;
  // Wall-clock time in nanoseconds since the Unix epoch, for timestamps shown to people.
  virtual int64_t UnixNanos() const = 0;
};

// Thread-safe. Reads std::chrono::steady_clock and system_clock.
class RealClock final : public Clock {
 public:
  TimeNs Now() const override;
  int64_t UnixNanos() const override;
  // A process-wide instance; never destroyed.
  static const RealClock& Get();
};

// Thread-safe. Time moves only when told to. Wall time is `unix_epoch_nanos + Now()`.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(TimeNs start = 0,
                          int64_t unix_epoch_nanos = 1'700'000'000LL * kNanosPerSecond)
      : now_(start), unix_epoch_nanos_(unix_epoch_nanos) {}

  TimeNs Now() const override { return now_.load(std::memory_order_acquire); }
  int64_t UnixNanos() const override { return unix_epoch_nanos_ + Now(); }

  // REQUIRES: d >= 0.
  void AdvanceBy(DurationNs d) { now_.fetch_add(d, std::memory_order_acq_rel); }
  // REQUIRES: t >= Now() (time never goes backwards).
  void SetTo(TimeNs t) { now_.store(t, std::memory_order_release); }

 private:
  std::atomic<TimeNs> now_;
  const int64_t unix_epoch_nanos_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_CLOCK_H_
