// The gRPC side of the one execution path. protoc-gen-kei generates a
// grpc CallbackService subclass whose every method is one line calling a
// function here; these run the call through the kei::Dispatcher with no
// in-process gRPC hop. Unary calls run inline on gRPC's callback thread;
// streaming calls get a worker thread that drives a blocking StreamIO over the
// reactor (one outstanding read and one outstanding write, i.e. gRPC's own flow
// control).
#pragma once

#include <memory>
#include <system_error>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/grpc/grpc_context.h"
#include "cc/status/grpc_mapping.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace kei::grpc_glue {

class UnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryReactor(grpc::CallbackServerContext* server_context)
      : server_context_(server_context),
        probe_target_(std::make_shared<ProbeTarget>(server_context)) {
    InitContext(server_context, &context_);
    // The handler runs before this reactor is returned to gRPC, so OnCancel
    // cannot reach it meanwhile; the handler's cancellation checks ask gRPC.
    // The token may be copied and outlive the call, so the probe reaches the
    // server context only until Complete() detaches it.
    context_.cancellation().SetProbe([target = probe_target_] {
      absl::MutexLock lock(&target->mu);
      return target->server_context != nullptr && target->server_context->IsCancelled();
    });
  }
  Context& context() { return context_; }
  void Complete(const absl::Status& status) {
    {
      absl::MutexLock lock(&probe_target_->mu);
      probe_target_->server_context = nullptr;
    }
    SendResponseMetadata(context_, server_context_);
    Finish(ToGrpcStatus(status));
  }
  void OnCancel() override { context_.cancellation().Cancel(); }
  void OnDone() override { delete this; }

 private:
  struct ProbeTarget {
    explicit ProbeTarget(grpc::CallbackServerContext* c) : server_context(c) {}
    absl::Mutex mu;
    grpc::CallbackServerContext* server_context ABSL_GUARDED_BY(mu);
  };
  grpc::CallbackServerContext* server_context_;
  std::shared_ptr<ProbeTarget> probe_target_;
  Context context_;
};

template <class Request, class Response>
grpc::ServerUnaryReactor* ServeUnary(const Dispatcher& dispatcher,
                                     const MethodHandler& method,
                                     grpc::CallbackServerContext* server_context,
                                     const Request* request, Response* response) {
  auto* reactor = new UnaryReactor(server_context);
  auto run = [&dispatcher, &method, reactor, request, response] {
    reactor->Complete(dispatcher.Unary(method, reactor->context(), *request, response));
  };
  // gRPC has only a few callback threads; a handler that blocks on one of
  // them would stall every other call, so handlers run on the kit's pool.
  if (HandlerPool* pool = dispatcher.handler_pool()) {
    pool->Submit(std::move(run));
  } else {
    run();
  }
  return reactor;
}

// Blocking read/write over a reactor's Start*/On*Done pairs, shared by the
// three streaming reactors. `Base` is the grpc reactor type.
template <class Base, class Request, class Response>
class StreamReactor : public Base, public StreamIO {
 public:
  StreamReactor(const Dispatcher& dispatcher, const MethodHandler& method,
                grpc::CallbackServerContext* server_context)
      : dispatcher_(dispatcher), method_(method), server_context_(server_context) {
    InitContext(server_context, &context_);
  }

  // Starts the handler on its own thread; the reactor finishes when it returns.
  void Launch() {
    try {
      worker_ = std::thread([this] {
        absl::Status status = dispatcher_.Stream(method_, context_, *this);
        SendResponseMetadata(context_, server_context_);
        this->Finish(ToGrpcStatus(status));
        // `this` may be deleted from here on.
      });
    } catch (const std::system_error&) {
      // Out of threads: refuse this stream instead of letting the exception
      // escape into gRPC (std::terminate).
      this->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "server cannot start a thread for this stream"));
    }
  }

  void OnCancel() override { context_.cancellation().Cancel(); }
  void OnDone() override {
    if (!worker_.joinable()) {
      // Launch() could not start a worker.
    } else if (worker_.get_id() == std::this_thread::get_id()) {
      worker_.detach();
    } else {
      worker_.join();
    }
    delete this;
  }

 protected:
  // Read and write plumbing; used by the subclasses that have that direction.
  bool BlockingRead(google::protobuf::Message* out) {
    if (read_closed_) return false;
    Request* target = dynamic_cast<Request*>(out);
    if (target == nullptr) target = &read_buffer_;
    {
      absl::MutexLock lock(&mu_);
      read_pending_ = true;
    }
    this->StartRead(target);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* pending) { return !*pending; }, &read_pending_));
    if (!read_ok_) {
      read_closed_ = true;
      return false;
    }
    if (target != out) out->CopyFrom(*target);
    return true;
  }
  void ReadDone(bool ok) {
    absl::MutexLock lock(&mu_);
    read_ok_ = ok;
    read_pending_ = false;
  }
  bool BlockingWrite(const google::protobuf::Message& message) {
    if (write_failed_ || context_.cancelled()) return false;
    const Response* typed = dynamic_cast<const Response*>(&message);
    if (typed == nullptr) {
      write_buffer_.CopyFrom(message);
      typed = &write_buffer_;
    }
    {
      absl::MutexLock lock(&mu_);
      write_pending_ = true;
    }
    this->StartWrite(typed);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* pending) { return !*pending; }, &write_pending_));
    if (!write_ok_) write_failed_ = true;
    return write_ok_;
  }
  void WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    write_ok_ = ok;
    write_pending_ = false;
  }

  Context context_;

 private:
  const Dispatcher& dispatcher_;
  const MethodHandler& method_;
  grpc::CallbackServerContext* server_context_;
  std::thread worker_;
  absl::Mutex mu_;
  bool read_pending_ = false;
  bool read_ok_ = false;
  bool write_pending_ = false;
  bool write_ok_ = false;
  // Touched by the worker thread only.
  bool read_closed_ = false;
  bool write_failed_ = false;
  Request read_buffer_;
  Response write_buffer_;
};

template <class Request, class Response>
class ServerStreamReactor final
    : public StreamReactor<grpc::ServerWriteReactor<Response>, Request, Response> {
 public:
  ServerStreamReactor(const Dispatcher& dispatcher, const MethodHandler& method,
                      grpc::CallbackServerContext* server_context, const Request* request)
      : StreamReactor<grpc::ServerWriteReactor<Response>, Request, Response>(
            dispatcher, method, server_context),
        request_(request) {}
  // The single request, then the end of the stream.
  bool Read(google::protobuf::Message* out) override {
    if (request_ == nullptr) return false;
    out->CopyFrom(*request_);
    request_ = nullptr;
    return true;
  }
  bool Write(const google::protobuf::Message& message) override {
    return this->BlockingWrite(message);
  }
  void OnWriteDone(bool ok) override { this->WriteDone(ok); }

 private:
  const Request* request_;
};

template <class Request, class Response>
class ClientStreamReactor final
    : public StreamReactor<grpc::ServerReadReactor<Request>, Request, Response> {
 public:
  ClientStreamReactor(const Dispatcher& dispatcher, const MethodHandler& method,
                      grpc::CallbackServerContext* server_context, Response* response)
      : StreamReactor<grpc::ServerReadReactor<Request>, Request, Response>(
            dispatcher, method, server_context),
        response_(response) {}
  bool Read(google::protobuf::Message* out) override { return this->BlockingRead(out); }
  // The single response, sent when the handler returns.
  bool Write(const google::protobuf::Message& message) override {
    response_->CopyFrom(message);
    return true;
  }
  void OnReadDone(bool ok) override { this->ReadDone(ok); }

 private:
  Response* response_;
};

template <class Request, class Response>
class BidiStreamReactor final
    : public StreamReactor<grpc::ServerBidiReactor<Request, Response>, Request, Response> {
 public:
  using StreamReactor<grpc::ServerBidiReactor<Request, Response>, Request,
                      Response>::StreamReactor;
  bool Read(google::protobuf::Message* out) override { return this->BlockingRead(out); }
  bool Write(const google::protobuf::Message& message) override {
    return this->BlockingWrite(message);
  }
  void OnReadDone(bool ok) override { this->ReadDone(ok); }
  void OnWriteDone(bool ok) override { this->WriteDone(ok); }
};

template <class Request, class Response>
grpc::ServerWriteReactor<Response>* ServeServerStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context, const Request* request) {
  auto* reactor = new ServerStreamReactor<Request, Response>(dispatcher, method,
                                                             server_context, request);
  reactor->Launch();
  return reactor;
}

template <class Request, class Response>
grpc::ServerReadReactor<Request>* ServeClientStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context, Response* response) {
  auto* reactor = new ClientStreamReactor<Request, Response>(dispatcher, method,
                                                             server_context, response);
  reactor->Launch();
  return reactor;
}

template <class Request, class Response>
grpc::ServerBidiReactor<Request, Response>* ServeBidiStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context) {
  auto* reactor =
      new BidiStreamReactor<Request, Response>(dispatcher, method, server_context);
  reactor->Launch();
  return reactor;
}

}  // namespace kei::grpc_glue
