#include "reflector.h"

#include <utility>

#include "absl/status/status.h"
#include "backoff.h"
#include "fmt/format.h"
#include "log.h"
#include "simdjson.h"

namespace inferencegw::k8s {
namespace {

constexpr int kListPageSize = 500;
// After this many watch failures in a row, relist instead of re-watching.
constexpr int kMaxWatchFailuresBeforeRelist = 3;

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

std::string_view StringAt(simdjson::dom::element e, std::string_view pointer) {
  std::string_view value;
  if (e.at_pointer(pointer).get(value) != simdjson::SUCCESS) return {};
  return value;
}

absl::StatusOr<KubeObject> ObjectFromElement(simdjson::dom::element e) {
  KubeObject o;
  o.name = std::string(StringAt(e, "/metadata/name"));
  if (o.name.empty()) return absl::InvalidArgumentError("object without metadata.name");
  o.ns = std::string(StringAt(e, "/metadata/namespace"));
  o.uid = std::string(StringAt(e, "/metadata/uid"));
  o.resource_version = std::string(StringAt(e, "/metadata/resourceVersion"));
  int64_t generation = 0;
  if (e.at_pointer("/metadata/generation").get(generation) == simdjson::SUCCESS) {
    o.generation = generation;
  }
  o.json = simdjson::to_string(e);
  return o;
}

// The message of a Status body, for logs ("" when the body is not a Status).
std::string StatusMessage(std::string_view body) {
  simdjson::dom::element doc;
  if (ThreadParser().parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) return "";
  return std::string(StringAt(doc, "/message"));
}

}  // namespace

absl::StatusOr<KubeObject> ParseKubeObject(std::string_view json) {
  simdjson::dom::element doc;
  if (ThreadParser().parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("object is not valid JSON");
  }
  return ObjectFromElement(doc);
}

Reflector::Reflector(KubeClient* client, Canceller* canceller, Options options)
    : client_(client), canceller_(canceller), options_(std::move(options)), rng_(JitterSeed()) {}

std::string Reflector::Describe() const {
  return options_.ns.empty() ? std::string(options_.type->plural)
                             : fmt::format("{} in {}", options_.type->plural, options_.ns);
}

std::vector<KubeObject> Reflector::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KubeObject> out;
  out.reserve(items_.size());
  for (const auto& [key, object] : items_) out.push_back(object);
  return out;
}

bool Reflector::Get(std::string_view ns, std::string_view name, KubeObject* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = items_.find(fmt::format("{}/{}", ns, name));
  if (it == items_.end()) return false;
  *out = it->second;
  return true;
}

absl::Status Reflector::List() {
  std::map<std::string, KubeObject, std::less<>> fresh;
  std::string continue_token;
  std::string list_rv;
  const std::string base = CollectionPath(*options_.type, options_.ns);
  do {
    std::string path = fmt::format("{}?limit={}", base, kListPageSize);
    if (!continue_token.empty()) path += "&continue=" + UrlEncode(continue_token);
    auto response = client_->Request("GET", path);
    if (!response.ok()) return response.status();
    if (response->status == 410 && !continue_token.empty()) {
      // The continue token expired: start the list again from the beginning.
      fresh.clear();
      continue_token.clear();
      continue;
    }
    if (response->status == 404) {
      return absl::NotFoundError(
          fmt::format("list {}: 404 {}", Describe(), StatusMessage(response->body)));
    }
    if (response->status != 200) {
      return absl::UnavailableError(fmt::format("list {}: HTTP {} {}", Describe(), response->status,
                                                StatusMessage(response->body)));
    }
    simdjson::dom::element doc;
    if (ThreadParser().parse(response->body).get(doc) != simdjson::SUCCESS) {
      return absl::UnavailableError(fmt::format("list {}: response is not JSON", Describe()));
    }
    simdjson::dom::array items;
    if (doc["items"].get(items) == simdjson::SUCCESS) {
      for (simdjson::dom::element item : items) {
        auto object = ObjectFromElement(item);
        if (!object.ok()) continue;
        std::string key = object->Key();
        fresh.insert_or_assign(std::move(key), *std::move(object));
      }
    }
    if (list_rv.empty()) list_rv = std::string(StringAt(doc, "/metadata/resourceVersion"));
    continue_token = std::string(StringAt(doc, "/metadata/continue"));
  } while (!continue_token.empty());

  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = fresh.size() != items_.size();
    if (!changed) {
      for (auto a = fresh.begin(), b = items_.begin(); a != fresh.end(); ++a, ++b) {
        if (a->first != b->first || a->second.json != b->second.json) {
          changed = true;
          break;
        }
      }
    }
    items_ = std::move(fresh);
  }
  last_rv_ = list_rv;
  lists_.fetch_add(1);
  installed_.store(true, std::memory_order_release);
  synced_.store(true, std::memory_order_release);
  Log(LogLevel::kDebug, "listed", {{"resource", Describe()}, {"resourceVersion", last_rv_}});
  if (changed && options_.on_change) options_.on_change();
  return absl::OkStatus();
}

Reflector::WatchResult Reflector::Watch(std::chrono::seconds timeout) {
  WatchResult result;
  const std::string path = fmt::format(
      "{}?watch=1&allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds={}",
      CollectionPath(*options_.type, options_.ns), UrlEncode(last_rv_), timeout.count());
  WatchEnd stream_end = WatchEnd::kClean;
  const auto on_line = [&](std::string_view line) -> bool {
    simdjson::dom::element event;
    if (ThreadParser().parse(line.data(), line.size()).get(event) != simdjson::SUCCESS) {
      Log(LogLevel::kWarning, "watch: undecodable event", {{"resource", Describe()}});
      stream_end = WatchEnd::kTransport;
      return false;
    }
    const std::string_view type = StringAt(event, "/type");
    simdjson::dom::element object;
    if (event["object"].get(object) != simdjson::SUCCESS) {
      stream_end = WatchEnd::kTransport;
      return false;
    }
    if (type == "ERROR") {
      int64_t code = 0;
      if (object["code"].get(code) != simdjson::SUCCESS) code = 0;
      Log(LogLevel::kInfo, "watch: error event",
          {{"resource", Describe()},
           {"code", std::to_string(code)},
           {"message", std::string(StringAt(object, "/message"))}});
      stream_end = code == 410 ? WatchEnd::kGone : WatchEnd::kHttpError;
      return false;
    }
    const std::string_view rv = StringAt(object, "/metadata/resourceVersion");
    if (type == "BOOKMARK") {
      if (!rv.empty()) last_rv_ = std::string(rv);
      return true;
    }
    auto parsed = ObjectFromElement(object);
    if (!parsed.ok()) return true;
    ++result.events;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (type == "DELETED") {
        items_.erase(parsed->Key());
      } else if (type == "ADDED" || type == "MODIFIED") {
        std::string key = parsed->Key();
        items_.insert_or_assign(std::move(key), *parsed);
      }
    }
    if (!rv.empty()) last_rv_ = std::string(rv);
    if (options_.on_change) options_.on_change();
    return true;
  };
  watches_.fetch_add(1);
  auto response = client_->Stream(path, on_line, timeout + std::chrono::seconds(30));
  if (!response.ok()) {
    result.end = absl::IsCancelled(response.status()) ? WatchEnd::kCancelled : WatchEnd::kTransport;
    if (result.end == WatchEnd::kTransport) {
      Log(LogLevel::kInfo, "watch: connection ended",
          {{"resource", Describe()}, {"error", std::string(response.status().message())}});
    }
    return result;
  }
  switch (response->status) {
    case 200:
      result.end = stream_end;
      return result;
    case 410:
      result.end = WatchEnd::kGone;
      return result;
    case 429:
      result.end = WatchEnd::kRetryAfter;
      result.retry_after_seconds = response->retry_after_seconds;
      return result;
    default:
      Log(LogLevel::kWarning, "watch: HTTP error",
          {{"resource", Describe()},
           {"status", std::to_string(response->status)},
           {"message", StatusMessage(response->body)}});
      result.end = WatchEnd::kHttpError;
      return result;
  }
}

void Reflector::Run() {
  Backoff backoff(options_.backoff_initial, options_.backoff_cap, rng_());
  bool need_list = true;
  bool gone_once = false;
  int watch_failures = 0;
  while (!canceller_->cancelled()) {
    if (need_list) {
      absl::Status status = List();
      if (absl::IsCancelled(status)) return;
      if (absl::IsNotFound(status)) {
        if (installed_.exchange(false) || !synced_.load()) {
          Log(LogLevel::kWarning, "resource type not served; will retry",
              {{"resource", Describe()}, {"detail", std::string(status.message())}});
        }
        bool had_items;
        {
          std::lock_guard<std::mutex> lock(mu_);
          had_items = !items_.empty();
          items_.clear();
        }
        synced_.store(true, std::memory_order_release);
        if (had_items && options_.on_change) options_.on_change();
        canceller_->SleepFor(options_.not_installed_retry);
        continue;
      }
      if (!status.ok()) {
        Log(LogLevel::kWarning, "list failed; backing off",
            {{"resource", Describe()}, {"error", std::string(status.message())}});
        canceller_->SleepFor(backoff.Next());
        continue;
      }
      need_list = false;
      watch_failures = 0;
    }
    const int64_t base = options_.watch_timeout.count();
    std::uniform_int_distribution<int64_t> pick(base, std::max<int64_t>(base, 2 * base - 1));
    const std::chrono::seconds timeout(pick(rng_));
    const auto started = std::chrono::steady_clock::now();
    const WatchResult watch = Watch(timeout);
    const auto lasted = std::chrono::steady_clock::now() - started;
    if (watch.events > 0) {
      backoff.Reset();
      watch_failures = 0;
    }
    switch (watch.end) {
      case WatchEnd::kCancelled:
        return;
      case WatchEnd::kClean:
        gone_once = false;
        if (watch.events == 0 && lasted < std::chrono::seconds(1)) {
          // client-go treats a very short empty watch as an error: never spin on it.
          canceller_->SleepFor(backoff.Next());
        }
        break;
      case WatchEnd::kGone:
        Log(LogLevel::kInfo, "watch: resource version too old; relisting",
            {{"resource", Describe()}, {"resourceVersion", last_rv_}});
        last_rv_.clear();
        need_list = true;
        // Relist at once the first time; back off if the server keeps saying Gone.
        if (gone_once) canceller_->SleepFor(backoff.Next());
        gone_once = true;
        break;
      case WatchEnd::kTransport:
        if (++watch_failures >= kMaxWatchFailuresBeforeRelist) need_list = true;
        canceller_->SleepFor(backoff.Next());
        break;
      case WatchEnd::kRetryAfter:
        canceller_->SleepFor(
            watch.retry_after_seconds > 0
                ? std::chrono::nanoseconds(std::chrono::seconds(watch.retry_after_seconds))
                : backoff.Next());
        break;
      case WatchEnd::kHttpError:
        need_list = true;
        canceller_->SleepFor(backoff.Next());
        break;
    }
  }
}

}  // namespace inferencegw::k8s
