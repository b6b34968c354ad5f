// The pure parts of KEIMCPClient's MCP authorization (clients/mcp/oauth_client.h):
// WWW-Authenticate parsing, well-known metadata URLs, PKCE, URL and form
// helpers. The flows themselves run against the conformance suite's mock
// authorization servers (tests/interop/mcp_client_interop_test.cc).
#include "clients/mcp/oauth_client.h"

#include <set>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::mcp::oauth {
namespace {

using ::testing::ElementsAre;

TEST(WwwAuthenticateTest, ParsesBearerParams) {
  auto challenges = ParseWwwAuthenticate(
      R"(Bearer error="invalid_token", error_description="Missing Authorization header", )"
      R"(resource_metadata="http://localhost:1234/.well-known/oauth-protected-resource/mcp")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "Bearer");
  EXPECT_EQ(challenges[0].Param("error"), "invalid_token");
  EXPECT_EQ(challenges[0].Param("error_description"), "Missing Authorization header");
  EXPECT_EQ(challenges[0].Param("resource_metadata"),
            "http://localhost:1234/.well-known/oauth-protected-resource/mcp");
  EXPECT_EQ(challenges[0].Param("scope"), "");
}

TEST(WwwAuthenticateTest, ScopeWithSpacesEscapesAndUnquotedValues) {
  auto challenges = ParseWwwAuthenticate(
      R"(Bearer scope="mcp:basic mcp:write", error=insufficient_scope, realm="a\"b")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].Param("scope"), "mcp:basic mcp:write");
  EXPECT_EQ(challenges[0].Param("ERROR"), "insufficient_scope");
  EXPECT_EQ(challenges[0].Param("realm"), "a\"b");
}

TEST(WwwAuthenticateTest, SeveralChallenges) {
  auto challenges =
      ParseWwwAuthenticate(R"(Basic realm="x", Bearer scope="a", DPoP algs="ES256")");
  ASSERT_EQ(challenges.size(), 3u);
  EXPECT_EQ(challenges[0].scheme, "Basic");
  EXPECT_EQ(challenges[1].scheme, "Bearer");
  EXPECT_EQ(challenges[1].Param("scope"), "a");
  EXPECT_EQ(challenges[2].Param("algs"), "ES256");

  auto bearer = FindBearerChallenge({"Basic realm=\"x\"", "bearer resource_metadata=\"u\""});
  ASSERT_TRUE(bearer.has_value());
  EXPECT_EQ(bearer->Param("resource_metadata"), "u");
  EXPECT_FALSE(FindBearerChallenge({"Basic realm=\"x\""}).has_value());
  EXPECT_FALSE(FindBearerChallenge({}).has_value());
}

TEST(WellKnownTest, ProtectedResourceMetadataPathBasedThenRoot) {
  EXPECT_THAT(ProtectedResourceMetadataUrls("http://localhost:3000/mcp"),
              ElementsAre("http://localhost:3000/.well-known/oauth-protected-resource/mcp",
                          "http://localhost:3000/.well-known/oauth-protected-resource"));
  EXPECT_THAT(ProtectedResourceMetadataUrls("https://Example.com/a/b?x=1#f"),
              ElementsAre("https://example.com/.well-known/oauth-protected-resource/a/b",
                          "https://example.com/.well-known/oauth-protected-resource"));
  EXPECT_THAT(ProtectedResourceMetadataUrls("https://example.com:443/"),
              ElementsAre("https://example.com/.well-known/oauth-protected-resource"));
}

TEST(WellKnownTest, AuthorizationServerMetadataWithPath) {
  EXPECT_THAT(
      AuthorizationServerMetadataUrls("https://auth.example.com/tenant1"),
      ElementsAre("https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                  "https://auth.example.com/.well-known/openid-configuration/tenant1",
                  "https://auth.example.com/tenant1/.well-known/openid-configuration"));
  EXPECT_THAT(AuthorizationServerMetadataUrls("http://localhost:9000/tenant1/"),
              ElementsAre("http://localhost:9000/.well-known/oauth-authorization-server/tenant1",
                          "http://localhost:9000/.well-known/openid-configuration/tenant1",
                          "http://localhost:9000/tenant1/.well-known/openid-configuration"));
}

TEST(WellKnownTest, AuthorizationServerMetadataAtRoot) {
  EXPECT_THAT(AuthorizationServerMetadataUrls("https://auth.example.com"),
              ElementsAre("https://auth.example.com/.well-known/oauth-authorization-server",
                          "https://auth.example.com/.well-known/openid-configuration"));
  EXPECT_THAT(AuthorizationServerMetadataUrls("https://auth.example.com/"),
              ElementsAre("https://auth.example.com/.well-known/oauth-authorization-server",
                          "https://auth.example.com/.well-known/openid-configuration"));
}

TEST(PkceTest, Rfc7636AppendixB) {
  EXPECT_EQ(CodeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  const unsigned char octets[] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                  125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                  191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
  EXPECT_EQ(Base64Url(absl::string_view(reinterpret_cast<const char*>(octets), sizeof(octets))),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST(PkceTest, RandomVerifiersAreLongUnreservedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    std::string v = RandomToken(32);
    EXPECT_EQ(v.size(), 43u);
    for (char c : v) {
      EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
          << v;
    }
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(UrlTest, ParseAndCanonicalResource) {
  auto url = ParseUrl("HTTP://LocalHost:3000/mcp?a=b#frag");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 3000);
  EXPECT_EQ(url->path, "/mcp");
  EXPECT_EQ(url->query, "a=b");
  EXPECT_EQ(url->fragment, "frag");
  EXPECT_EQ(*CanonicalResourceUri("HTTPS://MCP.Example.com:443/mcp#x"),
            "https://mcp.example.com/mcp");
  EXPECT_EQ(*CanonicalResourceUri("http://[::1]:8080/mcp"), "http://[::1]:8080/mcp");
  EXPECT_FALSE(ParseUrl("ftp://x/y").ok());
  EXPECT_FALSE(ParseUrl("/relative").ok());
}

TEST(UrlTest, HttpsRequiredExceptOnLoopback) {
  EXPECT_TRUE(CheckSecureUrl("https://auth.example.com/token", "t").ok());
  EXPECT_TRUE(CheckSecureUrl("http://localhost:8080/token", "t").ok());
  EXPECT_TRUE(CheckSecureUrl("http://127.0.0.1:8080/token", "t").ok());
  EXPECT_TRUE(CheckSecureUrl("http://[::1]:8080/token", "t").ok());
  EXPECT_FALSE(CheckSecureUrl("http://auth.example.com/token", "t").ok());
  EXPECT_FALSE(CheckSecureUrl("http://localhost.evil.com/token", "t").ok());
}

TEST(FormTest, EncodeAndParse) {
  EXPECT_EQ(FormBody({{"redirect_uri", "http://localhost:3000/callback"}, {"scope", "a b"}}),
            "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=a%20b");
  auto q = ParseQuery("code=test-auth-code&state=a%2Bb&x=1+2&empty");
  EXPECT_EQ(q["code"], "test-auth-code");
  EXPECT_EQ(q["state"], "a+b");
  EXPECT_EQ(q["x"], "1 2");
  EXPECT_EQ(q.count("empty"), 1u);
}

TEST(ScopeTest, UnionKeepsOrderWithoutDuplicates) {
  EXPECT_EQ(ScopeUnion("mcp:basic", "mcp:basic mcp:write"), "mcp:basic mcp:write");
  EXPECT_EQ(ScopeUnion("", "a"), "a");
  EXPECT_EQ(ScopeUnion("b a", ""), "b a");
}

}  // namespace
}  // namespace kei::mcp::oauth
