// WebSocket bidi echo load: the same client, frames and pacing against any
// server that answers each message frame with one frame: keid (a bidi
// AgentService/Session call, one `act echo` per message, the KEI stream
// protocol with credit) or a plain echo server (tools/bench/ws_echo_server.mjs,
// Node.js `ws`, which sends every frame straight back). Each connection keeps
// `depth` messages in flight; a reply to a message frame is any frame of type
// "message" (control frames such as welcome, credit or the echoed call are
// not counted). Prints throughput and round-trip percentiles.
//
// --proto 1 speaks kei.stream.v1.proto instead: binary frames, each a
// serialized StreamFrame whose payload is the serialized SessionRequest
// (`act echo`); an echo server sends the same bytes back.
//
//   ws_echo_bench --url ws://127.0.0.1:PORT/api/v1/stream [--connections 4]
//                 [--depth 16] [--seconds 3] [--warmup-s 1] [--proto 0|1]
//                 [--call '"observe":{"source":"a","content":"b"}']   (SessionRequest members, JSON)
//
// Output ends with "KEI_RESULT <messages/s> <p50 us> <p99 us> <errors>".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "kei/agent/v1/agent.pb.h"
#include "kei/v1/stream.pb.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string path = "/api/v1/stream";
  int connections = 4;
  int depth = 16;
  double seconds = 3;
  double warmup_s = 1;
  bool proto = false;
};

struct Stats {
  bool measuring = false;
  long messages = 0;
  long errors = 0;
  std::vector<double> rtt_us;
};

constexpr char kCall[] =
    R"({"type":"call","id":"e","method":"kei.agent.v1.AgentService/Session","credit":64})";
constexpr char kCredit[] = R"({"type":"credit","id":"e","credit":32})";

// The Session request each message carries (its requestId is added).
std::string g_call = R"("act":{"action":"echo","params":{"text":"hello, echo"}})";

std::string Message(long n) {
  return std::string(R"({"type":"message","id":"e","data":{"requestId":")") + std::to_string(n) +
         "\"," + g_call + "}}";
}

// The same frames on a kei.stream.v1.proto connection.
std::string ProtoFrame(const char* type, uint32_t credit, const std::string* payload) {
  kei::v1::StreamFrame frame;
  frame.set_type(type);
  frame.set_id("e");
  if (credit > 0) frame.set_credit(credit);
  if (std::string_view(type) == "call") {
    frame.set_method("kei.agent.v1.AgentService/Session");
  }
  if (payload != nullptr) frame.set_payload(*payload);
  return frame.SerializeAsString();
}

std::string ProtoMessage(long n) {
  kei::agent::v1::SessionRequest request;
  request.set_request_id(std::to_string(n));
  request.mutable_act()->set_action("echo");
  (*request.mutable_act()->mutable_params()->mutable_fields())["text"].set_string_value(
      "hello, echo");
  const std::string payload = request.SerializeAsString();
  return ProtoFrame("message", 0, &payload);
}

// Whether a frame the server sent is a call's message (not a control frame).
bool IsMessageFrame(std::string_view frame, bool proto) {
  if (!proto) return frame.find(R"("type":"message")") != std::string_view::npos;
  kei::v1::StreamFrame parsed;
  return parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size())) &&
         parsed.type() == "message";
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, const Options& options, Stats& stats)
      : stream_(io), options_(options), stats_(stats) {}

  void Start() {
    beast::get_lowest_layer(stream_).connect(
        tcp::endpoint(asio::ip::make_address(options_.host), options_.port));
    beast::get_lowest_layer(stream_).set_option(tcp::no_delay(true));
    const bool proto = options_.proto;
    stream_.set_option(ws::stream_base::decorator([proto](ws::request_type& request) {
      request.set(beast::http::field::sec_websocket_protocol,
                  proto ? "kei.stream.v1.proto" : "kei.stream.v1.json");
    }));
    stream_.handshake(options_.host, options_.path);
    stream_.text(!proto);
    Queue(proto ? ProtoFrame("call", 64, nullptr) : std::string(kCall));
    for (int i = 0; i < options_.depth; ++i) SendMessage();
    Read();
  }
  bool stopping = false;

 private:
  void SendMessage() {
    sent_at_.push_back(Clock::now());
    Queue(options_.proto ? ProtoMessage(next_++) : Message(next_++));
  }
  void Queue(std::string frame) {
    outbox_.push_back(std::move(frame));
    if (!writing_) Write();
  }
  void Write() {
    if (outbox_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    auto self = shared_from_this();
    stream_.async_write(asio::buffer(outbox_.front()), [self](beast::error_code ec, size_t) {
      self->outbox_.pop_front();
      if (ec) {
        ++self->stats_.errors;
        self->writing_ = false;
        return;
      }
      self->Write();
    });
  }
  void Read() {
    auto self = shared_from_this();
    stream_.async_read(buffer_, [self](beast::error_code ec, size_t) {
      if (ec) {
        if (!self->stopping) ++self->stats_.errors;
        return;
      }
      const auto data = self->buffer_.data();
      const std::string_view frame(static_cast<const char*>(data.data()), data.size());
      if (IsMessageFrame(frame, self->options_.proto) && !self->sent_at_.empty()) {
        const auto now = Clock::now();
        if (self->stats_.measuring) {
          ++self->stats_.messages;
          self->stats_.rtt_us.push_back(
              std::chrono::duration<double, std::micro>(now - self->sent_at_.front()).count());
        }
        self->sent_at_.pop_front();
        if (++self->since_credit_ == 32) {
          self->since_credit_ = 0;
          self->Queue(self->options_.proto ? ProtoFrame("credit", 32, nullptr) : std::string(kCredit));
        }
        if (!self->stopping) self->SendMessage();
      }
      self->buffer_.clear();
      if (!self->stopping || !self->sent_at_.empty()) self->Read();
    });
  }

  ws::stream<tcp::socket> stream_;
  const Options& options_;
  Stats& stats_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  std::deque<Clock::time_point> sent_at_;
  bool writing_ = false;
  long next_ = 0;
  int since_credit_ = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "ws_echo_bench: %s\nusage: ws_echo_bench --url ws://HOST:PORT/PATH [--connections N] "
               "[--depth D] [--seconds S] [--warmup-s W]\n",
               why);
  std::exit(2);
}

bool ParseUrl(const std::string& url, Options* o) {
  const std::string scheme = "ws://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  o->path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) return false;
  o->host = authority.substr(0, colon);
  o->port = static_cast<unsigned short>(std::atoi(authority.c_str() + colon + 1));
  return o->port != 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing flag value");
    const std::string value = argv[i + 1];
    if (flag == "--url") {
      if (!ParseUrl(value, &options)) Usage("--url must be ws://HOST:PORT/PATH");
    } else if (flag == "--connections") {
      options.connections = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--depth") {
      options.depth = std::clamp(std::atoi(value.c_str()), 1, 64);
    } else if (flag == "--seconds") {
      options.seconds = std::atof(value.c_str());
    } else if (flag == "--warmup-s") {
      options.warmup_s = std::atof(value.c_str());
    } else if (flag == "--proto") {
      options.proto = value == "1";
    } else if (flag == "--call") {
      g_call = value;
    } else {
      Usage("unknown flag");
    }
  }
  if (options.port == 0) Usage("--url is required");

  asio::io_context io(1);
  Stats stats;
  std::vector<std::shared_ptr<Connection>> connections;
  try {
    for (int i = 0; i < options.connections; ++i) {
      connections.push_back(std::make_shared<Connection>(io, options, stats));
      connections.back()->Start();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ws_echo_bench: cannot connect: %s\n", e.what());
    return 1;
  }
  auto span = [](double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  io.run_for(span(options.warmup_s));
  stats.measuring = true;
  const auto start = Clock::now();
  io.run_for(span(options.seconds));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stats.measuring = false;
  for (auto& c : connections) c->stopping = true;
  io.run_for(std::chrono::milliseconds(200));

  std::sort(stats.rtt_us.begin(), stats.rtt_us.end());
  auto pct = [&](double p) {
    if (stats.rtt_us.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(stats.rtt_us.size() - 1));
    return stats.rtt_us[i];
  };
  const double rate = static_cast<double>(stats.messages) / elapsed;
  std::printf("%ld messages in %.2f s: %.0f messages/s, p50 %.0f us, p99 %.0f us, errors %ld\n",
              stats.messages, elapsed, rate, pct(0.50), pct(0.99), stats.errors);
  std::printf("KEI_RESULT %.0f %.0f %.0f %ld\n", rate, pct(0.50), pct(0.99), stats.errors);
  return stats.errors == 0 && stats.messages > 0 ? 0 : 1;
}
