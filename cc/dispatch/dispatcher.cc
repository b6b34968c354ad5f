#include "cc/dispatch/dispatcher.h"

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"

namespace kei {
namespace {

absl::Status CheckDeadline(const Context& context) {
  if (context.deadline_exceeded()) {
    return absl::DeadlineExceededError("deadline exceeded before the handler ran");
  }
  if (context.cancelled()) return absl::CancelledError("call cancelled by the caller");
  return absl::OkStatus();
}

// A handler that returns OK after its deadline passed or its caller left still
// reports the truth: the caller did not get its answer in time.
absl::Status Settle(const Context& context, absl::Status status) {
  if (status.ok() && context.deadline_exceeded()) {
    return absl::DeadlineExceededError("deadline exceeded while the handler ran");
  }
  return status;
}

}  // namespace

absl::Status Dispatcher::Start(const MethodInfo& method, Context& context,
                               size_t* started) const {
  context.set_method(&method);
  *started = 0;
  for (const auto& interceptor : interceptors_) {
    absl::Status s = interceptor->OnCallStart(method, context);
    if (!s.ok()) return s;
    ++*started;
  }
  return CheckDeadline(context);
}

void Dispatcher::End(const MethodInfo& method, Context& context, size_t started,
                     const absl::Status& status) const {
  while (started > 0) {
    --started;
    interceptors_[started]->OnCallEnd(method, context, status);
  }
}

absl::Status Dispatcher::Admit(const MethodInfo& method, Context& context) const {
  size_t started = 0;
  absl::Status status = Start(method, context, &started);
  End(method, context, started, status);
  return status;
}

absl::Status Dispatcher::Unary(const MethodHandler& method, Context& context,
                               const google::protobuf::Message& request,
                               google::protobuf::Message* response) const {
  return RunUnary(
      method, context,
      [&]() -> absl::StatusOr<const google::protobuf::Message*> { return &request; },
      response);
}

absl::Status Dispatcher::RunUnary(
    const MethodHandler& method, Context& context,
    absl::FunctionRef<absl::StatusOr<const google::protobuf::Message*>()> request,
    google::protobuf::Message* response) const {
  size_t started = 0;
  absl::Status status = Start(method.info, context, &started);
  if (status.ok() && !method.unary) {
    status = absl::UnimplementedError(
        absl::StrCat(method.info.full_name, " is a streaming method"));
  }
  if (status.ok()) {
    // Only now, with the caller authenticated and admitted, is the request
    // decoded (for adapters that pass bytes).
    absl::StatusOr<const google::protobuf::Message*> decoded = request();
    status = decoded.ok() ? Settle(context, method.unary(context, **decoded, response))
                          : decoded.status();
  }
  End(method.info, context, started, status);
  return status;
}

absl::Status Dispatcher::Stream(const MethodHandler& method, Context& context,
                                StreamIO& io) const {
  size_t started = 0;
  absl::Status status = Start(method.info, context, &started);
  if (status.ok()) {
    if (method.stream) {
      status = Settle(context, method.stream(context, io));
    } else {
      status = absl::UnimplementedError(
          absl::StrCat(method.info.full_name, " is a unary method"));
    }
  }
  End(method.info, context, started, status);
  return status;
}

absl::Status Dispatcher::UnaryEncoded(const MethodHandler& method, Context& context,
                                      const Codec& codec, absl::string_view request,
                                      std::string* response) const {
  std::unique_ptr<google::protobuf::Message> req;
  std::unique_ptr<google::protobuf::Message> resp(method.response_prototype->New());
  absl::Status status = RunUnary(
      method, context,
      [&]() -> absl::StatusOr<const google::protobuf::Message*> {
        req.reset(method.request_prototype->New());
        if (auto s = codec.Unmarshal(request, req.get()); !s.ok()) return s;
        return req.get();
      },
      resp.get());
  if (!status.ok()) return status;
  return codec.Marshal(*resp, response);
}

}  // namespace kei
