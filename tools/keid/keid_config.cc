#include "tools/keid/keid_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cc/security/tls_config.h"

namespace kei::keid {

using nlohmann::json;

const char kEmbeddedDefaults[] = R"({
  "grpc": {
    "address": "127.0.0.1:50051",
    "max_message_bytes": 4194304,
    "reflection": true
  },
  "http": {
    "address": "127.0.0.1:8080",
    "max_header_bytes": 16384,
    "read_timeout_ms": 60000,
    "write_timeout_ms": 30000,
    "max_connections": 10000,
    "io_threads": 0
  },
  "websocket": {
    "path": "/api/v1/stream",
    "max_message_bytes": 1048576,
    "send_queue_bytes": 4194304,
    "initial_credit": 64,
    "idle_timeout_ms": 60000,
    "compression": true
  },
  "mcp": {
    "path": "/mcp",
    "allowed_origins": [],
    "session_idle_timeout_ms": 1800000,
    "page_size": 100
  },
  "tls": {
    "cert_file": "",
    "key_file": "",
    "client_ca_file": "",
    "require_client_cert": false
  },
  "auth": {
    "bearer_tokens": {},
    "api_keys": {},
    "api_key_header": "x-api-key",
    "accept_client_certificates": false
  },
  "limits": {
    "max_concurrent_calls": 10000,
    "default_timeout_ms": 0,
    "max_timeout_ms": 0
  },
  "shutdown_grace_ms": 10000,
  "agent": {
    "event_capacity": 10000
  },
  "bus": {
    "engine": "embedded",
    "storage": "memory",
    "directory": "",
    "fsync": "interval",
    "fsync_interval_ms": 1000,
    "segment_bytes": 67108864,
    "retention": {
      "max_age_ms": 0,
      "max_bytes": 268435456,
      "max_messages": 0
    },
    "duplicate_window_ms": 120000,
    "max_message_bytes": 1048576,
    "nats": {
      "url": "nats://127.0.0.1:4222",
      "stream": "KEI",
      "subject_prefix": "kei"
    }
  },
  "log_level": "info"
})";

const char kUsage[] = R"(keid - the KEI Kit server: serves the KEI agent service, the KEI bus
(kei.bus.v1.Bus: publish, subscribe, consumer groups, request/reply) and topics over
gRPC, HTTP (Connect, REST), WebSocket and MCP (every unary method is an MCP tool).

Usage: keid [flags]

Configuration comes from embedded defaults, then --config FILE (JSON), then flags.

Flags:
  --config FILE             JSON config file (see --print-config for every key)
  --grpc-address HOST:PORT  gRPC listen address (default 127.0.0.1:50051; port 0 = any free port)
  --http-address HOST:PORT  HTTP listen address for Connect, REST routes, /healthz, /readyz
                            WebSocket (GET /api/v1/stream; config key websocket.path)
                            and MCP Streamable HTTP (/mcp; config key mcp.path)
                            (default 127.0.0.1:8080; port 0 = any free port; "" = no HTTP)
  --tls-cert FILE           PEM server certificate chain (enables TLS)
  --tls-key FILE            PEM server private key
  --tls-client-ca FILE      PEM CA bundle for verifying client certificates (mutual TLS)
  --require-client-cert     refuse clients without a valid certificate
  --auth-token TOKEN[=WHO]  accept "authorization: Bearer TOKEN" (repeatable); enables auth
  --api-key KEY[=WHO]       accept "x-api-key: KEY" (repeatable); enables auth
  --max-message-bytes N     largest message accepted or sent
  --max-concurrent-calls N  calls in flight before RESOURCE_EXHAUSTED (0 = unbounded)
  --shutdown-grace-ms N     how long SIGTERM lets in-flight calls finish
  --bus-dir DIR             keep the embedded bus on disk in DIR (durable log and consumer
                            groups; config bus.storage "file" + bus.directory); default:
                            in memory
  --bus-nats URL            use NATS JetStream at URL as the bus (config bus.engine "nats")
  --mcp-stdio               serve MCP on stdin/stdout (newline-delimited JSON-RPC) instead
                            of the network: no HTTP listener, gRPC only on a free loopback
                            port; logs go to stderr; exits at end of input
  --log-level LEVEL         error, warn, info or debug
  --print-config            print the effective configuration as JSON and exit
  --help                    print this help and exit
  --version                 print the version and exit

On start keid prints "listening grpc://HOST:PORT" and "listening http://HOST:PORT"
(https:// and grpcs:// with TLS) on stdout; logs go to stderr.
SIGTERM or SIGINT drains in-flight calls (up to the grace period) and exits 0.
)";

namespace {

// Walks a JSON object, rejecting keys the schema does not know.
class Reader {
 public:
  Reader(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  absl::Status CheckKeys(std::initializer_list<const char*> known) const {
    if (!object_.is_object()) return absl::InvalidArgumentError(absl::StrCat(Name(""), "must be an object"));
    for (const auto& [key, _] : object_.items()) {
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) return absl::InvalidArgumentError(absl::StrCat("config: unknown key '", Join(key), "'"));
    }
    return absl::OkStatus();
  }
  absl::Status String(const char* key, std::string* out) const {
    if (!object_.contains(key)) return absl::OkStatus();
    const json& v = object_.at(key);
    if (!v.is_string()) return TypeError(key, "a string");
    *out = v.get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool* out) const {
    if (!object_.contains(key)) return absl::OkStatus();
    const json& v = object_.at(key);
    if (!v.is_boolean()) return TypeError(key, "true or false");
    *out = v.get<bool>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, int64_t min, int64_t max, int64_t* out) const {
    if (!object_.contains(key)) return absl::OkStatus();
    const json& v = object_.at(key);
    if (!v.is_number_integer()) return TypeError(key, "an integer");
    int64_t n = v.get<int64_t>();
    if (n < min || n > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: '", Join(key), "' must be between ", min, " and ", max));
    }
    *out = n;
    return absl::OkStatus();
  }
  absl::Status StringMap(const char* key, std::map<std::string, std::string>* out) const {
    if (!object_.contains(key)) return absl::OkStatus();
    const json& v = object_.at(key);
    if (!v.is_object()) return TypeError(key, "an object of strings");
    out->clear();
    for (const auto& [k, value] : v.items()) {
      if (!value.is_string() || k.empty()) return TypeError(key, "an object of non-empty keys to strings");
      (*out)[k] = value.get<std::string>();
    }
    return absl::OkStatus();
  }
  absl::Status StringList(const char* key, std::vector<std::string>* out) const {
    if (!object_.contains(key)) return absl::OkStatus();
    const json& v = object_.at(key);
    if (!v.is_array()) return TypeError(key, "an array of strings");
    out->clear();
    for (const auto& item : v) {
      if (!item.is_string()) return TypeError(key, "an array of strings");
      out->push_back(item.get<std::string>());
    }
    return absl::OkStatus();
  }
  bool Has(const char* key) const { return object_.contains(key); }
  Reader Child(const char* key) const { return Reader(object_.at(key), Join(key)); }

 private:
  std::string Join(const std::string& key) const { return path_.empty() ? key : absl::StrCat(path_, ".", key); }
  std::string Name(const std::string& key) const { return absl::StrCat("config: '", path_.empty() ? "(top)" : path_, "' "); }
  absl::Status TypeError(const char* key, const char* what) const {
    return absl::InvalidArgumentError(absl::StrCat("config: '", Join(key), "' must be ", what));
  }
  const json& object_;
  std::string path_;
};

#define KEI_RETURN_IF_ERROR(expr)        \
  do {                                   \
    absl::Status _s = (expr);            \
    if (!_s.ok()) return _s;             \
  } while (0)

absl::Duration MillisOrInfinite(int64_t ms) {
  return ms == 0 ? absl::InfiniteDuration() : absl::Milliseconds(ms);
}

// "TOKEN=WHO" or "TOKEN" (subject defaults to "token-N"). An empty secret is
// an error, as it is in the config file.
absl::Status AddCredential(const std::string& flag, const std::string& value,
                           std::map<std::string, std::string>* into, const char* prefix) {
  std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
  if (kv.first.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": the ", prefix, " must not be empty"));
  }
  if (kv.second.empty()) kv.second = absl::StrCat(prefix, "-", into->size() + 1);
  (*into)[kv.first] = kv.second;
  return absl::OkStatus();
}

absl::Status ApplyBusConfig(const Reader& bus, bus::BusConfig* c) {
  KEI_RETURN_IF_ERROR(bus.CheckKeys({"engine", "storage", "directory", "fsync",
                                     "fsync_interval_ms", "segment_bytes", "retention",
                                     "duplicate_window_ms", "max_message_bytes", "nats"}));
  std::string engine = c->engine == bus::BusConfig::Engine::kNats ? "nats" : "embedded";
  KEI_RETURN_IF_ERROR(bus.String("engine", &engine));
  if (engine != "embedded" && engine != "nats") {
    return absl::InvalidArgumentError("config: 'bus.engine' must be embedded or nats");
  }
  c->engine = engine == "nats" ? bus::BusConfig::Engine::kNats : bus::BusConfig::Engine::kEmbedded;
  std::string storage = c->storage == bus::BusConfig::Storage::kFile ? "file" : "memory";
  KEI_RETURN_IF_ERROR(bus.String("storage", &storage));
  if (storage != "memory" && storage != "file") {
    return absl::InvalidArgumentError("config: 'bus.storage' must be memory or file");
  }
  c->storage = storage == "file" ? bus::BusConfig::Storage::kFile : bus::BusConfig::Storage::kMemory;
  KEI_RETURN_IF_ERROR(bus.String("directory", &c->directory));
  std::string fsync = c->fsync == bus::FsyncPolicy::kEveryWrite ? "always"
                      : c->fsync == bus::FsyncPolicy::kNever    ? "never"
                                                                : "interval";
  KEI_RETURN_IF_ERROR(bus.String("fsync", &fsync));
  if (fsync == "always") {
    c->fsync = bus::FsyncPolicy::kEveryWrite;
  } else if (fsync == "interval") {
    c->fsync = bus::FsyncPolicy::kInterval;
  } else if (fsync == "never") {
    c->fsync = bus::FsyncPolicy::kNever;
  } else {
    return absl::InvalidArgumentError("config: 'bus.fsync' must be always, interval or never");
  }
  int64_t n = absl::ToInt64Milliseconds(c->fsync_interval);
  KEI_RETURN_IF_ERROR(bus.Int("fsync_interval_ms", 1, 3600000, &n));
  c->fsync_interval = absl::Milliseconds(n);
  n = static_cast<int64_t>(c->segment_bytes);
  KEI_RETURN_IF_ERROR(bus.Int("segment_bytes", 4096, int64_t{1} << 40, &n));
  c->segment_bytes = static_cast<uint64_t>(n);
  if (bus.Has("retention")) {
    Reader retention = bus.Child("retention");
    KEI_RETURN_IF_ERROR(retention.CheckKeys({"max_age_ms", "max_bytes", "max_messages"}));
    n = c->retention.max_age == absl::InfiniteDuration()
            ? 0
            : absl::ToInt64Milliseconds(c->retention.max_age);
    KEI_RETURN_IF_ERROR(retention.Int("max_age_ms", 0, int64_t{3650} * 86400000, &n));
    c->retention.max_age = n == 0 ? absl::InfiniteDuration() : absl::Milliseconds(n);
    n = static_cast<int64_t>(c->retention.max_bytes);
    KEI_RETURN_IF_ERROR(retention.Int("max_bytes", 0, int64_t{1} << 50, &n));
    c->retention.max_bytes = static_cast<uint64_t>(n);
    n = static_cast<int64_t>(c->retention.max_messages);
    KEI_RETURN_IF_ERROR(retention.Int("max_messages", 0, int64_t{1} << 50, &n));
    c->retention.max_messages = static_cast<uint64_t>(n);
  }
  n = absl::ToInt64Milliseconds(c->duplicate_window);
  KEI_RETURN_IF_ERROR(bus.Int("duplicate_window_ms", 0, 86400000, &n));
  c->duplicate_window = absl::Milliseconds(n);
  n = static_cast<int64_t>(c->max_message_bytes);
  KEI_RETURN_IF_ERROR(bus.Int("max_message_bytes", 1, int64_t{64} << 20, &n));
  c->max_message_bytes = static_cast<size_t>(n);
  if (bus.Has("nats")) {
    Reader nats = bus.Child("nats");
    KEI_RETURN_IF_ERROR(nats.CheckKeys({"url", "stream", "subject_prefix"}));
    KEI_RETURN_IF_ERROR(nats.String("url", &c->nats_url));
    KEI_RETURN_IF_ERROR(nats.String("stream", &c->nats_stream));
    KEI_RETURN_IF_ERROR(nats.String("subject_prefix", &c->nats_subject_prefix));
  }
  return absl::OkStatus();
}

absl::Status CheckBusConfig(const bus::BusConfig& c) {
  if (c.engine == bus::BusConfig::Engine::kEmbedded && c.storage == bus::BusConfig::Storage::kFile &&
      c.directory.empty()) {
    return absl::InvalidArgumentError(
        "config: 'bus.storage' file needs 'bus.directory' (or --bus-dir DIR)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyJsonConfig(absl::string_view text, KeidConfig* config) {
  json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return absl::InvalidArgumentError("config: not valid JSON");
  Reader top(document, "");
  KEI_RETURN_IF_ERROR(top.CheckKeys({"grpc", "http", "websocket", "mcp", "tls", "auth", "limits",
                                     "shutdown_grace_ms", "agent", "bus", "log_level"}));
  ServerOptions& s = config->server;
  if (top.Has("grpc")) {
    Reader grpc = top.Child("grpc");
    KEI_RETURN_IF_ERROR(grpc.CheckKeys({"address", "max_message_bytes", "reflection"}));
    KEI_RETURN_IF_ERROR(grpc.String("address", &s.grpc_address));
    int64_t max_bytes = s.max_message_bytes;
    KEI_RETURN_IF_ERROR(grpc.Int("max_message_bytes", 1024, 1 << 30, &max_bytes));
    s.max_message_bytes = static_cast<int>(max_bytes);
    KEI_RETURN_IF_ERROR(grpc.Bool("reflection", &s.enable_reflection));
  }
  if (top.Has("http")) {
    Reader http = top.Child("http");
    KEI_RETURN_IF_ERROR(http.CheckKeys({"address", "max_header_bytes", "read_timeout_ms",
                                        "write_timeout_ms", "max_connections", "io_threads"}));
    KEI_RETURN_IF_ERROR(http.String("address", &s.http_address));
    int64_t n = static_cast<int64_t>(s.http.max_header_bytes);
    KEI_RETURN_IF_ERROR(http.Int("max_header_bytes", 1024, 1 << 20, &n));
    s.http.max_header_bytes = static_cast<size_t>(n);
    n = absl::ToInt64Milliseconds(s.http.read_timeout);
    KEI_RETURN_IF_ERROR(http.Int("read_timeout_ms", 100, 3600000, &n));
    s.http.read_timeout = absl::Milliseconds(n);
    n = absl::ToInt64Milliseconds(s.http.write_timeout);
    KEI_RETURN_IF_ERROR(http.Int("write_timeout_ms", 100, 3600000, &n));
    s.http.write_timeout = absl::Milliseconds(n);
    n = s.http.max_connections;
    KEI_RETURN_IF_ERROR(http.Int("max_connections", 1, 1000000, &n));
    s.http.max_connections = static_cast<int>(n);
    n = s.http.io_threads;
    KEI_RETURN_IF_ERROR(http.Int("io_threads", 0, 256, &n));
    s.http.io_threads = static_cast<int>(n);
  }
  if (top.Has("websocket")) {
    Reader ws = top.Child("websocket");
    KEI_RETURN_IF_ERROR(ws.CheckKeys({"path", "max_message_bytes", "send_queue_bytes",
                                      "initial_credit", "idle_timeout_ms", "compression"}));
    KEI_RETURN_IF_ERROR(ws.String("path", &s.websocket.path));
    if (!s.websocket.path.empty() && s.websocket.path.front() != '/') {
      return absl::InvalidArgumentError("websocket.path: must be empty (off) or start with '/'");
    }
    int64_t n = static_cast<int64_t>(s.websocket.max_message_bytes);
    KEI_RETURN_IF_ERROR(ws.Int("max_message_bytes", 1024, 1 << 30, &n));
    s.websocket.max_message_bytes = static_cast<size_t>(n);
    n = static_cast<int64_t>(s.websocket.send_queue_bytes);
    KEI_RETURN_IF_ERROR(ws.Int("send_queue_bytes", 4096, int64_t{1} << 32, &n));
    s.websocket.send_queue_bytes = static_cast<size_t>(n);
    n = s.websocket.initial_credit;
    KEI_RETURN_IF_ERROR(ws.Int("initial_credit", 1, 1 << 20, &n));
    s.websocket.initial_credit = static_cast<uint32_t>(n);
    n = absl::ToInt64Milliseconds(s.websocket.idle_timeout);
    KEI_RETURN_IF_ERROR(ws.Int("idle_timeout_ms", 1000, 86400000, &n));
    s.websocket.idle_timeout = absl::Milliseconds(n);
    KEI_RETURN_IF_ERROR(ws.Bool("compression", &s.websocket.compression));
  }
  if (top.Has("mcp")) {
    Reader mcp = top.Child("mcp");
    KEI_RETURN_IF_ERROR(mcp.CheckKeys({"path", "allowed_origins", "session_idle_timeout_ms",
                                       "page_size"}));
    KEI_RETURN_IF_ERROR(mcp.String("path", &s.mcp_http.path));
    if (!s.mcp_http.path.empty() && s.mcp_http.path.front() != '/') {
      return absl::InvalidArgumentError("mcp.path: must be empty (off) or start with '/'");
    }
    KEI_RETURN_IF_ERROR(mcp.StringList("allowed_origins", &s.mcp_http.allowed_origins));
    int64_t n = absl::ToInt64Milliseconds(s.mcp.session_idle_timeout);
    KEI_RETURN_IF_ERROR(mcp.Int("session_idle_timeout_ms", 1000, int64_t{7} * 86400000, &n));
    s.mcp.session_idle_timeout = absl::Milliseconds(n);
    n = static_cast<int64_t>(s.mcp.page_size);
    KEI_RETURN_IF_ERROR(mcp.Int("page_size", 1, 10000, &n));
    s.mcp.page_size = static_cast<size_t>(n);
  }
  if (top.Has("tls")) {
    Reader tls = top.Child("tls");
    KEI_RETURN_IF_ERROR(tls.CheckKeys({"cert_file", "key_file", "client_ca_file", "require_client_cert"}));
    KEI_RETURN_IF_ERROR(tls.String("cert_file", &s.tls.cert_file));
    KEI_RETURN_IF_ERROR(tls.String("key_file", &s.tls.key_file));
    KEI_RETURN_IF_ERROR(tls.String("client_ca_file", &s.tls.client_ca_file));
    KEI_RETURN_IF_ERROR(tls.Bool("require_client_cert", &s.tls.require_client_cert));
  }
  if (top.Has("auth")) {
    Reader auth = top.Child("auth");
    KEI_RETURN_IF_ERROR(auth.CheckKeys({"bearer_tokens", "api_keys", "api_key_header",
                                        "accept_client_certificates"}));
    KEI_RETURN_IF_ERROR(auth.StringMap("bearer_tokens", &s.auth.bearer_tokens));
    KEI_RETURN_IF_ERROR(auth.StringMap("api_keys", &s.auth.api_keys));
    KEI_RETURN_IF_ERROR(auth.String("api_key_header", &s.auth.api_key_header));
    KEI_RETURN_IF_ERROR(auth.Bool("accept_client_certificates", &s.auth.accept_client_certificates));
  }
  if (top.Has("limits")) {
    Reader limits = top.Child("limits");
    KEI_RETURN_IF_ERROR(limits.CheckKeys({"max_concurrent_calls", "default_timeout_ms", "max_timeout_ms"}));
    int64_t calls = s.limits.max_concurrent_calls;
    KEI_RETURN_IF_ERROR(limits.Int("max_concurrent_calls", 0, 1000000, &calls));
    s.limits.max_concurrent_calls = static_cast<int>(calls);
    int64_t ms = 0;
    if (limits.Has("default_timeout_ms")) {
      KEI_RETURN_IF_ERROR(limits.Int("default_timeout_ms", 0, 86400000, &ms));
      s.limits.default_deadline = MillisOrInfinite(ms);
    }
    if (limits.Has("max_timeout_ms")) {
      KEI_RETURN_IF_ERROR(limits.Int("max_timeout_ms", 0, 86400000, &ms));
      s.limits.max_deadline = MillisOrInfinite(ms);
    }
  }
  int64_t grace = absl::ToInt64Milliseconds(s.shutdown_grace);
  KEI_RETURN_IF_ERROR(top.Int("shutdown_grace_ms", 0, 3600000, &grace));
  s.shutdown_grace = absl::Milliseconds(grace);
  if (top.Has("agent")) {
    Reader agent = top.Child("agent");
    KEI_RETURN_IF_ERROR(agent.CheckKeys({"event_capacity"}));
    int64_t capacity = config->agent_event_capacity;
    KEI_RETURN_IF_ERROR(agent.Int("event_capacity", 1, 10000000, &capacity));
    config->agent_event_capacity = static_cast<int>(capacity);
  }
  if (top.Has("bus")) KEI_RETURN_IF_ERROR(ApplyBusConfig(top.Child("bus"), &config->bus));
  KEI_RETURN_IF_ERROR(top.String("log_level", &config->log_level));
  if (config->log_level != "error" && config->log_level != "warn" &&
      config->log_level != "info" && config->log_level != "debug") {
    return absl::InvalidArgumentError("config: 'log_level' must be error, warn, info or debug");
  }
  return absl::OkStatus();
}

absl::StatusOr<KeidConfig> ParseCommandLine(const std::vector<std::string>& args,
                                            bool* exit_now, std::string* output) {
  *exit_now = false;
  KeidConfig config;
  KEI_RETURN_IF_ERROR(ApplyJsonConfig(kEmbeddedDefaults, &config));
  // The config file first, so flags override it wherever they appear.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" || absl::StartsWith(args[i], "--config=")) {
      std::string path = args[i] == "--config" ? (i + 1 < args.size() ? args[i + 1] : "")
                                               : args[i].substr(9);
      if (path.empty()) return absl::InvalidArgumentError("--config needs a file");
      auto text = ReadFileToString(path);
      if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("--config: ", text.status().message()));
      auto s = ApplyJsonConfig(*text, &config);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
  }
  bool print_config = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = flag.find('='); absl::StartsWith(flag, "--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    auto take = [&](std::string* out) -> absl::Status {
      if (has_inline) { *out = value; return absl::OkStatus(); }
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      *out = args[++i];
      return absl::OkStatus();
    };
    auto take_int = [&](int64_t min, int64_t max, int64_t* out) -> absl::Status {
      std::string text;
      KEI_RETURN_IF_ERROR(take(&text));
      if (!absl::SimpleAtoi(text, out) || *out < min || *out > max) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": '", text, "' is not an integer in [", min, ", ", max, "]"));
      }
      return absl::OkStatus();
    };
    ServerOptions& s = config.server;
    std::string text;
    int64_t n = 0;
    if (flag == "--help" || flag == "-h") {
      *exit_now = true;
      *output = kUsage;
      return config;
    } else if (flag == "--version") {
      *exit_now = true;
      *output = "keid 0.1.0\n";
      return config;
    } else if (flag == "--config") {
      KEI_RETURN_IF_ERROR(take(&text));  // applied above
    } else if (flag == "--grpc-address") {
      KEI_RETURN_IF_ERROR(take(&s.grpc_address));
    } else if (flag == "--http-address") {
      KEI_RETURN_IF_ERROR(take(&s.http_address));
    } else if (flag == "--tls-cert") {
      KEI_RETURN_IF_ERROR(take(&s.tls.cert_file));
    } else if (flag == "--tls-key") {
      KEI_RETURN_IF_ERROR(take(&s.tls.key_file));
    } else if (flag == "--tls-client-ca") {
      KEI_RETURN_IF_ERROR(take(&s.tls.client_ca_file));
    } else if (flag == "--require-client-cert") {
      s.tls.require_client_cert = true;
    } else if (flag == "--auth-token") {
      KEI_RETURN_IF_ERROR(take(&text));
      KEI_RETURN_IF_ERROR(AddCredential(flag, text, &s.auth.bearer_tokens, "token"));
    } else if (flag == "--api-key") {
      KEI_RETURN_IF_ERROR(take(&text));
      KEI_RETURN_IF_ERROR(AddCredential(flag, text, &s.auth.api_keys, "key"));
    } else if (flag == "--max-message-bytes") {
      KEI_RETURN_IF_ERROR(take_int(1024, 1 << 30, &n));
      s.max_message_bytes = static_cast<int>(n);
    } else if (flag == "--max-concurrent-calls") {
      KEI_RETURN_IF_ERROR(take_int(0, 1000000, &n));
      s.limits.max_concurrent_calls = static_cast<int>(n);
    } else if (flag == "--shutdown-grace-ms") {
      KEI_RETURN_IF_ERROR(take_int(0, 3600000, &n));
      s.shutdown_grace = absl::Milliseconds(n);
    } else if (flag == "--log-level") {
      KEI_RETURN_IF_ERROR(take(&text));
      KEI_RETURN_IF_ERROR(ApplyJsonConfig(json{{"log_level", text}}.dump(), &config));
    } else if (flag == "--bus-dir") {
      KEI_RETURN_IF_ERROR(take(&config.bus.directory));
      config.bus.storage = bus::BusConfig::Storage::kFile;
    } else if (flag == "--bus-nats") {
      KEI_RETURN_IF_ERROR(take(&config.bus.nats_url));
      config.bus.engine = bus::BusConfig::Engine::kNats;
    } else if (flag == "--mcp-stdio") {
      config.mcp_stdio = true;
    } else if (flag == "--print-config") {
      print_config = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", args[i], "' (see keid --help)"));
    }
  }
  if (config.server.tls.require_client_cert && config.server.tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError("--require-client-cert needs --tls-client-ca");
  }
  KEI_RETURN_IF_ERROR(CheckBusConfig(config.bus));
  if (print_config) {
    *exit_now = true;
    *output = ConfigToJson(config) + "\n";
  }
  return config;
}

std::string ConfigToJson(const KeidConfig& config) {
  const ServerOptions& s = config.server;
  const bus::BusConfig& b = config.bus;
  auto redact = [](const std::map<std::string, std::string>& m) {
    json out = json::object();
    for (const auto& [_, subject] : m) out[absl::StrCat("<redacted:", subject, ">")] = subject;
    return out;
  };
  auto ms = [](absl::Duration d) -> int64_t {
    return d == absl::InfiniteDuration() ? 0 : absl::ToInt64Milliseconds(d);
  };
  json out = {
      {"grpc", {{"address", s.grpc_address}, {"max_message_bytes", s.max_message_bytes},
                {"reflection", s.enable_reflection}}},
      {"http", {{"address", s.http_address},
                {"max_header_bytes", s.http.max_header_bytes},
                {"read_timeout_ms", ms(s.http.read_timeout)},
                {"write_timeout_ms", ms(s.http.write_timeout)},
                {"max_connections", s.http.max_connections},
                {"io_threads", s.http.io_threads}}},
      {"websocket", {{"path", s.websocket.path},
                     {"max_message_bytes", s.websocket.max_message_bytes},
                     {"send_queue_bytes", s.websocket.send_queue_bytes},
                     {"initial_credit", s.websocket.initial_credit},
                     {"idle_timeout_ms", ms(s.websocket.idle_timeout)},
                     {"compression", s.websocket.compression}}},
      {"mcp", {{"path", s.mcp_http.path},
               {"allowed_origins", s.mcp_http.allowed_origins},
               {"session_idle_timeout_ms", ms(s.mcp.session_idle_timeout)},
               {"page_size", s.mcp.page_size}}},
      {"tls", {{"cert_file", s.tls.cert_file}, {"key_file", s.tls.key_file},
               {"client_ca_file", s.tls.client_ca_file},
               {"require_client_cert", s.tls.require_client_cert}}},
      {"auth", {{"bearer_tokens", redact(s.auth.bearer_tokens)},
                {"api_keys", redact(s.auth.api_keys)},
                {"api_key_header", s.auth.api_key_header},
                {"accept_client_certificates", s.auth.accept_client_certificates}}},
      {"limits", {{"max_concurrent_calls", s.limits.max_concurrent_calls},
                  {"default_timeout_ms", ms(s.limits.default_deadline)},
                  {"max_timeout_ms", ms(s.limits.max_deadline)}}},
      {"shutdown_grace_ms", ms(s.shutdown_grace)},
      {"agent", {{"event_capacity", config.agent_event_capacity}}},
      {"bus", {{"engine", b.engine == bus::BusConfig::Engine::kNats ? "nats" : "embedded"},
               {"storage", b.storage == bus::BusConfig::Storage::kFile ? "file" : "memory"},
               {"directory", b.directory},
               {"fsync", b.fsync == bus::FsyncPolicy::kEveryWrite ? "always"
                         : b.fsync == bus::FsyncPolicy::kNever    ? "never"
                                                                  : "interval"},
               {"fsync_interval_ms", ms(b.fsync_interval)},
               {"segment_bytes", b.segment_bytes},
               {"retention", {{"max_age_ms", ms(b.retention.max_age)},
                              {"max_bytes", b.retention.max_bytes},
                              {"max_messages", b.retention.max_messages}}},
               {"duplicate_window_ms", ms(b.duplicate_window)},
               {"max_message_bytes", b.max_message_bytes},
               {"nats", {{"url", b.nats_url},
                         {"stream", b.nats_stream},
                         {"subject_prefix", b.nats_subject_prefix}}}}},
      {"log_level", config.log_level},
  };
  return out.dump(2);
}

}  // namespace kei::keid
