// MCP authorization, client side (see oauth_client.h).
#include "clients/mcp/oauth_client.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kei::mcp {

using nlohmann::json;

namespace oauth {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("!#$%&'*+-.^_`|~", c);
}

int DefaultPort(absl::string_view scheme) { return scheme == "https" ? 443 : 80; }

std::string StripTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FormDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string Url::Origin() const {
  std::string host_part = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  if (port == 0 || port == DefaultPort(scheme)) return absl::StrCat(scheme, "://", host_part);
  return absl::StrCat(scheme, "://", host_part, ":", port);
}

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  Url url;
  size_t colon = text.find("://");
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not an absolute URL: ", text));
  }
  url.scheme = absl::AsciiStrToLower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("not an http(s) URL: ", text));
  }
  absl::string_view rest = text.substr(colon + 3);
  if (size_t hash = rest.find('#'); hash != absl::string_view::npos) {
    url.fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    url.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  absl::string_view authority = rest;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    authority = rest.substr(0, slash);
    url.path = std::string(rest.substr(slash));
  }
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad host in URL: ", text));
    }
    url.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (absl::StartsWith(after, ":")) port = after.substr(1);
  } else if (size_t c = authority.rfind(':'); c != absl::string_view::npos) {
    url.host = std::string(authority.substr(0, c));
    port = authority.substr(c + 1);
  } else {
    url.host = std::string(authority);
  }
  url.host = absl::AsciiStrToLower(url.host);
  if (url.host.empty()) return absl::InvalidArgumentError(absl::StrCat("no host in URL: ", text));
  if (!port.empty() && (!absl::SimpleAtoi(port, &url.port) || url.port <= 0 || url.port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in URL: ", text));
  }
  return url;
}

bool IsLoopbackHost(absl::string_view host) {
  std::string h = absl::AsciiStrToLower(host);
  if (absl::StartsWith(h, "[") && absl::EndsWith(h, "]")) h = h.substr(1, h.size() - 2);
  return h == "localhost" || absl::EndsWith(h, ".localhost") || h == "::1" ||
         absl::StartsWith(h, "127.");
}

absl::Status CheckSecureUrl(absl::string_view url, absl::string_view what) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", parsed.status().message()));
  }
  if (parsed->scheme == "https" || IsLoopbackHost(parsed->host)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, " must use https (plain http only on loopback): ", url));
}

absl::StatusOr<std::string> CanonicalResourceUri(absl::string_view server_url) {
  auto url = ParseUrl(server_url);
  if (!url.ok()) return url.status();
  std::string out = absl::StrCat(url->Origin(), url->path);
  if (!url->query.empty()) absl::StrAppend(&out, "?", url->query);
  return out;
}

std::string AuthChallenge::Param(absl::string_view name) const {
  auto it = params.find(absl::AsciiStrToLower(name));
  return it == params.end() ? "" : it->second;
}

std::vector<AuthChallenge> ParseWwwAuthenticate(absl::string_view header) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  const size_t n = header.size();
  auto skip_ws = [&] {
    while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  auto read_token = [&] {
    size_t start = i;
    while (i < n && IsTokenChar(header[i])) ++i;
    return std::string(header.substr(start, i - start));
  };
  while (i < n) {
    skip_ws();
    if (i < n && header[i] == ',') {
      ++i;
      continue;
    }
    // Either a new challenge's scheme or (after one) an auth-param.
    size_t mark = i;
    std::string token = read_token();
    if (token.empty()) {
      ++i;  // skip a stray character
      continue;
    }
    skip_ws();
    bool is_param = i < n && header[i] == '=' && !out.empty();
    // token68 (e.g. "Basic abc==") is a value of the previous scheme, not a param.
    if (is_param) {
      size_t eq = i;
      ++i;
      skip_ws();
      if (i < n && header[i] == '=') {  // token68 padding
        while (i < n && header[i] == '=') ++i;
        continue;
      }
      std::string value;
      if (i < n && header[i] == '"') {
        ++i;
        while (i < n && header[i] != '"') {
          if (header[i] == '\\' && i + 1 < n) ++i;
          value += header[i++];
        }
        if (i < n) ++i;
      } else {
        size_t start = i;
        while (i < n && header[i] != ',' && header[i] != ' ' && header[i] != '\t') ++i;
        value = std::string(header.substr(start, i - start));
      }
      (void)eq;
      out.back().params[absl::AsciiStrToLower(token)] = value;
      continue;
    }
    (void)mark;
    AuthChallenge challenge;
    challenge.scheme = token;
    out.push_back(std::move(challenge));
  }
  return out;
}

std::optional<AuthChallenge> FindBearerChallenge(const std::vector<std::string>& headers) {
  for (const std::string& header : headers) {
    for (AuthChallenge& challenge : ParseWwwAuthenticate(header)) {
      if (absl::EqualsIgnoreCase(challenge.scheme, "bearer")) return std::move(challenge);
    }
  }
  return std::nullopt;
}

std::vector<std::string> ProtectedResourceMetadataUrls(absl::string_view server_url) {
  std::vector<std::string> urls;
  auto url = ParseUrl(server_url);
  if (!url.ok()) return urls;
  std::string path = url->path;
  if (path == "/") path.clear();
  if (!path.empty()) {
    urls.push_back(absl::StrCat(url->Origin(), "/.well-known/oauth-protected-resource", path));
  }
  urls.push_back(absl::StrCat(url->Origin(), "/.well-known/oauth-protected-resource"));
  return urls;
}

std::vector<std::string> AuthorizationServerMetadataUrls(absl::string_view issuer) {
  std::vector<std::string> urls;
  auto url = ParseUrl(issuer);
  if (!url.ok()) return urls;
  std::string path = StripTrailingSlash(url->path);
  const std::string origin = url->Origin();
  if (path.empty()) {
    urls.push_back(absl::StrCat(origin, "/.well-known/oauth-authorization-server"));
    urls.push_back(absl::StrCat(origin, "/.well-known/openid-configuration"));
  } else {
    urls.push_back(absl::StrCat(origin, "/.well-known/oauth-authorization-server", path));
    urls.push_back(absl::StrCat(origin, "/.well-known/openid-configuration", path));
    urls.push_back(absl::StrCat(origin, path, "/.well-known/openid-configuration"));
  }
  return urls;
}

std::string Base64Url(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

std::string RandomToken(int bytes) {
  std::string raw(static_cast<size_t>(bytes), '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes) != 1) {
    // RAND_bytes only fails when the system has no entropy source at all.
    std::abort();
  }
  return Base64Url(raw);
}

std::string CodeChallengeS256(absl::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64Url(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string FormEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    absl::StrAppend(&out, FormEncode(name), "=", FormEncode(value));
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(absl::string_view query) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    std::string name = FormDecode(part.substr(0, eq));
    std::string value = eq == absl::string_view::npos ? "" : FormDecode(part.substr(eq + 1));
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

std::string ScopeUnion(absl::string_view a, absl::string_view b) {
  std::vector<std::string> scopes;
  std::set<std::string> seen;
  for (absl::string_view list : {a, b}) {
    for (absl::string_view s : absl::StrSplit(list, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      if (seen.insert(std::string(s)).second) scopes.emplace_back(s);
    }
  }
  return absl::StrJoin(scopes, " ");
}

}  // namespace oauth

AuthorizationHandler HeadlessAuthorizationHandler(http::HttpClientOptions options) {
  options.bearer_token.clear();
  options.default_headers.clear();
  auto client = http::HttpClient::Create(options);
  std::shared_ptr<http::HttpClient> shared =
      client.ok() ? std::shared_ptr<http::HttpClient>(*std::move(client)) : nullptr;
  absl::Status error = client.status();
  return [shared, error](const std::string& url) -> absl::StatusOr<std::string> {
    if (shared == nullptr) return error;
    http::RequestOptions request_options;
    request_options.parse_json = false;
    auto response = shared->Get(url, {}, request_options);
    if (!response.ok()) return response.status();
    std::string location = response->header("location");
    if (response->status < 300 || response->status >= 400 || location.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the authorization endpoint did not redirect (HTTP ", response->status,
          "); it needs a user agent"));
    }
    if (absl::StartsWith(location, "/")) {
      auto base = oauth::ParseUrl(url);
      if (base.ok()) location = absl::StrCat(base->Origin(), location);
    }
    return location;
  };
}

struct McpOAuthClient::Discovery {
  std::string resource;
  std::string prm_url;
  std::string issuer;
  json as;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string registration_endpoint;
  std::vector<std::string> auth_methods;  // empty: not advertised
  std::string prm_scopes;
  // The client identity.
  bool have_client = false;
  std::string client_id;
  std::string client_secret;
  std::string auth_method;
};

namespace {

std::string JsonString(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> JsonStrings(const json& object, const char* key) {
  std::vector<std::string> out;
  if (!object.is_object()) return out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string StripSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The token endpoint authentication method for a client with or without a
// secret, among those the server supports (RFC 8414's default: basic).
std::string PickAuthMethod(const std::vector<std::string>& supported, bool has_secret) {
  if (!has_secret) return "none";
  if (supported.empty() || Contains(supported, "client_secret_basic")) return "client_secret_basic";
  if (Contains(supported, "client_secret_post")) return "client_secret_post";
  if (Contains(supported, "none")) return "none";
  return "client_secret_basic";
}

absl::Status OAuthError(absl::string_view what, int status, const json& body,
                        const std::string& raw) {
  std::string error = JsonString(body, "error");
  std::string description = JsonString(body, "error_description");
  std::string detail = error.empty() ? std::string(absl::StripAsciiWhitespace(raw.substr(0, 200)))
                                     : absl::StrCat(error, description.empty() ? "" : ": ",
                                                    description);
  return absl::PermissionDeniedError(
      absl::StrCat(what, " failed (HTTP ", status, ")", detail.empty() ? "" : ": ", detail));
}

}  // namespace

McpOAuthClient::McpOAuthClient(std::string server_url, McpOAuthOptions options,
                               const http::HttpClientOptions& http,
                               std::string default_client_name)
    : server_url_(std::move(server_url)),
      options_(std::move(options)),
      default_client_name_(std::move(default_client_name)) {
  http::HttpClientOptions own = http;
  own.bearer_token.clear();
  own.default_headers.clear();
  own.timeout = options_.request_timeout;
  auto client = http::HttpClient::Create(own);
  if (client.ok()) {
    http_ = *std::move(client);
  } else {
    http_status_ = client.status();
  }
}

McpOAuthClient::~McpOAuthClient() = default;

std::string McpOAuthClient::AccessToken() {
  absl::MutexLock lock(&mu_);
  return access_token_;
}

int McpOAuthClient::authorizations() const {
  absl::MutexLock lock(&mu_);
  return authorizations_;
}

absl::Status McpOAuthClient::OnChallenge(int status,
                                         const std::vector<std::string>& www_authenticate,
                                         const std::string& token_used, int attempt) {
  absl::MutexLock lock(&mu_);
  std::optional<oauth::AuthChallenge> challenge = oauth::FindBearerChallenge(www_authenticate);
  // Another request already got a newer token: just try that one.
  bool newer_token = !access_token_.empty() && token_used != access_token_;
  if (status == 401) {
    if (newer_token && attempt == 0) return absl::OkStatus();
    if (attempt >= 1) {
      return absl::UnauthenticatedError("the MCP server rejected the new access token");
    }
    return Authorize(challenge, false);
  }
  if (status == 403) {
    if (!challenge.has_value() || challenge->Param("error") != "insufficient_scope") {
      return absl::PermissionDeniedError("access denied (not an insufficient_scope challenge)");
    }
    if (attempt >= options_.max_authorization_attempts) {
      return absl::PermissionDeniedError(absl::StrCat(
          "insufficient scope after ", attempt, " authorizations; giving up"));
    }
    if (newer_token && attempt == 0) return absl::OkStatus();
    return Authorize(challenge, true);
  }
  return absl::InvalidArgumentError(absl::StrCat("HTTP ", status, " is not an auth challenge"));
}

absl::StatusOr<json> McpOAuthClient::GetJson(const std::string& url) {
  if (http_ == nullptr) return http_status_;
  http::Headers headers;
  headers.emplace("accept", "application/json");
  http::RequestOptions request_options;
  request_options.bearer_token = "";
  auto response = http_->Get(url, headers, request_options);
  if (!response.ok()) return response.status();
  if (!response->ok()) {
    return absl::NotFoundError(absl::StrCat("HTTP ", response->status, " from ", url));
  }
  if (!response->json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(url, " did not answer with a JSON object"));
  }
  return response->json;
}

absl::Status McpOAuthClient::Discover(const std::optional<oauth::AuthChallenge>& challenge) {
  auto d = std::make_unique<Discovery>();
  auto resource = oauth::CanonicalResourceUri(server_url_);
  if (!resource.ok()) return resource.status();
  d->resource = *resource;
  auto server = oauth::ParseUrl(server_url_);
  if (!server.ok()) return server.status();

  // Protected Resource Metadata (RFC 9728).
  std::vector<std::string> prm_urls;
  std::string from_header = challenge.has_value() ? challenge->Param("resource_metadata") : "";
  if (!from_header.empty()) {
    if (absl::Status s = oauth::CheckSecureUrl(from_header, "resource_metadata"); !s.ok()) return s;
    prm_urls.push_back(from_header);
  }
  for (std::string& url : oauth::ProtectedResourceMetadataUrls(server_url_)) {
    if (!Contains(prm_urls, url)) prm_urls.push_back(std::move(url));
  }
  json prm;
  std::vector<std::string> tried;
  for (const std::string& url : prm_urls) {
    auto got = GetJson(url);
    if (got.ok()) {
      prm = *std::move(got);
      d->prm_url = url;
      break;
    }
    tried.push_back(absl::StrCat(url, " (", got.status().message(), ")"));
  }
  if (d->prm_url.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the MCP server requires authorization but has no protected resource metadata: tried ",
        absl::StrJoin(tried, ", ")));
  }
  // The metadata must be about this server (its resource is the server's URL
  // or a parent of it on the same origin).
  if (std::string prm_resource = JsonString(prm, "resource"); !prm_resource.empty()) {
    auto parsed = oauth::ParseUrl(prm_resource);
    bool matches = parsed.ok() && parsed->Origin() == server->Origin();
    if (matches) {
      std::string base = StripSlash(parsed->path);
      matches = base.empty() || server->path == base || absl::StartsWith(server->path, base + "/");
    }
    if (!matches) {
      return absl::PermissionDeniedError(absl::StrCat("the protected resource metadata at ",
                                                      d->prm_url, " is for ", prm_resource,
                                                      ", not ", d->resource));
    }
  }
  std::vector<std::string> servers = JsonStrings(prm, "authorization_servers");
  if (servers.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the protected resource metadata at ", d->prm_url,
                     " names no authorization server"));
  }
  d->prm_scopes = absl::StrJoin(JsonStrings(prm, "scopes_supported"), " ");
  d->issuer = servers.front();
  if (absl::Status s = oauth::CheckSecureUrl(d->issuer, "authorization server"); !s.ok()) return s;

  // Authorization server metadata (RFC 8414 / OpenID Connect Discovery).
  tried.clear();
  bool found = false;
  for (const std::string& url : oauth::AuthorizationServerMetadataUrls(d->issuer)) {
    auto got = GetJson(url);
    if (got.ok()) {
      d->as = *std::move(got);
      found = true;
      break;
    }
    tried.push_back(absl::StrCat(url, " (", got.status().message(), ")"));
  }
  if (!found) {
    return absl::FailedPreconditionError(
        absl::StrCat("no authorization server metadata for ", d->issuer, ": tried ",
                     absl::StrJoin(tried, ", ")));
  }
  if (std::string issuer = JsonString(d->as, "issuer");
      !issuer.empty() && StripSlash(issuer) != StripSlash(d->issuer)) {
    return absl::PermissionDeniedError(absl::StrCat("the authorization server metadata's issuer ",
                                                    issuer, " is not ", d->issuer));
  }
  d->authorization_endpoint = JsonString(d->as, "authorization_endpoint");
  d->token_endpoint = JsonString(d->as, "token_endpoint");
  d->registration_endpoint = JsonString(d->as, "registration_endpoint");
  d->auth_methods = JsonStrings(d->as, "token_endpoint_auth_methods_supported");
  if (d->token_endpoint.empty()) {
    return absl::FailedPreconditionError("the authorization server metadata has no token_endpoint");
  }
  if (absl::Status s = oauth::CheckSecureUrl(d->token_endpoint, "token_endpoint"); !s.ok()) return s;
  if (!options_.client_credentials) {
    if (d->authorization_endpoint.empty()) {
      return absl::FailedPreconditionError(
          "the authorization server metadata has no authorization_endpoint");
    }
    if (absl::Status s = oauth::CheckSecureUrl(d->authorization_endpoint, "authorization_endpoint");
        !s.ok()) {
      return s;
    }
    // PKCE is required: the server must say it supports S256.
    if (!Contains(JsonStrings(d->as, "code_challenge_methods_supported"), "S256")) {
      return absl::FailedPreconditionError(
          "the authorization server does not advertise PKCE S256 "
          "(code_challenge_methods_supported)");
    }
  }
  if (!d->registration_endpoint.empty()) {
    if (absl::Status s = oauth::CheckSecureUrl(d->registration_endpoint, "registration_endpoint");
        !s.ok()) {
      return s;
    }
  }
  discovery_ = std::move(d);
  return absl::OkStatus();
}

absl::Status McpOAuthClient::EnsureClient() {
  Discovery& d = *discovery_;
  if (d.have_client) return absl::OkStatus();
  if (!options_.client_id.empty()) {
    d.client_id = options_.client_id;
    d.client_secret = options_.client_secret;
    d.auth_method = PickAuthMethod(d.auth_methods, !d.client_secret.empty());
    d.have_client = true;
    return absl::OkStatus();
  }
  if (options_.client_credentials) {
    return absl::FailedPreconditionError("the client_credentials grant needs a client_id");
  }
  auto cimd = d.as.find("client_id_metadata_document_supported");
  if (!options_.client_metadata_url.empty() && cimd != d.as.end() && cimd->is_boolean() &&
      cimd->get<bool>()) {
    d.client_id = options_.client_metadata_url;
    d.auth_method = "none";
    d.have_client = true;
    return absl::OkStatus();
  }
  if (d.registration_endpoint.empty()) {
    return absl::FailedPreconditionError(
        "the authorization server supports no dynamic client registration; configure a "
        "client_id (or a client metadata document URL)");
  }
  if (http_ == nullptr) return http_status_;
  std::string wanted = "none";
  if (Contains(d.auth_methods, "client_secret_basic") || d.auth_methods.empty()) {
    wanted = "client_secret_basic";
  } else if (Contains(d.auth_methods, "client_secret_post")) {
    wanted = "client_secret_post";
  }
  json request = {
      {"client_name", options_.client_name.empty() ? default_client_name_ : options_.client_name},
      {"redirect_uris", json::array({options_.redirect_uri})},
      {"grant_types", json::array({"authorization_code", "refresh_token"})},
      {"response_types", json::array({"code"})},
      {"token_endpoint_auth_method", wanted},
  };
  http::Headers headers;
  headers.emplace("content-type", "application/json");
  headers.emplace("accept", "application/json");
  http::RequestOptions request_options;
  request_options.bearer_token = "";
  auto response = http_->Post(d.registration_endpoint, request.dump(), headers, request_options);
  if (!response.ok()) return response.status();
  if (!response->ok()) {
    return OAuthError("dynamic client registration", response->status, response->json,
                      response->body);
  }
  d.client_id = JsonString(response->json, "client_id");
  if (d.client_id.empty()) {
    return absl::InternalError("dynamic client registration returned no client_id");
  }
  d.client_secret = JsonString(response->json, "client_secret");
  d.auth_method = JsonString(response->json, "token_endpoint_auth_method");
  if (d.auth_method.empty()) d.auth_method = PickAuthMethod(d.auth_methods, !d.client_secret.empty());
  d.have_client = true;
  return absl::OkStatus();
}

absl::StatusOr<json> McpOAuthClient::TokenRequest(
    std::vector<std::pair<std::string, std::string>> form) {
  const Discovery& d = *discovery_;
  if (http_ == nullptr) return http_status_;
  http::Headers headers;
  headers.emplace("content-type", "application/x-www-form-urlencoded");
  headers.emplace("accept", "application/json");
  if (d.auth_method == "client_secret_basic") {
    headers.emplace("authorization",
                    absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(
                                               oauth::FormEncode(d.client_id), ":",
                                               oauth::FormEncode(d.client_secret)))));
  } else if (d.auth_method == "client_secret_post") {
    form.emplace_back("client_id", d.client_id);
    form.emplace_back("client_secret", d.client_secret);
  } else {
    form.emplace_back("client_id", d.client_id);
  }
  http::RequestOptions request_options;
  request_options.bearer_token = "";
  auto response = http_->Post(d.token_endpoint, oauth::FormBody(form), headers, request_options);
  if (!response.ok()) return response.status();
  if (!response->ok()) return OAuthError("the token request", response->status, response->json,
                                         response->body);
  std::string token = JsonString(response->json, "access_token");
  if (token.empty()) return absl::InternalError("the token response has no access_token");
  std::string type = JsonString(response->json, "token_type");
  if (!type.empty() && !absl::EqualsIgnoreCase(type, "bearer")) {
    return absl::UnimplementedError(absl::StrCat("unsupported token_type ", type));
  }
  return response->json;
}

absl::Status McpOAuthClient::Authorize(const std::optional<oauth::AuthChallenge>& challenge,
                                       bool step_up) {
  if (!options_.enabled) return absl::UnauthenticatedError("OAuth is not enabled");
  if (discovery_ == nullptr) {
    if (absl::Status s = Discover(challenge); !s.ok()) return s;
  }
  if (absl::Status s = EnsureClient(); !s.ok()) return s;
  const Discovery& d = *discovery_;

  // Scope selection: the challenge's, else everything the resource supports,
  // else none; a step-up adds what was asked before.
  std::string scope = challenge.has_value() ? challenge->Param("scope") : "";
  if (scope.empty()) scope = d.prm_scopes;
  if (step_up) scope = oauth::ScopeUnion(requested_scope_, scope);
  ++authorizations_;

  std::vector<std::pair<std::string, std::string>> form;
  if (options_.client_credentials) {
    form = {{"grant_type", "client_credentials"}, {"resource", d.resource}};
    if (!scope.empty()) form.emplace_back("scope", scope);
  } else {
    if (!options_.authorization_handler) {
      return absl::FailedPreconditionError(
          "the MCP server requires authorization and no authorization_handler is set");
    }
    if (absl::Status s = oauth::CheckSecureUrl(options_.redirect_uri, "redirect_uri"); !s.ok()) {
      return s;
    }
    const std::string verifier = oauth::RandomToken(32);
    const std::string state = oauth::RandomToken(16);
    std::vector<std::pair<std::string, std::string>> query = {
        {"response_type", "code"},
        {"client_id", d.client_id},
        {"redirect_uri", options_.redirect_uri},
        {"code_challenge", oauth::CodeChallengeS256(verifier)},
        {"code_challenge_method", "S256"},
        {"state", state},
        {"resource", d.resource},
    };
    if (!scope.empty()) query.emplace_back("scope", scope);
    std::string url = absl::StrCat(d.authorization_endpoint,
                                   absl::StrContains(d.authorization_endpoint, '?') ? "&" : "?",
                                   oauth::FormBody(query));
    auto redirected = options_.authorization_handler(url);
    if (!redirected.ok()) return redirected.status();
    auto parsed = oauth::ParseUrl(*redirected);
    if (!parsed.ok()) return parsed.status();
    auto params = oauth::ParseQuery(parsed->query);
    if (auto error = params.find("error"); error != params.end()) {
      std::string description = params.count("error_description") != 0
                                    ? absl::StrCat(": ", params["error_description"])
                                    : "";
      return absl::PermissionDeniedError(
          absl::StrCat("authorization refused: ", error->second, description));
    }
    if (params["state"] != state) {
      return absl::PermissionDeniedError("the authorization response's state does not match");
    }
    if (params["code"].empty()) {
      return absl::PermissionDeniedError("the authorization response has no code");
    }
    form = {{"grant_type", "authorization_code"},
            {"code", params["code"]},
            {"redirect_uri", options_.redirect_uri},
            {"code_verifier", verifier},
            {"resource", d.resource}};
  }
  auto token = TokenRequest(std::move(form));
  if (!token.ok()) return token.status();
  access_token_ = JsonString(*token, "access_token");
  requested_scope_ = scope;
  std::string granted = JsonString(*token, "scope");
  granted_scope_ = granted.empty() ? scope : granted;
  return absl::OkStatus();
}

}  // namespace kei::mcp
