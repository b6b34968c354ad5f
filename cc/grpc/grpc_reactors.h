// The gRPC side of the one execution path. protoc-gen-kei generates a
// grpc CallbackService subclass whose every method is one line calling a
// function here; these run the call through the kei::Dispatcher with no
// in-process gRPC hop. Unary calls run inline on gRPC's callback thread;
// streaming calls get a worker thread that drives a blocking StreamIO over the
// reactor (one outstanding read and one outstanding write, i.e. gRPC's own flow
// control); streaming methods are registered raw (bytes in, bytes out).
#pragma once

#include <memory>
#include <system_error>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/grpc/grpc_context.h"
#include "cc/status/grpc_mapping.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
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
// three streaming reactors. `Base` is the grpc reactor type. Streaming methods
// are registered raw (protoc-gen-kei marks them so): messages cross as
// serialized bytes, so a handler may read into or write any message that is
// wire-compatible with the method's types, or the bytes themselves
// (StreamIO::ReadSerialized / WriteSerialized), with no copy through the
// declared type.
template <class Base>
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
        // A request that did not parse ended the handler's reads: that is
        // the call's outcome.
        if (!decode_status_.ok()) status = decode_status_;
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
  // Worker thread only.
  bool BlockingRead(grpc::ByteBuffer* out) {
    if (read_closed_) return false;
    {
      absl::MutexLock lock(&mu_);
      read_pending_ = true;
    }
    this->StartRead(out);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* pending) { return !*pending; }, &read_pending_));
    if (!read_ok_) read_closed_ = true;
    return read_ok_;
  }
  void ReadDone(bool ok) {
    absl::MutexLock lock(&mu_);
    read_ok_ = ok;
    read_pending_ = false;
  }
  // Parses `bytes` into `out`; a failure ends the call with INVALID_ARGUMENT.
  bool Parse(grpc::ByteBuffer* bytes, google::protobuf::Message* out) {
    out->Clear();
    grpc::Status s = grpc::SerializationTraits<google::protobuf::Message>::Deserialize(bytes, out);
    if (s.ok()) return true;
    return Undecodable(out->GetDescriptor()->full_name());
  }
  // The bytes of `buffer`, in one string.
  static bool Flatten(const grpc::ByteBuffer& buffer, std::string* out) {
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return false;
    out->clear();
    out->reserve(buffer.Length());
    for (const grpc::Slice& slice : slices) {
      out->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    return true;
  }
  bool Undecodable(const std::string& type) {
    decode_status_ = absl::InvalidArgumentError(absl::StrCat("a ", type, " did not parse"));
    read_closed_ = true;
    return false;
  }
  bool BlockingRead(google::protobuf::Message* out) {
    return BlockingRead(&read_buffer_) && Parse(&read_buffer_, out);
  }
  bool BlockingReadSerialized(std::string* out) {
    return BlockingRead(&read_buffer_) && (Flatten(read_buffer_, out) || Undecodable("message"));
  }

  bool BlockingWrite(grpc::ByteBuffer bytes) {
    if (write_failed_ || context_.cancelled()) return false;
    write_buffer_ = std::move(bytes);
    {
      absl::MutexLock lock(&mu_);
      write_pending_ = true;
    }
    this->StartWrite(&write_buffer_);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* pending) { return !*pending; }, &write_pending_));
    if (!write_ok_) write_failed_ = true;
    return write_ok_;
  }
  bool BlockingWrite(const google::protobuf::Message& message) {
    grpc::ByteBuffer bytes;
    bool own = false;
    if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, &bytes, &own)
             .ok()) {
      return false;
    }
    return BlockingWrite(std::move(bytes));
  }
  bool BlockingWriteSerialized(absl::string_view bytes) {
    grpc::Slice slice(bytes.data(), bytes.size());
    return BlockingWrite(grpc::ByteBuffer(&slice, 1));
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
  absl::Status decode_status_;
  grpc::ByteBuffer read_buffer_;
  grpc::ByteBuffer write_buffer_;  // gRPC's until OnWriteDone
};

class ServerStreamReactor final
    : public StreamReactor<grpc::ServerWriteReactor<grpc::ByteBuffer>> {
 public:
  ServerStreamReactor(const Dispatcher& dispatcher, const MethodHandler& method,
                      grpc::CallbackServerContext* server_context, const grpc::ByteBuffer* request)
      : StreamReactor(dispatcher, method, server_context), request_(request) {}
  // The single request, then the end of the stream.
  bool Read(google::protobuf::Message* out) override {
    if (request_ == nullptr) return false;
    grpc::ByteBuffer request = *request_;  // shares the slices
    request_ = nullptr;
    return Parse(&request, out);
  }
  bool ReadSerialized(const google::protobuf::Message&, std::string* out) override {
    if (request_ == nullptr) return false;
    const grpc::ByteBuffer* request = request_;
    request_ = nullptr;
    return Flatten(*request, out) || Undecodable("message");
  }
  bool Write(const google::protobuf::Message& message) override { return BlockingWrite(message); }
  bool WriteSerialized(const google::protobuf::Message&, absl::string_view bytes) override {
    return BlockingWriteSerialized(bytes);
  }
  void OnWriteDone(bool ok) override { WriteDone(ok); }

 private:
  const grpc::ByteBuffer* request_;
};

class ClientStreamReactor final
    : public StreamReactor<grpc::ServerReadReactor<grpc::ByteBuffer>> {
 public:
  ClientStreamReactor(const Dispatcher& dispatcher, const MethodHandler& method,
                      grpc::CallbackServerContext* server_context, grpc::ByteBuffer* response)
      : StreamReactor(dispatcher, method, server_context), response_(response) {}
  bool Read(google::protobuf::Message* out) override { return BlockingRead(out); }
  bool ReadSerialized(const google::protobuf::Message&, std::string* out) override {
    return BlockingReadSerialized(out);
  }
  // The single response, sent when the handler returns.
  bool Write(const google::protobuf::Message& message) override {
    bool own = false;
    response_->Clear();
    return grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, response_, &own)
        .ok();
  }
  bool WriteSerialized(const google::protobuf::Message&, absl::string_view bytes) override {
    grpc::Slice slice(bytes.data(), bytes.size());
    *response_ = grpc::ByteBuffer(&slice, 1);
    return true;
  }
  void OnReadDone(bool ok) override { ReadDone(ok); }

 private:
  grpc::ByteBuffer* response_;
};

class BidiStreamReactor final
    : public StreamReactor<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>> {
 public:
  using StreamReactor::StreamReactor;
  bool Read(google::protobuf::Message* out) override { return BlockingRead(out); }
  bool ReadSerialized(const google::protobuf::Message&, std::string* out) override {
    return BlockingReadSerialized(out);
  }
  bool Write(const google::protobuf::Message& message) override { return BlockingWrite(message); }
  bool WriteSerialized(const google::protobuf::Message&, absl::string_view bytes) override {
    return BlockingWriteSerialized(bytes);
  }
  void OnReadDone(bool ok) override { ReadDone(ok); }
  void OnWriteDone(bool ok) override { WriteDone(ok); }
};

inline grpc::ServerWriteReactor<grpc::ByteBuffer>* ServeServerStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context, const grpc::ByteBuffer* request) {
  auto* reactor = new ServerStreamReactor(dispatcher, method, server_context, request);
  reactor->Launch();
  return reactor;
}

inline grpc::ServerReadReactor<grpc::ByteBuffer>* ServeClientStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context, grpc::ByteBuffer* response) {
  auto* reactor = new ClientStreamReactor(dispatcher, method, server_context, response);
  reactor->Launch();
  return reactor;
}

inline grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ServeBidiStream(
    const Dispatcher& dispatcher, const MethodHandler& method,
    grpc::CallbackServerContext* server_context) {
  auto* reactor = new BidiStreamReactor(dispatcher, method, server_context);
  reactor->Launch();
  return reactor;
}

}  // namespace kei::grpc_glue
