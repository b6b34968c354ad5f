#include "cc/mcp/mcp_session.h"

#include "absl/strings/str_cat.h"

namespace kei::mcp {
namespace {

std::string IdKey(const Json& id) { return DumpJson(id); }

}  // namespace

void Session::SetInitialize(std::string protocol_version, Json client_info,
                            Json client_capabilities) {
  absl::MutexLock lock(&mu_);
  protocol_version_ = std::move(protocol_version);
  client_info_ = std::move(client_info);
  client_capabilities_ = std::move(client_capabilities);
  initialize_seen_.store(true);
}

std::string Session::protocol_version() const {
  absl::MutexLock lock(&mu_);
  return protocol_version_;
}

Json Session::client_info() const {
  absl::MutexLock lock(&mu_);
  return client_info_;
}

Json Session::client_capabilities() const {
  absl::MutexLock lock(&mu_);
  return client_capabilities_;
}

bool Session::Subscribe(const std::string& uri) {
  absl::MutexLock lock(&mu_);
  // Bounded: a client cannot make the server remember unlimited URIs.
  if (subscriptions_.size() >= 10000 && !subscriptions_.count(uri)) return false;
  subscriptions_.insert(uri);
  return true;
}

bool Session::Unsubscribe(const std::string& uri) {
  absl::MutexLock lock(&mu_);
  return subscriptions_.erase(uri) > 0;
}

bool Session::IsSubscribed(const std::string& uri) const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.count(uri) > 0;
}

void Session::BeginRequest(const Json& id, CancellationToken token) {
  absl::MutexLock lock(&mu_);
  in_flight_[IdKey(id)] = std::move(token);
}

void Session::EndRequest(const Json& id) {
  absl::MutexLock lock(&mu_);
  in_flight_.erase(IdKey(id));
}

void Session::CancelRequest(const Json& id) {
  CancellationToken token;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(IdKey(id));
    if (it == in_flight_.end()) return;
    token = it->second;
  }
  token.Cancel();
}

void Session::CancelAll() {
  std::vector<CancellationToken> tokens;
  std::vector<std::shared_ptr<std::promise<Json>>> waiting;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, token] : in_flight_) tokens.push_back(token);
    for (auto& [id, promise] : client_requests_) waiting.push_back(promise);
    client_requests_.clear();
    outbound_ = nullptr;
  }
  for (auto& token : tokens) token.Cancel();
  for (auto& promise : waiting) {
    promise->set_value(Json{{"error", {{"code", -32000 - 1}, {"message", "session ended"}}}});
  }
}

void Session::set_outbound(MessageSink sink) {
  absl::MutexLock lock(&mu_);
  outbound_ = std::move(sink);
}

bool Session::SendOutbound(const Json& message) {
  MessageSink sink;
  {
    absl::MutexLock lock(&mu_);
    sink = outbound_;
  }
  return sink && sink(message);
}

std::pair<Json, std::shared_future<Json>> Session::BeginClientRequest() {
  auto promise = std::make_shared<std::promise<Json>>();
  std::shared_future<Json> future = promise->get_future().share();
  absl::MutexLock lock(&mu_);
  Json id = absl::StrCat("kei-", ++next_client_request_);
  client_requests_[IdKey(id)] = std::move(promise);
  return {id, future};
}

bool Session::CompleteClientRequest(const Json& id, Json response) {
  std::shared_ptr<std::promise<Json>> promise;
  {
    absl::MutexLock lock(&mu_);
    auto it = client_requests_.find(IdKey(id));
    if (it == client_requests_.end()) return false;
    promise = std::move(it->second);
    client_requests_.erase(it);
  }
  promise->set_value(std::move(response));
  return true;
}

void Session::AbandonClientRequest(const Json& id) {
  absl::MutexLock lock(&mu_);
  client_requests_.erase(IdKey(id));
}

}  // namespace kei::mcp
