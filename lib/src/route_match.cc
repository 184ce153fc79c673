// Request matching: globs, path prefixes, case-insensitive header lookup, and compiled rules.
#include <string>
#include <string_view>

#include "inferencegw/route_table.h"
#include "route_table_internal.h"

namespace inferencegw {
namespace internal {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiToLower(c);
  return out;
}

bool EqualsLowercase(std::string_view s, std::string_view lowercase) {
  if (s.size() != lowercase.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (AsciiToLower(s[i]) != lowercase[i]) return false;
  }
  return true;
}

bool IsGlob(std::string_view pattern) { return pattern.find_first_of("*?") != pattern.npos; }

}  // namespace internal

std::optional<std::string_view> RequestView::FindHeader(std::string_view lowercase_name) const {
  for (const Header& h : headers) {
    if (internal::EqualsLowercase(h.name, lowercase_name)) return h.value;
  }
  return std::nullopt;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Greedy matching that, on a mismatch, retries from the most recent '*' one character
  // further on. Earlier stars never need revisiting, so this is O(|pattern| * |text|) at worst
  // and linear for the usual one- or two-star patterns.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool PathPrefixMatch(std::string_view prefix, std::string_view path) {
  if (prefix.empty()) return true;
  if (!path.starts_with(prefix)) return false;
  if (prefix.back() == '/' || path.size() == prefix.size()) return true;
  return path[prefix.size()] == '/';
}

bool CompiledRule::Matches(const RequestView& request) const {
  if (split.total_weight() == 0) return false;
  if (!PathPrefixMatch(path_prefix, request.path)) return false;
  if (!model_pattern.empty() && !GlobMatch(model_pattern, request.model)) return false;
  for (const ExactHeader& h : headers) {
    std::optional<std::string_view> value = request.FindHeader(h.name);
    if (!value.has_value() || *value != h.value) return false;
  }
  for (const RegexHeader& h : header_regex) {
    std::optional<std::string_view> value = request.FindHeader(h.name);
    if (!value.has_value()) return false;
    if (!re2::RE2::FullMatch(re2::StringPiece(value->data(), value->size()), *h.regex)) {
      return false;
    }
  }
  return true;
}

}  // namespace inferencegw
