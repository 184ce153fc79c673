// ParseYamlStream: libyaml's events into a YamlStream (see config_yaml_internal.h).
//
// Why this is bounded: libyaml (the reference C implementation, also PyYAML's) scans and parses
// in one pass with a lookahead of at most one simple key (1024 characters, as YAML specifies)
// and emits events without resolving aliases. This file builds the tree iteratively (an explicit
// stack, no recursion), stops at the first error, caps nesting at kMaxYamlDepth and counts every
// node an alias stands for against kMaxYamlNodes before anything reads the tree. An alias shares
// its anchor's node instead of copying it, so memory is linear in the input, and readers that
// walk through aliases visit at most kMaxYamlNodes nodes.
//
// libfyaml was tried first and rejected: a flow collection where an implicit key may start
// (`[` at the top level or after `- `) is buffered to its end without the 1024-character limit,
// so 16 MiB of `[` took 84 s and 5.8 GB before the first event.
#include <yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config_yaml_internal.h"
#include "fmt/format.h"

namespace inferencegw::internal {

namespace {

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kNullTag = "tag:yaml.org,2002:null";

std::string_view Text(const yaml_char_t* text, size_t len) {
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text), len);
}
std::string_view Text(const yaml_char_t* text) {
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text));
}

// The first byte that YAML does not allow in a stream: NUL, or a byte
// that is not part of well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF
// included). nullopt when the text is clean.
std::optional<YamlError> CheckBytes(std::string_view text) {
  int line = 1;
  size_t line_start = 0;
  auto error = [&](size_t at, std::string_view what) {
    return YamlError{line, static_cast<int>(at - line_start) + 1, std::string(what)};
  };
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0) return error(i, "NUL byte");
      if (c == '\n') {
        ++line;
        line_start = i + 1;
      }
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return error(i, "invalid UTF-8");
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return error(i, "invalid UTF-8");
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return error(i, "invalid UTF-8");
    }
    i += len;
  }
  return std::nullopt;
}

// Owns a parser, and the event it last produced.
class Parser {
 public:
  explicit Parser(std::string_view text) {
    ok_ = yaml_parser_initialize(&parser_) != 0;
    if (!ok_) return;
    // libyaml asserts on a null input, which an empty string_view may carry. UTF-8 (CheckBytes)
    // with an optional BOM.
    static constexpr unsigned char kEmpty[] = "";
    const auto* input = text.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(text.data());
    yaml_parser_set_input_string(&parser_, input, text.size());
  }
  ~Parser() {
    if (has_event_) yaml_event_delete(&event_);
    if (ok_) yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  bool ok() const { return ok_; }
  // The next event, or null on a syntax error (see Error).
  yaml_event_t* Next() {
    if (has_event_) yaml_event_delete(&event_);
    has_event_ = yaml_parser_parse(&parser_, &event_) != 0;
    return has_event_ ? &event_ : nullptr;
  }
  YamlError Error() const {
    YamlError e;
    e.line = static_cast<int>(parser_.problem_mark.line) + 1;
    e.column = static_cast<int>(parser_.problem_mark.column) + 1;
    e.message = parser_.problem != nullptr ? parser_.problem : "syntax error";
    return e;
  }

 private:
  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool ok_ = false;
  bool has_event_ = false;
};

}  // namespace

// Builds a YamlStream from events. Not thread-safe; one per parse.
class YamlStreamBuilder {
 public:
  explicit YamlStreamBuilder(YamlStream* out) : out_(out) {}

  // Adds the node an event starts (or an alias stands for). Returns an error or nullopt.
  std::optional<YamlError> OnEvent(const yaml_event_t& event) {
    const int line = static_cast<int>(event.start_mark.line) + 1;
    const int column = static_cast<int>(event.start_mark.column) + 1;
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();  // anchors are per document
        return std::nullopt;
      case YAML_SCALAR_EVENT: {
        YamlStream::NodeData node;
        node.line = line;
        node.complete = true;
        const std::string_view tag = Text(event.data.scalar.tag);
        const std::string_view text = Text(event.data.scalar.value, event.data.scalar.length);
        const bool plain = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node.quoted = !plain || tag == kStrTag;
        const bool null_text =
            text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
        if (tag == kNullTag || (plain && tag.empty() && null_text)) {
          node.type = YamlNode::Type::kNull;
        } else {
          node.type = YamlNode::Type::kScalar;
          node.text = std::string(text);
        }
        return Add(std::move(node), Text(event.data.scalar.anchor), line, column);
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
          return YamlError{line, column,
                           fmt::format("nested deeper than {} levels", kMaxYamlDepth)};
        }
        YamlStream::NodeData node;
        node.line = line;
        const bool map = event.type == YAML_MAPPING_START_EVENT;
        node.type = map ? YamlNode::Type::kMap : YamlNode::Type::kSequence;
        const std::string_view anchor =
            Text(map ? event.data.mapping_start.anchor : event.data.sequence_start.anchor);
        if (std::optional<YamlError> e = Add(std::move(node), anchor, line, column)) return e;
        open_.push_back(static_cast<uint32_t>(out_->nodes_.size() - 1));
        return std::nullopt;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        if (open_.empty()) return YamlError{line, column, "unbalanced collection end"};
        YamlStream::NodeData& done = out_->nodes_[open_.back()];
        done.complete = true;
        open_.pop_back();
        if (!open_.empty()) out_->nodes_[open_.back()].expanded += done.expanded;
        return std::nullopt;
      }
      case YAML_ALIAS_EVENT: {
        const std::string name(Text(event.data.alias.anchor));
        auto it = anchors_.find(name);
        if (it == anchors_.end()) {
          return YamlError{line, column, fmt::format("unknown anchor \"{}\"", name)};
        }
        const YamlStream::NodeData& target = out_->nodes_[it->second];
        if (!target.complete) {
          return YamlError{line, column,
                           fmt::format("alias \"{}\" refers to a node that contains it", name)};
        }
        return Attach(it->second, target.expanded, line, column);
      }
      default:
        return std::nullopt;
    }
  }

 private:
  std::optional<YamlError> Add(YamlStream::NodeData node, std::string_view anchor, int line,
                               int column) {
    if (out_->nodes_.size() >= kMaxYamlNodes) return TooMany(line, column);
    out_->nodes_.push_back(std::move(node));
    const auto index = static_cast<uint32_t>(out_->nodes_.size() - 1);
    if (!anchor.empty()) anchors_[std::string(anchor)] = index;
    return Attach(index, 1, line, column);
  }

  // Makes `index` the next child of the innermost open collection (or a document root); the
  // parent chain's sizes grow by `expanded`, checked against the limit.
  std::optional<YamlError> Attach(uint32_t index, uint64_t expanded, int line, int column) {
    total_ += expanded;
    if (total_ > kMaxYamlNodes) return TooMany(line, column);
    if (open_.empty()) {
      out_->roots_.push_back(index);
    } else {
      YamlStream::NodeData& parent = out_->nodes_[open_.back()];
      parent.children.push_back(index);
      // A collection's own size is added to its parent when it ends; a scalar or alias now.
      if (out_->nodes_[index].complete) parent.expanded += expanded;
    }
    return std::nullopt;
  }

  static YamlError TooMany(int line, int column) {
    return YamlError{line, column,
                     fmt::format("more than {} nodes (aliases expanded)", kMaxYamlNodes)};
  }

  YamlStream* out_;
  std::vector<uint32_t> open_;  // collections started and not yet ended, outermost first
  std::unordered_map<std::string, uint32_t> anchors_;
  uint64_t total_ = 0;
};

std::optional<YamlError> ParseYamlStream(std::string_view text, YamlStream* out) {
  if (std::optional<YamlError> e = CheckBytes(text)) return e;
  Parser parser(text);
  if (!parser.ok()) return YamlError{0, 0, "cannot create the YAML parser"};
  YamlStreamBuilder builder(out);
  for (;;) {
    const yaml_event_t* event = parser.Next();
    if (event == nullptr) return parser.Error();
    if (event->type == YAML_STREAM_END_EVENT) return std::nullopt;
    if (std::optional<YamlError> e = builder.OnEvent(*event)) return e;
  }
}

// YamlNode and YamlStream accessors.

YamlNode::Type YamlNode::type() const {
  return stream_ == nullptr ? Type::kUndefined : stream_->nodes_[index_].type;
}

const std::string& YamlNode::Scalar() const {
  static const std::string* const kEmpty = new std::string();
  return IsScalar() ? stream_->nodes_[index_].text : *kEmpty;
}

bool YamlNode::IsQuoted() const { return IsScalar() && stream_->nodes_[index_].quoted; }

int YamlNode::Line() const { return stream_ == nullptr ? 0 : stream_->nodes_[index_].line; }

size_t YamlNode::size() const {
  if (IsSequence()) return stream_->nodes_[index_].children.size();
  if (IsMap()) return stream_->nodes_[index_].children.size() / 2;
  return 0;
}

YamlNode YamlNode::operator[](size_t i) const {
  return YamlNode(stream_, stream_->nodes_[index_].children[i]);
}

YamlNode YamlNode::Key(size_t i) const {
  return YamlNode(stream_, stream_->nodes_[index_].children[2 * i]);
}

YamlNode YamlNode::Value(size_t i) const {
  return YamlNode(stream_, stream_->nodes_[index_].children[2 * i + 1]);
}

std::vector<YamlNode> YamlStream::documents() const {
  std::vector<YamlNode> docs;
  docs.reserve(roots_.size());
  for (uint32_t root : roots_) docs.push_back(YamlNode(this, root));
  return docs;
}

}  // namespace inferencegw::internal
