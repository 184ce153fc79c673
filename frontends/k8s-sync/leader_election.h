// Leader election over a coordination.k8s.io/v1 Lease, following client-go's algorithm: every
// replica renders the config, only the leader writes status.
//
//   LeaderElector elector(&credentials, &canceller, {.ns = "igw-system", .name = "igw-sync",
//                                                    .identity = "pod-a"});
//   std::thread t([&] { elector.Run(); });   // until canceller.Cancel(); then releases
//   if (elector.IsLeader()) writer.Sync(...);
#ifndef INFERENCEGW_K8S_SYNC_LEADER_ELECTION_H_
#define INFERENCEGW_K8S_SYNC_LEADER_ELECTION_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <string>

#include "credentials.h"
#include "kube_client.h"

namespace inferencegw::k8s {

// Thread-safe: Run() on one thread, IsLeader() from any.
class LeaderElector {
 public:
  struct Options {
    std::string ns;
    std::string name;
    std::string identity;
    // client-go's defaults. REQUIRES: lease_duration > renew_deadline > 1.2 x retry_period.
    std::chrono::milliseconds lease_duration{15'000};
    std::chrono::milliseconds renew_deadline{10'000};
    std::chrono::milliseconds retry_period{2'000};
    std::function<void(bool leading)> on_change;  // called from Run()'s thread
  };

  // Requests go through a client of its own so that the release on shutdown still works after
  // `canceller` (which wakes Run() up) has fired.
  LeaderElector(Credentials* credentials, Canceller* canceller, Options options);

  // Campaigns, then renews every retry_period; leadership is lost when no renewal succeeds
  // within renew_deadline (it then campaigns again). On cancellation it releases the lease
  // if it holds it.
  void Run();

  bool IsLeader() const { return leader_.load(std::memory_order_acquire); }

 private:
  // One round of client-go's tryAcquireOrRenew. Returns true when we hold the lease after it.
  bool TryAcquireOrRenew();
  void Release();
  void SetLeader(bool leader);

  Canceller own_canceller_;  // never cancelled: for the final release
  KubeClient client_;
  Canceller* const canceller_;
  const Options options_;
  std::atomic<bool> leader_{false};
  std::mt19937_64 rng_;
  // The lease record as last seen (its spec, serialized) and when it last changed, by the
  // local monotonic clock: expiry never compares clocks of two machines.
  std::string observed_spec_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::string acquire_time_;  // our acquireTime while we lead
};

// "2026-01-01T00:00:00.000000Z" (metav1.MicroTime: always six fractional digits).
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_LEADER_ELECTION_H_
