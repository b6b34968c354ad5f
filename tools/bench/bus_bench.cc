// Publish -> deliver throughput and latency of one bus engine, with the same
// workload for every engine: one publisher and one subscriber in this
// process, 1 KiB messages, at most --window messages published but not yet
// delivered (so latency measures the engine, not an unbounded queue).
//   kei  : KEIBusClient over gRPC to keid (BusPublisher pipeline; an
//          ephemeral subscription, or a durable group with batched acks)
//   core : the NATS C client to nats-server, core publish/subscribe
//   js   : the NATS C client to nats-server, JetStream with file storage
//          (async publish with acks, durable pull consumer, explicit acks)
// Prints one JSON line: {"engine", "messages", "msgs_per_s", "p50_us", "p99_us",
// "client_cpu_us"}: the last is this process's CPU time (user + system, all
// threads) per message from the first publish to the last delivery.
// Driven by tools/bench/bus_bench, which starts the servers.
#include <nats/nats.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "clients/bus/bus_publisher.h"
#include "clients/bus/kei_bus_client.h"

namespace {

constexpr size_t kMessageBytes = 1024;

// CPU time of this process so far (user + system, every thread).
int64_t CpuNanos() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto nanos = [](const timeval& t) { return t.tv_sec * 1000000000LL + t.tv_usec * 1000LL; };
  return nanos(usage.ru_utime) + nanos(usage.ru_stime);
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The payload: the send time, then filler up to 1 KiB.
std::string Payload() {
  std::string payload(kMessageBytes, 'x');
  int64_t now = NowNanos();
  std::memcpy(payload.data(), &now, sizeof(now));
  return payload;
}

// What the subscriber saw; the window holds the publisher back.
class Tally {
 public:
  Tally(int64_t messages, int64_t window) : messages_(messages), window_(window) {
    latencies_.reserve(messages);
  }
  void BeforePublish() {
    absl::MutexLock lock(&mu_);
    auto room = [this] { return published_ - delivered_ < window_; };
    mu_.Await(absl::Condition(&room));
    if (published_++ == 0) {
      start_ = NowNanos();
      start_cpu_ = CpuNanos();
    }
  }
  void Delivered(const char* data, size_t size) {
    int64_t now = NowNanos();
    int64_t sent = 0;
    if (size >= sizeof(sent)) std::memcpy(&sent, data, sizeof(sent));
    absl::MutexLock lock(&mu_);
    latencies_.push_back(now - sent);
    if (++delivered_ == messages_) {
      end_ = now;
      end_cpu_ = CpuNanos();
    }
  }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this] { return delivered_ >= messages_; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
  std::string Report(const std::string& engine) {
    absl::MutexLock lock(&mu_);
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double p) -> double {
      if (latencies_.empty()) return 0;
      size_t i = std::min(latencies_.size() - 1, static_cast<size_t>(p * latencies_.size()));
      return latencies_[i] / 1000.0;
    };
    double seconds = delivered_ >= messages_ ? (end_ - start_) / 1e9 : 0;
    return absl::StrCat("{\"engine\":\"", engine, "\",\"messages\":", delivered_,
                        ",\"msgs_per_s\":", seconds > 0 ? static_cast<int64_t>(delivered_ / seconds) : 0,
                        ",\"p50_us\":", static_cast<int64_t>(pct(0.50)),
                        ",\"p99_us\":", static_cast<int64_t>(pct(0.99)),
                        ",\"client_cpu_us\":",
                        absl::StrFormat("%.2f", delivered_ >= messages_
                                                    ? (end_cpu_ - start_cpu_) / 1e3 / messages_
                                                    : 0.0),
                        "}");
  }

 private:
  const int64_t messages_;
  const int64_t window_;
  absl::Mutex mu_;
  int64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t start_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t end_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t start_cpu_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t end_cpu_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> latencies_ ABSL_GUARDED_BY(mu_);
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "bus_bench: %s\n", what.c_str());
  return 1;
}

int RunKei(const std::string& url, const std::string& group, const std::string& suffix,
           int64_t messages, int64_t window, const std::string& label,
           const kei::BusPublisherOptions& publisher_defaults) {
  auto client = kei::KEIBusClient::Connect(url);
  if (!client.ok()) return Fail(client.status().ToString());
  std::string topic = absl::StrCat("bench.", suffix);
  kei::SubscribeOptions options;
  options.buffer = 4096;
  if (!group.empty()) {
    options.group = absl::StrCat(group, "-", suffix);
    options.max_ack_pending = static_cast<uint32_t>(window * 2);
  }
  // Handler style, as the NATS subscriber's callback: deliveries are handled
  // on the subscription's reader thread; group acks go out in batches.
  Tally tally(messages, window);
  std::vector<std::string> acks;
  std::atomic<int64_t> seen{0};
  auto subscription = (*client)->Subscribe(
      topic, options, [&](const kei::bus::v1::Delivery& d) {
        tally.Delivered(d.envelope().binary_data().data(), d.envelope().binary_data().size());
        int64_t n = ++seen;
        if (!d.ack_id().empty()) acks.push_back(d.ack_id());
        if (acks.size() >= 256 || (!acks.empty() && n == messages)) {
          (void)(*client)->Ack(acks);
          acks.clear();
        }
      });
  if (!subscription.ok()) return Fail(subscription.status().ToString());
  {
    kei::BusPublisherOptions publisher_options = publisher_defaults;
    publisher_options.max_pending = static_cast<size_t>(window);
    kei::BusPublisher publisher(**client, publisher_options);
    for (int64_t i = 0; i < messages; ++i) {
      tally.BeforePublish();
      publisher.Publish(topic, kei::DataEnvelope(Payload(), "application/octet-stream"));
    }
    publisher.Flush();
    if (publisher.failures() > 0) std::fprintf(stderr, "bus_bench: %llu publishes failed\n",
                                                static_cast<unsigned long long>(publisher.failures()));
  }
  bool done = tally.WaitDone(absl::Seconds(60));
  (*subscription)->Close();
  std::printf("%s\n", tally.Report(label).c_str());
  return done ? 0 : Fail("not every message was delivered");
}

void OnCoreMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<Tally*>(closure)->Delivered(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

int RunNatsCore(const std::string& url, const std::string& suffix, int64_t messages,
                int64_t window) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return Fail("connect to nats");
  std::string subject = absl::StrCat("benchcore.", suffix);
  Tally tally(messages, window);
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(&sub, nc, subject.c_str(), OnCoreMessage, &tally);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(nc);
  for (int64_t i = 0; i < messages; ++i) {
    tally.BeforePublish();
    std::string payload = Payload();
    natsConnection_Publish(nc, subject.c_str(), payload.data(), static_cast<int>(payload.size()));
  }
  natsConnection_Flush(nc);
  bool done = tally.WaitDone(absl::Seconds(60));
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  std::printf("%s\n", tally.Report("nats-core").c_str());
  return done ? 0 : Fail("not every message was delivered");
}

int RunJetStream(const std::string& url, const std::string& suffix, int64_t messages,
                 int64_t window) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return Fail("connect to nats");
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.MaxPending = window * 2;
  jsCtx* js = nullptr;
  natsConnection_JetStream(&js, nc, &js_options);
  std::string stream = absl::StrCat("BENCH", suffix);
  std::string subjects = absl::StrCat("benchjs", suffix, ".>");
  std::string subject = absl::StrCat("benchjs", suffix, ".t");
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_AddStream(&info, js, &config, nullptr, &jerr) != NATS_OK) {
    return Fail(absl::StrCat("add stream: ", nats_GetLastError(nullptr)));
  }
  jsStreamInfo_Destroy(info);
  natsSubscription* sub = nullptr;
  std::string durable = absl::StrCat("bench", suffix);
  if (js_PullSubscribe(&sub, js, subject.c_str(), durable.c_str(), nullptr, nullptr, &jerr) !=
      NATS_OK) {
    return Fail(absl::StrCat("pull subscribe: ", nats_GetLastError(nullptr)));
  }
  Tally tally(messages, window);
  std::atomic<bool> stop{false};
  std::thread subscriber([&] {
    int64_t seen = 0;
    while (seen < messages && !stop) {
      natsMsgList list;
      if (natsSubscription_Fetch(&list, sub, 256, 100, &jerr) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        tally.Delivered(natsMsg_GetData(list.Msgs[i]), natsMsg_GetDataLength(list.Msgs[i]));
        natsMsg_Ack(list.Msgs[i], nullptr);
        ++seen;
      }
      natsMsgList_Destroy(&list);
    }
  });
  for (int64_t i = 0; i < messages; ++i) {
    tally.BeforePublish();
    std::string payload = Payload();
    while (js_PublishAsync(js, subject.c_str(), payload.data(), static_cast<int>(payload.size()),
                           nullptr) != NATS_OK) {
    }
  }
  js_PublishAsyncComplete(js, nullptr);
  bool done = tally.WaitDone(absl::Seconds(60));
  stop = true;
  subscriber.join();
  natsSubscription_Destroy(sub);
  js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  std::printf("%s\n", tally.Report("nats-jetstream-file").c_str());
  return done ? 0 : Fail("not every message was delivered");
}

}  // namespace

int main(int argc, char** argv) {
  // As keid: no deadlock-graph bookkeeping on every lock (Debian's abseil
  // keeps it on by default).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string engine, url, group, suffix = "0", label;
  int64_t messages = 100000, window = 1000;
  kei::BusPublisherOptions publisher;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--engine") engine = value;
    else if (flag == "--url") url = value;
    else if (flag == "--group") group = value;
    else if (flag == "--suffix") suffix = value;
    else if (flag == "--label") label = value;
    else if (flag == "--messages") (void)absl::SimpleAtoi(value, &messages);
    else if (flag == "--window") (void)absl::SimpleAtoi(value, &window);
    else if (flag == "--batch") (void)absl::SimpleAtoi(value, &publisher.max_batch);
    else if (flag == "--in-flight") (void)absl::SimpleAtoi(value, &publisher.max_batches_in_flight);
    else return Fail("unknown flag " + flag);
  }
  if (engine == "kei") {
    return RunKei(url, group, suffix, messages, window, label.empty() ? "kei" : label, publisher);
  }
  if (engine == "core") return RunNatsCore(url, suffix, messages, window);
  if (engine == "js") return RunJetStream(url, suffix, messages, window);
  return Fail("usage: bus_bench --engine kei|core|js --url URL [--group G] [--messages N] "
              "[--window W] [--suffix S] [--label L] [--batch N] [--in-flight N]");
}
