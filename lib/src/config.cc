// The config model's small pieces: source positions, lookups, names, issue text, prices.
#include "inferencegw/config.h"

#include <limits>

#include "config_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"

namespace inferencegw {

namespace {

// The path of the field containing `path` ("a.b[1]" -> "a.b", "a[k]" -> "a", "a" -> "").
std::string_view ParentPath(std::string_view path) {
  if (path.empty()) return path;
  if (path.back() == ']') {
    const size_t open = path.rfind('[');
    return open == std::string_view::npos ? std::string_view() : path.substr(0, open);
  }
  const size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

template <typename T>
const T* FindByKey(const std::vector<T>& objects, std::string_view ns, std::string_view name) {
  for (const T& object : objects) {
    if (object.meta.name == name && object.meta.namespace_ == ns) return &object;
  }
  return nullptr;
}

}  // namespace

int SourceInfo::LineOf(std::string_view path) const {
  for (std::string_view p = path; !p.empty(); p = ParentPath(p)) {
    auto it = field_lines.find(p);
    if (it != field_lines.end()) return it->second;
  }
  return line;
}

std::string SourceInfo::Where(std::string_view path) const {
  if (file.empty()) return "";
  const int at = LineOf(path);
  if (at <= 0) return fmt::format("{}: ", file);
  return fmt::format("{}:{}: ", file, at);
}

const Backend* ConfigSet::FindBackend(std::string_view ns, std::string_view name) const {
  return FindByKey(backends, ns, name);
}

const Route* ConfigSet::FindRoute(std::string_view ns, std::string_view name) const {
  return FindByKey(routes, ns, name);
}

const Secret* ConfigSet::FindSecret(std::string_view ns, std::string_view name) const {
  return FindByKey(secrets, ns, name);
}

std::string_view BackendTypeName(BackendType type) {
  switch (type) {
    case BackendType::kKServe:
      return "kserve";
    case BackendType::kExternal:
      return "external";
    case BackendType::kKubernetes:
      return "kubernetes";
  }
  return "unknown";
}

std::string_view ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kOpenAI:
      return "openai";
    case Provider::kAnthropic:
      return "anthropic";
    case Provider::kCohere:
      return "cohere";
    case Provider::kCustom:
      return "custom";
  }
  return "unknown";
}

std::string_view BudgetPeriodName(BudgetPeriod period) {
  switch (period) {
    case BudgetPeriod::kHour:
      return "hour";
    case BudgetPeriod::kDay:
      return "day";
    case BudgetPeriod::kWeek:
      return "week";
    case BudgetPeriod::kMonth:
      return "month";
  }
  return "unknown";
}

std::string ConfigIssue::ToString() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) fmt::format_to(std::back_inserter(out), ":{}", line);
    out += ": ";
  }
  if (!object.empty()) out += object + ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

const std::string* LookupSecretValue(const ConfigSet& config, std::string_view ns,
                                     std::string_view name, std::string_view key) {
  const Secret* secret = config.FindSecret(ns, name);
  if (secret == nullptr) return nullptr;
  auto it = secret->data.find(std::string(key));
  return it == secret->data.end() ? nullptr : &it->second;
}

absl::StatusOr<PriceNanos> ParsePrice(std::string_view text) {
  std::string error;
  std::optional<int64_t> nanos = internal::ParseScaledDecimal(text, 9, &error);
  if (!nanos)
    return absl::InvalidArgumentError(fmt::format("invalid price \"{}\": {}", text, error));
  if (*nanos < 0 || (!text.empty() && text.front() == '-')) {
    return absl::InvalidArgumentError(
        fmt::format("invalid price \"{}\": must not be negative", text));
  }
  return *nanos;
}

std::string FormatPrice(PriceNanos price) { return internal::FormatScaledDecimal(price, 9); }

namespace internal {

namespace {

constexpr int64_t kPow10[] = {1,
                              10,
                              100,
                              1000,
                              10000,
                              100000,
                              1000000,
                              10000000,
                              100000000,
                              1000000000,
                              10000000000,
                              100000000000,
                              1000000000000,
                              10000000000000,
                              100000000000000,
                              1000000000000000,
                              10000000000000000,
                              100000000000000000,
                              1000000000000000000};
constexpr int kMaxPow10 = 18;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<int64_t> ParseScaledDecimal(std::string_view text, int scale, std::string* error) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  // The significant digits, and how many of them follow the decimal point.
  std::string digits;
  int fraction_digits = 0;
  bool any_digit = false;
  while (i < text.size() && IsDigit(text[i])) {
    digits.push_back(text[i++]);
    any_digit = true;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      digits.push_back(text[i++]);
      ++fraction_digits;
      any_digit = true;
    }
  }
  int64_t exponent = 0;
  if (any_digit && i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exponent_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      exponent_negative = text[i] == '-';
      ++i;
    }
    if (i == text.size()) any_digit = false;
    while (i < text.size() && IsDigit(text[i])) {
      if (exponent < 100000) exponent = exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (exponent_negative) exponent = -exponent;
  }
  if (!any_digit || i != text.size()) {
    *error = "not a decimal number";
    return std::nullopt;
  }
  // value = digits * 10^(exponent - fraction_digits); we want value * 10^scale.
  const size_t first_nonzero = digits.find_first_not_of('0');
  if (first_nonzero == std::string::npos) return 0;
  digits.erase(0, first_nonzero);
  int64_t shift = exponent - fraction_digits + scale;
  if (shift < 0) {
    // Digits below the scale must all be zero ("0.0030000000000" is fine at scale 9).
    const int64_t drop = -shift;
    if (drop >= static_cast<int64_t>(digits.size()) ||
        digits.find_first_not_of('0', digits.size() - drop) != std::string::npos) {
      *error = fmt::format("has more than {} decimal places", scale);
      return std::nullopt;
    }
    digits.resize(digits.size() - drop);
    shift = 0;
  }
  uint64_t magnitude = 0;
  const uint64_t limit = negative ? uint64_t{1} << 63 : std::numeric_limits<int64_t>::max();
  auto too_large = [&] {
    *error = "is too large";
    return std::nullopt;
  };
  for (char c : digits) {
    if (magnitude > (limit - (c - '0')) / 10) return too_large();
    magnitude = magnitude * 10 + (c - '0');
  }
  if (shift > kMaxPow10) return too_large();
  const uint64_t factor = static_cast<uint64_t>(kPow10[shift]);
  if (magnitude > limit / factor) return too_large();
  magnitude *= factor;
  if (negative) return static_cast<int64_t>(0 - magnitude);
  return static_cast<int64_t>(magnitude);
}

std::string FormatScaledDecimal(int64_t value, int scale) {
  const bool negative = value < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  const uint64_t unit = static_cast<uint64_t>(kPow10[scale]);
  std::string out = fmt::format("{}{}", negative ? "-" : "", magnitude / unit);
  uint64_t fraction = magnitude % unit;
  if (fraction == 0) return out;
  std::string digits = fmt::format("{:0{}}", fraction, scale);
  digits.erase(digits.find_last_not_of('0') + 1);
  out += '.';
  out += digits;
  return out;
}

}  // namespace internal

}  // namespace inferencegw
