// RouteTable: routes read from kei.v1.http annotations (additional bindings,
// custom verbs, streaming kinds), every build-time error naming the method and
// template, and lookup: specificity, 405 verb lists, query strings, odd paths.
#include "cc/http/route_table.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/dispatch/handler_registry.h"
#include "cc/registry/method_info.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/echo.pb.h"
#include "kei/test/v1/rest.pb.h"
#include "kei/v1/annotations.pb.h"

namespace kei::http {
namespace {

namespace gp = google::protobuf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

MethodHandler HandlerFor(const gp::MethodDescriptor* method) {
  MethodHandler h;
  h.info = MethodInfo::FromDescriptor(method);
  h.request_prototype = gp::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  h.response_prototype =
      gp::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  return h;
}

void RegisterService(const gp::ServiceDescriptor* service, HandlerRegistry* registry) {
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    ASSERT_TRUE(registry->Register(HandlerFor(service->method(i))).ok());
  }
}

const gp::ServiceDescriptor* RestService() {
  return test::v1::Book::descriptor()->file()->FindServiceByName("RestTestService");
}

// Services declared at run time, over the messages of rest.proto, so that a
// test can give a method any kei.v1.http rule, including broken ones.
class DynamicServices {
 public:
  struct Method {
    std::string name;
    kei::v1::HttpRule rule;
    std::string input = "GetBookRequest";
    std::string output = "Book";
    bool client_streaming = false;
    bool server_streaming = false;
  };

  const gp::ServiceDescriptor* Build(const std::vector<Method>& methods) {
    gp::FileDescriptorProto file;
    file.set_name(absl::StrCat("dynamic_", ++files_, ".proto"));
    file.set_package(absl::StrCat("kei.dyn", files_));
    file.set_syntax("proto3");
    file.add_dependency("kei/test/v1/rest.proto");
    gp::ServiceDescriptorProto* service = file.add_service();
    service->set_name("Dyn");
    for (const Method& m : methods) {
      gp::MethodDescriptorProto* method = service->add_method();
      method->set_name(m.name);
      method->set_input_type(".kei.test.v1." + m.input);
      method->set_output_type(".kei.test.v1." + m.output);
      method->set_client_streaming(m.client_streaming);
      method->set_server_streaming(m.server_streaming);
      *method->mutable_options()->MutableExtension(kei::v1::http) = m.rule;
    }
    const gp::FileDescriptor* built = pool_.BuildFile(file);
    EXPECT_NE(built, nullptr);
    return built == nullptr ? nullptr : built->service(0);
  }

  absl::StatusOr<RouteTable> Table(const std::vector<Method>& methods) {
    registry_ = std::make_unique<HandlerRegistry>();
    const gp::ServiceDescriptor* service = Build(methods);
    if (service == nullptr) return absl::InternalError("bad test service");
    RegisterService(service, registry_.get());
    return RouteTable::Build(*registry_);
  }

 private:
  gp::DescriptorPool pool_{gp::DescriptorPool::generated_pool()};
  std::unique_ptr<HandlerRegistry> registry_;
  int files_ = 0;
};

kei::v1::HttpRule Get(const std::string& path) {
  kei::v1::HttpRule r;
  r.set_get(path);
  return r;
}
kei::v1::HttpRule Post(const std::string& path, const std::string& body = "") {
  kei::v1::HttpRule r;
  r.set_post(path);
  r.set_body(body);
  return r;
}

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterService(RestService(), &registry_);
    auto table = RouteTable::Build(registry_);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *std::move(table);
  }

  const RestRoute* FindRoute(const std::string& verb, const std::string& text) {
    for (const RestRoute& r : table_.routes()) {
      if (r.verb == verb && r.path.text() == text) return &r;
    }
    return nullptr;
  }

  HandlerRegistry registry_;
  RouteTable table_;
};

TEST_F(RouteTableTest, ReadsEveryAnnotatedMethodAndItsAdditionalBindings) {
  std::vector<std::string> routes;
  for (const RestRoute& r : table_.routes()) {
    routes.push_back(absl::StrCat(r.verb, " ", r.path.text(), " -> ", r.method->info.method_name,
                                  "#", r.binding));
  }
  EXPECT_THAT(routes, testing::UnorderedElementsAre(
                          "GET /v1/shelves/{shelf_id} -> GetShelf#0",
                          "PUT /v1/shelves/{shelf.name} -> UpdateShelf#0",
                          "GET /v1/{name=shelves/*/books/*} -> GetBook#0",
                          "GET /v1/books/{book_id} -> GetBook#1",
                          "POST /v1/{parent=shelves/*}/books -> CreateBook#0",
                          "PATCH /v1/{book.name=shelves/*/books/*} -> UpdateBook#0",
                          "DELETE /v1/{name=shelves/*/books/*} -> DeleteBook#0",
                          "POST /v1/{name=shelves/*/books/*}:cancel -> CancelBook#0",
                          "POST /v1/books/{book_id}/price -> SetPrice#0",
                          "GET /v1/search -> Search#0",
                          "POST /v1/search -> Search#1",
                          "QUERY /v1/search -> Search#2",
                          "GET /v1/files/{path=**} -> GetFile#0",
                          "GET /v1/shelves/{shelf_id}/watch -> WatchShelf#0",
                          "GET / -> Root#0"));

  const RestRoute* search = FindRoute("GET", "/v1/search");
  ASSERT_NE(search, nullptr);
  EXPECT_EQ(search->response_body, "books");
  ASSERT_NE(search->response_body_field, nullptr);
  EXPECT_EQ(search->response_body_field->name(), "books");
  EXPECT_EQ(search->body_field, nullptr);

  const RestRoute* create = FindRoute("POST", "/v1/{parent=shelves/*}/books");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->body, "book");
  ASSERT_NE(create->body_field, nullptr);
  EXPECT_EQ(create->body_field->full_name(), "kei.test.v1.CreateBookRequest.book");
  EXPECT_EQ(create->Describe(),
            "POST /v1/{parent=shelves/*}/books (kei.test.v1.RestTestService/CreateBook)");

  const RestRoute* watch = FindRoute("GET", "/v1/shelves/{shelf_id}/watch");
  ASSERT_NE(watch, nullptr);
  EXPECT_EQ(watch->method->info.kind, StreamKind::kServerStreaming);
}

TEST_F(RouteTableTest, RoutesAreMostSpecificFirst) {
  const auto& routes = table_.routes();
  for (size_t i = 1; i < routes.size(); ++i) {
    auto rank = [](const RestRoute& r) {
      return r.path.literal_count() + (r.path.verb().empty() ? 0 : 1);
    };
    EXPECT_GE(rank(routes[i - 1]), rank(routes[i])) << routes[i].Describe();
  }
  EXPECT_EQ(routes.back().path.text(), "/");
}

TEST_F(RouteTableTest, FindsRoutesAndBindings) {
  std::vector<std::string> allowed = {"stale"};
  auto m = table_.Find("GET", "/v1/shelves/12", &allowed);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "GetShelf");
  EXPECT_THAT(m->bindings, ElementsAre(Pair("shelf_id", "12")));
  EXPECT_THAT(allowed, IsEmpty());

  m = table_.Find("GET", "/v1/shelves/s1/books/b%2F2", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "GetBook");
  EXPECT_THAT(m->bindings, ElementsAre(Pair("name", "shelves/s1/books/b%2F2")));

  m = table_.Find("GET", "/v1/books/7", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "GetBook");
  EXPECT_EQ(m->route->binding, 1);
  EXPECT_THAT(m->bindings, ElementsAre(Pair("book_id", "7")));

  m = table_.Find("PATCH", "/v1/shelves/s1/books/b2", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "UpdateBook");
  EXPECT_THAT(m->bindings, ElementsAre(Pair("book.name", "shelves/s1/books/b2")));

  m = table_.Find("POST", "/v1/shelves/s1/books/b2:cancel", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "CancelBook");

  m = table_.Find("QUERY", "/v1/search", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->binding, 2);

  m = table_.Find("GET", "/v1/files/a/b/c", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(m->bindings, ElementsAre(Pair("path", "a/b/c")));

  m = table_.Find("GET", "/", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "Root");
}

TEST_F(RouteTableTest, OtherVerbsAreListedForA405) {
  std::vector<std::string> allowed;
  EXPECT_FALSE(table_.Find("PUT", "/v1/shelves/s1/books/b2", &allowed).has_value());
  EXPECT_THAT(allowed, ElementsAre("DELETE", "GET", "PATCH"));

  EXPECT_FALSE(table_.Find("get", "/v1/search", &allowed).has_value());  // case-sensitive
  EXPECT_THAT(allowed, ElementsAre("GET", "POST", "QUERY"));

  EXPECT_FALSE(table_.Find("GET", "/v1/shelves/s1/books/b2:cancel", &allowed).has_value());
  EXPECT_THAT(allowed, ElementsAre("POST"));

  // Without `allowed`, just no match.
  EXPECT_FALSE(table_.Find("PUT", "/v1/search", nullptr).has_value());
}

TEST_F(RouteTableTest, UnknownPathsAreNotFound) {
  std::vector<std::string> allowed = {"stale"};
  for (const char* path : {"/v2/search", "/v1/search/", "/v1//search", "//", "", "v1/search",
                           "/v1/shelves/", "/v1/shelves/1/books/2/3", "/v1/shelves/%zz",
                           "/v1/shelves/1/watch/x", "///", "/v1/files/a//b", "%2F"}) {
    EXPECT_FALSE(table_.Find("GET", path, &allowed).has_value()) << path;
    EXPECT_THAT(allowed, IsEmpty()) << path;
  }
}

TEST_F(RouteTableTest, IgnoresTheQueryString) {
  auto m = table_.Find("GET", "/v1/search?query=x&count=2", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.method_name, "Search");
  m = table_.Find("GET", "/v1/shelves/3?x=/y/z#frag", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(m->bindings, ElementsAre(Pair("shelf_id", "3")));
}

TEST_F(RouteTableTest, HugeAndDeepPathsAreNotFound) {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "/a";
  std::vector<std::string> allowed;
  EXPECT_FALSE(table_.Find("GET", deep, &allowed).has_value());
  EXPECT_FALSE(table_.Find("GET", "/v1/files/" + std::string(100000, 'x'), &allowed).has_value());
}

TEST(RouteTableBuildTest, EchoAndAgentServices) {
  HandlerRegistry registry;
  RegisterService(test::v1::EchoRequest::descriptor()->file()->FindServiceByName("EchoService"),
                  &registry);
  RegisterService(agent::v1::PlanRequest::descriptor()->file()->FindServiceByName("AgentService"),
                  &registry);
  auto table = RouteTable::Build(registry);
  ASSERT_TRUE(table.ok()) << table.status();
  auto m = table->Find("GET", "/v1/echo/hello%20there", nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->method->info.full_name, "kei.test.v1.EchoService/Echo");
  EXPECT_THAT(m->bindings, ElementsAre(Pair("text", "hello there")));
  for (const char* name : {"plan", "act", "observe", "explain"}) {
    m = table->Find("POST", absl::StrCat("/api/v1/rpc/", name), nullptr);
    ASSERT_TRUE(m.has_value()) << name;
    EXPECT_EQ(m->route->body, "*");
  }
  std::vector<std::string> allowed;
  EXPECT_FALSE(table->Find("GET", "/api/v1/rpc/plan", &allowed).has_value());
  EXPECT_THAT(allowed, ElementsAre("POST"));
}

TEST(RouteTableBuildTest, EmptyRegistryAndUnannotatedMethods) {
  HandlerRegistry registry;
  auto table = RouteTable::Build(registry);
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(table->routes(), IsEmpty());
  EXPECT_FALSE(table->Find("GET", "/", nullptr).has_value());

  MethodHandler no_descriptor;
  no_descriptor.info.full_name = "x.Y/Z";
  MethodHandler internal = HandlerFor(RestService()->FindMethodByName("Internal"));
  table = RouteTable::Build(std::vector<const MethodHandler*>{&no_descriptor, &internal, nullptr});
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(table->routes(), IsEmpty());
}

TEST(RouteTableBuildTest, MostSpecificTemplateWins) {
  DynamicServices dyn;
  auto table = dyn.Table({
      {"CatchAll", Get("/v1/{name=**}")},
      {"AnyItem", Get("/v1/items/{name}")},
      {"Special", Get("/v1/items/special")},
      {"Wild", Get("/v1/*/special")},
      {"Post", Post("/v1/{name=**}")},
      {"PostVerb", Post("/v1/{name=**}:run")},
  });
  ASSERT_TRUE(table.ok()) << table.status();
  auto method_of = [&](const char* verb, const char* path) -> std::string {
    auto m = table->Find(verb, path, nullptr);
    return m.has_value() ? m->route->method->info.method_name : "none";
  };
  EXPECT_EQ(method_of("GET", "/v1/items/special"), "Special");
  EXPECT_EQ(method_of("GET", "/v1/items/other"), "AnyItem");
  EXPECT_EQ(method_of("GET", "/v1/things/special"), "Wild");
  EXPECT_EQ(method_of("GET", "/v1/a/b/c"), "CatchAll");
  EXPECT_EQ(method_of("GET", "/v1"), "CatchAll");
  EXPECT_EQ(method_of("POST", "/v1/a/b:run"), "PostVerb");
  EXPECT_EQ(method_of("POST", "/v1/a/b:walk"), "Post");
  auto m = table->Find("POST", "/v1/a/b:walk", nullptr);
  EXPECT_THAT(m->bindings, ElementsAre(Pair("name", "a/b:walk")));
}

TEST(RouteTableBuildTest, CustomVerbs) {
  DynamicServices dyn;
  kei::v1::HttpRule head;
  head.mutable_custom()->set_kind("HEAD");
  head.mutable_custom()->set_path("/v1/books/{book_id}");
  auto table = dyn.Table({{"Head", head}});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->Find("HEAD", "/v1/books/1", nullptr).has_value());

  for (const char* kind : {"", "BAD VERB", "GET\r\n", "{}"}) {
    kei::v1::HttpRule bad;
    bad.mutable_custom()->set_kind(kind);
    bad.mutable_custom()->set_path("/v1/x");
    auto t = dyn.Table({{"Bad", bad}});
    ASSERT_FALSE(t.ok()) << kind;
    EXPECT_THAT(t.status().message(), HasSubstr("is not an HTTP method")) << kind;
  }
}

struct BuildErrorCase {
  const char* label;
  DynamicServices::Method method;
  const char* message;
};

TEST(RouteTableBuildTest, RejectsBadAnnotations) {
  kei::v1::HttpRule nested = Get("/v1/a");
  *nested.add_additional_bindings() = Get("/v1/b");
  nested.mutable_additional_bindings(0)->add_additional_bindings()->set_get("/v1/c");
  kei::v1::HttpRule dup_binding = Get("/v1/books/{book_id}");
  *dup_binding.add_additional_bindings() = Get("/v1/books/{name}");
  kei::v1::HttpRule empty;
  empty.set_body("*");
  kei::v1::HttpRule bad_response = Get("/v1/x");
  bad_response.set_response_body("nope");
  kei::v1::HttpRule bad_extra = Get("/v1/x");
  *bad_extra.add_additional_bindings() = Get("/v1/{nope}");

  std::vector<BuildErrorCase> cases = {
      {"malformed", {"M", Get("/v1/{name")},
       "method kei.dynN.Dyn/M, route GET /v1/{name: path template \"/v1/{name\": missing '}' at "
       "position 9"},
      {"no leading slash", {"M", Get("v1/x")}, "must start with '/'"},
      {"unknown variable", {"M", Get("/v1/{nope}")},
       "route GET /v1/{nope}: path variable 'nope' names no field of kei.test.v1.GetBookRequest"},
      {"unknown nested variable", {"M", Get("/v1/{book.nope}"), "UpdateBookRequest"},
       "path variable 'book.nope' names no field of kei.test.v1.UpdateBookRequest"},
      {"scalar as message", {"M", Get("/v1/{name.x}")}, "'name' is not a message field"},
      {"message variable", {"M", Get("/v1/{book}"), "UpdateBookRequest"},
       "path variable 'book' names a message field (kei.test.v1.Book), not a scalar"},
      {"repeated variable", {"M", Get("/v1/{tags}"), "SearchRequest"},
       "path variable 'tags' names a repeated field"},
      {"map variable", {"M", Get("/v1/{labels}"), "SearchRequest"},
       "path variable 'labels' names a map field"},
      {"repeated message in path", {"M", Get("/v1/{filters.author}"), "SearchRequest"},
       "path variable 'filters.author' names a repeated field"},
      {"well-known type in path", {"M", Get("/v1/{since.seconds}"), "SearchRequest"},
       "path variable 'since.seconds': 'since' is a google.protobuf.Timestamp; well-known types "
       "cannot be set from the path"},
      {"unknown body", {"M", Post("/v1/x", "nope")},
       "body 'nope' names no top-level field of kei.test.v1.GetBookRequest"},
      {"nested body", {"M", Post("/v1/x", "book.title"), "UpdateBookRequest"},
       "body 'book.title' names no top-level field"},
      {"body bound by path", {"M", Post("/v1/{name}", "name")},
       "body field 'name' is also bound by the path"},
      {"unknown response_body", {"M", bad_response},
       "response_body 'nope' names no top-level field of kei.test.v1.Book"},
      {"no pattern", {"M", empty}, "method kei.dynN.Dyn/M: kei.v1.http rule has no verb and path"},
      {"nested bindings", {"M", nested},
       "additional binding 1 has additional_bindings of its own; they may not nest"},
      {"duplicate binding", {"M", dup_binding},
       "method kei.dynN.Dyn/M (additional binding 1), route GET /v1/books/{name}: the same verb "
       "and path as GET /v1/books/{book_id} (kei.dynN.Dyn/M) (both match GET /v1/books/*)"},
      {"bad additional binding", {"M", bad_extra},
       "method kei.dynN.Dyn/M (additional binding 1), route GET /v1/{nope}: path variable"},
      {"client streaming",
       {"M", Get("/v1/x"), "GetBookRequest", "Book", /*client_streaming=*/true, false},
       "method kei.dynN.Dyn/M is client_streaming: REST routes (kei.v1.http) serve unary and "
       "server-streaming methods only"},
      {"bidi streaming", {"M", Get("/v1/x"), "GetBookRequest", "Book", true, true},
       "is bidi_streaming"},
  };
  DynamicServices dyn;
  int n = 0;
  for (const BuildErrorCase& c : cases) {
    auto table = dyn.Table({c.method});
    ++n;
    ASSERT_FALSE(table.ok()) << c.label;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument) << c.label;
    std::string expected = c.message;
    size_t at = expected.find("dynN");
    if (at != std::string::npos) expected.replace(at, 4, absl::StrCat("dyn", n));
    at = expected.find("dynN");
    if (at != std::string::npos) expected.replace(at, 4, absl::StrCat("dyn", n));
    EXPECT_THAT(table.status().message(), HasSubstr(expected)) << c.label;
  }
}

TEST(RouteTableBuildTest, RejectsTheSameRouteOnTwoMethods) {
  DynamicServices dyn;
  auto table = dyn.Table({{"A", Get("/v1/items/{name}")}, {"B", Get("/v1/items/{book_id}")}});
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("method kei.dyn1.Dyn/B"));
  EXPECT_THAT(table.status().message(), HasSubstr("the same verb and path as GET "
                                                  "/v1/items/{name} (kei.dyn1.Dyn/A)"));
  // Same path, other verb: fine. Same shape with and without a verb: fine.
  table = dyn.Table({{"A", Get("/v1/items/{name}")},
                     {"B", Post("/v1/items/{name}")},
                     {"C", Get("/v1/items/{name}:x")}});
  EXPECT_TRUE(table.ok()) << table.status();
}

TEST(RouteTableBuildTest, BodyFieldMayContainPathVariables) {
  // The classic UpdateBook: {book.name} in the path, "book" as the body.
  DynamicServices dyn;
  auto table = dyn.Table({{"M", Post("/v1/{book.name=shelves/*/books/*}", "book"),
                           "UpdateBookRequest"}});
  EXPECT_TRUE(table.ok()) << table.status();
}

}  // namespace
}  // namespace kei::http
