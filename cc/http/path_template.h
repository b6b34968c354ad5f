// Path templates of REST routes (the kit's kei.v1.http, same syntax as
// google.api.http), parsed once and matched against request paths. Only the
// path: picking a route is route_table.h, filling a request is rest_transcoder.h.
//
//   Template = "/" [ Segments ] [ ":" Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//
// `*` matches one path segment, `**` zero or more (only as the last segment),
// `{f}` is `{f=*}`. A `:verb` suffix is matched against the end of the last
// path segment.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kei::http {

// (field path, value) pairs, in template order.
using PathBindings = std::vector<std::pair<std::string, std::string>>;

// A request path cut into its raw (still percent-encoded) segments, done once
// per request so that a route table can try many templates. Views into the
// path given to Split, which must outlive this.
struct SplitPath {
  // Limits on what a request path may be; anything bigger matches no template.
  static constexpr size_t kMaxBytes = 8192;
  static constexpr size_t kMaxSegments = 64;

  // false if `path` does not start with '/' or is beyond the limits. "/" has no
  // segments; "/a//b/" has the segments "a", "", "b", "".
  static bool Split(absl::string_view path, SplitPath* out);

  std::vector<absl::string_view> segments;
};

class PathTemplate {
 public:
  static constexpr size_t kMaxTemplateBytes = 1024;
  static constexpr size_t kMaxSegments = SplitPath::kMaxSegments;

  // The template "/".
  PathTemplate() = default;

  // INVALID_ARGUMENT naming the template and the position of the first error.
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // Matches a request path (no query string). On success, and when `bindings`
  // is not null, replaces *bindings with the variables' values, percent-decoded:
  // a single-segment variable ({f}, {f=*}) is fully decoded, "%2F" included; a
  // multi-segment one ({f=a/*}, {f=**}) keeps its '/' separators and leaves
  // "%2F" encoded so the value still splits the way the path did.
  // No match for: a path not starting with '/', an empty segment where a
  // literal, `*` or `**` must match ("//", a trailing '/'), or a malformed
  // percent-escape inside a variable ("%zz").
  bool Match(absl::string_view path, PathBindings* bindings) const;
  bool Match(const SplitPath& path, PathBindings* bindings) const;

  // The field paths of the variables, in template order ("shelf.name").
  std::vector<std::string> FieldPaths() const;
  // The template as written.
  const std::string& text() const { return text_; }
  // The `:verb` suffix without the colon; empty if none.
  const std::string& verb() const { return verb_; }
  // The template with variables replaced by their patterns ("/v1/{name=a/*}:x"
  // -> "/v1/a/*:x"): two templates with the same shape match the same paths.
  std::string Shape() const;

  // For choosing among templates that all match a path (route_table.h).
  int literal_count() const { return literal_count_; }
  int segment_count() const { return static_cast<int>(segments_.size()); }
  bool has_double_wildcard() const { return has_double_wildcard_; }

 private:
  friend class TemplateParser;

  enum class Kind { kLiteral, kSingle, kDouble };
  struct Segment {
    Kind kind;
    std::string literal;  // kLiteral only
  };
  struct Variable {
    std::string field_path;
    int begin = 0;  // first segment
    int end = 0;    // one past the last; for a variable ending in `**`, the path's end
    bool multi = false;
    bool ends_with_double = false;
  };

  std::string text_ = "/";
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
  int literal_count_ = 0;
  bool has_double_wildcard_ = false;
};

}  // namespace kei::http
