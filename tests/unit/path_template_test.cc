// PathTemplate: the google.api.http template grammar (literals, `*`, `**`,
// variables with patterns, `:verb`), its errors with positions and limits,
// matching with percent-decoding rules, and odd request paths that must simply
// not match.
#include "cc/http/path_template.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

PathTemplate MustParse(absl::string_view text) {
  auto t = PathTemplate::Parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return t.ok() ? *std::move(t) : PathTemplate();
}

TEST(PathTemplateParseTest, AcceptsTheGrammar) {
  for (const char* text : {
           "/",
           "/v1",
           "/v1/echo/{text}",
           "/v1/{name=shelves/*/books/*}",
           "/v1/{name=shelves/*}/books",
           "/v1/{book.name=shelves/*/books/*}",
           "/v1/files/{path=**}",
           "/v1/*/x",
           "/v1/**",
           "/v1/{name=shelves/*/books/*}:cancel",
           "/v1/{a}/{b.c.d}:do-it",
           "/api/v1/rpc/plan",
           "/v1/a-b.c_d~e!$&'()+,;@",
           "/v1/{x=literal}",
           "/v1/{path=a/**}",
       }) {
    auto t = PathTemplate::Parse(text);
    EXPECT_TRUE(t.ok()) << text << ": " << t.status();
    if (t.ok()) {
      EXPECT_EQ(t->text(), text);
    }
  }
}

TEST(PathTemplateParseTest, RejectsMalformedTemplatesWithPositions) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "must start with '/' at position 0"},
           {"v1/echo", "must start with '/' at position 0"},
           {"//", "empty segment at position 1"},
           {"/v1//x", "empty segment at position 4"},
           {"/v1/", "expected a segment at position 4"},
           {"/v1/{", "expected a field name at position 5"},
           {"/v1/{}", "expected a field name at position 5"},
           {"/v1/{1abc}", "expected a field name at position 5"},
           {"/v1/{a.}", "expected a field name at position 7"},
           {"/v1/{a", "missing '}' at position 6"},
           {"/v1/{a=}", "unexpected '}' at position 7"},
           {"/v1/{a=b/{c}}", "variables cannot nest at position 9"},
           {"/v1/{a}/{a}", "variable 'a' appears twice at position 9"},
           {"/v1/**/x", "'**' must be the last segment at position 4"},
           {"/v1/{a=**}/x", "'**' must be the last segment at position 7"},
           {"/v1/x:", "expected a verb after ':' at position 6"},
           {"/v1/x:a/b", "the ':verb' suffix must end the template at position 7"},
           {"/v1/x y", "unexpected ' ' at position 5"},
           {"/v1/x?y=1", "unexpected '?' at position 5"},
           {"/v1/%41", "unexpected '%' at position 4"},
           {"/v1/***", "unexpected '*' at position 6"},
           {"/v1/a}", "unexpected '}' at position 5"},
           {"/:verb", "unexpected ':' at position 1"},
           {"/v1/\xff", "unexpected '\\xff' at position 4"},
       }) {
    auto t = PathTemplate::Parse(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(PathTemplateParseTest, Limits) {
  std::string long_template = "/" + std::string(PathTemplate::kMaxTemplateBytes, 'a');
  auto t = PathTemplate::Parse(long_template);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("longer than the limit of 1024"));

  std::string deep;
  for (size_t i = 0; i < PathTemplate::kMaxSegments + 1; ++i) deep += "/a";
  t = PathTemplate::Parse(deep);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("more than 64 segments"));

  std::string ok_depth;
  for (size_t i = 0; i < PathTemplate::kMaxSegments; ++i) ok_depth += "/a";
  EXPECT_TRUE(PathTemplate::Parse(ok_depth).ok());
}

TEST(PathTemplateParseTest, FieldPathsShapeAndCounts) {
  PathTemplate t = MustParse("/v1/{book.name=shelves/*/books/*}/{x}:cancel");
  EXPECT_THAT(t.FieldPaths(), ElementsAre("book.name", "x"));
  EXPECT_EQ(t.verb(), "cancel");
  EXPECT_EQ(t.Shape(), "/v1/shelves/*/books/*/*:cancel");
  EXPECT_EQ(t.literal_count(), 3);
  EXPECT_EQ(t.segment_count(), 6);
  EXPECT_FALSE(t.has_double_wildcard());

  PathTemplate files = MustParse("/v1/files/{path=**}");
  EXPECT_TRUE(files.has_double_wildcard());
  EXPECT_EQ(files.Shape(), "/v1/files/**");

  // {a} and {b} at the same place have the same shape.
  EXPECT_EQ(MustParse("/v1/{a}").Shape(), MustParse("/v1/{b=*}").Shape());
  EXPECT_EQ(MustParse("/").Shape(), "/");
  EXPECT_THAT(MustParse("/").FieldPaths(), IsEmpty());
  EXPECT_EQ(PathTemplate().text(), "/");
}

TEST(PathTemplateMatchTest, LiteralsAndSingleVariables) {
  PathTemplate t = MustParse("/v1/echo/{text}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/echo/hello", &b));
  EXPECT_THAT(b, ElementsAre(Pair("text", "hello")));
  EXPECT_FALSE(t.Match("/v1/echo", &b));
  EXPECT_FALSE(t.Match("/v1/echo/a/b", &b));
  EXPECT_FALSE(t.Match("/v2/echo/a", &b));
  EXPECT_FALSE(t.Match("/V1/echo/a", &b));  // literals are case-sensitive
  EXPECT_TRUE(t.Match("/v1/echo/a", nullptr));
}

TEST(PathTemplateMatchTest, SingleSegmentVariablesDecodeEverything) {
  PathTemplate t = MustParse("/v1/echo/{text}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/echo/a%20b%2Fc%2fd%25e+f", &b));
  EXPECT_THAT(b, ElementsAre(Pair("text", "a b/c/d%e+f")));  // '+' is not a space in paths
  ASSERT_TRUE(t.Match("/v1/echo/%E2%9C%93", &b));
  EXPECT_THAT(b, ElementsAre(Pair("text", "\xE2\x9C\x93")));
  ASSERT_TRUE(t.Match("/v1/echo/%00", &b));
  EXPECT_EQ(b[0].second, std::string(1, '\0'));
}

TEST(PathTemplateMatchTest, MultiSegmentVariablesKeepEncodedSlashes) {
  PathTemplate t = MustParse("/v1/{name=shelves/*/books/*}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/shelves/s1/books/b%2F2%20x", &b));
  EXPECT_THAT(b, ElementsAre(Pair("name", "shelves/s1/books/b%2F2 x")));
  EXPECT_FALSE(t.Match("/v1/shelves/s1/books", &b));
  EXPECT_FALSE(t.Match("/v1/shelves/s1/cds/b", &b));
  EXPECT_FALSE(t.Match("/v1/shelves/s1/books/b/c", &b));
}

TEST(PathTemplateMatchTest, VariableWithPatternInTheMiddle) {
  PathTemplate t = MustParse("/v1/{parent=shelves/*}/books");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/shelves/7/books", &b));
  EXPECT_THAT(b, ElementsAre(Pair("parent", "shelves/7")));
  EXPECT_FALSE(t.Match("/v1/shelves/7/books/1", &b));
}

TEST(PathTemplateMatchTest, DoubleWildcard) {
  PathTemplate t = MustParse("/v1/files/{path=**}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/files/a/b/c.txt", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "a/b/c.txt")));
  ASSERT_TRUE(t.Match("/v1/files/a", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "a")));
  ASSERT_TRUE(t.Match("/v1/files", &b));  // `**` matches zero segments
  EXPECT_THAT(b, ElementsAre(Pair("path", "")));
  EXPECT_FALSE(t.Match("/v1/files/a//b", &b));
  EXPECT_FALSE(t.Match("/v1/files/a/", &b));
  EXPECT_FALSE(t.Match("/v1", &b));

  PathTemplate prefixed = MustParse("/v1/{path=docs/**}");
  ASSERT_TRUE(prefixed.Match("/v1/docs/x/y", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "docs/x/y")));
  ASSERT_TRUE(prefixed.Match("/v1/docs", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "docs")));

  PathTemplate bare = MustParse("/static/**");
  EXPECT_TRUE(bare.Match("/static/a/b", &b));
  EXPECT_THAT(b, IsEmpty());
}

TEST(PathTemplateMatchTest, Wildcards) {
  PathTemplate t = MustParse("/v1/*/items/{id}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/anything/items/3", &b));
  EXPECT_THAT(b, ElementsAre(Pair("id", "3")));
  EXPECT_FALSE(t.Match("/v1//items/3", &b));
}

TEST(PathTemplateMatchTest, Verb) {
  PathTemplate t = MustParse("/v1/{name=shelves/*/books/*}:cancel");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/shelves/1/books/2:cancel", &b));
  EXPECT_THAT(b, ElementsAre(Pair("name", "shelves/1/books/2")));
  EXPECT_FALSE(t.Match("/v1/shelves/1/books/2", &b));
  EXPECT_FALSE(t.Match("/v1/shelves/1/books/2:cancelx", &b));
  EXPECT_FALSE(t.Match("/v1/shelves/1/books/2:undo", &b));
  EXPECT_FALSE(t.Match("/v1/shelves/1/books/:cancel", &b));  // empty segment before the verb
  EXPECT_FALSE(t.Match("/v1/shelves/1/books/2%3Acancel", &b));
  // The last ':' splits: "a:b:cancel" is "a:b" with verb "cancel".
  ASSERT_TRUE(t.Match("/v1/shelves/1/books/a:b:cancel", &b));
  EXPECT_THAT(b, ElementsAre(Pair("name", "shelves/1/books/a:b")));

  PathTemplate literal = MustParse("/v1/books:batchGet");
  EXPECT_TRUE(literal.Match("/v1/books:batchGet", &b));
  EXPECT_FALSE(literal.Match("/v1/books", &b));
  EXPECT_FALSE(literal.Match("/v1/:batchGet", &b));

  PathTemplate files = MustParse("/v1/{path=**}:stat");
  ASSERT_TRUE(files.Match("/v1/a/b:stat", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "a/b")));
}

TEST(PathTemplateMatchTest, WithoutATemplateVerbAColonIsPartOfTheSegment) {
  PathTemplate t = MustParse("/v1/echo/{text}");
  PathBindings b;
  ASSERT_TRUE(t.Match("/v1/echo/a:b", &b));
  EXPECT_THAT(b, ElementsAre(Pair("text", "a:b")));
}

TEST(PathTemplateMatchTest, RootTemplate) {
  PathTemplate root = MustParse("/");
  PathBindings b;
  EXPECT_TRUE(root.Match("/", &b));
  EXPECT_THAT(b, IsEmpty());
  EXPECT_FALSE(root.Match("//", &b));
  EXPECT_FALSE(root.Match("/a", &b));
  EXPECT_FALSE(root.Match("", &b));
}

TEST(PathTemplateMatchTest, OddPathsDoNotMatch) {
  PathTemplate t = MustParse("/v1/echo/{text}");
  PathTemplate lit = MustParse("/v1/echo");
  PathBindings b = {{"stale", "x"}};
  for (const char* path : {"", "v1/echo/x", "//", "///", "/v1/echo/", "/v1//echo/x", "//v1/echo/x",
                           "/v1/echo/x/", "/v1/echo/%zz", "/v1/echo/%", "/v1/echo/%4",
                           "/v1/echo/a%g1", "?", "/v1/echo//"}) {
    EXPECT_FALSE(t.Match(path, &b)) << path;
    EXPECT_FALSE(t.Match(path, nullptr)) << path;
  }
  EXPECT_FALSE(lit.Match("/v1/echo/", &b));
  EXPECT_TRUE(lit.Match("/v1/echo", &b));
}

TEST(PathTemplateMatchTest, MalformedEscapesOutsideVariablesFailTheLiteral) {
  PathTemplate t = MustParse("/v1/{x}");
  PathBindings b;
  EXPECT_FALSE(t.Match("/v%zz/1", &b));
  EXPECT_TRUE(t.Match("/v1/%41", &b));
  EXPECT_THAT(b, ElementsAre(Pair("x", "A")));
}

TEST(PathTemplateMatchTest, PathLimits) {
  PathTemplate t = MustParse("/v1/files/{path=**}");
  std::string deep = "/v1/files";
  for (size_t i = 2; i < SplitPath::kMaxSegments; ++i) deep += "/a";
  PathBindings b;
  EXPECT_TRUE(t.Match(deep, &b));  // 64 segments
  EXPECT_FALSE(t.Match(deep + "/a", &b));  // 65
  std::string huge = "/v1/files/" + std::string(SplitPath::kMaxBytes, 'x');
  EXPECT_FALSE(t.Match(huge, &b));
}

TEST(SplitPathTest, Segments) {
  SplitPath s;
  ASSERT_TRUE(SplitPath::Split("/", &s));
  EXPECT_THAT(s.segments, IsEmpty());
  ASSERT_TRUE(SplitPath::Split("/a//b/", &s));
  EXPECT_THAT(s.segments, ElementsAre("a", "", "b", ""));
  EXPECT_FALSE(SplitPath::Split("", &s));
  EXPECT_FALSE(SplitPath::Split("a/b", &s));
}

}  // namespace
}  // namespace kei::http
