// The REST transcoder: request messages from body + path + query for every
// body mode, proto3-JSON scalar conversion of path and query values, the
// errors (each naming its field), odd and oversized input, and response JSON
// with and without response_body.
#include "cc/http/rest_transcoder.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/dispatch/handler_registry.h"
#include "cc/http/route_table.h"
#include "cc/registry/method_info.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/message.h"
#include "kei/test/v1/rest.pb.h"

namespace kei::http {
namespace {

namespace gp = google::protobuf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::v1::Book;
using test::v1::CancelBookRequest;
using test::v1::CreateBookRequest;
using test::v1::DeleteBookRequest;
using test::v1::GetBookRequest;
using test::v1::GetFileRequest;
using test::v1::GetShelfRequest;
using test::v1::SearchRequest;
using test::v1::SearchResponse;
using test::v1::SetPriceRequest;
using test::v1::Shelf;
using test::v1::UpdateBookRequest;
using test::v1::UpdateShelfRequest;

class RestTranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const gp::ServiceDescriptor* service =
        Book::descriptor()->file()->FindServiceByName("RestTestService");
    for (int i = 0; i < service->method_count(); ++i) {
      MethodHandler h;
      h.info = MethodInfo::FromDescriptor(service->method(i));
      h.request_prototype =
          gp::MessageFactory::generated_factory()->GetPrototype(service->method(i)->input_type());
      h.response_prototype =
          gp::MessageFactory::generated_factory()->GetPrototype(service->method(i)->output_type());
      ASSERT_TRUE(registry_.Register(std::move(h)).ok());
    }
    auto table = RouteTable::Build(registry_);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *std::move(table);
  }

  // Routes `target` ("/path?query") and transcodes it into *request.
  absl::Status Transcode(const std::string& verb, const std::string& target,
                         const std::string& body, gp::Message* request) {
    std::string path = target, query;
    size_t q = target.find('?');
    if (q != std::string::npos) {
      path = target.substr(0, q);
      query = target.substr(q + 1);
    }
    auto match = table_.Find(verb, path, nullptr);
    if (!match.has_value()) return absl::NotFoundError(absl::StrCat("no route: ", verb, " ", path));
    EXPECT_EQ(match->route->method->info.descriptor->input_type(), request->GetDescriptor());
    return TranscodeRequest(*match->route, match->bindings, query, body, request);
  }

  const RestRoute& RouteFor(const std::string& verb, const std::string& path) {
    auto match = table_.Find(verb, path, nullptr);
    EXPECT_TRUE(match.has_value()) << verb << " " << path;
    return *match->route;
  }

  // A route of Search with any body / response_body, for the field modes the
  // annotated routes do not cover.
  RestRoute SearchRoute(const std::string& body, const std::string& response_body = "") {
    RestRoute r;
    r.verb = "POST";
    r.method = registry_.Find("kei.test.v1.RestTestService/Search");
    r.body = body;
    r.response_body = response_body;
    if (!body.empty() && body != "*") {
      r.body_field = SearchRequest::descriptor()->FindFieldByName(body);
    }
    if (!response_body.empty()) {
      r.response_body_field = SearchResponse::descriptor()->FindFieldByName(response_body);
    }
    return r;
  }

  // The error message of a GET /v1/search with `query`.
  std::string SearchError(const std::string& query) {
    SearchRequest request;
    absl::Status s = Transcode("GET", "/v1/search?" + query, "", &request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << query << ": " << s;
    return std::string(s.message());
  }

  HandlerRegistry registry_;
  RouteTable table_;
};

// ---- path variables ---------------------------------------------------------------

TEST_F(RestTranscoderTest, PathVariableIntoAnInt64) {
  GetShelfRequest request;
  ASSERT_TRUE(Transcode("GET", "/v1/shelves/9007199254740993?include_books=true", "", &request)
                  .ok());
  EXPECT_EQ(request.shelf_id(), 9007199254740993LL);
  EXPECT_TRUE(request.include_books());
}

TEST_F(RestTranscoderTest, MultiSegmentVariableKeepsItsEncodedSlash) {
  GetBookRequest request;
  ASSERT_TRUE(Transcode("GET", "/v1/shelves/s%201/books/b%2F2", "", &request).ok());
  EXPECT_EQ(request.name(), "shelves/s 1/books/b%2F2");
}

TEST_F(RestTranscoderTest, DoubleWildcardVariable) {
  GetFileRequest request;
  ASSERT_TRUE(Transcode("GET", "/v1/files/a/b%20c/d.txt", "", &request).ok());
  EXPECT_EQ(request.path(), "a/b c/d.txt");
}

TEST_F(RestTranscoderTest, PathVariableErrorsNameTheVariable) {
  GetShelfRequest shelf;
  absl::Status s = Transcode("GET", "/v1/shelves/abc", "", &shelf);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "path variable 'shelf_id': 'abc' is not an integer");

  SetPriceRequest price;
  s = Transcode("POST", "/v1/books/-1/price", "", &price);
  EXPECT_EQ(s.message(), "path variable 'book_id': '-1' is not an unsigned integer");

  CreateBookRequest create;
  s = Transcode("POST", "/v1/shelves/%FF/books", "", &create);
  EXPECT_EQ(s.message(), "path variable 'parent': 'shelves/\\xff' is not valid UTF-8");
}

TEST_F(RestTranscoderTest, BindingsNamingNoFieldAreRejected) {
  const RestRoute& route = RouteFor("GET", "/v1/shelves/1");
  GetShelfRequest request;
  absl::Status s = TranscodeRequest(route, {{"nope", "1"}}, "", "", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "path variable 'nope' names no field of kei.test.v1.GetShelfRequest");

  const RestRoute& update = RouteFor("PUT", "/v1/shelves/x");
  UpdateShelfRequest u;
  s = TranscodeRequest(update, {{"shelf.nope", "x"}}, "", "", &u);
  EXPECT_EQ(s.message(), "path variable 'shelf.nope' names no field of kei.test.v1.Shelf");
  s = TranscodeRequest(update, {{"shelf", "x"}}, "", "", &u);
  EXPECT_THAT(s.message(), HasSubstr("'shelf' is a message (kei.test.v1.Shelf)"));
}

// ---- body modes -------------------------------------------------------------------

TEST_F(RestTranscoderTest, StarBodyWithPathOverride) {
  UpdateShelfRequest request;
  ASSERT_TRUE(Transcode("PUT", "/v1/shelves/from-path",
                        R"({"shelf": {"name": "from-body", "theme": "sci-fi", "id": "4"},
                            "requestId": "r1"})",
                        &request)
                  .ok());
  EXPECT_EQ(request.shelf().name(), "from-path");
  EXPECT_EQ(request.shelf().theme(), "sci-fi");
  EXPECT_EQ(request.shelf().id(), 4);
  EXPECT_EQ(request.request_id(), "r1");
}

TEST_F(RestTranscoderTest, StarBodyMayBeEmptyButNotMalformed) {
  UpdateShelfRequest request;
  ASSERT_TRUE(Transcode("PUT", "/v1/shelves/s", "", &request).ok());
  EXPECT_EQ(request.shelf().name(), "s");
  ASSERT_TRUE(Transcode("PUT", "/v1/shelves/s", " \r\n", &request).ok());

  absl::Status s = Transcode("PUT", "/v1/shelves/s", R"({"shelf": )", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("invalid JSON for kei.test.v1.UpdateShelfRequest"));

  s = Transcode("PUT", "/v1/shelves/s", R"({"shelf": {"id": "x"}})", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("id"));

  // Unknown body fields are dropped, as by the Connect adapter.
  EXPECT_TRUE(Transcode("PUT", "/v1/shelves/s", R"({"future": 1})", &request).ok());
}

TEST_F(RestTranscoderTest, StarBodyTakesNoQueryParameters) {
  UpdateShelfRequest request;
  absl::Status s = Transcode("PUT", "/v1/shelves/s?request_id=x", "{}", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "query parameter 'request_id': route PUT /v1/shelves/{shelf.name} "
            "(kei.test.v1.RestTestService/UpdateShelf) takes no query parameters; every field "
            "comes from the body");
}

TEST_F(RestTranscoderTest, FieldBodyWithPathAndQuery) {
  CreateBookRequest request;
  ASSERT_TRUE(Transcode("POST", "/v1/shelves/s1/books?request_id=abc",
                        R"({"title": "Dune", "author": "Herbert", "price": 9.5,
                            "genre": "GENRE_FICTION", "tags": ["a", "b"]})",
                        &request)
                  .ok());
  EXPECT_EQ(request.parent(), "shelves/s1");
  EXPECT_EQ(request.request_id(), "abc");
  EXPECT_EQ(request.book().title(), "Dune");
  EXPECT_EQ(request.book().author(), "Herbert");
  EXPECT_EQ(request.book().price(), 9.5);
  EXPECT_EQ(request.book().genre(), test::v1::GENRE_FICTION);
  EXPECT_THAT(request.book().tags(), ElementsAre("a", "b"));
}

TEST_F(RestTranscoderTest, FieldBodyCannotReachOtherFields) {
  CreateBookRequest request;
  for (const char* body : {R"({"title": "x"}, "request_id": "evil")",
                           R"({"title": "x"}} , {"request_id": "evil")", R"("a" "b")",
                           "[1]]", "{", "\"unterminated", ",", "}"}) {
    absl::Status s = Transcode("POST", "/v1/shelves/s1/books", body, &request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_TRUE(request.request_id().empty()) << body;
  }
  absl::Status s =
      Transcode("POST", "/v1/shelves/s1/books", R"({"title": "x"}, "request_id": "evil")",
                &request);
  EXPECT_EQ(s.message(),
            "request body (field 'book' of kei.test.v1.CreateBookRequest) is not one JSON value");
  s = Transcode("POST", "/v1/shelves/s1/books", R"({"price": "x"})", &request);
  EXPECT_THAT(s.message(), HasSubstr("request body (field 'book')"));
}

TEST_F(RestTranscoderTest, DeeplyNestedBodiesFailCleanly) {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  CreateBookRequest create;
  absl::Status s = Transcode("POST", "/v1/shelves/s1/books", deep, &create);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  UpdateShelfRequest update;
  std::string nested_objects;
  for (int i = 0; i < 5000; ++i) nested_objects += "{\"shelf\":";
  nested_objects += "{}" + std::string(5000, '}');
  s = Transcode("PUT", "/v1/shelves/s", nested_objects, &update);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RestTranscoderTest, FieldBodyEmptyOrNullLeavesTheFieldUnset) {
  CreateBookRequest request;
  ASSERT_TRUE(Transcode("POST", "/v1/shelves/s1/books", "", &request).ok());
  EXPECT_FALSE(request.has_book());
  ASSERT_TRUE(Transcode("POST", "/v1/shelves/s1/books", "null", &request).ok());
  EXPECT_FALSE(request.has_book());
  ASSERT_TRUE(Transcode("POST", "/v1/shelves/s1/books", "{}", &request).ok());
  EXPECT_TRUE(request.has_book());
}

TEST_F(RestTranscoderTest, FieldBodyQueryMayNotReachIntoTheBody) {
  CreateBookRequest request;
  absl::Status s = Transcode("POST", "/v1/shelves/s1/books?book.title=x", "{}", &request);
  EXPECT_EQ(s.message(), "query parameter 'book.title': 'book' comes from the request body");
}

TEST_F(RestTranscoderTest, PathVariableInsideTheBodyFieldWins) {
  UpdateBookRequest request;
  ASSERT_TRUE(Transcode("PATCH", "/v1/shelves/s1/books/b1?allow_missing=true",
                        R"({"name": "shelves/x/books/y", "title": "New"})", &request)
                  .ok());
  EXPECT_EQ(request.book().name(), "shelves/s1/books/b1");
  EXPECT_EQ(request.book().title(), "New");
  EXPECT_TRUE(request.allow_missing());
}

TEST_F(RestTranscoderTest, ScalarBodyField) {
  SetPriceRequest request;
  ASSERT_TRUE(Transcode("POST", "/v1/books/7/price?currency=EUR", " 12.5 ", &request).ok());
  EXPECT_EQ(request.book_id(), 7u);
  EXPECT_EQ(request.price(), 12.5);
  EXPECT_EQ(request.currency(), "EUR");
  ASSERT_TRUE(Transcode("POST", "/v1/books/7/price", "\"NaN\"", &request).ok());
  EXPECT_TRUE(std::isnan(request.price()));
  absl::Status s = Transcode("POST", "/v1/books/7/price", "\"cheap\"", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("request body (field 'price')"));
  s = Transcode("POST", "/v1/books/7/price", "1, \"currency\": \"X\"", &request);
  EXPECT_THAT(s.message(), HasSubstr("is not one JSON value"));
}

TEST_F(RestTranscoderTest, RepeatedMapEnumAndWellKnownBodyFields) {
  SearchRequest request;
  ASSERT_TRUE(TranscodeRequest(SearchRoute("tags"), {}, "", R"(["a", "b"])", &request).ok());
  EXPECT_THAT(request.tags(), ElementsAre("a", "b"));
  ASSERT_TRUE(TranscodeRequest(SearchRoute("labels"), {}, "", R"({"k": "v"})", &request).ok());
  EXPECT_EQ(request.labels().at("k"), "v");
  ASSERT_TRUE(
      TranscodeRequest(SearchRoute("since"), {}, "", R"("2020-01-02T03:04:05Z")", &request).ok());
  EXPECT_EQ(request.since().seconds(), 1577934245);
  ASSERT_TRUE(TranscodeRequest(SearchRoute("genre"), {}, "count=2", R"("GENRE_POETRY")", &request)
                  .ok());
  EXPECT_EQ(request.genre(), test::v1::GENRE_POETRY);
  EXPECT_EQ(request.count(), 2);
  ASSERT_TRUE(TranscodeRequest(SearchRoute("filters"), {}, "", R"([{"author": "a"}, {}])",
                               &request)
                  .ok());
  EXPECT_EQ(request.filters_size(), 2);
  EXPECT_EQ(request.filters(0).author(), "a");
}

TEST_F(RestTranscoderTest, NoBodyRouteRejectsABody) {
  DeleteBookRequest request;
  ASSERT_TRUE(Transcode("DELETE", "/v1/shelves/s/books/b?force=true", " \n", &request).ok());
  EXPECT_EQ(request.name(), "shelves/s/books/b");
  EXPECT_TRUE(request.force());
  absl::Status s = Transcode("DELETE", "/v1/shelves/s/books/b", "{}", &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "route DELETE /v1/{name=shelves/*/books/*} (kei.test.v1.RestTestService/DeleteBook) "
            "takes no request body");
}

TEST_F(RestTranscoderTest, CustomVerbRouteAndCustomMethod) {
  CancelBookRequest cancel;
  ASSERT_TRUE(Transcode("POST", "/v1/shelves/s/books/b:cancel", R"({"reason": "late"})", &cancel)
                  .ok());
  EXPECT_EQ(cancel.name(), "shelves/s/books/b");
  EXPECT_EQ(cancel.reason(), "late");

  SearchRequest search;
  ASSERT_TRUE(Transcode("QUERY", "/v1/search?count=3", R"({"author": "Ann", "year": 1999})",
                        &search)
                  .ok());
  EXPECT_EQ(search.filter().author(), "Ann");
  EXPECT_EQ(search.filter().year(), 1999);
  EXPECT_EQ(search.count(), 3);
}

TEST_F(RestTranscoderTest, ServerStreamingRouteTranscodesLikeUnary) {
  GetShelfRequest request;
  ASSERT_TRUE(Transcode("GET", "/v1/shelves/5/watch?include_books=false", "", &request).ok());
  EXPECT_EQ(request.shelf_id(), 5);
}

TEST_F(RestTranscoderTest, RequestIsClearedFirst) {
  GetShelfRequest request;
  request.set_include_books(true);
  ASSERT_TRUE(Transcode("GET", "/v1/shelves/1", "", &request).ok());
  EXPECT_FALSE(request.include_books());
}

// ---- query parameters -------------------------------------------------------------

TEST_F(RestTranscoderTest, QueryParametersOfEveryKind) {
  SearchRequest request;
  std::string query =
      "query=hello+world%21&tags=a&tags=b%26c&count=-5&offset=-9007199254740993"
      "&limit=4294967295&max_id=18446744073709551615&min_price=1.5e3&weight=0.25"
      "&include_drafts=true&genre=GENRE_POETRY&genres=1&genres=GENRE_FICTION&genres=9"
      "&cursor=aGVsbG8%3D&filter.author=Ann&filter.year=1999&filter.rating.min=3.5"
      "&filter.rating.max=-0&by_title=x&ids=1&ids=-2&delta=-3&checksum=42"
      "&scores=NaN&scores=Infinity&scores=-Infinity&scores=1&flags=true&flags=false"
      "&page_token=%E2%9C%93";
  absl::Status s = Transcode("GET", "/v1/search?" + query, "", &request);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(request.query(), "hello world!");
  EXPECT_THAT(request.tags(), ElementsAre("a", "b&c"));
  EXPECT_EQ(request.count(), -5);
  EXPECT_EQ(request.offset(), -9007199254740993LL);
  EXPECT_EQ(request.limit(), 4294967295u);
  EXPECT_EQ(request.max_id(), 18446744073709551615ull);
  EXPECT_EQ(request.min_price(), 1500.0);
  EXPECT_EQ(request.weight(), 0.25f);
  EXPECT_TRUE(request.include_drafts());
  EXPECT_EQ(request.genre(), test::v1::GENRE_POETRY);
  EXPECT_THAT(request.genres(), ElementsAre(test::v1::GENRE_FICTION, test::v1::GENRE_FICTION, 9));
  EXPECT_EQ(request.cursor(), "hello");
  EXPECT_EQ(request.filter().author(), "Ann");
  EXPECT_EQ(request.filter().year(), 1999);
  EXPECT_EQ(request.filter().rating().min(), 3.5f);
  EXPECT_TRUE(std::signbit(request.filter().rating().max()));
  EXPECT_EQ(request.by_title(), "x");
  EXPECT_THAT(request.ids(), ElementsAre(1, -2));
  EXPECT_EQ(request.delta(), -3);
  EXPECT_EQ(request.checksum(), 42u);
  ASSERT_EQ(request.scores_size(), 4);
  EXPECT_TRUE(std::isnan(request.scores(0)));
  EXPECT_EQ(request.scores(1), INFINITY);
  EXPECT_EQ(request.scores(2), -INFINITY);
  EXPECT_THAT(request.flags(), ElementsAre(true, false));
  EXPECT_EQ(request.page_token(), "\xE2\x9C\x93");
}

TEST_F(RestTranscoderTest, QueryNamesInJsonSpelling) {
  SearchRequest request;
  ASSERT_TRUE(Transcode("GET", "/v1/search?includeDrafts=true&minPrice=2&pageTok=t&byId=4"
                               "&filter.rating.max=1",
                        "", &request)
                  .ok());
  EXPECT_TRUE(request.include_drafts());
  EXPECT_EQ(request.min_price(), 2);
  EXPECT_EQ(request.page_token(), "t");
  EXPECT_EQ(request.by_id(), 4);
  // One field, two spellings: still one field given twice.
  EXPECT_EQ(SearchError("include_drafts=true&includeDrafts=false"),
            "query parameter 'includeDrafts' appears more than once");
}

TEST_F(RestTranscoderTest, QueryEdgeCases) {
  SearchRequest request;
  // Empty pieces, a name without '=', an empty string value.
  ASSERT_TRUE(Transcode("GET", "/v1/search?&&query&tags=&&", "", &request).ok());
  EXPECT_EQ(request.query(), "");
  EXPECT_THAT(request.tags(), ElementsAre(""));
  ASSERT_TRUE(Transcode("GET", "/v1/search?", "", &request).ok());
  // '=' inside a value; '+' and %2B.
  ASSERT_TRUE(Transcode("GET", "/v1/search?query=a=b+c%2Bd", "", &request).ok());
  EXPECT_EQ(request.query(), "a=b c+d");
  // base64url and unpadded base64.
  ASSERT_TRUE(Transcode("GET", "/v1/search?cursor=-_8", "", &request).ok());
  EXPECT_EQ(request.cursor(), "\xfb\xff");
  ASSERT_TRUE(Transcode("GET", "/v1/search?cursor=aGVsbG8", "", &request).ok());
  EXPECT_EQ(request.cursor(), "hello");
}

TEST_F(RestTranscoderTest, QueryValueErrorsNameTheParameter) {
  struct Case {
    const char* query;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"count=abc", "query parameter 'count': 'abc' is not an integer"},
           {"count=", "query parameter 'count': '' is not an integer"},
           {"count=%201", "query parameter 'count': ' 1' is not an integer"},
           {"count=1.5", "query parameter 'count': '1.5' is not an integer"},
           {"count=0x10", "query parameter 'count': '0x10' is not an integer"},
           {"count=99999999999",
            "query parameter 'count': '99999999999' is out of range for int32"},
           {"offset=9223372036854775808",
            "query parameter 'offset': '9223372036854775808' is out of range for int64"},
           {"limit=-1", "query parameter 'limit': '-1' is not an unsigned integer"},
           {"limit=4294967296", "query parameter 'limit': '4294967296' is out of range for uint32"},
           {"max_id=18446744073709551616",
            "query parameter 'max_id': '18446744073709551616' is out of range for uint64"},
           {"min_price=abc", "query parameter 'min_price': 'abc' is not a number"},
           {"min_price=inf", "query parameter 'min_price': 'inf' is not a number"},
           {"min_price=nan", "query parameter 'min_price': 'nan' is not a number"},
           {"min_price=1e999", "query parameter 'min_price': '1e999' is out of range for double"},
           {"weight=1e39", "query parameter 'weight': '1e39' is out of range for float"},
           {"include_drafts=yes",
            "query parameter 'include_drafts': 'yes' is not a boolean (true or false)"},
           {"include_drafts=1",
            "query parameter 'include_drafts': '1' is not a boolean (true or false)"},
           {"flags=TRUE", "query parameter 'flags': 'TRUE' is not a boolean (true or false)"},
           {"genre=PURPLE", "query parameter 'genre': 'PURPLE' is not a value of enum "
                            "kei.test.v1.Genre"},
           {"genres=genre_poetry", "query parameter 'genres': 'genre_poetry' is not a value of "
                                   "enum kei.test.v1.Genre"},
           {"cursor=!!!", "query parameter 'cursor': '!!!' is not base64"},
           {"query=%FF", "query parameter 'query': '\\xff' is not valid UTF-8"},
           {"query=%C0%AF", "query parameter 'query': '\\xc0\\xaf' is not valid UTF-8"},
           {"query=%ED%A0%80", "query parameter 'query': '\\xed\\xa0\\x80' is not valid UTF-8"},
           {"ids=1&ids=x", "query parameter 'ids': 'x' is not an integer"},
       }) {
    EXPECT_EQ(SearchError(c.query), c.message) << c.query;
  }
}

TEST_F(RestTranscoderTest, QueryNameErrors) {
  struct Case {
    const char* query;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"nope=1", "query parameter 'nope' names no field of kei.test.v1.SearchRequest"},
           {"Count=1", "query parameter 'Count' names no field of kei.test.v1.SearchRequest"},
           {"filter.nope=1", "query parameter 'filter.nope' names no field of kei.test.v1.Filter"},
           {"filter..author=1", "query parameter 'filter..author' names no field of "
                                "kei.test.v1.Filter"},
           {".count=1", "query parameter '.count' names no field of kei.test.v1.SearchRequest"},
           {"filter=1", "query parameter 'filter': 'filter' is a message (kei.test.v1.Filter); "
                        "name one of its fields, as 'filter.author'"},
           {"labels=1", "query parameter 'labels': 'labels' is a map; maps cannot be set from "
                        "the path or query"},
           {"labels.a=1", "query parameter 'labels.a': 'labels' is a map"},
           {"since=2020-01-01T00:00:00Z",
            "query parameter 'since': 'since' is a google.protobuf.Timestamp; well-known types "
            "cannot be set from the path or query"},
           {"since.seconds=1", "query parameter 'since.seconds': 'since' is a "
                               "google.protobuf.Timestamp; well-known types cannot be set"},
           {"filters.author=x", "query parameter 'filters.author': 'filters' is a repeated "
                                "message field; those cannot be set from the path or query"},
           {"count.x=1", "query parameter 'count.x': 'count' is not a message field"},
           {"count=1&count=2", "query parameter 'count' appears more than once"},
           {"filter.author=a&filter.author=b",
            "query parameter 'filter.author' appears more than once"},
           {"by_title=a&by_id=2", "query parameter 'by_id': 'by_id' and 'by_title' are both set, "
                                  "but belong to the same oneof 'by'"},
           {"%zz=1", "query parameter '%zz' is not properly percent-encoded"},
           {"count=%zz", "query parameter 'count': value '%zz' is not properly percent-encoded"},
           {"count=%4", "query parameter 'count': value '%4' is not properly percent-encoded"},
           {"=1", "query string has a parameter without a name"},
       }) {
    EXPECT_THAT(SearchError(c.query), HasSubstr(c.message)) << c.query;
  }
}

TEST_F(RestTranscoderTest, QueryMayNotRebindPathFields) {
  GetShelfRequest request;
  absl::Status s = Transcode("GET", "/v1/shelves/1?shelf_id=2", "", &request);
  EXPECT_EQ(s.message(), "query parameter 'shelf_id' is bound by the path");
  s = Transcode("GET", "/v1/shelves/1?shelfId=2", "", &request);
  EXPECT_EQ(s.message(), "query parameter 'shelfId' is bound by the path");
}

TEST_F(RestTranscoderTest, QueryLimits) {
  std::string many;
  for (size_t i = 0; i <= kMaxQueryParameters; ++i) absl::StrAppend(&many, "tags=a&");
  EXPECT_EQ(SearchError(many), "more than 1024 query parameters");

  std::string deep = "filter";
  for (int i = 0; i < 40; ++i) deep += ".rating";
  EXPECT_THAT(SearchError(deep + "=1"), HasSubstr("is nested deeper than 32 fields"));

  // Long values are cut short in messages.
  std::string long_value(10000, '9');
  std::string message = SearchError("count=" + long_value);
  EXPECT_LT(message.size(), 200u);
  EXPECT_THAT(message, HasSubstr("...' is out of range for int32"));

  // Many repeated values are fine within the limit.
  SearchRequest request;
  std::string tags;
  for (size_t i = 0; i < kMaxQueryParameters; ++i) absl::StrAppend(&tags, "tags=", i, "&");
  ASSERT_TRUE(Transcode("GET", "/v1/search?" + tags, "", &request).ok());
  EXPECT_EQ(request.tags_size(), static_cast<int>(kMaxQueryParameters));
}

TEST_F(RestTranscoderTest, ControlCharactersInMessagesAreEscaped) {
  std::string message = SearchError("count=%0A%1B");
  EXPECT_EQ(message, "query parameter 'count': '\\n\\x1b' is not an integer");
  message = SearchError("a%0Ab=1");
  EXPECT_EQ(message, "query parameter 'a\\nb' names no field of kei.test.v1.SearchRequest");
}

// ---- responses --------------------------------------------------------------------

TEST_F(RestTranscoderTest, WholeResponse) {
  Shelf shelf;
  shelf.set_name("s1");
  shelf.set_id(3);
  auto json = TranscodeResponse(RouteFor("GET", "/v1/shelves/3"), shelf);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"name":"s1","id":"3"})");

  JsonCodecOptions options;
  options.emit_defaults = true;
  options.use_proto_names = true;
  json = TranscodeResponse(RouteFor("GET", "/v1/shelves/3"), shelf, options);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"name":"s1","theme":"","id":"3"})");
}

TEST_F(RestTranscoderTest, ResponseBodyRepeatedField) {
  const RestRoute& search = RouteFor("GET", "/v1/search");
  SearchResponse response;
  response.set_total(2);
  response.add_books()->set_title("A");
  Book* b = response.add_books();
  b->set_title("B \"quoted\", {braced}");
  b->add_tags("t");
  auto json = TranscodeResponse(search, response);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"([{"title":"A"},{"title":"B \"quoted\", {braced}","tags":["t"]}])");

  JsonCodecOptions options;
  options.emit_defaults = true;
  json = TranscodeResponse(search, response, options);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr(R"("price":0)"));
  EXPECT_EQ(json->front(), '[');

  response.clear_books();
  json = TranscodeResponse(search, response);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "[]");
  json = TranscodeResponse(search, response, options);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "[]");
}

TEST_F(RestTranscoderTest, ResponseBodyScalarAndMessageFields) {
  SearchResponse response;
  response.set_total(7);
  response.set_next_page_token("tok");
  response.mutable_applied()->set_author("Ann");

  auto json = TranscodeResponse(SearchRoute("", "total"), response);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "7");
  json = TranscodeResponse(SearchRoute("", "next_page_token"), response);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "\"tok\"");
  json = TranscodeResponse(SearchRoute("", "applied"), response);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"author":"Ann"})");

  SearchResponse empty;
  json = TranscodeResponse(SearchRoute("", "total"), empty);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "0");
  json = TranscodeResponse(SearchRoute("", "next_page_token"), empty);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "\"\"");
  json = TranscodeResponse(SearchRoute("", "applied"), empty);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "{}");
}

TEST_F(RestTranscoderTest, ResponseOfTheWrongTypeIsAnError) {
  Shelf shelf;
  auto json = TranscodeResponse(SearchRoute("", "total"), shelf);
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace kei::http
