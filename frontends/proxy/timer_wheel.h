// Coarse timers for one event loop: a hashed timing wheel with 10 ms slots, driven by a single
// asio::steady_timer that ticks only while some timer is armed. Arming, re-arming and cancelling
// are O(1), allocate nothing and make no system call. An asio timer per timeout would instead
// reprogram the kernel timer (timerfd_settime) whenever the earliest deadline moves — several
// times per request, and expensive in virtual machines. A timer fires no earlier than its delay
// and at most one slot (plus loop latency) later: right for timeouts and backoffs, not for
// precise scheduling.
//
//   TimerWheel wheel(io);
//   WheelTimer timeout(wheel, [this] { OnTimeout(); });   // a member of its owner
//   timeout.Arm(std::chrono::seconds(30));
//   timeout.Cancel();
#ifndef INFERENCEGW_PROXY_TIMER_WHEEL_H_
#define INFERENCEGW_PROXY_TIMER_WHEEL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "asio_beast.h"

namespace inferencegw::proxy {

class WheelTimer;

// Not thread-safe; used only from its loop's thread. Must outlive its WheelTimers.
class TimerWheel {
 public:
  static constexpr std::chrono::milliseconds kSlot{10};
  static constexpr size_t kSlots = 512;  // one turn: 5.12 s; longer delays wait for their turn

  explicit TimerWheel(asio::io_context& io);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  size_t armed() const { return armed_; }

 private:
  friend class WheelTimer;
  using Clock = std::chrono::steady_clock;

  // Sentinel of one slot's circular doubly-linked list.
  struct Link {
    Link* prev = this;
    Link* next = this;
  };

  int64_t TickOf(Clock::time_point t) const;  // the first tick at or after t
  void Insert(WheelTimer* timer);
  void Remove(WheelTimer* timer);
  void Schedule();
  void OnTick();

  asio::steady_timer timer_;
  const Clock::time_point epoch_;
  int64_t done_tick_ = 0;  // every slot up to this tick has been processed
  std::vector<Link> slots_;
  size_t armed_ = 0;
  bool ticking_ = false;
};

// One timer, embedded in its owner, with a callback fixed at construction (it may capture the
// owner's `this`: the timer is cancelled when destroyed). Not thread-safe; loop thread only.
class WheelTimer : private TimerWheel::Link {
 public:
  WheelTimer(TimerWheel& wheel, std::function<void()> on_expiry);
  ~WheelTimer();
  WheelTimer(const WheelTimer&) = delete;
  WheelTimer& operator=(const WheelTimer&) = delete;

  // (Re)arms: the callback runs once, no earlier than `delay` from now.
  void Arm(std::chrono::nanoseconds delay);
  void Cancel();
  bool armed() const { return armed_; }

 private:
  friend class TimerWheel;
  TimerWheel& wheel_;
  std::function<void()> on_expiry_;
  int64_t expiry_tick_ = 0;
  bool armed_ = false;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_TIMER_WHEEL_H_
