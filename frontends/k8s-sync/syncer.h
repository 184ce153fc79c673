// The syncer's control loop: reflectors for every watched type and namespace, a render after
// each change (debounced), the atomic write of --output, health polls, and status writes on
// the leader.
//
//   Syncer syncer(options, &credentials, &canceller);
//   return syncer.Run();   // until canceller.Cancel(); with --once, after one pass
#ifndef INFERENCEGW_K8S_SYNC_SYNCER_H_
#define INFERENCEGW_K8S_SYNC_SYNCER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "credentials.h"
#include "flags.h"
#include "kube_client.h"
#include "leader_election.h"
#include "object_status.h"
#include "reflector.h"
#include "renderer.h"
#include "status_writer.h"

namespace inferencegw::k8s {

// Run() on one thread; Poke() from any.
class Syncer {
 public:
  Syncer(SyncOptions options, Credentials* credentials, Canceller* canceller);
  ~Syncer();

  // Returns the process exit code: 0 after a clean shutdown (or a successful --once), 1 when
  // --once could not list, render or write.
  int Run();

  // Asks for a render soon (called by reflectors and the leader elector).
  void Poke();

 private:
  ClusterState Snapshot() const;
  bool AllSynced() const;
  bool WaitForSync();
  // One render + write + status pass. Returns false when something failed.
  bool Pass(bool status_due);
  void StartThreads();
  void StopThreads();

  const SyncOptions options_;
  Credentials* const credentials_;
  Canceller* const canceller_;
  KubeClient client_;
  StatusWriter status_writer_;  // Run()'s thread only
  std::vector<std::unique_ptr<Reflector>> backends_;
  std::vector<std::unique_ptr<Reflector>> routes_;
  std::vector<std::unique_ptr<Reflector>> secrets_;
  std::vector<std::unique_ptr<Reflector>> services_;
  std::vector<std::unique_ptr<Reflector>> inference_services_;
  std::unique_ptr<LeaderElector> elector_;
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;  // guarded by mu_

  // Loop state (Run()'s thread only).
  HealthMap health_;
  std::chrono::steady_clock::time_point health_good_at_{};
  std::string last_problems_;  // the last logged warnings and errors, to log changes only
  bool wrote_once_ = false;
};

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_SYNCER_H_
