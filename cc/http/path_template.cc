#include "cc/http/path_template.h"

#include "cc/http/url_encoding.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kei::http {
namespace {

bool IsLiteralChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                          // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')':     // sub-delims
    case '+': case ',': case ';': case '@':
      return true;
    default:
      return false;
  }
}

bool IsIdentStart(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsIdentChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Percent-decodes a path variable's raw text. With keep_slash, "%2F"/"%2f"
// stay encoded (multi-segment variables). false on a malformed escape.
bool DecodeVariable(absl::string_view in, bool keep_slash, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '%') {
      out->push_back(c);
      continue;
    }
    if (i + 2 >= in.size()) return false;  // fewer than two characters left
    int hi = HexDigitValue(in[i + 1]);
    int lo = HexDigitValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    char decoded = static_cast<char>(hi * 16 + lo);
    if (keep_slash && decoded == '/') {
      out->append(in.data() + i, 3);
    } else {
      out->push_back(decoded);
    }
    i += 2;
  }
  return true;
}

}  // namespace

// Recursive descent over the grammar in the header; positions are 0-based
// byte offsets into the template.
class TemplateParser {
 public:
  explicit TemplateParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<PathTemplate> Parse() {
    PathTemplate t;
    t.text_ = std::string(text_);
    if (text_.size() > PathTemplate::kMaxTemplateBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template of ", text_.size(), " bytes is longer than the limit of ",
                       PathTemplate::kMaxTemplateBytes));
    }
    if (text_.empty() || text_[0] != '/') return Error("a path template must start with '/'");
    pos_ = 1;
    if (pos_ == text_.size()) return t;  // "/"
    while (true) {
      absl::Status s = ParseSegment(&t, /*in_variable=*/false);
      if (!s.ok()) return s;
      if (pos_ == text_.size()) break;
      char c = text_[pos_];
      if (c == '/') {
        ++pos_;
        continue;
      }
      if (c == ':') {
        ++pos_;
        size_t start = pos_;
        while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
        if (pos_ == start) return Error("expected a verb after ':'");
        if (pos_ != text_.size()) return Error("the ':verb' suffix must end the template");
        t.verb_ = std::string(text_.substr(start, pos_ - start));
        break;
      }
      return Unexpected();
    }
    // `**` only last.
    for (size_t i = 0; i < t.segments_.size(); ++i) {
      if (t.segments_[i].kind == PathTemplate::Kind::kDouble) {
        if (i + 1 != t.segments_.size()) {
          return Error("'**' must be the last segment", double_pos_);
        }
        t.has_double_wildcard_ = true;
      }
      if (t.segments_[i].kind == PathTemplate::Kind::kLiteral) ++t.literal_count_;
    }
    if (t.segments_.size() > PathTemplate::kMaxSegments) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template \"", absl::CHexEscape(text_), "\" has more than ",
                       PathTemplate::kMaxSegments, " segments"));
    }
    return t;
  }

 private:
  absl::Status ParseSegment(PathTemplate* t, bool in_variable) {
    if (pos_ == text_.size()) return Error("expected a segment");
    char c = text_[pos_];
    if (c == '{') {
      if (in_variable) return Error("variables cannot nest");
      return ParseVariable(t);
    }
    if (c == '*') {
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        if (double_pos_ == std::string::npos) double_pos_ = pos_;
        pos_ += 2;
        t->segments_.push_back({PathTemplate::Kind::kDouble, ""});
      } else {
        ++pos_;
        t->segments_.push_back({PathTemplate::Kind::kSingle, ""});
      }
      return absl::OkStatus();
    }
    size_t start = pos_;
    while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
    if (pos_ == start) {
      if (c == '/') return Error("empty segment");
      return Unexpected();
    }
    t->segments_.push_back(
        {PathTemplate::Kind::kLiteral, std::string(text_.substr(start, pos_ - start))});
    return absl::OkStatus();
  }

  absl::Status ParseVariable(PathTemplate* t) {
    ++pos_;  // '{'
    size_t start = pos_;
    while (true) {
      if (pos_ == text_.size() || !IsIdentStart(text_[pos_])) {
        return Error("expected a field name");
      }
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        continue;
      }
      break;
    }
    PathTemplate::Variable v;
    v.field_path = std::string(text_.substr(start, pos_ - start));
    if (!names_.insert(v.field_path).second) {
      return Error(absl::StrCat("variable '", v.field_path, "' appears twice"), start);
    }
    v.begin = static_cast<int>(t->segments_.size());
    if (pos_ < text_.size() && text_[pos_] == '=') {
      ++pos_;
      while (true) {
        absl::Status s = ParseSegment(t, /*in_variable=*/true);
        if (!s.ok()) return s;
        if (pos_ < text_.size() && text_[pos_] == '/') {
          ++pos_;
          continue;
        }
        break;
      }
    } else {
      t->segments_.push_back({PathTemplate::Kind::kSingle, ""});
    }
    if (pos_ == text_.size() || text_[pos_] != '}') {
      return pos_ == text_.size() ? Error("missing '}'") : Unexpected();
    }
    ++pos_;
    v.end = static_cast<int>(t->segments_.size());
    v.ends_with_double = t->segments_.back().kind == PathTemplate::Kind::kDouble;
    v.multi = v.end - v.begin > 1 || v.ends_with_double;
    t->variables_.push_back(std::move(v));
    return absl::OkStatus();
  }

  absl::Status Unexpected() {
    return Error(absl::StrCat("unexpected '", absl::CHexEscape(text_.substr(pos_, 1)), "'"));
  }
  absl::Status Error(absl::string_view what) { return Error(what, pos_); }
  absl::Status Error(absl::string_view what, size_t pos) {
    return absl::InvalidArgumentError(absl::StrCat("path template \"", absl::CHexEscape(text_),
                                                   "\": ", what, " at position ", pos));
  }

  absl::string_view text_;
  size_t pos_ = 0;
  size_t double_pos_ = std::string::npos;
  std::set<std::string> names_;
};

bool SplitPath::Split(absl::string_view path, SplitPath* out) {
  out->segments.clear();
  if (path.empty() || path[0] != '/' || path.size() > kMaxBytes) return false;
  if (path.size() == 1) return true;
  size_t start = 1;
  while (true) {
    if (out->segments.size() == kMaxSegments) return false;
    size_t slash = path.find('/', start);
    if (slash == absl::string_view::npos) {
      out->segments.push_back(path.substr(start));
      return true;
    }
    out->segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  return TemplateParser(text).Parse();
}

bool PathTemplate::Match(absl::string_view path, PathBindings* bindings) const {
  SplitPath split;
  if (!SplitPath::Split(path, &split)) return false;
  return Match(split, bindings);
}

bool PathTemplate::Match(const SplitPath& path, PathBindings* bindings) const {
  const size_t n = segments_.size();
  const size_t count = path.segments.size();
  if (has_double_wildcard_ ? count + 1 < n : count != n) return false;
  // The last segment, without the `:verb` suffix if the template has one.
  absl::string_view last = count > 0 ? path.segments.back() : absl::string_view();
  if (!verb_.empty()) {
    if (count == 0 || last.size() < verb_.size() + 2) return false;
    absl::string_view suffix = last.substr(last.size() - verb_.size() - 1);
    if (suffix[0] != ':' || suffix.substr(1) != verb_) return false;
    last.remove_suffix(verb_.size() + 1);
  }
  auto segment = [&](size_t i) { return i + 1 == count ? last : path.segments[i]; };
  for (size_t i = 0; i < count; ++i) {
    absl::string_view s = segment(i);
    if (s.empty()) return false;
    if (i < n && segments_[i].kind == Kind::kLiteral && s != segments_[i].literal) return false;
  }
  // Every variable's value, decoded (also when bindings are not wanted, so that
  // a malformed escape is a mismatch either way).
  PathBindings local;
  PathBindings* out = bindings != nullptr ? bindings : &local;
  out->clear();
  out->reserve(variables_.size());
  std::string value;
  for (const Variable& v : variables_) {
    size_t begin = static_cast<size_t>(v.begin);
    size_t end = v.ends_with_double ? count : static_cast<size_t>(v.end);
    absl::string_view raw;
    if (begin < end) {
      absl::string_view first = segment(begin);
      absl::string_view final_segment = segment(end - 1);
      raw = absl::string_view(first.data(),
                              final_segment.data() + final_segment.size() - first.data());
    }
    if (!DecodeVariable(raw, v.multi, &value)) return false;
    out->emplace_back(v.field_path, value);
  }
  return true;
}

std::vector<std::string> PathTemplate::FieldPaths() const {
  std::vector<std::string> out;
  out.reserve(variables_.size());
  for (const Variable& v : variables_) out.push_back(v.field_path);
  return out;
}

std::string PathTemplate::Shape() const {
  std::string out;
  for (const Segment& s : segments_) {
    out.push_back('/');
    switch (s.kind) {
      case Kind::kLiteral: out += s.literal; break;
      case Kind::kSingle: out += "*"; break;
      case Kind::kDouble: out += "**"; break;
    }
  }
  if (out.empty()) out = "/";
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

}  // namespace kei::http
