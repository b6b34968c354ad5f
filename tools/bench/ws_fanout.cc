// Load test for keid's WebSocket endpoint: holds N concurrent connections (all
// in this one process, on loopback), subscribes each to one topic, publishes
// one message from an extra connection and checks that every connection got
// it. Reports the server's resident memory per connection (from
// /proc/<pid>/status, sampled before connecting and with all N subscribed)
// and how long the fan-out took.
//
//   ws_fanout --port P --pid KEID_PID [--connections 10000] [--topic bench.fanout]
//             [--timeout-s 120]
//
// Exit status 0 when every connection received the message, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

long RssKiB(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

struct Options {
  unsigned short port = 0;
  int pid = 0;
  int connections = 10000;
  std::string topic = "bench.fanout";
  int timeout_s = 120;
};

// One subscriber: connect, upgrade, read the welcome, subscribe, read
// `subscribed`, then read until the event arrives.
class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  enum class State { kConnecting, kSubscribed, kGotEvent, kFailed };

  Subscriber(asio::io_context& io, const Options& options, int index, int* subscribed,
             int* received, Clock::time_point* last_event)
      : stream_(io), options_(options), index_(index), subscribed_(subscribed),
        received_(received), last_event_(last_event) {}

  void Start() {
    auto self = shared_from_this();
    beast::get_lowest_layer(stream_).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), options_.port),
        [self](beast::error_code ec) {
          if (ec) return self->Fail("connect", ec);
          self->stream_.async_handshake("127.0.0.1", "/api/v1/stream",
                                        [self](beast::error_code ec) {
                                          if (ec) return self->Fail("handshake", ec);
                                          self->ReadWelcome();
                                        });
        });
  }
  State state() const { return state_; }

 private:
  void ReadWelcome() {
    auto self = shared_from_this();
    stream_.async_read(buffer_, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail("welcome", ec);
      self->buffer_.clear();
      self->request_ = "{\"type\":\"subscribe\",\"id\":\"s\",\"topic\":\"" + self->options_.topic + "\"}";
      self->stream_.async_write(asio::buffer(self->request_), [self](beast::error_code ec, size_t) {
        if (ec) return self->Fail("subscribe", ec);
        self->ReadFrames();
      });
    });
  }
  void ReadFrames() {
    auto self = shared_from_this();
    stream_.async_read(buffer_, [self](beast::error_code ec, size_t) {
      if (ec) {
        if (self->state_ != State::kGotEvent) self->Fail("read", ec);
        return;
      }
      std::string frame = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.clear();
      if (frame.find("\"type\":\"subscribed\"") != std::string::npos) {
        self->state_ = State::kSubscribed;
        ++*self->subscribed_;
      } else if (frame.find("\"type\":\"event\"") != std::string::npos &&
                 self->state_ == State::kSubscribed) {
        self->state_ = State::kGotEvent;
        ++*self->received_;
        *self->last_event_ = Clock::now();
      }
      self->ReadFrames();
    });
  }
  void Fail(const char* what, beast::error_code ec) {
    if (state_ == State::kFailed) return;
    if (failures_reported_++ < 5) {
      std::fprintf(stderr, "ws_fanout: connection %d: %s: %s\n", index_, what, ec.message().c_str());
    }
    state_ = State::kFailed;
  }

  ws::stream<tcp::socket> stream_;
  const Options& options_;
  int index_;
  int* subscribed_;
  int* received_;
  Clock::time_point* last_event_;
  beast::flat_buffer buffer_;
  std::string request_;
  State state_ = State::kConnecting;
  static inline int failures_reported_ = 0;
};

// Runs the io_context until `done()` or the deadline.
template <class Done>
bool RunUntil(asio::io_context& io, Done done, Clock::time_point deadline) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
  return true;
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "ws_fanout: %s\nusage: ws_fanout --port P --pid KEID_PID [--connections N] "
               "[--topic T] [--timeout-s S]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing flag value");
    const std::string value = argv[i + 1];
    if (flag == "--port") options.port = static_cast<unsigned short>(std::atoi(value.c_str()));
    else if (flag == "--pid") options.pid = std::atoi(value.c_str());
    else if (flag == "--connections") options.connections = std::atoi(value.c_str());
    else if (flag == "--topic") options.topic = value;
    else if (flag == "--timeout-s") options.timeout_s = std::atoi(value.c_str());
    else Usage("unknown flag");
  }
  if (options.port == 0 || options.pid <= 0 || options.connections < 1) Usage("need --port and --pid");

  asio::io_context io(1);
  const auto deadline = Clock::now() + std::chrono::seconds(options.timeout_s);
  const long rss_before = RssKiB(options.pid);
  int subscribed = 0, received = 0;
  Clock::time_point last_event;
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  subscribers.reserve(options.connections);
  const auto connect_start = Clock::now();
  // Connect in waves so the server's accept backlog is never the bottleneck.
  constexpr int kWave = 500;
  for (int i = 0; i < options.connections; ++i) {
    auto s = std::make_shared<Subscriber>(io, options, i, &subscribed, &received, &last_event);
    subscribers.push_back(s);
    s->Start();
    if ((i + 1) % kWave == 0) {
      const int target = i + 1;
      RunUntil(io, [&] {
        int settled = 0;
        for (const auto& each : subscribers) {
          settled += each->state() != Subscriber::State::kConnecting;
        }
        return settled >= target;
      }, deadline);
    }
  }
  RunUntil(io, [&] { return subscribed >= options.connections; }, deadline);
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  // Let the server settle, then sample its memory.
  RunUntil(io, [] { return false; }, Clock::now() + std::chrono::milliseconds(500));
  const long rss_after = RssKiB(options.pid);
  std::printf("connections subscribed: %d of %d in %.2f s\n", subscribed, options.connections,
              connect_s);
  std::printf("server RSS: %ld KiB before, %ld KiB with %d subscribed connections: %.1f KiB per connection\n",
              rss_before, rss_after, subscribed,
              subscribed > 0 ? static_cast<double>(rss_after - rss_before) / subscribed : 0.0);

  // Publish once from an extra connection.
  ws::stream<tcp::socket> publisher(io);
  beast::get_lowest_layer(publisher).connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), options.port));
  publisher.handshake("127.0.0.1", "/api/v1/stream");
  beast::flat_buffer welcome;
  publisher.read(welcome);
  const std::string publish = "{\"type\":\"publish\",\"id\":\"p\",\"topic\":\"" + options.topic +
                              "\",\"data\":{\"hello\":\"everyone\"}}";
  const auto publish_start = Clock::now();
  publisher.write(asio::buffer(publish));
  RunUntil(io, [&] { return received >= subscribed; }, deadline);
  const double fanout_ms =
      received > 0 ? std::chrono::duration<double, std::milli>(last_event - publish_start).count() : 0;
  std::printf("fan-out: %d of %d subscribers got the message; last one after %.1f ms\n", received,
              subscribed, fanout_ms);
  std::printf("KEI_RESULT connections=%d subscribed=%d received=%d rss_per_connection_kib=%.1f "
              "fanout_ms=%.1f connect_s=%.2f\n",
              options.connections, subscribed, received,
              subscribed > 0 ? static_cast<double>(rss_after - rss_before) / subscribed : 0.0,
              fanout_ms, connect_s);
  return (subscribed == options.connections && received == subscribed) ? 0 : 1;
}
