// Typed reading of YamlNodes (see config_yaml_internal.h).
#include <charconv>
#include <limits>
#include <optional>

#include "config_internal.h"
#include "config_yaml_internal.h"
#include "fmt/format.h"

namespace inferencegw::internal {

namespace {

// How a wrong value is described in "expected X, got Y".
std::string Describe(const YamlNode& node) {
  switch (node.type()) {
    case YamlNode::Type::kMap:
      return "a mapping";
    case YamlNode::Type::kSequence:
      return "a list";
    case YamlNode::Type::kScalar:
      return fmt::format("\"{}\"", node.Scalar());
    default:
      return "null";
  }
}

std::string Suggestion(std::string_view key, std::initializer_list<YamlReader::Field> fields,
                       std::initializer_list<std::string_view> ignored) {
  std::string_view best;
  int best_distance = 3;
  auto consider = [&](std::string_view candidate) {
    const int d = EditDistance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  };
  for (const YamlReader::Field& f : fields) consider(f.name);
  for (std::string_view name : ignored) consider(name);
  if (best.empty()) return "";
  return fmt::format("; did you mean \"{}\"?", best);
}

// A decimal integer ("+" allowed) into int64; nullopt with `*out_of_range` when it overflows.
std::optional<int64_t> ParseInteger(std::string_view text, bool* out_of_range) {
  *out_of_range = false;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    *out_of_range = true;
    return std::nullopt;
  }
  if (ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

std::string JoinPath(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return fmt::format("{}.{}", path, name);
}

int YamlReader::LineOf(const YamlNode& node) const {
  if (fixed_line_ > 0) return fixed_line_;
  return node.Line();
}

void YamlReader::Record(const std::string& path, const YamlNode& node) {
  if (source_ != nullptr) source_->field_lines.emplace(path, LineOf(node));
}

void YamlReader::Error(const YamlNode& node, std::string path, std::string message,
                       std::string_view reason) {
  ConfigIssue issue;
  issue.file = file_;
  issue.line = LineOf(node);
  issue.field = std::move(path);
  issue.message = std::move(message);
  issue.reason = std::string(reason);
  issues_.push_back(std::move(issue));
}

void YamlReader::ErrorAt(std::string path, std::string message, std::string_view reason) {
  ConfigIssue issue;
  issue.file = file_;
  issue.line = fixed_line_ > 0 ? fixed_line_ : source_ != nullptr ? source_->LineOf(path) : 0;
  issue.field = std::move(path);
  issue.message = std::move(message);
  issue.reason = std::string(reason);
  issues_.push_back(std::move(issue));
}

bool YamlReader::Map(const YamlNode& node, const std::string& path,
                     std::initializer_list<Field> fields,
                     std::initializer_list<std::string_view> ignored) {
  if (node.IsNull()) return true;
  if (!node.IsMap()) {
    Error(node, path, fmt::format("expected a mapping, got {}", Describe(node)),
          kReasonInvalidType);
    return false;
  }
  std::map<std::string, int, std::less<>> seen;
  for (const auto& pair : node) {
    const YamlNode key_node = pair.first;
    if (!key_node.IsScalar()) {
      Error(key_node, path, "keys must be strings", kReasonInvalidType);
      continue;
    }
    const std::string& key = key_node.Scalar();
    const std::string field = JoinPath(path, key);
    auto [first, inserted] = seen.emplace(key, LineOf(key_node));
    if (!inserted) {
      Error(key_node, field, fmt::format("duplicate key (first at line {})", first->second),
            kReasonDuplicateKey);
      continue;
    }
    Record(field, key_node);
    bool handled = false;
    for (const Field& f : fields) {
      if (f.name == key) {
        f.read(pair.second, field);
        handled = true;
        break;
      }
    }
    if (handled) continue;
    bool is_ignored = false;
    for (std::string_view name : ignored) is_ignored = is_ignored || name == key;
    if (is_ignored) continue;
    Error(key_node, field, "unknown field" + Suggestion(key, fields, ignored), kReasonUnknownField);
  }
  return true;
}

bool YamlReader::List(
    const YamlNode& node, const std::string& path,
    const std::function<void(const YamlNode&, const std::string&, size_t)>& each) {
  if (node.IsNull()) return true;
  if (!node.IsSequence()) {
    Error(node, path, fmt::format("expected a list, got {}", Describe(node)), kReasonInvalidType);
    return false;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YamlNode item = node[i];
    const std::string item_path = fmt::format("{}[{}]", path, i);
    Record(item_path, item);
    each(item, item_path, i);
  }
  return true;
}

bool YamlReader::ScalarText(const YamlNode& node, const std::string& path,
                            std::string_view expected, std::string* out) {
  if (node.IsNull()) return false;
  if (!node.IsScalar()) {
    Error(node, path, fmt::format("expected {}, got {}", expected, Describe(node)),
          kReasonInvalidType);
    return false;
  }
  *out = node.Scalar();
  return true;
}

void YamlReader::String(const YamlNode& node, const std::string& path, std::string* out) {
  std::string text;
  if (ScalarText(node, path, "a string", &text)) *out = std::move(text);
}

void YamlReader::Int64(const YamlNode& node, const std::string& path, int64_t* out) {
  std::string text;
  if (!ScalarText(node, path, "an integer", &text)) return;
  bool out_of_range = false;
  std::optional<int64_t> value = ParseInteger(text, &out_of_range);
  if (node.IsQuoted()) {
    QuotedError(node, path, "an integer", text, value.has_value() || out_of_range);
  } else if (out_of_range) {
    Error(node, path, fmt::format("integer {} is out of range", text), kReasonInvalidValue);
  } else if (!value) {
    Error(node, path, fmt::format("expected an integer, got \"{}\"", text), kReasonInvalidType);
  } else {
    *out = *value;
  }
}

void YamlReader::Int(const YamlNode& node, const std::string& path, int* out) {
  int64_t value = *out;
  const size_t issues_before = issues_.size();
  Int64(node, path, &value);
  if (issues_.size() != issues_before) return;
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    Error(node, path, fmt::format("integer {} is out of range", value), kReasonInvalidValue);
    return;
  }
  *out = static_cast<int>(value);
}

void YamlReader::Bool(const YamlNode& node, const std::string& path, bool* out) {
  std::string text;
  if (!ScalarText(node, path, "a boolean (true or false)", &text)) return;
  const bool is_true = text == "true" || text == "True" || text == "TRUE";
  const bool is_false = text == "false" || text == "False" || text == "FALSE";
  if (node.IsQuoted()) {
    QuotedError(node, path, "a boolean (true or false)", text, is_true || is_false);
  } else if (is_true || is_false) {
    *out = is_true;
  } else {
    Error(node, path, fmt::format("expected a boolean (true or false), got \"{}\"", text),
          kReasonInvalidType);
  }
}

void YamlReader::Price(const YamlNode& node, const std::string& path, PriceNanos* out) {
  std::string text;
  if (!ScalarText(node, path, "a decimal string such as \"0.003\"", &text)) return;
  absl::StatusOr<PriceNanos> price = ParsePrice(text);
  if (!price.ok()) {
    Error(node, path, std::string(price.status().message()), kReasonInvalidValue);
    return;
  }
  *out = *price;
}

void YamlReader::Percent(const YamlNode& node, const std::string& path, int* basis_points) {
  std::string text;
  if (!ScalarText(node, path, "a number", &text)) return;
  std::string error;
  std::optional<int64_t> value = ParseScaledDecimal(text, 2, &error);
  if (node.IsQuoted()) {
    QuotedError(node, path, "a number", text, error != "not a decimal number");
    return;
  }
  if (!value) {
    if (error == "not a decimal number") {
      Error(node, path, fmt::format("expected a number, got \"{}\"", text), kReasonInvalidType);
    } else {
      Error(node, path,
            fmt::format("must be between 0 and 100 with at most 2 decimal places, "
                        "got {}",
                        text),
            kReasonInvalidValue);
    }
    return;
  }
  if (*value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
    Error(node, path, fmt::format("must be between 0 and 100, got {}", text), kReasonInvalidValue);
    return;
  }
  *basis_points = static_cast<int>(*value);
}

void YamlReader::QuotedError(const YamlNode& node, const std::string& path,
                             std::string_view expected, const std::string& text, bool looks_right) {
  Error(node, path,
        looks_right
            ? fmt::format("expected {}, got the string \"{}\" (remove the quotes)", expected, text)
            : fmt::format("expected {}, got \"{}\"", expected, text),
        kReasonInvalidType);
}

void YamlReader::EnumError(const YamlNode& node, const std::string& path,
                           const std::string& expected, const std::string& got) {
  Error(node, path, fmt::format("must be one of {}; got \"{}\"", expected, got),
        kReasonInvalidValue);
}

void YamlReader::StringMap(const YamlNode& node, const std::string& path,
                           std::map<std::string, std::string>* out, bool lowercase_keys) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    Error(node, path, fmt::format("expected a mapping, got {}", Describe(node)),
          kReasonInvalidType);
    return;
  }
  std::map<std::string, int> seen;
  for (const auto& pair : node) {
    if (!pair.first.IsScalar()) {
      Error(pair.first, path, "keys must be strings", kReasonInvalidType);
      continue;
    }
    const std::string key = lowercase_keys ? ToLower(pair.first.Scalar()) : pair.first.Scalar();
    const std::string field = fmt::format("{}[{}]", path, key);
    auto [first, inserted] = seen.emplace(key, LineOf(pair.first));
    if (!inserted) {
      Error(pair.first, field, fmt::format("duplicate key (first at line {})", first->second),
            kReasonDuplicateKey);
      continue;
    }
    Record(field, pair.first);
    std::string value;
    String(pair.second, field, &value);
    (*out)[key] = std::move(value);
  }
}

void YamlReader::StringList(const YamlNode& node, const std::string& path,
                            std::vector<std::string>* out) {
  List(node, path, [&](const YamlNode& item, const std::string& item_path, size_t) {
    std::string value;
    String(item, item_path, &value);
    out->push_back(std::move(value));
  });
}

}  // namespace inferencegw::internal
