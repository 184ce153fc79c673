// The simulator: inferencegw._core.Simulator. Scenarios arrive normalized by
// inferencegw._scenario (times in integer nanoseconds); results leave as buffer Columns plus a
// summary dict. The run itself holds no Python objects and releases the GIL.
#include <optional>

#include "bindings.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment.h"
#include "inferencegw/simulator.h"

namespace inferencegw::python {

namespace {

uint64_t Seed(py::handle seed) {
  if (!py::isinstance<py::int_>(seed) || py::isinstance<py::bool_>(seed)) {
    throw py::type_error("seed must be an int");
  }
  // Any int is accepted; it is reduced modulo 2**64.
  return PyLong_AsUnsignedLongLongMask(seed.ptr());
}

BackendScenario BackendFrom(const py::dict& d) {
  BackendScenario s;
  if (d.contains("latency")) {
    py::tuple t = d["latency"].cast<py::tuple>();
    const std::string kind = t[0].cast<std::string>();
    if (kind == "fixed") {
      s.latency = LatencyModel::Fixed(t[1].cast<int64_t>());
    } else if (kind == "uniform") {
      s.latency = LatencyModel::Uniform(t[1].cast<int64_t>(), t[2].cast<int64_t>());
    } else if (kind == "lognormal") {
      s.latency = LatencyModel::LogNormal(t[1].cast<int64_t>(), t[2].cast<double>());
    } else {
      throw py::value_error("unknown latency distribution \"" + kind + "\"");
    }
  }
  if (d.contains("latency_per_output_token")) {
    s.latency.per_output_token = d["latency_per_output_token"].cast<int64_t>();
  }
  if (d.contains("outages")) {
    for (py::handle w : d["outages"]) {
      py::tuple t = py::reinterpret_borrow<py::tuple>(w);
      s.outages.push_back({t[0].cast<int64_t>(), t[1].cast<int64_t>()});
    }
  }
  if (d.contains("failure_rate")) s.failure_rate = d["failure_rate"].cast<double>();
  if (d.contains("rate_429")) s.rate_429 = d["rate_429"].cast<double>();
  if (d.contains("error_status")) s.error_status = d["error_status"].cast<int>();
  if (d.contains("retry_after")) s.retry_after = d["retry_after"].cast<int64_t>();
  if (d.contains("error_latency")) s.error_latency = d["error_latency"].cast<int64_t>();
  if (d.contains("connect_latency")) s.connect_latency = d["connect_latency"].cast<int64_t>();
  return s;
}

py::dict TotalsDict(const LedgerRow& row) {
  py::dict d;
  d["currency"] = row.currency;
  d["requests"] = row.totals.requests;
  d["input_tokens"] = row.totals.input_tokens;
  d["output_tokens"] = row.totals.output_tokens;
  d["cached_input_tokens"] = row.totals.cached_input_tokens;
  d["cache_write_input_tokens"] = row.totals.cache_write_input_tokens;
  d["cost"] = static_cast<double>(row.totals.cost) / static_cast<double>(kPicosPerUnit);
  d["cost_pico"] = row.totals.cost;
  return d;
}

py::dict HealthDict(const BackendHealthSnapshot& s) {
  py::dict d;
  d["health"] = std::string(HealthStateName(s.health));
  d["breaker"] = std::string(BreakerStateName(s.breaker));
  d["available"] = s.available;
  d["total_requests"] = s.total_requests;
  d["total_failures"] = s.total_failures;
  d["consecutive_failures"] = s.consecutive_failures;
  return d;
}

py::dict SummaryDict(const SimulationSummary& s) {
  py::dict out;
  out["requests"] = s.requests;
  out["succeeded"] = s.succeeded;
  out["failed"] = s.failed;
  out["throttled"] = s.throttled;
  out["not_routed"] = s.not_routed;
  out["unauthenticated"] = s.unauthenticated;
  py::dict statuses;
  for (const auto& [status, count] : s.status_counts) statuses[py::int_(status)] = count;
  out["status_counts"] = statuses;
  py::dict throttles;
  for (const SimulationSummary::Throttle& t : s.throttles) {
    py::dict d;
    d["requests"] = t.by_requests;
    d["tokens"] = t.by_tokens;
    d["budget"] = t.by_budget;
    throttles[py::str(t.route)] = d;
  }
  out["throttles"] = throttles;
  out["throttled_users"] = s.throttled_users;
  py::list fallbacks;
  uint64_t fallback_requests = 0;
  for (const SimulationSummary::Fallback& f : s.fallbacks) {
    py::dict d;
    d["route"] = f.route;
    d["from"] = f.from;
    d["to"] = f.to.empty() ? py::object(py::none()) : py::object(py::str(f.to));
    d["requests"] = f.requests;
    fallbacks.append(d);
    fallback_requests += f.requests;
  }
  out["fallbacks"] = fallbacks;
  out["fallback_requests"] = fallback_requests;
  py::dict backends;
  for (const SimulatedBackendStats& b : s.backends) {
    py::dict d;
    d["served"] = b.served;
    d["sent"] = b.sent;
    d["ok"] = b.ok;
    d["connect_errors"] = b.connect_errors;
    d["timeouts"] = b.timeouts;
    d["status_5xx"] = b.status_5xx;
    d["status_429"] = b.status_429;
    d["breaker_open_skips"] = b.breaker_open_skips;
    d["overloaded_skips"] = b.overloaded_skips;
    d["unhealthy_skips"] = b.unhealthy_skips;
    d["latency_p50"] = SecondsOf(b.latency_p50);
    d["latency_p95"] = SecondsOf(b.latency_p95);
    d["latency_p99"] = SecondsOf(b.latency_p99);
    d["final_health"] = HealthDict(b.final_health);
    backends[py::str(b.backend)] = d;
  }
  out["backends"] = backends;
  // The cost ledger, by dimension; a name seen in two currencies gets " (CUR)" appended.
  py::dict cost;
  for (const char* dim : {"route", "backend", "arm", "user"}) cost[dim] = py::dict();
  py::dict totals;
  for (const LedgerRow& row : s.ledger_totals) totals[py::str(row.currency)] = TotalsDict(row);
  cost["total"] = totals;
  for (const LedgerRow& row : s.ledger) {
    py::dict dim = cost[py::str(row.dimension)].cast<py::dict>();
    std::string name = row.name;
    if (dim.contains(name)) name += " (" + row.currency + ")";
    dim[py::str(name)] = TotalsDict(row);
  }
  out["cost"] = cost;
  py::list experiments;
  for (const ExperimentStatsRow& e : s.experiments) {
    py::dict d;
    d["route"] = e.route;
    d["experiment"] = e.experiment;
    d["arm"] = std::string(ArmName(e.arm));
    d["requests"] = e.requests;
    d["errors"] = e.errors;
    d["error_rate"] = e.error_rate;
    d["latency_p50"] = SecondsOf(e.latency_p50);
    d["latency_p95"] = SecondsOf(e.latency_p95);
    d["latency_p99"] = SecondsOf(e.latency_p99);
    d["input_tokens"] = e.input_tokens;
    d["output_tokens"] = e.output_tokens;
    d["cost"] = static_cast<double>(e.cost) / static_cast<double>(kPicosPerUnit);
    experiments.append(d);
  }
  out["experiments"] = experiments;
  out["start"] = SecondsOf(s.start);
  out["end"] = SecondsOf(s.end);
  out["duration"] = SecondsOf(s.end - s.start);
  out["events"] = s.events;
  out["max_in_flight"] = s.max_in_flight;
  out["replicas"] = s.replicas;
  return out;
}

class PySimulator {
 public:
  PySimulator(const PyConfig& config, py::handle spec, py::handle seed, bool probes,
              size_t max_users, int replicas, bool shared_store) {
    Scenario scenario;
    if (!spec.is_none()) {
      for (py::handle entry : spec) {
        py::tuple t = py::reinterpret_borrow<py::tuple>(entry);
        const std::string name = t[0].cast<std::string>();
        const BackendScenario behaviour = BackendFrom(t[1].cast<py::dict>());
        if (name.empty()) {
          scenario.defaults = behaviour;
        } else {
          scenario.backends[name] = behaviour;
        }
      }
    }
    SimulatorOptions options;
    options.seed = Seed(seed);
    options.probes = probes;
    options.max_users = max_users;
    options.replicas = replicas;
    options.shared_store = shared_store;
    absl::StatusOr<std::unique_ptr<Simulator>> sim =
        Simulator::Create(*config.config, std::move(scenario), options);
    if (!sim.ok()) {
      if (absl::IsInvalidArgument(sim.status()) &&
          MessageOf(sim.status()).rfind("scenario", 0) == 0) {
        throw py::value_error(MessageOf(sim.status()));
      }
      throw ConfigLoadError(MessageOf(sim.status()));
    }
    sim_ = *std::move(sim);
  }

  py::dict Run(const PyTrace& trace) const {
    absl::StatusOr<SimulationResult> result;
    {
      py::gil_scoped_release release;
      result = sim_->Run(*trace.trace);
    }
    if (!result.ok()) throw py::value_error(MessageOf(result.status()));
    SimulationResult& r = *result;
    py::dict columns;
    columns["route"] = MakeColumn(std::move(r.route));
    columns["backend"] = MakeColumn(std::move(r.backend));
    columns["experiment"] = MakeColumn(std::move(r.experiment));
    columns["arm"] = MakeColumn(std::move(r.arm));
    columns["attempts"] = MakeColumn(std::move(r.attempts));
    columns["throttled"] = MakeColumn(std::move(r.throttled));
    columns["fallback"] = MakeColumn(std::move(r.fallback));
    columns["status"] = MakeColumn(std::move(r.status));
    // Integers as the library keeps them; inferencegw._simulation derives cost and latency
    // (floats) when they are read.
    columns["cost_pico"] = MakeColumn(std::move(r.cost));
    columns["latency_ns"] = MakeColumn(std::move(r.latency));
    columns["input_tokens"] = MakeColumn(std::move(r.input_tokens));
    columns["output_tokens"] = MakeColumn(std::move(r.output_tokens));
    columns["reason"] = MakeColumn(std::move(r.reason));
    columns["replica"] = MakeColumn(std::move(r.replica));
    py::dict names;
    names["route"] = r.route_names;
    names["backend"] = r.backend_names;
    names["experiment"] = r.experiment_names;
    names["reason"] = r.reason_names;
    py::dict out;
    out["columns"] = columns;
    out["names"] = names;
    out["summary"] = SummaryDict(r.summary);
    out["experiment_samples"] =
        MakeExperimentSamples(sim_->config(), std::move(r.summary.experiment_samples));
    return out;
  }

  std::vector<std::string> Backends() const {
    std::vector<std::string> out;
    for (const CompiledBackend& b : sim_->table().backends()) out.push_back(b.key);
    return out;
  }

 private:
  std::unique_ptr<Simulator> sim_;
};

}  // namespace

void init_simulator(py::module_& m) {
  py::class_<PySimulator>(m, "Simulator", "The trace simulator (see inferencegw.Simulator).")
      .def(py::init<const PyConfig&, py::handle, py::handle, bool, size_t, int, bool>(),
           py::arg("config"), py::arg("scenario"), py::arg("seed"), py::arg("probes"),
           py::arg("max_users"), py::arg("replicas"), py::arg("shared_store"))
      .def("run", &PySimulator::Run, py::arg("trace"),
           "Replays the trace; returns {columns, names, summary}. Releases the GIL.")
      .def_property_readonly("backends", &PySimulator::Backends);
}

}  // namespace inferencegw::python
