#include "inferencegw/model_directory.h"

#include <algorithm>

#include "fmt/format.h"
#include "inferencegw/provider.h"
#include "inferencegw/translate.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

// A model name or version usable as one path segment: not empty, not "." or "..", no '/'.
bool IsSegment(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos;
}

void WriteRouting(internal::JsonWriter& w, const RouteTable& table, std::string_view id) {
  w.Key("inferencegw").BeginObject();
  const std::optional<ModelRouting> r = RouteOfModel(table, id);
  if (r.has_value()) {
    w.Key("route").String(r->route->key);
    w.Key("backend").String(r->backend->key);
    w.Key("backend_model").String(r->backend_model);
  } else {
    w.Key("route").Null().Key("backend").Null().Key("backend_model").Null();
  }
  w.EndObject();
}

void WriteModel(internal::JsonWriter& w, const RouteTable& table, std::string_view id,
                ModelsShape shape, int64_t created) {
  w.BeginObject();
  if (shape == ModelsShape::kAnthropic) {
    w.Key("type").String("model");
    w.Key("id").String(id);
    w.Key("display_name").String(id);
    w.Key("created_at").String(FormatRfc3339(created));
  } else {
    w.Key("id").String(id);
    w.Key("object").String("model");
    w.Key("created").Int(created);
    w.Key("owned_by").String("inferencegw");
  }
  WriteRouting(w, table, id);
  w.EndObject();
}

ModelGet Answer(int status, std::string body) {
  ModelGet out;
  out.kind = ModelGet::Kind::kAnswer;
  out.status = status;
  out.body = std::move(body);
  return out;
}

ModelGet Forward(std::string_view model) {
  ModelGet out;
  out.kind = ModelGet::Kind::kForward;
  out.model = model;
  return out;
}

// The model of /v2/models/{m}[/versions/{v}][/ready], or "" when `rest` (after "/v2/models/")
// is not of that form.
std::string_view V2Model(std::string_view rest) {
  if (rest.ends_with("/ready")) rest.remove_suffix(6);
  const size_t slash = rest.find('/');
  const std::string_view model = rest.substr(0, slash);
  if (!IsSegment(model)) return {};
  if (slash == std::string_view::npos) return model;
  std::string_view version = rest.substr(slash);
  constexpr std::string_view kVersions = "/versions/";
  if (!version.starts_with(kVersions) || !IsSegment(version.substr(kVersions.size()))) return {};
  return model;
}

}  // namespace

std::optional<ModelRouting> RouteOfModel(const RouteTable& table, std::string_view id) {
  RequestView view;
  view.method = "POST";
  view.path = "/v1/chat/completions";
  view.model = id;
  Decision d;
  if (table.Decide(view, /*entropy=*/0, /*now=*/0, &d) != DecisionStatus::kOk ||
      d.picked == kNoBackend) {
    return std::nullopt;
  }
  ModelRouting out;
  out.route = d.route;
  out.backend = &table.backend(d.picked);
  out.backend_model = out.backend->model.empty() ? id : std::string_view(out.backend->model);
  return out;
}

bool IsKnownModel(const RouteTable& table, std::string_view id) {
  const auto& served = table.served_models();
  if (std::binary_search(served.begin(), served.end(), id)) return true;
  for (const CompiledRoute& route : table.routes()) {
    for (const std::string& pattern : route.config->spec.models) {
      if (GlobMatch(pattern, id)) return true;
    }
  }
  return false;
}

std::string RenderModelsList(const RouteTable& table, ModelsShape shape,
                             int64_t created_unix_seconds) {
  const auto& served = table.served_models();
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject();
  if (shape == ModelsShape::kOpenAI) w.Key("object").String("list");
  w.Key("data").BeginArray();
  for (const std::string& model : served) {
    WriteModel(w, table, model, shape, created_unix_seconds);
  }
  w.EndArray();
  if (shape == ModelsShape::kAnthropic) {
    w.Key("has_more").Bool(false);
    if (served.empty()) {
      w.Key("first_id").Null().Key("last_id").Null();
    } else {
      w.Key("first_id").String(served.front()).Key("last_id").String(served.back());
    }
  }
  w.EndObject();
  return out;
}

std::optional<std::string> RenderModel(const RouteTable& table, std::string_view id,
                                       ModelsShape shape, int64_t created_unix_seconds) {
  if (!IsKnownModel(table, id)) return std::nullopt;
  std::string out;
  internal::JsonWriter w(&out);
  WriteModel(w, table, id, shape, created_unix_seconds);
  return out;
}

std::string ModelNotFoundBody(std::string_view id, ModelsShape shape) {
  const std::string message =
      fmt::format("The model '{}' does not exist or is not served by this gateway", id);
  if (shape == ModelsShape::kAnthropic) return AnthropicErrorJson("not_found_error", message);
  return OpenAIErrorJson(message, "invalid_request_error", "model_not_found");
}

ModelGet ResolveModelGet(const RouteTable& table, std::string_view path, ModelsShape shape,
                         int64_t created_unix_seconds, TimeNs now) {
  constexpr std::string_view kV1 = "/v1/models/", kV2 = "/v2/models/";
  if (path == "/v1/models" || path == "/v1/models/") {
    return Answer(200, RenderModelsList(table, shape, created_unix_seconds));
  }
  if (path.starts_with(kV1)) {
    const std::string_view id = path.substr(kV1.size());
    if (!IsSegment(id)) return {};
    if (shape == ModelsShape::kOpenAI) {
      const std::optional<ModelRouting> r = RouteOfModel(table, id);
      if (r.has_value() && r->backend->type != BackendType::kExternal) return Forward(id);
    }
    std::optional<std::string> body = RenderModel(table, id, shape, created_unix_seconds);
    if (!body.has_value()) return Answer(404, ModelNotFoundBody(id, shape));
    return Answer(200, *std::move(body));
  }
  if (path.starts_with(kV2)) {
    const std::string_view model = V2Model(path.substr(kV2.size()));
    if (model.empty()) return {};
    return Forward(model);
  }
  if (path == "/v2/health/live") return Answer(200, R"({"live":true})");
  if (path == "/v2/health/ready") {
    const bool ready = std::any_of(table.backends().begin(), table.backends().end(),
                                   [now](const CompiledBackend& b) {
                                     return b.health != nullptr && b.health->IsAvailable(now);
                                   });
    return ready ? Answer(200, R"({"ready":true})") : Answer(503, R"({"ready":false})");
  }
  return {};
}

}  // namespace inferencegw
