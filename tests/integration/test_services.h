// Services and interceptors the integration tests run inside a real
// kei::Server: an Echo service that reports what its handler saw (metadata,
// identity, cancellation), and an interceptor that fails the first N calls of
// a method, to exercise client retries against a real server.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cc/dispatch/interceptor.h"
#include "cc/server/server.h"
#include "kei/agent/v1/agent.kei.h"
#include "kei/test/v1/echo.kei.h"
#include "tools/keid/agent/agent_service.h"

namespace kei::testing {

class EchoTestService final : public test::v1::EchoServiceHandler {
 public:
  // Echo: text "whoami" answers "<scheme>:<subject>"; "meta:<key>" answers the
  // request metadata value; "protocol" answers the context's protocol;
  // delay_ms waits politely (stopping early on cancellation).
  absl::Status Echo(Context& context, const test::v1::EchoRequest& request,
                    test::v1::EchoResponse* response) override {
    ++echo_calls;
    {
      absl::MutexLock lock(&mu);
      unary_cancellation = context.cancellation();
    }
    if (request.delay_ms() > 0) {
      handler_started.store(true);
      if (!context.SleepFor(absl::Milliseconds(request.delay_ms()))) {
        saw_cancellation.store(context.cancelled());
        saw_deadline.store(context.deadline_exceeded());
        NotifyStopped();
        return context.cancelled() ? absl::CancelledError("cancelled")
                                   : absl::DeadlineExceededError("deadline exceeded");
      }
    }
    const std::string& text = request.text();
    if (text == "whoami") {
      response->set_text(absl::StrCat(context.identity().scheme, ":", context.identity().subject));
    } else if (text.rfind("meta:", 0) == 0) {
      auto value = FirstValue(context.metadata(), text.substr(5));
      response->set_text(value ? std::string(*value) : "<none>");
    } else if (text == "protocol") {
      response->set_text(std::string(context.protocol()));
    } else if (text == "fail") {
      return absl::FailedPreconditionError("asked to fail");
    } else if (text.rfind("code:", 0) == 0) {
      int code = std::atoi(text.c_str() + 5);
      return absl::Status(static_cast<absl::StatusCode>(code), "injected");
    } else {
      response->set_text(text);
    }
    return absl::OkStatus();
  }

  absl::Status Expand(Context& context, const test::v1::ExpandRequest& request,
                      StreamWriter<test::v1::EchoResponse>& stream) override {
    for (int i = 0; i < request.count(); ++i) {
      test::v1::EchoResponse response;
      response.set_text(request.text());
      response.set_index(i);
      if (!stream.Send(response)) return absl::CancelledError("caller went away");
    }
    return absl::OkStatus();
  }

  absl::Status Collect(Context& context, StreamReader<test::v1::EchoRequest>& stream,
                       test::v1::EchoResponse* response) override {
    test::v1::EchoRequest request;
    std::string joined;
    int count = 0;
    while (stream.Receive(&request)) {
      if (count++ > 0) joined += " ";
      joined += request.text();
    }
    response->set_text(joined);
    response->set_index(count);
    return absl::OkStatus();
  }

  // Chat echoes each message; it also notices when the caller goes away while
  // it waits for the next one.
  absl::Status Chat(Context& context,
                    BidiStream<test::v1::EchoRequest, test::v1::EchoResponse>& stream) override {
    test::v1::EchoRequest request;
    int index = 0;
    {
      absl::MutexLock lock(&mu);
      chat_cancellation = context.cancellation();
    }
    handler_started.store(true);
    while (stream.Receive(&request)) {
      test::v1::EchoResponse response;
      response.set_text(request.text());
      response.set_index(index++);
      if (!stream.Send(response)) break;
    }
    saw_cancellation.store(context.cancelled());
    NotifyStopped();
    return context.cancelled() ? absl::CancelledError("caller went away") : absl::OkStatus();
  }

  std::atomic<int> echo_calls{0};
  std::atomic<bool> handler_started{false};
  std::atomic<bool> saw_cancellation{false};
  std::atomic<bool> saw_deadline{false};
  // Notified when the first handler that waited stops (several may run).
  absl::Notification handler_stopped;
  void NotifyStopped() {
    if (!stopped_notified_.exchange(true)) handler_stopped.Notify();
  }
  std::atomic<bool> stopped_notified_{false};
  absl::Mutex mu;
  // The cancellation of the latest Chat call, for tests to wait on.
  CancellationToken chat_cancellation;
  // The cancellation of the latest Echo call; a copy that outlives the call.
  CancellationToken unary_cancellation;
};

// Fails the first `failures` calls of `method` with `code`.
class FailFirstInterceptor final : public Interceptor {
 public:
  FailFirstInterceptor(std::string method, int failures,
                       absl::StatusCode code = absl::StatusCode::kUnavailable)
      : method_(std::move(method)), remaining_(failures), code_(code) {}
  absl::Status OnCallStart(const MethodInfo& method, Context& context) override {
    if (method.full_name != method_) return absl::OkStatus();
    ++attempts;
    if (remaining_.fetch_sub(1) > 0) {
      return absl::Status(code_, "injected failure");
    }
    return absl::OkStatus();
  }
  std::atomic<int> attempts{0};

 private:
  std::string method_;
  std::atomic<int> remaining_;
  absl::StatusCode code_;
};

// A started server with the agent and echo services on 127.0.0.1:0.
struct TestServer {
  std::shared_ptr<agent::AgentService> agent;
  std::shared_ptr<EchoTestService> echo;
  std::unique_ptr<Server> server;

  std::string url() const { return absl::StrCat("grpc://", server->grpc_target()); }
};

// `customize` may add interceptors before the server starts.
inline absl::StatusOr<TestServer> StartTestServer(
    ServerOptions options = {},
    const std::function<void(Server&)>& customize = nullptr) {
  TestServer t;
  options.grpc_address = "127.0.0.1:0";
  t.server = std::make_unique<Server>(options);
  t.agent = std::make_shared<agent::AgentService>();
  t.echo = std::make_shared<EchoTestService>();
  if (auto s = t.server->AddService(agent::v1::BindAgentService(t.agent)); !s.ok()) return s;
  if (auto s = t.server->AddService(test::v1::BindEchoService(t.echo)); !s.ok()) return s;
  if (customize) customize(*t.server);
  if (auto s = t.server->Start(); !s.ok()) return s;
  return t;
}

}  // namespace kei::testing
