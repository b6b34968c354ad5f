// BusPublisher against real servers over gRPC and WebSocket when the publish
// stream is not the happy path: a server without Bus.PublishStream (an older
// keid) gets PublishBatch calls, a stream that breaks with a batch stored but
// unanswered has that batch resent as a call, recognised as a duplicate, and a
// stream whose outcomes are overdue (past the call options' timeout, which
// also bounds the fallback calls) is abandoned for calls.
// Either way every message is acknowledged once and delivered once, in order.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bus/bus_service.h"
#include "bus/embedded_broker.h"
#include "bus/log/memory_log.h"
#include "cc/server/server.h"
#include "clients/bus/bus_publisher.h"
#include "clients/bus/kei_bus_client.h"
#include "gtest/gtest.h"
#include "kei/bus/v1/bus.kei.h"

namespace kei {
namespace {

using bus::v1::PublishBatchRequest;
using bus::v1::PublishBatchResponse;

// The Bus as BusService serves it, except PublishStream: absent (the
// generated default, UNIMPLEMENTED); answering the first batch of each
// stream, storing the second without an answer and then breaking the stream;
// or taking batches and never answering.
class AlteredBus final : public bus::v1::BusHandler {
 public:
  enum class Stream { kAbsent, kBreaksAfterOne, kStalls };
  AlteredBus(std::shared_ptr<bus::BusService> real, Stream stream)
      : real_(std::move(real)), stream_(stream) {}

  absl::Status Publish(Context& c, const bus::v1::PublishRequest& r,
                       bus::v1::PublishResponse* out) override {
    return real_->Publish(c, r, out);
  }
  absl::Status PublishBatch(Context& c, const PublishBatchRequest& r,
                            PublishBatchResponse* out) override {
    ++batch_calls;
    return real_->PublishBatch(c, r, out);
  }
  absl::Status PublishStream(Context& c,
                             BidiStream<PublishBatchRequest, PublishBatchResponse>& s) override {
    ++streams;
    if (stream_ == Stream::kAbsent) return BusHandler::PublishStream(c, s);
    PublishBatchRequest request;
    PublishBatchResponse response;
    if (stream_ == Stream::kStalls) {
      while (s.Receive(&request)) {
      }
      return absl::OkStatus();
    }
    if (!s.Receive(&request)) return absl::OkStatus();
    if (auto st = real_->PublishBatch(c, request, &response); !st.ok()) return st;
    if (!s.Send(response)) return absl::OkStatus();
    request.Clear();
    response.Clear();
    if (!s.Receive(&request)) return absl::OkStatus();
    (void)real_->PublishBatch(c, request, &response);  // stored, never answered
    return absl::UnavailableError("test: the publish stream broke");
  }
  absl::Status Subscribe(Context& c, const bus::v1::SubscribeRequest& r,
                         StreamWriter<bus::v1::SubscribeResponse>& s) override {
    return real_->Subscribe(c, r, s);
  }

  std::atomic<int> batch_calls{0};
  std::atomic<int> streams{0};

 private:
  std::shared_ptr<bus::BusService> real_;
  const Stream stream_;
};

class BusPublisherTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(AlteredBus::Stream stream) {
    auto broker = bus::EmbeddedBroker::Open(std::make_unique<bus::MemoryLog>());
    ASSERT_TRUE(broker.ok()) << broker.status();
    std::shared_ptr<bus::Backend> backend(*std::move(broker));
    bus_ = std::make_shared<AlteredBus>(std::make_shared<bus::BusService>(backend), stream);
    ServerOptions options;
    options.grpc_address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    options.http.io_threads = 2;
    server_ = std::make_unique<Server>(options);
    ASSERT_TRUE(server_->AddService(bus::v1::BindBus(bus_)).ok());
    ASSERT_TRUE(server_->Start().ok());
    std::string url = GetParam() == "grpc"
                          ? absl::StrCat("grpc://", server_->grpc_target())
                          : absl::StrCat("ws://", server_->http_target(), "/api/v1/stream");
    auto client = KEIBusClient::Connect(url);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  void TearDown() override {
    client_.reset();
    if (server_ != nullptr) {
      server_->Shutdown(absl::Seconds(2));
      server_->Wait();
    }
  }

  // Publishes `count` numbered messages in batches of 50 and checks that each
  // is acknowledged once and delivered once, in order. Returns how many
  // acknowledgements said "duplicate".
  int PublishAndCheck(int count, absl::Duration timeout = absl::InfiniteDuration()) {
    auto sub = client_->Subscribe("pub.t", SubscribeOptions{});
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return -1;
    std::atomic<int> acknowledged{0}, duplicates{0};
    {
      BusPublisherOptions options;
      options.max_batch = 50;
      options.max_pending = 400;
      options.call_options.timeout = timeout;
      BusPublisher publisher(*client_, options);
      for (int i = 0; i < count; ++i) {
        publisher.Publish("pub.t", DataEnvelope(absl::StrCat(i), "text/plain"),
                          [&](const absl::StatusOr<bus::v1::PublishResponse>& r) {
                            EXPECT_TRUE(r.ok()) << r.status();
                            if (r.ok()) ++acknowledged;
                            if (r.ok() && r->duplicate()) ++duplicates;
                          });
      }
      publisher.Flush();
      EXPECT_EQ(publisher.failures(), 0u);
    }
    EXPECT_EQ(acknowledged.load(), count);
    uint64_t last = 0;
    for (int i = 0; i < count; ++i) {
      auto next = (*sub)->Next(absl::Seconds(5));
      EXPECT_TRUE(next.ok() && next->has_value()) << i;
      if (!next.ok() || !next->has_value()) return -1;
      EXPECT_EQ((*next)->envelope().binary_data(), absl::StrCat(i));
      EXPECT_GT((*next)->sequence(), last);
      last = (*next)->sequence();
    }
    auto extra = (*sub)->Next(absl::Milliseconds(200));
    EXPECT_TRUE(extra.ok() && !extra->has_value()) << "a message was delivered twice";
    return duplicates.load();
  }

  std::shared_ptr<AlteredBus> bus_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<KEIBusClient> client_;
};

TEST_P(BusPublisherTest, ServerWithoutPublishStreamGetsCalls) {
  Start(AlteredBus::Stream::kAbsent);
  EXPECT_EQ(PublishAndCheck(1000), 0);
  EXPECT_GE(bus_->batch_calls.load(), 1000 / 50);
  // Asked once: the answer (UNIMPLEMENTED) sticks.
  EXPECT_EQ(bus_->streams.load(), 1);
}

TEST_P(BusPublisherTest, OverdueOutcomesAbandonTheStream) {
  Start(AlteredBus::Stream::kStalls);
  absl::Time start = absl::Now();
  EXPECT_EQ(PublishAndCheck(300, absl::Seconds(1)), 0);
  EXPECT_GE(bus_->streams.load(), 1);
  EXPECT_GE(bus_->batch_calls.load(), 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST_P(BusPublisherTest, BrokenStreamIsResentAsCallsWithoutDuplicates) {
  Start(AlteredBus::Stream::kBreaksAfterOne);
  const int duplicates = PublishAndCheck(2000);
  EXPECT_GE(bus_->streams.load(), 2);
  EXPECT_GE(bus_->batch_calls.load(), 1);
  // A stored but unanswered batch came back as a call: the server said so.
  EXPECT_GT(duplicates, 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, BusPublisherTest, ::testing::Values("grpc", "ws"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kei
