// The simulator's inputs: outcome names, the interned columnar trace, and how a trace row's user
// reaches the router (RequestBuilder).
#include <algorithm>
#include <string>

#include "fmt/format.h"
#include "inferencegw/simulator.h"
#include "route_table_internal.h"
#include "simulator_internal.h"

namespace inferencegw {

std::string_view SimOutcomeName(SimOutcome outcome) {
  switch (outcome) {
    case SimOutcome::kScenario:
      return "scenario";
    case SimOutcome::kOk:
      return "ok";
    case SimOutcome::kConnectError:
      return "connect_error";
    case SimOutcome::kTimeout:
      return "timeout";
    case SimOutcome::kStatus5xx:
      return "5xx";
    case SimOutcome::kStatus429:
      return "429";
  }
  return "unknown";
}

std::optional<SimOutcome> ParseSimOutcome(std::string_view name) {
  if (name == "scenario" || name.empty()) return SimOutcome::kScenario;
  if (name == "ok" || name == "200") return SimOutcome::kOk;
  if (name == "connect_error" || name == "connect") return SimOutcome::kConnectError;
  if (name == "timeout") return SimOutcome::kTimeout;
  if (name == "5xx" || name == "error") return SimOutcome::kStatus5xx;
  if (name == "429") return SimOutcome::kStatus429;
  if (name.size() == 3 && name[0] == '5' && name[1] >= '0' && name[1] <= '9' && name[2] >= '0' &&
      name[2] <= '9') {
    return SimOutcome::kStatus5xx;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// SimulationTrace

SimulationTrace::SimulationTrace() {
  strings_.emplace_back();
  ids_.emplace(std::string_view(strings_.back()), 0);
  header_sets_.emplace_back();
}

uint32_t SimulationTrace::Intern(std::string_view s) {
  if (auto it = ids_.find(s); it != ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  ids_.emplace(std::string_view(strings_.back()), id);
  return id;
}

uint32_t SimulationTrace::InternHeaders(std::span<const Header> headers) {
  if (headers.empty()) return 0;
  // Interned by a key of name\0value\0 pairs.
  key_buffer_.clear();
  for (const Header& h : headers) {
    key_buffer_.append(h.name);
    key_buffer_.push_back('\0');
    key_buffer_.append(h.value);
    key_buffer_.push_back('\0');
  }
  if (auto it = header_set_ids_.find(key_buffer_); it != header_set_ids_.end()) return it->second;
  std::vector<Header> set;
  set.reserve(headers.size());
  for (const Header& h : headers) set.push_back({string(Intern(h.name)), string(Intern(h.value))});
  const auto id = static_cast<uint32_t>(header_sets_.size());
  header_sets_.push_back(std::move(set));
  header_set_ids_.emplace(string(Intern(key_buffer_)), id);
  return id;
}

void SimulationTrace::Reserve(size_t rows) {
  timestamp_.reserve(rows);
  user_.reserve(rows);
  input_tokens_.reserve(rows);
  output_tokens_.reserve(rows);
  internal::AdviseHugePages(timestamp_.data(), rows * sizeof(TimeNs));
  internal::AdviseHugePages(user_.data(), rows * sizeof(uint32_t));
  internal::AdviseHugePages(input_tokens_.data(), rows * sizeof(int64_t));
  internal::AdviseHugePages(output_tokens_.data(), rows * sizeof(int64_t));
  method_.reserve(rows);
  path_.reserve(rows);
  model_.reserve(rows);
  header_set_.reserve(rows);
  estimate_extra_.reserve(rows);
}

absl::Status SimulationTrace::Add(const Row& row) {
  InternedRow r;
  r.timestamp = row.timestamp;
  r.input_tokens = row.input_tokens;
  r.output_tokens = row.output_tokens;
  r.max_tokens = row.max_tokens;
  r.estimated_tokens = row.estimated_tokens;
  r.overrides = row.overrides;
  // Nothing is interned for a row that will be refused.
  if (absl::Status s = Check(r); !s.ok()) return s;
  r.method = Intern(row.method);
  r.path = Intern(row.path);
  r.model = Intern(row.model);
  r.user = Intern(row.user);
  r.header_set = InternHeaders(row.headers);
  return Add(r);
}

absl::Status SimulationTrace::Check(const InternedRow& row) const {
  const size_t index = timestamp_.size();
  if (row.timestamp < 0) {
    return absl::InvalidArgumentError(
        fmt::format("row {}: timestamp must be >= 0, got {} ns", index, row.timestamp));
  }
  if (row.input_tokens < 0 || row.output_tokens < 0) {
    return absl::InvalidArgumentError(
        fmt::format("row {}: token counts must be >= 0, got input {} and output {}", index,
                    row.input_tokens, row.output_tokens));
  }
  return absl::OkStatus();
}

absl::Status SimulationTrace::Add(const InternedRow& row) {
  if (absl::Status s = Check(row); !s.ok()) return s;
  const size_t index = timestamp_.size();
  timestamp_.push_back(row.timestamp);
  method_.push_back(row.method);
  path_.push_back(row.path);
  model_.push_back(row.model);
  user_.push_back(row.user);
  header_set_.push_back(row.header_set);
  input_tokens_.push_back(row.input_tokens);
  output_tokens_.push_back(row.output_tokens);
  estimate_extra_.push_back(row.estimated_tokens >= 0 ? row.estimated_tokens - row.input_tokens
                                                      : std::max<int64_t>(0, row.max_tokens));
  if (!row.overrides.empty() && override_begin_.empty()) {
    override_begin_.assign(index + 1, 0);  // earlier rows have none
  }
  if (!override_begin_.empty()) {
    for (const OutcomeOverride& o : row.overrides) {
      overrides_.push_back({Intern(o.backend), o.outcome, o.latency});
    }
    override_begin_.push_back(static_cast<uint32_t>(overrides_.size()));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// RequestBuilder

RequestBuilder::RequestBuilder(const RouteTable& table, const ConfigSet& config) {
  authentication_ = !config.client_keys.empty();
  for (const CompiledRoute& route : table.routes()) {
    if (std::find(user_headers_.begin(), user_headers_.end(), route.user_header) ==
        user_headers_.end()) {
      user_headers_.push_back(route.user_header);
    }
  }
  for (const ClientKey& key : config.client_keys) {
    std::vector<std::pair<std::string, std::string>> attributes;
    for (const auto& [name, value] : key.attributes) {
      std::string lower = internal::AsciiLower(name);
      if (std::find(attribute_headers_.begin(), attribute_headers_.end(), lower) ==
          attribute_headers_.end()) {
        attribute_headers_.push_back(lower);
      }
      attributes.emplace_back(std::move(lower), value);
    }
    // The user's first key wins.
    attributes_.try_emplace(key.user, UserKey{std::move(attributes), &key});
  }
}

bool RequestBuilder::Build(std::string_view method, std::string_view path, std::string_view model,
                           std::string_view user, std::span<const Header> headers,
                           HeaderBuffer* storage, RequestView* out) const {
  out->method = method;
  out->path = path;
  out->model = model;
  out->authenticated = false;
  out->authenticated_user = {};
  out->client_key = nullptr;
  if (authentication_) {
    auto it = user.empty() ? attributes_.end() : attributes_.find(user);
    if (it == attributes_.end()) return false;
    storage->clear();
    for (const Header& h : headers) {
      const bool overridden =
          std::any_of(attribute_headers_.begin(), attribute_headers_.end(),
                      [&](const std::string& a) { return internal::EqualsLowercase(h.name, a); });
      if (!overridden) storage->push_back(h);
    }
    for (const auto& [name, value] : it->second.attributes) storage->push_back({name, value});
    out->headers = std::span<const Header>(storage->data(), storage->size());
    out->authenticated = true;
    out->authenticated_user = user;
    out->client_key = it->second.key;
    return true;
  }
  out->headers = headers;
  if (user.empty()) return true;
  bool copied = false;
  for (const std::string& name : user_headers_) {
    if (out->FindHeader(name).has_value()) continue;
    if (!copied) {
      storage->assign(headers.begin(), headers.end());
      copied = true;
    }
    storage->push_back({name, user});
    out->headers = std::span<const Header>(storage->data(), storage->size());
  }
  return true;
}

std::optional<BackendIndex> ResolveBackendName(const RouteTable& table, std::string_view name) {
  if (name.find('/') != std::string_view::npos) return table.FindBackend(name);
  std::optional<BackendIndex> found;
  const auto backends = table.backends();
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].config->meta.name != name) continue;
    if (found.has_value()) return std::nullopt;  // ambiguous: used by two namespaces
    found = static_cast<BackendIndex>(i);
  }
  return found;
}

}  // namespace inferencegw
