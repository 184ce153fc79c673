// Routing decisions: inferencegw._core.Router and Decision. The decision is RouteTable::Decide's,
// on a request view built by the simulator's RequestBuilder, so Router and Simulator see a
// request exactly alike.
#include <optional>

#include "bindings.h"
#include "inferencegw/experiment.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/simulator.h"

namespace inferencegw::python {

namespace {

struct PyDecision {
  std::string status;  // "ok", "unknown_route", "no_route", "no_backend", "unauthenticated"
  std::optional<std::string> route;
  int rule = -1;
  std::optional<std::string> picked;
  std::optional<std::string> backend;  // the plan's first backend
  std::optional<std::string> experiment;
  std::string arm = "none";
  std::string user_key;
  uint64_t user_hash = 0;
  std::vector<std::string> plan;
  bool panic = false;
  std::optional<std::string> reason;  // why not routed, and what would route it; None when ok

  py::dict ToDict() const {
    py::dict d;
    d["status"] = status;
    d["route"] = route;
    d["rule"] = rule;
    d["picked"] = picked;
    d["backend"] = backend;
    d["experiment"] = experiment;
    d["arm"] = arm;
    d["user_key"] = user_key;
    d["user_hash"] = user_hash;
    d["plan"] = plan;
    d["panic"] = panic;
    d["reason"] = reason;
    return d;
  }
};

constexpr const char* kRequestFields = "method, path, headers, model, user";

// A str field of the request dict, or `fallback` when absent or None.
std::string TextField(const py::dict& request, const char* name, const char* fallback) {
  if (!request.contains(name)) return fallback;
  py::handle v = request[name];
  if (v.is_none()) return fallback;
  if (!py::isinstance<py::str>(v)) {
    throw py::type_error(std::string("request[\"") + name + "\"] must be str, got " +
                         std::string(py::str(py::type::of(v).attr("__name__"))));
  }
  return v.cast<std::string>();
}

class PyRouter {
 public:
  explicit PyRouter(const PyConfig& config) : config_(config.config) {
    absl::StatusOr<std::shared_ptr<const RouteTable>> table = RouteTable::Create(*config_, health_);
    if (!table.ok()) throw ConfigLoadError(MessageOf(table.status()));
    table_ = *std::move(table);
    builder_ = std::make_unique<RequestBuilder>(*table_, *config_);
  }

  PyDecision Decide(py::handle request_obj, py::handle entropy_obj) const {
    if (!py::isinstance<py::dict>(request_obj)) {
      throw py::type_error("request must be a dict with keys among: " +
                           std::string(kRequestFields));
    }
    const py::dict request = py::reinterpret_borrow<py::dict>(request_obj);
    for (auto item : request) {
      const std::string key = py::str(item.first);
      if (key != "method" && key != "path" && key != "headers" && key != "model" && key != "user") {
        throw py::value_error("unknown request field \"" + key + "\" (allowed: " + kRequestFields +
                              ")");
      }
    }
    if (!py::isinstance<py::int_>(entropy_obj) || py::isinstance<py::bool_>(entropy_obj)) {
      throw py::type_error("entropy must be an int in [0, 2**64)");
    }
    const unsigned long long entropy = PyLong_AsUnsignedLongLong(entropy_obj.ptr());
    if (entropy == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
      PyErr_Clear();
      throw py::value_error("entropy must be in [0, 2**64)");
    }
    const std::string method = TextField(request, "method", "POST");
    const std::string path = TextField(request, "path", "/v1/chat/completions");
    const std::string model = TextField(request, "model", "");
    const std::string user = TextField(request, "user", "");
    std::vector<std::pair<std::string, std::string>> header_storage;
    std::vector<Header> headers;
    if (request.contains("headers")) {
      HeadersFrom(request["headers"], "request[\"headers\"]", &header_storage, &headers);
    }

    PyDecision out;
    HeaderBuffer buffer;
    RequestView view;
    if (!builder_->Build(method, path, model, user, headers, &buffer, &view)) {
      out.status = "unauthenticated";
      out.reason = user.empty() ? "client keys are configured and the request has no user (the "
                                  "proxy answers 401 without a key)"
                                : "no client key belongs to user \"" + user + "\" (the proxy "
                                  "answers 401)";
      return out;
    }
    Decision d;
    const DecisionStatus status = table_->Decide(view, entropy, /*now=*/0, &d);
    out.status = std::string(DecisionStatusName(status));
    if (status != DecisionStatus::kOk) out.reason = table_->ExplainStatus(view, status);
    if (d.route != nullptr) out.route = d.route->key;
    out.rule = d.rule;
    if (d.picked != kNoBackend) out.picked = table_->backend(d.picked).key;
    if (d.experiment != nullptr) out.experiment = d.experiment->name;
    out.arm = std::string(ArmName(d.arm));
    out.user_key = std::string(d.user_key);
    out.user_hash = d.user_hash;
    for (BackendIndex b : d.plan.backends) out.plan.push_back(table_->backend(b).key);
    if (!out.plan.empty()) out.backend = out.plan.front();
    out.panic = d.plan.panic;
    return out;
  }

  std::vector<std::string> Routes() const {
    std::vector<std::string> out;
    for (const CompiledRoute& r : table_->routes()) out.push_back(r.key);
    return out;
  }
  std::vector<std::string> Backends() const {
    std::vector<std::string> out;
    for (const CompiledBackend& b : table_->backends()) out.push_back(b.key);
    return out;
  }

 private:
  std::shared_ptr<const ConfigSet> config_;
  HealthTracker health_;
  std::shared_ptr<const RouteTable> table_;
  std::unique_ptr<RequestBuilder> builder_;
};

}  // namespace

void init_router(py::module_& m) {
  py::class_<PyDecision>(m, "Decision", "One routing decision (RouteTable::Decide).")
      .def_readonly("status", &PyDecision::status,
                    "\"ok\", \"unknown_route\", \"no_route\", \"no_backend\" or "
                    "\"unauthenticated\".")
      .def_readonly("route", &PyDecision::route, "The route key, or None.")
      .def_readonly("rule", &PyDecision::rule, "Index of the matched rule; -1: default backend.")
      .def_readonly("picked", &PyDecision::picked, "The rule's weighted pick (before the arm).")
      .def_readonly("backend", &PyDecision::backend, "The first backend of the plan, or None.")
      .def_readonly("experiment", &PyDecision::experiment, "The experiment that applied, or None.")
      .def_readonly("arm", &PyDecision::arm, "\"none\", \"control\" or \"treatment\".")
      .def_readonly("user_key", &PyDecision::user_key, "The user key the router saw (\"\": none).")
      .def_readonly("user_hash", &PyDecision::user_hash, "StableHash64(user_key), or 0.")
      .def_readonly("plan", &PyDecision::plan, "Backend keys in attempt order.")
      .def_readonly("panic", &PyDecision::panic, "True when no backend looked available.")
      .def_readonly("reason", &PyDecision::reason,
                    "When not ok: why, and what would route it (the proxy's 404 message); "
                    "else None.")
      .def_property_readonly("ok", [](const PyDecision& d) { return d.status == "ok"; })
      .def("to_dict", &PyDecision::ToDict)
      .def("__repr__", [](const PyDecision& d) {
        return std::string(py::str("<Decision {}>").format(d.ToDict()));
      });

  py::class_<PyRouter>(m, "Router", "Routing decisions from a compiled config. Immutable.")
      .def(py::init<const PyConfig&>(), py::arg("config"))
      .def("decide", &PyRouter::Decide, py::arg("request"), py::arg("entropy") = 0,
           "The decision for one request: a dict of method, path, headers, model, user.")
      .def_property_readonly("routes", &PyRouter::Routes)
      .def_property_readonly("backends", &PyRouter::Backends);
}

}  // namespace inferencegw::python
