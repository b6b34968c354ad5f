// Stream handlers that take and send serialized messages
// (StreamIO::ReadSerialized / WriteSerialized) and clients that write them
// (ClientStream::WriteSerialized): over gRPC (raw bytes both ways), WebSocket
// and HTTP (Connect, through the declared type), with the same results; and a
// streaming request that does not parse ends the call with INVALID_ARGUMENT
// instead of looking like the end of the stream.
#include <memory>
#include <string>

#include "cc/server/server.h"
#include "clients/kei_rpc_client.h"
#include "clients/ws/ws_transport.h"
#include "gtest/gtest.h"
#include "kei/test/v1/echo.kei.h"

namespace kei::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

// Chat echoes each request's bytes as the response: EchoRequest's text and
// delay_ms are wire-compatible with EchoResponse's text and index. Expand
// sends `count` serialized responses.
class BytesEchoService final : public test::v1::EchoServiceHandler {
 public:
  absl::Status Chat(Context&, BidiStream<EchoRequest, EchoResponse>& stream) override {
    std::string bytes;
    while (stream.ReceiveSerialized(&bytes)) {
      if (!stream.SendSerialized(bytes)) break;
    }
    return absl::OkStatus();
  }
  absl::Status Expand(Context&, const test::v1::ExpandRequest& request,
                      StreamWriter<EchoResponse>& stream) override {
    for (int i = 0; i < request.count(); ++i) {
      EchoResponse response;
      response.set_text(request.text());
      response.set_index(i);
      if (!stream.SendSerialized(response.SerializeAsString())) break;
    }
    return absl::OkStatus();
  }
};

class SerializedStreamTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.grpc_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(options);
    ASSERT_TRUE(server_->AddService(test::v1::BindEchoService(std::make_shared<BytesEchoService>()))
                    .ok());
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Shutdown(); }
  std::unique_ptr<KEIRPCClient> Client() {
    std::string scheme = GetParam();
    std::string target = scheme == "grpc" ? server_->grpc_target() : server_->http_target();
    if (scheme == "ws") target += "/api/v1/stream";
    ClientConfig config;
    config.retry = RetryPolicy::None();
    auto client = KEIRPCClient::Connect(absl::StrCat(scheme, "://", target), config);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }
  static MethodInfo Method(const char* name) {
    return *DescriptorRegistry::Default().FindMethod(absl::StrCat("kei.test.v1.EchoService/", name));
  }
  std::unique_ptr<Server> server_;
};

TEST_P(SerializedStreamTest, BidiHandlerEchoesBytes) {
  if (std::string(GetParam()) == "http") GTEST_SKIP() << "the HTTP client has no bidi streams";
  auto client = Client();
  auto stream = client->transport().OpenStream(Method("Chat"), {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  for (int i = 0; i < 3; ++i) {
    EchoRequest request;
    request.set_text(absl::StrCat("héllo ", i));
    request.set_delay_ms(40 + i);
    // The client's serialized writes too, every other message.
    if (i % 2 == 0) {
      ASSERT_TRUE((*stream)->WriteSerialized(EchoRequest::default_instance(),
                                             request.SerializeAsString()));
    } else {
      ASSERT_TRUE((*stream)->Write(request));
    }
    EchoResponse response;
    ASSERT_TRUE((*stream)->Read(&response));
    EXPECT_EQ(response.text(), absl::StrCat("héllo ", i));
    EXPECT_EQ(response.index(), 40 + i);
  }
  ASSERT_TRUE((*stream)->CloseSend());
  EchoResponse extra;
  EXPECT_FALSE((*stream)->Read(&extra));
  EXPECT_TRUE((*stream)->Finish().ok());
}

TEST_P(SerializedStreamTest, ServerStreamSendsSerializedResponses) {
  auto client = Client();
  auto stream = client->transport().OpenStream(Method("Expand"), {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  test::v1::ExpandRequest request;
  request.set_text("copy");
  request.set_count(4);
  ASSERT_TRUE((*stream)->Write(request));
  ASSERT_TRUE((*stream)->CloseSend());
  EchoResponse response;
  int n = 0;
  while ((*stream)->Read(&response)) {
    EXPECT_EQ(response.text(), "copy");
    EXPECT_EQ(response.index(), n++);
  }
  EXPECT_EQ(n, 4);
  EXPECT_TRUE((*stream)->Finish().ok());
}

INSTANTIATE_TEST_SUITE_P(Transports, SerializedStreamTest, ::testing::Values("grpc", "http", "ws"));

// WebSocket with JSON frames: serialized messages go through the declared
// types on both sides.
TEST_F(SerializedStreamTest, WebSocketJsonFramesConvertThroughTheDeclaredTypes) {
  WsTransportOptions options;
  options.proto_frames = false;
  auto endpoint = ParseEndpoint(absl::StrCat("ws://", server_->http_target(), "/api/v1/stream"));
  ASSERT_TRUE(endpoint.ok());
  auto transport = WsTransport::Create(*endpoint, ClientConfig(), options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  auto stream = (*transport)->OpenStream(Method("Chat"), {});
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_FALSE((*transport)->proto_frames());
  EchoRequest request;
  request.set_text("json \"frames\"");
  request.set_delay_ms(7);
  ASSERT_TRUE(
      (*stream)->WriteSerialized(EchoRequest::default_instance(), request.SerializeAsString()));
  EchoResponse response;
  ASSERT_TRUE((*stream)->Read(&response));
  EXPECT_EQ(response.text(), "json \"frames\"");
  EXPECT_EQ(response.index(), 7);
  // Bytes that do not parse cannot be sent as JSON: the call is abandoned.
  EXPECT_FALSE((*stream)->WriteSerialized(EchoRequest::default_instance(), "\xff"));
  EXPECT_FALSE((*stream)->Read(&response));
  EXPECT_EQ((*stream)->Finish().code(), absl::StatusCode::kInvalidArgument);
}

// A request that does not parse (proto3 strings must be UTF-8) is the call's
// error, not the end of the caller's stream.
TEST(SerializedStreamGrpcTest, UnparsableStreamRequestIsInvalidArgument) {
  ServerOptions options;
  options.grpc_address = "127.0.0.1:0";
  Server server(options);
  class Echoes final : public test::v1::EchoServiceHandler {
   public:
    absl::Status Chat(Context&, BidiStream<EchoRequest, EchoResponse>& stream) override {
      EchoRequest request;
      while (stream.Receive(&request)) {
        EchoResponse response;
        response.set_text(request.text());
        if (!stream.Send(response)) break;
      }
      return absl::OkStatus();
    }
  };
  ASSERT_TRUE(server.AddService(test::v1::BindEchoService(std::make_shared<Echoes>())).ok());
  ASSERT_TRUE(server.Start().ok());
  ClientConfig config;
  config.retry = RetryPolicy::None();
  auto client = KEIRPCClient::Connect(absl::StrCat("grpc://", server.grpc_target()), config);
  ASSERT_TRUE(client.ok());
  auto stream = (*client)->transport().OpenStream(
      *DescriptorRegistry::Default().FindMethod("kei.test.v1.EchoService/Chat"), {});
  ASSERT_TRUE(stream.ok());
  EchoRequest good;
  good.set_text("fine");
  ASSERT_TRUE((*stream)->Write(good));
  EchoResponse response;
  ASSERT_TRUE((*stream)->Read(&response));
  EXPECT_EQ(response.text(), "fine");
  // Serialized anyway (protobuf only logs), rejected by the server's parser.
  EchoRequest bad;
  bad.set_text(std::string("\xff\xfe", 2));
  (*stream)->Write(bad);
  EXPECT_FALSE((*stream)->Read(&response));
  absl::Status status = (*stream)->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("kei.test.v1.EchoRequest"), std::string::npos) << status;
  server.Shutdown();
}

}  // namespace
}  // namespace kei::testing
