// The bus keeps every acknowledged message through a crash. 100,000 messages
// are published (by several publishers, each retrying with the same message id
// until acknowledged) and consumed by a durable consumer group, while the
// engine is killed with SIGKILL and restarted:
//   - keid with the embedded broker's durable log (keid itself is killed);
//   - keid on NATS JetStream (nats-server is killed; keid reconnects).
// Afterwards every message whose publish was acknowledged must have been
// delivered at least once; the duplicate count is reported.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/bus/kei_bus_client.h"
#include "gtest/gtest.h"
#include "tests/support/nats_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei {
namespace {

using testing::NatsServer;
using testing::Process;

constexpr int kMessages = 100000;
constexpr int kPublishers = 4;
constexpr int kCrashAfter = 30000;  // acknowledged publishes before the crash
constexpr absl::Duration kTestBudget = absl::Seconds(400);

std::string Scratch(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", getpid());
}

// keid as a child process, restartable; its gRPC URL changes on restart.
class Keid {
 public:
  explicit Keid(std::vector<std::string> flags) : flags_(std::move(flags)) {}

  absl::Status Start() {
    std::string keid = testing::FindTestFile("tools/keid/keid", "KEI_KEID_PATH");
    std::vector<std::string> argv = {keid, "--grpc-address", "127.0.0.1:0", "--http-address", ""};
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    auto process = testing::StartProcess(argv);
    if (!process.ok()) return process.status();
    if (!(*process)->WaitForOutput("listening grpc://", absl::Seconds(30))) {
      return absl::UnavailableError(absl::StrCat("keid did not start: ", (*process)->Output()));
    }
    std::string output = (*process)->Output();
    size_t start = output.find("listening ") + 10;
    absl::MutexLock lock(&mu_);
    url_ = output.substr(start, output.find('\n', start) - start);
    ++generation_;
    process_ = *std::move(process);
    return absl::OkStatus();
  }
  void Kill() {
    absl::MutexLock lock(&mu_);
    process_->Kill();
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    if (process_) process_->Stop();
  }
  std::pair<std::string, int> Current() {
    absl::MutexLock lock(&mu_);
    return {url_, generation_};
  }

 private:
  const std::vector<std::string> flags_;
  absl::Mutex mu_;
  std::string url_ ABSL_GUARDED_BY(mu_);
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Process> process_ ABSL_GUARDED_BY(mu_);
};

// A client that follows keid across restarts.
class FollowingClient {
 public:
  explicit FollowingClient(Keid& keid) : keid_(keid) {}
  KEIBusClient* Get() {
    auto [url, generation] = keid_.Current();
    if (client_ == nullptr || generation != generation_) {
      auto client = KEIBusClient::Connect(url);
      if (!client.ok()) return nullptr;
      client_ = *std::move(client);
      generation_ = generation;
    }
    return client_.get();
  }

 private:
  Keid& keid_;
  std::unique_ptr<KEIBusClient> client_;
  int generation_ = -1;
};

struct Ledger {
  absl::Mutex mu;
  std::vector<bool> acknowledged ABSL_GUARDED_BY(mu) = std::vector<bool>(kMessages);
  int acknowledged_count ABSL_GUARDED_BY(mu) = 0;
  std::vector<int> received ABSL_GUARDED_BY(mu) = std::vector<int>(kMessages);
  int distinct_received ABSL_GUARDED_BY(mu) = 0;
  int64_t duplicates ABSL_GUARDED_BY(mu) = 0;
  int64_t publish_retries ABSL_GUARDED_BY(mu) = 0;
};

// Runs the scenario; `crash` kills the engine and brings it back.
void RunFaultScenario(Keid& keid, const std::function<void()>& crash, absl::string_view label) {
  Ledger ledger;
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  absl::Time deadline = absl::Now() + kTestBudget;
  const std::string payload(200, 'p');

  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&] {
      FollowingClient client(keid);
      for (int i = next++; i < kMessages && !stop; i = next++) {
        bus::v1::Envelope envelope = DataEnvelope(payload, "text/plain");
        envelope.set_id(absl::StrCat("fault-", i));
        while (!stop) {
          KEIBusClient* c = client.Get();
          CallOptions options;
          options.timeout = absl::Seconds(5);
          if (c != nullptr && c->Publish("fault.messages", envelope, options).ok()) break;
          {
            absl::MutexLock lock(&ledger.mu);
            ++ledger.publish_retries;
          }
          absl::SleepFor(absl::Milliseconds(50));
        }
        absl::MutexLock lock(&ledger.mu);
        if (!stop) {
          ledger.acknowledged[i] = true;
          ++ledger.acknowledged_count;
        }
      }
    });
  }

  std::thread consumer([&] {
    FollowingClient client(keid);
    SubscribeOptions options;
    options.group = "fault-consumers";
    options.StartAll();
    options.ack_wait = absl::Seconds(5);
    options.max_deliveries = -1;
    while (!stop) {
      KEIBusClient* c = client.Get();
      if (c == nullptr) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      auto subscription = c->Subscribe("fault.messages", options);
      if (!subscription.ok()) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      std::vector<std::string> acks;
      while (!stop) {
        auto next_delivery = (*subscription)->Next(absl::Milliseconds(100));
        if (!next_delivery.ok()) break;  // the engine went away: subscribe again
        if (next_delivery->has_value()) {
          const bus::v1::Delivery& d = **next_delivery;
          int index = -1;
          absl::string_view id = d.envelope().id();
          if (absl::ConsumePrefix(&id, "fault-") && absl::SimpleAtoi(id, &index) && index >= 0 &&
              index < kMessages) {
            absl::MutexLock lock(&ledger.mu);
            if (ledger.received[index]++ == 0) {
              ++ledger.distinct_received;
            } else {
              ++ledger.duplicates;
            }
          }
          acks.push_back(d.ack_id());
        }
        if (acks.size() >= 64 || (!next_delivery->has_value() && !acks.empty())) {
          (void)c->Ack(acks);
          acks.clear();
        }
      }
    }
  });

  // Crash once enough publishes were acknowledged.
  {
    absl::MutexLock lock(&ledger.mu);
    auto enough = [&] { return ledger.acknowledged_count >= kCrashAfter; };
    ASSERT_TRUE(ledger.mu.AwaitWithDeadline(absl::Condition(&enough), deadline))
        << "only " << ledger.acknowledged_count << " publishes acknowledged";
  }
  crash();

  // Everything published, everything acknowledged delivered.
  {
    absl::MutexLock lock(&ledger.mu);
    auto done = [&] {
      return ledger.acknowledged_count == kMessages && ledger.distinct_received == kMessages;
    };
    ledger.mu.AwaitWithDeadline(absl::Condition(&done), deadline);
  }
  stop = true;
  for (auto& t : publishers) t.join();
  consumer.join();

  absl::MutexLock lock(&ledger.mu);
  int lost = 0;
  for (int i = 0; i < kMessages; ++i) {
    if (ledger.acknowledged[i] && ledger.received[i] == 0) ++lost;
  }
  std::printf("%s: %d messages, %d publishes acknowledged, %d delivered, %d lost, %lld duplicate "
              "deliveries, %lld publish retries\n",
              std::string(label).c_str(), kMessages, ledger.acknowledged_count,
              ledger.distinct_received, lost, static_cast<long long>(ledger.duplicates),
              static_cast<long long>(ledger.publish_retries));
  ::testing::Test::RecordProperty("duplicates", static_cast<int>(ledger.duplicates));
  EXPECT_EQ(ledger.acknowledged_count, kMessages);
  EXPECT_EQ(lost, 0);
}

TEST(BusFaultTest, EmbeddedDurableLogKeepsEveryAcknowledgedMessageThroughSigkill) {
  Keid keid({"--bus-dir", Scratch("bus-fault")});
  ASSERT_TRUE(keid.Start().ok());
  RunFaultScenario(
      keid,
      [&] {
        keid.Kill();
        auto restarted = keid.Start();
        ASSERT_TRUE(restarted.ok()) << restarted;
      },
      "embedded durable log, keid SIGKILLed");
  keid.Stop();
}

TEST(BusFaultTest, NatsJetStreamKeepsEveryAcknowledgedMessageThroughANatsServerCrash) {
  auto nats = NatsServer::Start(/*jetstream=*/true, Scratch("nats-fault"));
  ASSERT_TRUE(nats.ok()) << nats.status();
  Keid keid({"--bus-nats", (*nats)->url()});
  ASSERT_TRUE(keid.Start().ok());
  RunFaultScenario(
      keid,
      [&] {
        (*nats)->Kill();
        auto restarted = (*nats)->Restart();
        ASSERT_TRUE(restarted.ok()) << restarted;
      },
      "NATS JetStream, nats-server SIGKILLed");
  keid.Stop();
}

}  // namespace
}  // namespace kei
