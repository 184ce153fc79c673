// What the gateway says about models outside inference: GET /v1/models and /v1/models/{id} in
// OpenAI's or Anthropic's shape (each entry names the route and backend model it maps to), and
// which GET model paths are KServe metadata to forward to a backend (docs/proxy.md).
//
//   ModelGet get = ResolveModelGet(table, "/v1/models/gpt-4o", ModelsShape::kOpenAI, unix_now);
//   if (get.kind == ModelGet::Kind::kAnswer) reply(get.status, get.body);
//   else if (get.kind == ModelGet::Kind::kForward) forward(get.model);  // KServe passthrough
#ifndef INFERENCEGW_MODEL_DIRECTORY_H_
#define INFERENCEGW_MODEL_DIRECTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "inferencegw/route_table.h"

namespace inferencegw {

// The shape of a models answer: Anthropic's when the request carries an `anthropic-version`
// header (the Anthropic SDKs always send one), else OpenAI's.
enum class ModelsShape : uint8_t { kOpenAI, kAnthropic };

// Where a request for a model goes when it carries no routing headers.
struct ModelRouting {
  const CompiledRoute* route = nullptr;
  const CompiledBackend* backend = nullptr;  // the rule's or default backend's pick
  std::string_view backend_model;            // backend->model, or the id when it keeps it
};

// The routing of `id`: the route RouteTable::Decide selects for a request with model `id` and
// no headers, and the backend it picks first (weighted splits: the pick for entropy 0; health,
// experiments and fallback are not considered). nullopt when no route serves `id` (404).
std::optional<ModelRouting> RouteOfModel(const RouteTable& table, std::string_view id);

// True when `id` is a model the gateway admits to: one of table.served_models(), or a name a
// route's `models` glob matches. The default route alone does not make a name known.
bool IsKnownModel(const RouteTable& table, std::string_view id);

// GET /v1/models. OpenAI: {"object":"list","data":[{"id","object":"model","created",
// "owned_by":"inferencegw","inferencegw":{...}}]}. Anthropic: {"data":[{"type":"model","id",
// "display_name","created_at","inferencegw":{...}}],"has_more":false,"first_id","last_id"}.
// "inferencegw" is {"route","backend","backend_model"} from RouteOfModel (null values when no
// route serves the entry); SDKs ignore the extra field.
std::string RenderModelsList(const RouteTable& table, ModelsShape shape,
                             int64_t created_unix_seconds);

// One entry of the list above for `id`, or nullopt when !IsKnownModel(table, id).
std::optional<std::string> RenderModel(const RouteTable& table, std::string_view id,
                                       ModelsShape shape, int64_t created_unix_seconds);

// The 404 body for an unknown model: OpenAI {"error":{...,"code":"model_not_found"}} or
// Anthropic {"type":"error","error":{"type":"not_found_error",...}}.
std::string ModelNotFoundBody(std::string_view id, ModelsShape shape);

// What to do with a GET on a model path.
struct ModelGet {
  enum class Kind : uint8_t {
    kNotModelPath,  // not one of the paths below: the caller goes on (other endpoints, 404)
    kAnswer,        // the gateway answers itself with `status` and `body`
    kForward,       // a KServe metadata request: forward the client's path for `model`
  };
  Kind kind = Kind::kNotModelPath;
  int status = 200;
  std::string body;
  std::string_view model;  // kForward: the model named in the path (a view into `path`)
};

// Resolves a GET `path` (without the query string):
//   /v1/models, /v1/models/   kAnswer: RenderModelsList
//   /v1/models/{id}           kForward when RouteOfModel(id)'s backend is a kserve or kubernetes
//                             backend and `shape` is kOpenAI (the KServe v1 model status path);
//                             else kAnswer: RenderModel, or 404 ModelNotFoundBody
//   /v2/models/{m}[/versions/{v}][/ready]   kForward (KServe v2 model metadata and readiness)
//   /v2/health/live           kAnswer 200 {"live":true}: the gateway process is live
//   /v2/health/ready          kAnswer 200 {"ready":true} when at least one backend is available
//                             at `now`, else 503 {"ready":false} (like /readyz)
// Model names and versions are single path segments (no '/', not "." or ".."); anything else
// is kNotModelPath.
ModelGet ResolveModelGet(const RouteTable& table, std::string_view path, ModelsShape shape,
                         int64_t created_unix_seconds, TimeNs now);

}  // namespace inferencegw

#endif  // INFERENCEGW_MODEL_DIRECTORY_H_
