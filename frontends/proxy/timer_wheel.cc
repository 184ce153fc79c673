#include "timer_wheel.h"

#include <algorithm>

namespace inferencegw::proxy {

TimerWheel::TimerWheel(asio::io_context& io) : timer_(io), epoch_(Clock::now()), slots_(kSlots) {}

TimerWheel::~TimerWheel() { timer_.cancel(); }

int64_t TimerWheel::TickOf(Clock::time_point t) const {
  const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch_).count();
  const int64_t slot = std::chrono::duration_cast<std::chrono::nanoseconds>(kSlot).count();
  return since <= 0 ? 0 : (since + slot - 1) / slot;
}

void TimerWheel::Insert(WheelTimer* timer) {
  Link& head = slots_[static_cast<size_t>(timer->expiry_tick_) % kSlots];
  timer->prev = head.prev;
  timer->next = &head;
  head.prev->next = timer;
  head.prev = timer;
  ++armed_;
  Schedule();
}

void TimerWheel::Remove(WheelTimer* timer) {
  timer->prev->next = timer->next;
  timer->next->prev = timer->prev;
  timer->prev = timer->next = timer;
  --armed_;
}

void TimerWheel::Schedule() {
  if (ticking_ || armed_ == 0) return;
  ticking_ = true;
  timer_.expires_at(epoch_ + kSlot * (done_tick_ + 1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    ticking_ = false;
    if (!ec) OnTick();
  });
}

void TimerWheel::OnTick() {
  const int64_t now_tick = TickOf(Clock::now());
  // Move every due timer of the slots that became due since the last tick onto a local list
  // (at most one full turn: later turns share slots and are told apart by their expiry tick).
  // Timers stay counted as armed there, so a callback can cancel or re-arm any of them.
  Link due;
  const int64_t first = std::max(done_tick_ + 1, now_tick - static_cast<int64_t>(kSlots) + 1);
  for (int64_t tick = first; tick <= now_tick; ++tick) {
    Link& head = slots_[static_cast<size_t>(tick) % kSlots];
    for (Link* link = head.next; link != &head;) {
      Link* next = link->next;
      if (static_cast<WheelTimer*>(link)->expiry_tick_ <= now_tick) {
        link->prev->next = link->next;
        link->next->prev = link->prev;
        link->prev = due.prev;
        link->next = &due;
        due.prev->next = link;
        due.prev = link;
      }
      link = next;
    }
  }
  done_tick_ = std::max(done_tick_, now_tick);
  while (due.next != &due) {
    auto* timer = static_cast<WheelTimer*>(due.next);
    Remove(timer);
    timer->armed_ = false;
    timer->on_expiry_();
  }
  Schedule();
}

WheelTimer::WheelTimer(TimerWheel& wheel, std::function<void()> on_expiry)
    : wheel_(wheel), on_expiry_(std::move(on_expiry)) {}

WheelTimer::~WheelTimer() { Cancel(); }

void WheelTimer::Arm(std::chrono::nanoseconds delay) {
  Cancel();
  // Never in a slot already processed: at least the next tick.
  expiry_tick_ = std::max(wheel_.TickOf(TimerWheel::Clock::now() + delay), wheel_.done_tick_ + 1);
  armed_ = true;
  wheel_.Insert(this);
}

void WheelTimer::Cancel() {
  if (!armed_) return;
  armed_ = false;
  wheel_.Remove(this);
}

}  // namespace inferencegw::proxy
