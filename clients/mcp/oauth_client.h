// MCP authorization (spec 2025-11-25, OAuth 2.1), client side. When an MCP
// server answers 401, the client reads the `WWW-Authenticate: Bearer` challenge,
// finds the server's Protected Resource Metadata (RFC 9728: the challenge's
// resource_metadata URL, else the path-based then the root well-known URL),
// then its authorization server's metadata (RFC 8414 path-aware URL, then the
// OpenID Connect variants), gets a client identity (pre-registered id/secret,
// a Client ID Metadata Document URL, or Dynamic Client Registration, RFC
// 7591), runs the authorization-code flow with PKCE (S256), `state` and the
// RFC 8707 `resource` parameter, and exchanges the code for a bearer token at
// the token endpoint with the authentication method the server chose
// (client_secret_basic, client_secret_post or none). A 403 with
// error="insufficient_scope" re-authorizes with the union of the scopes (at
// most max_authorization_attempts per request); a 401 for a token re-authorizes
// once. The user-agent step (opening the authorization URL in a browser) is a
// callback; HeadlessAuthorizationHandler is one for tests and CLIs against
// servers that redirect without user interaction. The client_credentials grant
// (no user) is there for machine clients.
//
// Every authorization-server URL must be https, except for loopback hosts
// (localhost, 127.0.0.0/8, ::1), which may use plain http.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "clients/http/http_client.h"
#include "clients/mcp/streamable_http_client_transport.h"
#include "nlohmann/json.hpp"

namespace kei::mcp {

// Given the authorization URL, does what the user agent does (the user logs in
// and consents) and returns the URL the authorization server redirected to
// (redirect_uri?code=...&state=...).
using AuthorizationHandler =
    std::function<absl::StatusOr<std::string>(const std::string& authorization_url)>;

struct McpOAuthOptions {
  // Run the authorization flow when the MCP server asks for it (401).
  bool enabled = false;
  // A pre-registered client; with a secret, the token endpoint authentication
  // method is picked from what the authorization server supports.
  std::string client_id;
  std::string client_secret;
  // A Client ID Metadata Document URL (https), used as the client_id when the
  // authorization server advertises client_id_metadata_document_supported.
  std::string client_metadata_url;
  // Dynamic Client Registration: the client_name sent ("" = the MCP client's).
  std::string client_name;
  std::string redirect_uri = "http://localhost:3000/callback";
  // The user-agent step; required for the authorization-code grant.
  AuthorizationHandler authorization_handler;
  // Use the client_credentials grant (client_id/client_secret required)
  // instead of the authorization-code flow.
  bool client_credentials = false;
  // Authorizations for one request before its 401/403 is returned.
  int max_authorization_attempts = 3;
  // Timeout of each authorization-server request.
  absl::Duration request_timeout = absl::Seconds(30);
};

// A handler that GETs the authorization URL without following redirects and
// returns the Location it redirects to (for servers that need no user
// interaction, such as test servers).
AuthorizationHandler HeadlessAuthorizationHandler(http::HttpClientOptions options = {});

namespace oauth {

// ---- Pure helpers (exposed for tests)

struct Url {
  std::string scheme;  // lower case
  std::string host;    // lower case, no brackets
  int port = 0;        // 0: the scheme's default
  std::string path;    // "" or starting with '/'
  std::string query;   // without '?'
  std::string fragment;
  // scheme://host[:port]
  std::string Origin() const;
};
absl::StatusOr<Url> ParseUrl(absl::string_view url);
bool IsLoopbackHost(absl::string_view host);
// https, or http on a loopback host.
absl::Status CheckSecureUrl(absl::string_view url, absl::string_view what);

// The canonical resource URI of an MCP server (RFC 8707): lower-case scheme and
// host, no default port, no fragment.
absl::StatusOr<std::string> CanonicalResourceUri(absl::string_view server_url);

// One challenge of a WWW-Authenticate header.
struct AuthChallenge {
  std::string scheme;  // as sent
  std::map<std::string, std::string> params;  // lower-case names
  std::string Param(absl::string_view name) const;
};
std::vector<AuthChallenge> ParseWwwAuthenticate(absl::string_view header);
// The Bearer challenge among the values of WWW-Authenticate headers, if any.
std::optional<AuthChallenge> FindBearerChallenge(const std::vector<std::string>& headers);

// Protected Resource Metadata URLs to try for `server_url` when the challenge
// names none: path-based, then root (only the root for a server at "/").
std::vector<std::string> ProtectedResourceMetadataUrls(absl::string_view server_url);
// Authorization server metadata URLs for `issuer`, in the spec's order:
// with a path, oauth-authorization-server/<path>, openid-configuration/<path>,
// <path>/.well-known/openid-configuration; without one, the two root ones.
std::vector<std::string> AuthorizationServerMetadataUrls(absl::string_view issuer);

// PKCE (RFC 7636).
std::string Base64Url(absl::string_view bytes);
std::string RandomToken(int bytes = 32);
std::string CodeChallengeS256(absl::string_view verifier);

// application/x-www-form-urlencoded and query strings.
std::string FormEncode(absl::string_view value);
std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields);
std::map<std::string, std::string> ParseQuery(absl::string_view query);

// Scopes: space-separated lists, union keeping first-seen order.
std::string ScopeUnion(absl::string_view a, absl::string_view b);

}  // namespace oauth

// The authorization state of one MCP server URL; the Streamable HTTP transport
// asks it for the Authorization header and hands it 401/403 answers.
class McpOAuthClient final : public HttpAuthorizer {
 public:
  // `http` is the MCP client's HTTP options (TLS, user agent; its bearer token
  // and default headers are not sent to authorization servers).
  McpOAuthClient(std::string server_url, McpOAuthOptions options,
                 const http::HttpClientOptions& http, std::string default_client_name);
  ~McpOAuthClient() override;

  // The access token to send ("" before authorization).
  std::string AccessToken() override;
  // A 401 or 403 answered a request sent with `token_used`; `attempt` counts
  // the earlier authorizations for this request. OK: send it again with
  // AccessToken(). Otherwise the reason not to (the caller reports the HTTP
  // error then).
  absl::Status OnChallenge(int status, const std::vector<std::string>& www_authenticate,
                           const std::string& token_used, int attempt) override;
  // Authorizations run so far (for tests).
  int authorizations() const;

 private:
  struct Discovery;
  absl::Status Authorize(const std::optional<oauth::AuthChallenge>& challenge, bool step_up)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Discover(const std::optional<oauth::AuthChallenge>& challenge)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EnsureClient() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> GetJson(const std::string& url);
  absl::StatusOr<nlohmann::json> TokenRequest(std::vector<std::pair<std::string, std::string>> form)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string server_url_;
  const McpOAuthOptions options_;
  const std::string default_client_name_;
  std::unique_ptr<http::HttpClient> http_;
  absl::Status http_status_;

  mutable absl::Mutex mu_;
  std::unique_ptr<Discovery> discovery_ ABSL_GUARDED_BY(mu_);
  std::string access_token_ ABSL_GUARDED_BY(mu_);
  std::string granted_scope_ ABSL_GUARDED_BY(mu_);
  std::string requested_scope_ ABSL_GUARDED_BY(mu_);
  int authorizations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kei::mcp
