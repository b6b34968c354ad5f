// The auth interceptor: open when no credentials are configured, bearer tokens
// and API keys otherwise, public methods, mutual-TLS identities, and error
// messages that say what is missing.
#include <string>

#include "absl/status/status.h"
#include "cc/dispatch/context.h"
#include "cc/registry/method_info.h"
#include "cc/security/auth_interceptor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

using ::testing::HasSubstr;

MethodInfo Method(const std::string& full_name) {
  MethodInfo info;
  info.full_name = full_name;
  auto slash = full_name.find('/');
  info.service_name = full_name.substr(0, slash);
  info.method_name = full_name.substr(slash + 1);
  info.path = "/" + full_name;
  return info;
}

AuthOptions Configured() {
  AuthOptions options;
  options.bearer_tokens = {{"s3cret-token", "alice"}, {"other-token", "bob"}};
  options.api_keys = {{"key-123", "ci-bot"}};
  return options;
}

absl::Status Authenticate(const AuthOptions& options, Context& context,
                 const std::string& method = "kei.agent.v1.AgentService/Plan") {
  AuthInterceptor interceptor(options);
  MethodInfo info = Method(method);
  return interceptor.OnCallStart(info, context);
}

Context WithHeader(const std::string& key, const std::string& value) {
  Context context;
  context.mutable_metadata().emplace(key, value);
  return context;
}

TEST(AuthOptionsTest, EnabledOnlyWithCredentials) {
  AuthOptions options;
  EXPECT_FALSE(options.enabled());
  options.accept_client_certificates = true;
  options.public_methods.insert("a.B/C");
  EXPECT_FALSE(options.enabled());
  options.api_keys["k"] = "s";
  EXPECT_TRUE(options.enabled());
  EXPECT_EQ(AuthOptions().api_key_header, "x-api-key");
}

TEST(AuthInterceptorTest, NoCredentialsConfiguredLetsEveryoneIn) {
  Context anonymous;
  EXPECT_TRUE(Authenticate(AuthOptions(), anonymous).ok());
  EXPECT_FALSE(anonymous.identity().authenticated());

  // Even garbage credentials are not checked when auth is off.
  Context garbage = WithHeader("authorization", "Basic Zm9vOmJhcg==");
  EXPECT_TRUE(Authenticate(AuthOptions(), garbage).ok());
  EXPECT_FALSE(garbage.identity().authenticated());
}

TEST(AuthInterceptorTest, ValidBearerTokenSetsTheIdentity) {
  Context context = WithHeader("authorization", "Bearer s3cret-token");
  ASSERT_TRUE(Authenticate(Configured(), context).ok());
  EXPECT_TRUE(context.identity().authenticated());
  EXPECT_EQ(context.identity().scheme, "bearer");
  EXPECT_EQ(context.identity().subject, "alice");

  Context bob = WithHeader("authorization", "Bearer other-token");
  ASSERT_TRUE(Authenticate(Configured(), bob).ok());
  EXPECT_EQ(bob.identity().subject, "bob");
}

TEST(AuthInterceptorTest, BearerSchemeIsCaseInsensitiveAndWhitespaceTolerant) {
  for (const char* header : {"bearer s3cret-token", "BEARER s3cret-token",
                             "  Bearer s3cret-token  ", "Bearer   s3cret-token"}) {
    SCOPED_TRACE(header);
    Context context = WithHeader("authorization", header);
    ASSERT_TRUE(Authenticate(Configured(), context).ok());
    EXPECT_EQ(context.identity().subject, "alice");
  }
}

TEST(AuthInterceptorTest, WrongTokenIsUnauthenticated) {
  for (const char* header : {"Bearer wrong", "Bearer s3cret-token2", "Bearer s3cret-toke",
                             "Bearer S3CRET-TOKEN", "Bearer key-123"}) {
    SCOPED_TRACE(header);
    Context context = WithHeader("authorization", header);
    absl::Status s = Authenticate(Configured(), context);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(s.message()), HasSubstr("invalid bearer token"));
    EXPECT_FALSE(context.identity().authenticated());
  }
}

TEST(AuthInterceptorTest, MalformedAuthorizationHeader) {
  for (const char* header : {"Basic x", "Bearer", "Bearer ", "   ", "", "s3cret-token",
                             "Bearers3cret-token", "Token s3cret-token"}) {
    SCOPED_TRACE(header);
    Context context = WithHeader("authorization", header);
    absl::Status s = Authenticate(Configured(), context);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(s.message()), HasSubstr("Bearer <token>"));
    EXPECT_FALSE(context.identity().authenticated());
  }
}

TEST(AuthInterceptorTest, ApiKeyWithDefaultHeader) {
  Context context = WithHeader("x-api-key", "key-123");
  ASSERT_TRUE(Authenticate(Configured(), context).ok());
  EXPECT_EQ(context.identity().scheme, "api_key");
  EXPECT_EQ(context.identity().subject, "ci-bot");

  Context wrong = WithHeader("x-api-key", "key-124");
  absl::Status s = Authenticate(Configured(), wrong);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("invalid API key"));

  // A bearer token is not an API key.
  Context token_as_key = WithHeader("x-api-key", "s3cret-token");
  EXPECT_EQ(Authenticate(Configured(), token_as_key).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthInterceptorTest, ApiKeyWithCustomHeader) {
  AuthOptions options = Configured();
  options.api_key_header = "x-kei-key";
  Context context = WithHeader("x-kei-key", "key-123");
  ASSERT_TRUE(Authenticate(options, context).ok());
  EXPECT_EQ(context.identity().scheme, "api_key");
  EXPECT_EQ(context.identity().subject, "ci-bot");

  // The default header no longer counts.
  Context old_header = WithHeader("x-api-key", "key-123");
  absl::Status s = Authenticate(options, old_header);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("x-kei-key"));

  Context wrong = WithHeader("x-kei-key", "nope");
  EXPECT_EQ(Authenticate(options, wrong).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthInterceptorTest, OnlyApiKeysConfigured) {
  AuthOptions options;
  options.api_keys = {{"k1", "svc"}};
  Context none;
  EXPECT_EQ(Authenticate(options, none).code(), absl::StatusCode::kUnauthenticated);
  Context key = WithHeader("x-api-key", "k1");
  EXPECT_TRUE(Authenticate(options, key).ok());
  // No bearer tokens are configured, so no bearer token can be valid.
  Context bearer = WithHeader("authorization", "Bearer k1");
  EXPECT_EQ(Authenticate(options, bearer).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthInterceptorTest, MissingCredentialsMessageSaysWhatToSend) {
  AuthOptions options = Configured();
  options.api_key_header = "x-kei-key";
  Context context;
  absl::Status s = Authenticate(options, context);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("missing credentials"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("authorization: Bearer <token>"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("x-kei-key: <key>"));

  // Unrelated metadata does not count as credentials.
  Context other = WithHeader("x-trace", "s3cret-token");
  EXPECT_THAT(std::string(Authenticate(options, other).message()), HasSubstr("missing credentials"));
}

TEST(AuthInterceptorTest, PublicMethodsAreExempt) {
  AuthOptions options = Configured();
  options.public_methods = {"grpc.health.v1.Health/Check"};
  Context anonymous;
  EXPECT_TRUE(Authenticate(options, anonymous, "grpc.health.v1.Health/Check").ok());
  EXPECT_FALSE(anonymous.identity().authenticated());
  // A bad token on a public method is not an error either.
  Context bad = WithHeader("authorization", "Bearer wrong");
  EXPECT_TRUE(Authenticate(options, bad, "grpc.health.v1.Health/Check").ok());
  // Other methods of the same service are not public.
  Context watch;
  EXPECT_EQ(Authenticate(options, watch, "grpc.health.v1.Health/Watch").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthInterceptorTest, ClientCertificateAcceptedWhenConfigured) {
  AuthOptions options = Configured();
  options.accept_client_certificates = true;
  Context context;
  context.set_transport_identity(Identity{"mtls", "client-1", {{"x509_subject", "CN=client-1"}}});
  ASSERT_TRUE(Authenticate(options, context).ok());
  EXPECT_EQ(context.identity().scheme, "mtls");
  EXPECT_EQ(context.identity().subject, "client-1");
  EXPECT_EQ(context.identity().attributes.at("x509_subject"), "CN=client-1");
}

TEST(AuthInterceptorTest, ClientCertificateAloneIsNotEnoughByDefault) {
  AuthOptions options = Configured();
  ASSERT_FALSE(options.accept_client_certificates);
  Context context;
  context.set_transport_identity(Identity{"mtls", "client-1", {}});
  absl::Status s = Authenticate(options, context);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("missing credentials"));

  // With a valid token as well, the token's identity wins.
  Context both = WithHeader("authorization", "Bearer s3cret-token");
  both.set_transport_identity(Identity{"mtls", "client-1", {}});
  ASSERT_TRUE(Authenticate(options, both).ok());
  EXPECT_EQ(both.identity().scheme, "bearer");
  EXPECT_EQ(both.identity().subject, "alice");
}

TEST(AuthInterceptorTest, TransportWithoutIdentityDoesNotAuthenticate) {
  AuthOptions options = Configured();
  options.accept_client_certificates = true;
  Context context;  // TLS without a client certificate: no transport identity
  EXPECT_EQ(Authenticate(options, context).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthInterceptorTest, BearerIsCheckedBeforeApiKey) {
  Context context = WithHeader("authorization", "Bearer wrong");
  context.mutable_metadata().emplace("x-api-key", "key-123");
  EXPECT_EQ(Authenticate(Configured(), context).code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace kei
