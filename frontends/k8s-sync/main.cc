// inferencegw-k8s-sync: keeps the inferencegw-proxy configuration in step with the
// InferenceBackend / InferenceRoute objects of a Kubernetes cluster. See docs/kubernetes.md.
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "credentials.h"
#include "flags.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "kube_client.h"
#include "kube_config.h"
#include "log.h"
#include "syncer.h"

namespace inferencegw::k8s {
namespace {

// --check: load with the library, print every issue (errors, then warnings), exit 1 on errors.
int RunCheck(const std::string& path) {
  absl::StatusOr<ConfigSet> config = LoadConfigFromPath(path);
  if (!config.ok()) {
    std::cout << std::string(config.status().message()) << "\n";
    return 1;
  }
  for (const ConfigIssue& issue : ConfigWarnings(*config)) {
    std::cout << "warning: " << issue.ToString() << "\n";
  }
  std::cout << "ok: " << config->backends.size() << " backends, " << config->routes.size()
            << " routes, " << config->secrets.size() << " secrets\n";
  return 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<SyncOptions> options = ParseFlags(argc, argv);
  if (!options.ok()) {
    std::cerr << "inferencegw-k8s-sync: " << std::string(options.status().message())
              << "\nRun with --help for usage.\n";
    return 2;
  }
  if (options->help) {
    std::cout << UsageText();
    return 0;
  }
  if (options->version) {
    std::cout << "inferencegw-k8s-sync 0.1.0\n";
    return 0;
  }
  if (!options->check_path.empty()) return RunCheck(options->check_path);
  SetLogLevel(options->log_level);

  // Signals are taken by one thread with sigwait; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // internal: ends the signal thread after a normal exit
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ConfigSources sources = ConfigSourcesFromEnvironment();
  sources.kubeconfig_flag = options->kubeconfig;
  sources.context = options->context;
  absl::StatusOr<ClusterConfig> cluster = ResolveClusterConfig(sources);
  if (!cluster.ok()) {
    Log(LogLevel::kError, "no usable cluster configuration",
        {{"error", std::string(cluster.status().message())}});
    return 1;
  }
  Log(LogLevel::kInfo, "starting",
      {{"server", cluster->server},
       {"config", cluster->source},
       {"namespaces", options->namespaces.empty()
                          ? std::string("*")
                          : fmt::format("{}", fmt::join(options->namespaces, ","))},
       {"output", options->output}});
  if (!cluster->tls_server_name.empty()) {
    Log(LogLevel::kWarning, "tls-server-name is not supported and is ignored");
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  int exit_code;
  {
    Credentials credentials(*std::move(cluster));
    Canceller canceller;
    Syncer syncer(*options, &credentials, &canceller);
    std::thread signal_thread([&] {
      int sig = 0;
      while (sigwait(&signals, &sig) == 0) {
        if (sig == SIGUSR1) return;
        if (sig == SIGTERM || sig == SIGINT) {
          Log(LogLevel::kInfo, "shutting down", {{"signal", std::to_string(sig)}});
          canceller.Cancel();
          syncer.Poke();
          return;
        }
      }
    });
    exit_code = syncer.Run();
    // Ends the sigwait if no signal did (a thread that already returned ignores it).
    pthread_kill(signal_thread.native_handle(), SIGUSR1);
    signal_thread.join();
  }
  curl_global_cleanup();
  return exit_code;
}

}  // namespace
}  // namespace inferencegw::k8s

int main(int argc, char** argv) { return inferencegw::k8s::Main(argc, argv); }
