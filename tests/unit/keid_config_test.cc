// keid's configuration layers: embedded defaults, a JSON config file, then
// flags. Unknown keys, wrong types and out-of-range values are errors naming the
// key; secrets never appear in the printed configuration.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/keid/keid_config.h"

namespace kei::keid {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteConfig(const std::string& name, const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  return path;
}

absl::Status Apply(const std::string& json) {
  KeidConfig config;
  return ApplyJsonConfig(json, &config);
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(KeidConfigTest, EmbeddedDefaultsParse) {
  KeidConfig config;
  absl::Status s = ApplyJsonConfig(kEmbeddedDefaults, &config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(config.server.grpc_address, "127.0.0.1:50051");
  EXPECT_EQ(config.server.max_message_bytes, 4194304);
  EXPECT_TRUE(config.server.enable_reflection);
  EXPECT_TRUE(config.server.tls.cert_file.empty());
  EXPECT_FALSE(config.server.tls.require_client_cert);
  EXPECT_TRUE(config.server.auth.bearer_tokens.empty());
  EXPECT_FALSE(config.server.auth.enabled());
  EXPECT_EQ(config.server.auth.api_key_header, "x-api-key");
  EXPECT_EQ(config.server.limits.max_concurrent_calls, 10000);
  EXPECT_EQ(config.server.limits.default_deadline, absl::InfiniteDuration());
  EXPECT_EQ(config.server.limits.max_deadline, absl::InfiniteDuration());
  EXPECT_EQ(config.server.shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(config.agent_event_capacity, 10000);
  EXPECT_EQ(config.log_level, "info");
}

TEST(KeidConfigTest, AbsentKeysKeepTheirValues) {
  KeidConfig config;
  ASSERT_TRUE(ApplyJsonConfig(kEmbeddedDefaults, &config).ok());
  ASSERT_TRUE(ApplyJsonConfig(R"({"grpc":{"reflection":false},"limits":{"max_timeout_ms":1500}})",
                              &config)
                  .ok());
  EXPECT_FALSE(config.server.enable_reflection);
  EXPECT_EQ(config.server.grpc_address, "127.0.0.1:50051");
  EXPECT_EQ(config.server.max_message_bytes, 4194304);
  EXPECT_EQ(config.server.limits.max_deadline, absl::Milliseconds(1500));
  EXPECT_EQ(config.server.limits.default_deadline, absl::InfiniteDuration());
  EXPECT_EQ(config.server.limits.max_concurrent_calls, 10000);
  ASSERT_TRUE(ApplyJsonConfig("{}", &config).ok());
  EXPECT_FALSE(config.server.enable_reflection);
}

TEST(KeidConfigTest, WebSocketSection) {
  KeidConfig config;
  ASSERT_TRUE(ApplyJsonConfig(kEmbeddedDefaults, &config).ok());
  EXPECT_EQ(config.server.websocket.path, "/api/v1/stream");
  ASSERT_TRUE(ApplyJsonConfig(R"({"websocket": {"path": "/ws", "max_message_bytes": 4096,
      "send_queue_bytes": 65536, "initial_credit": 8, "idle_timeout_ms": 5000,
      "compression": false}})", &config).ok());
  const auto& ws = config.server.websocket;
  EXPECT_EQ(ws.path, "/ws");
  EXPECT_EQ(ws.max_message_bytes, 4096u);
  EXPECT_EQ(ws.send_queue_bytes, 65536u);
  EXPECT_EQ(ws.initial_credit, 8u);
  EXPECT_EQ(ws.idle_timeout, absl::Seconds(5));
  EXPECT_FALSE(ws.compression);
  EXPECT_NE(ConfigToJson(config).find(R"("path": "/ws")"), std::string::npos);
  ASSERT_TRUE(ApplyJsonConfig(R"({"websocket": {"path": ""}})", &config).ok());
  EXPECT_TRUE(config.server.websocket.path.empty());
  EXPECT_FALSE(ApplyJsonConfig(R"({"websocket": {"path": "ws"}})", &config).ok());
  EXPECT_FALSE(ApplyJsonConfig(R"({"websocket": {"initial_credit": 0}})", &config).ok());
  EXPECT_FALSE(ApplyJsonConfig(R"({"websocket": {"bogus": 1}})", &config).ok());
}

TEST(KeidConfigTest, McpSection) {
  KeidConfig config;
  ASSERT_TRUE(ApplyJsonConfig(kEmbeddedDefaults, &config).ok());
  EXPECT_EQ(config.server.mcp_http.path, "/mcp");
  EXPECT_EQ(config.server.mcp.page_size, 100u);
  ASSERT_TRUE(ApplyJsonConfig(R"({"mcp": {"path": "/tools/mcp",
      "allowed_origins": ["https://app.example.com"], "session_idle_timeout_ms": 5000,
      "page_size": 7}})", &config).ok());
  EXPECT_EQ(config.server.mcp_http.path, "/tools/mcp");
  EXPECT_EQ(config.server.mcp_http.allowed_origins,
            std::vector<std::string>{"https://app.example.com"});
  EXPECT_EQ(config.server.mcp.session_idle_timeout, absl::Seconds(5));
  EXPECT_EQ(config.server.mcp.page_size, 7u);
  EXPECT_THAT(ConfigToJson(config), HasSubstr("https://app.example.com"));
  ASSERT_TRUE(ApplyJsonConfig(R"({"mcp": {"path": ""}})", &config).ok());
  EXPECT_TRUE(config.server.mcp_http.path.empty());
  EXPECT_THAT(Message(Apply(R"({"mcp": {"path": "mcp"}})")), HasSubstr("mcp.path"));
  EXPECT_THAT(Message(Apply(R"({"mcp": {"page_size": 0}})")), HasSubstr("mcp.page_size"));
  EXPECT_THAT(Message(Apply(R"({"mcp": {"allowed_origins": [1]}})")),
              HasSubstr("mcp.allowed_origins"));
  EXPECT_THAT(Message(Apply(R"({"mcp": {"bogus": 1}})")), HasSubstr("mcp.bogus"));
}

TEST(KeidConfigTest, BusSection) {
  KeidConfig config;
  ASSERT_TRUE(ApplyJsonConfig(kEmbeddedDefaults, &config).ok());
  EXPECT_EQ(config.bus.engine, bus::BusConfig::Engine::kEmbedded);
  EXPECT_EQ(config.bus.storage, bus::BusConfig::Storage::kMemory);
  EXPECT_EQ(config.bus.retention.max_bytes, uint64_t{256} << 20);
  EXPECT_EQ(config.bus.retention.max_age, absl::InfiniteDuration());
  ASSERT_TRUE(ApplyJsonConfig(R"({"bus": {"storage": "file", "directory": "/var/lib/keid/bus",
      "fsync": "always", "fsync_interval_ms": 50, "segment_bytes": 1048576,
      "retention": {"max_age_ms": 3600000, "max_bytes": 0, "max_messages": 1000},
      "duplicate_window_ms": 0, "max_message_bytes": 2048,
      "nats": {"url": "nats://10.0.0.1:4222", "stream": "AGENTS", "subject_prefix": "x"}}})",
                              &config).ok());
  EXPECT_EQ(config.bus.storage, bus::BusConfig::Storage::kFile);
  EXPECT_EQ(config.bus.directory, "/var/lib/keid/bus");
  EXPECT_EQ(config.bus.fsync, bus::FsyncPolicy::kEveryWrite);
  EXPECT_EQ(config.bus.fsync_interval, absl::Milliseconds(50));
  EXPECT_EQ(config.bus.segment_bytes, 1048576u);
  EXPECT_EQ(config.bus.retention.max_age, absl::Hours(1));
  EXPECT_EQ(config.bus.retention.max_bytes, 0u);
  EXPECT_EQ(config.bus.retention.max_messages, 1000u);
  EXPECT_EQ(config.bus.duplicate_window, absl::ZeroDuration());
  EXPECT_EQ(config.bus.max_message_bytes, 2048u);
  EXPECT_EQ(config.bus.nats_stream, "AGENTS");
  std::string printed = ConfigToJson(config);
  EXPECT_THAT(printed, HasSubstr(R"("fsync": "always")"));
  EXPECT_THAT(printed, HasSubstr(R"("max_messages": 1000)"));
  EXPECT_THAT(Message(Apply(R"({"bus": {"engine": "kafka"}})")), HasSubstr("bus.engine"));
  EXPECT_THAT(Message(Apply(R"({"bus": {"fsync": "sometimes"}})")), HasSubstr("bus.fsync"));
  EXPECT_THAT(Message(Apply(R"({"bus": {"segment_bytes": 1}})")), HasSubstr("bus.segment_bytes"));
  EXPECT_THAT(Message(Apply(R"({"bus": {"retention": {"forever": true}}})")),
              HasSubstr("bus.retention.forever"));
}

TEST(KeidConfigTest, EveryKeyApplies) {
  KeidConfig config;
  ASSERT_TRUE(ApplyJsonConfig(R"({
    "grpc": {"address": "0.0.0.0:9000", "max_message_bytes": 2048, "reflection": false},
    "tls": {"cert_file": "c.pem", "key_file": "k.pem", "client_ca_file": "ca.pem",
            "require_client_cert": true},
    "auth": {"bearer_tokens": {"tok": "alice"}, "api_keys": {"key": "bot"},
             "api_key_header": "x-kei-key", "accept_client_certificates": true},
    "limits": {"max_concurrent_calls": 0, "default_timeout_ms": 2500, "max_timeout_ms": 0},
    "shutdown_grace_ms": 0,
    "agent": {"event_capacity": 5},
    "log_level": "debug"
  })",
                              &config)
                  .ok());
  const ServerOptions& s = config.server;
  EXPECT_EQ(s.grpc_address, "0.0.0.0:9000");
  EXPECT_EQ(s.max_message_bytes, 2048);
  EXPECT_FALSE(s.enable_reflection);
  EXPECT_EQ(s.tls.cert_file, "c.pem");
  EXPECT_EQ(s.tls.key_file, "k.pem");
  EXPECT_EQ(s.tls.client_ca_file, "ca.pem");
  EXPECT_TRUE(s.tls.require_client_cert);
  EXPECT_EQ(s.auth.bearer_tokens.at("tok"), "alice");
  EXPECT_EQ(s.auth.api_keys.at("key"), "bot");
  EXPECT_EQ(s.auth.api_key_header, "x-kei-key");
  EXPECT_TRUE(s.auth.accept_client_certificates);
  EXPECT_EQ(s.limits.max_concurrent_calls, 0);
  EXPECT_EQ(s.limits.default_deadline, absl::Milliseconds(2500));
  EXPECT_EQ(s.limits.max_deadline, absl::InfiniteDuration());
  EXPECT_EQ(s.shutdown_grace, absl::ZeroDuration());
  EXPECT_EQ(config.agent_event_capacity, 5);
  EXPECT_EQ(config.log_level, "debug");
}

TEST(KeidConfigTest, UnknownKeysAreNamedWithTheirDottedPath) {
  struct Case {
    const char* json;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"grpcc":{}})", "'grpcc'"},
           {R"({"grpc":{"adress":"x"}})", "'grpc.adress'"},
           {R"({"tls":{"ca_file":"x"}})", "'tls.ca_file'"},
           {R"({"auth":{"tokens":{}}})", "'auth.tokens'"},
           {R"({"limits":{"max_calls":1}})", "'limits.max_calls'"},
           {R"({"agent":{"capacity":1}})", "'agent.capacity'"},
       }) {
    SCOPED_TRACE(c.json);
    absl::Status s = Apply(c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), HasSubstr("unknown key"));
    EXPECT_THAT(Message(s), HasSubstr(c.key));
  }
}

TEST(KeidConfigTest, WrongTypesNameTheKey) {
  struct Case {
    const char* json;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"grpc":{"address":5000}})", "'grpc.address'"},
           {R"({"grpc":{"reflection":"yes"}})", "'grpc.reflection'"},
           {R"({"grpc":{"reflection":1}})", "'grpc.reflection'"},
           {R"({"grpc":{"max_message_bytes":"4096"}})", "'grpc.max_message_bytes'"},
           {R"({"grpc":{"max_message_bytes":4096.5}})", "'grpc.max_message_bytes'"},
           {R"({"tls":{"require_client_cert":"true"}})", "'tls.require_client_cert'"},
           {R"({"auth":{"bearer_tokens":["a"]}})", "'auth.bearer_tokens'"},
           {R"({"auth":{"bearer_tokens":{"tok":1}}})", "'auth.bearer_tokens'"},
           {R"({"auth":{"api_keys":{"":"who"}}})", "'auth.api_keys'"},
           {R"({"limits":{"max_concurrent_calls":null}})", "'limits.max_concurrent_calls'"},
           {R"({"shutdown_grace_ms":"10s"})", "'shutdown_grace_ms'"},
           {R"({"log_level":3})", "'log_level'"},
           {R"({"grpc":5})", "'grpc'"},
           {R"({"limits":[]})", "'limits'"},
       }) {
    SCOPED_TRACE(c.json);
    absl::Status s = Apply(c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), HasSubstr(c.key));
    EXPECT_THAT(Message(s), HasSubstr("must be"));
  }
}

TEST(KeidConfigTest, OutOfRangeIntegersNameTheKeyAndTheRange) {
  struct Case {
    const char* json;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"grpc":{"max_message_bytes":1023}})", "'grpc.max_message_bytes'"},
           {R"({"grpc":{"max_message_bytes":1073741825}})", "'grpc.max_message_bytes'"},
           {R"({"limits":{"max_concurrent_calls":-1}})", "'limits.max_concurrent_calls'"},
           {R"({"limits":{"max_concurrent_calls":1000001}})", "'limits.max_concurrent_calls'"},
           {R"({"limits":{"default_timeout_ms":-5}})", "'limits.default_timeout_ms'"},
           {R"({"limits":{"max_timeout_ms":86400001}})", "'limits.max_timeout_ms'"},
           {R"({"shutdown_grace_ms":3600001})", "'shutdown_grace_ms'"},
           {R"({"agent":{"event_capacity":0}})", "'agent.event_capacity'"},
           {R"({"agent":{"event_capacity":18446744073709551615}})", "'agent.event_capacity'"},
           {R"({"limits":{"max_concurrent_calls":9223372036854775808}})",
            "'limits.max_concurrent_calls'"},
       }) {
    SCOPED_TRACE(c.json);
    absl::Status s = Apply(c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), HasSubstr(c.key));
    EXPECT_THAT(Message(s), HasSubstr("between"));
  }
  // The bounds themselves are accepted.
  EXPECT_TRUE(Apply(R"({"grpc":{"max_message_bytes":1024}})").ok());
  EXPECT_TRUE(Apply(R"({"grpc":{"max_message_bytes":1073741824}})").ok());
  EXPECT_TRUE(Apply(R"({"limits":{"max_concurrent_calls":1000000}})").ok());
  EXPECT_TRUE(Apply(R"({"shutdown_grace_ms":3600000})").ok());
}

TEST(KeidConfigTest, BadDocuments) {
  for (const char* json : {"", "{", "not json", "{\"grpc\":}", "{} {}"}) {
    SCOPED_TRACE(json);
    absl::Status s = Apply(json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), HasSubstr("not valid JSON"));
  }
  for (const char* json : {"[]", "5", "null", "\"x\""}) {
    SCOPED_TRACE(json);
    absl::Status s = Apply(json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s), HasSubstr("must be an object"));
  }
}

TEST(KeidConfigTest, LogLevelMustBeKnown) {
  for (const char* level : {"error", "warn", "info", "debug"}) {
    KeidConfig config;
    ASSERT_TRUE(ApplyJsonConfig(nlohmann::json{{"log_level", level}}.dump(), &config).ok());
    EXPECT_EQ(config.log_level, level);
  }
  absl::Status s = Apply(R"({"log_level":"verbose"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("log_level"));
  EXPECT_EQ(Apply(R"({"log_level":"INFO"})").code(), absl::StatusCode::kInvalidArgument);
}

// --- ParseCommandLine ---

absl::StatusOr<KeidConfig> Parse(const std::vector<std::string>& args, bool* exit_now = nullptr,
                                 std::string* output = nullptr) {
  bool exit_local = false;
  std::string output_local;
  return ParseCommandLine(args, exit_now ? exit_now : &exit_local,
                          output ? output : &output_local);
}

TEST(KeidCommandLineTest, NoArgumentsGiveTheDefaults) {
  bool exit_now = true;
  std::string output = "stale";
  auto config = Parse({}, &exit_now, &output);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(exit_now);
  EXPECT_EQ(config->server.grpc_address, "127.0.0.1:50051");
  EXPECT_EQ(config->server.limits.max_concurrent_calls, 10000);
  EXPECT_EQ(config->log_level, "info");
}

TEST(KeidCommandLineTest, HelpVersionAndPrintConfigExit) {
  for (const char* flag : {"--help", "-h"}) {
    bool exit_now = false;
    std::string output;
    auto config = Parse({flag}, &exit_now, &output);
    ASSERT_TRUE(config.ok());
    EXPECT_TRUE(exit_now);
    EXPECT_EQ(output, kUsage);
    EXPECT_THAT(output, HasSubstr("Usage: keid"));
  }
  bool exit_now = false;
  std::string output;
  ASSERT_TRUE(Parse({"--version"}, &exit_now, &output).ok());
  EXPECT_TRUE(exit_now);
  EXPECT_THAT(output, HasSubstr("keid "));

  exit_now = false;
  auto config = Parse({"--print-config", "--grpc-address", "0.0.0.0:7"}, &exit_now, &output);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(exit_now);
  auto printed = nlohmann::json::parse(output);
  EXPECT_EQ(printed["grpc"]["address"], "0.0.0.0:7");
  EXPECT_EQ(printed["log_level"], "info");
}

TEST(KeidCommandLineTest, FlagsSetOptions) {
  auto config = Parse({"--grpc-address", "[::1]:0", "--max-message-bytes=65536",
                       "--max-concurrent-calls", "12", "--shutdown-grace-ms", "250",
                       "--log-level", "warn", "--tls-cert", "c.pem", "--tls-key=k.pem"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.grpc_address, "[::1]:0");
  EXPECT_EQ(config->server.max_message_bytes, 65536);
  EXPECT_EQ(config->server.limits.max_concurrent_calls, 12);
  EXPECT_EQ(config->server.shutdown_grace, absl::Milliseconds(250));
  EXPECT_EQ(config->log_level, "warn");
  EXPECT_EQ(config->server.tls.cert_file, "c.pem");
  EXPECT_EQ(config->server.tls.key_file, "k.pem");
}

TEST(KeidCommandLineTest, McpStdioFlag) {
  auto plain = Parse({});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->mcp_stdio);
  auto stdio = Parse({"--mcp-stdio"});
  ASSERT_TRUE(stdio.ok()) << stdio.status();
  EXPECT_TRUE(stdio->mcp_stdio);
}

TEST(KeidCommandLineTest, FlagsOverrideTheConfigFileWhereverTheyAppear) {
  std::string path = WriteConfig("keid_override.json", R"({
    "grpc": {"address": "0.0.0.0:1111", "reflection": false},
    "limits": {"max_concurrent_calls": 5},
    "log_level": "debug"
  })");
  // Flag before --config.
  auto config = Parse({"--grpc-address", "127.0.0.1:2222", "--config", path});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.grpc_address, "127.0.0.1:2222");
  EXPECT_EQ(config->server.limits.max_concurrent_calls, 5);  // from the file
  EXPECT_FALSE(config->server.enable_reflection);           // from the file
  EXPECT_EQ(config->log_level, "debug");

  // Flag after --config=, and the file still overrides the embedded defaults.
  config = Parse({"--config=" + path, "--max-concurrent-calls", "9", "--log-level", "error"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.grpc_address, "0.0.0.0:1111");
  EXPECT_EQ(config->server.limits.max_concurrent_calls, 9);
  EXPECT_EQ(config->log_level, "error");
}

TEST(KeidCommandLineTest, ConfigFileErrorsNameTheFileAndKey) {
  std::string path = WriteConfig("keid_bad.json", R"({"grpc":{"adress":"x"}})");
  auto config = Parse({"--config", path});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(config.status()), HasSubstr(path));
  EXPECT_THAT(Message(config.status()), HasSubstr("grpc.adress"));

  config = Parse({"--config", "/nonexistent/keid.json"});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("/nonexistent/keid.json"));

  config = Parse({"--config"});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("--config"));
}

TEST(KeidCommandLineTest, UnknownFlagsAndArgumentsAreErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--nope"},
                                             {"--grpc-adress", "x"},
                                             {"stray"},
                                             {"--log-level", "info", "extra"},
                                             {"-x"}}) {
    auto config = Parse(args);
    ASSERT_FALSE(config.ok()) << args[0];
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(config.status()), HasSubstr("unknown flag"));
  }
  auto config = Parse({"--nope=1"});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr("--nope"));
}

TEST(KeidCommandLineTest, BadFlagValues) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--max-concurrent-calls", "abc"},
           {"--max-concurrent-calls", "-1"},
           {"--max-concurrent-calls", "1000001"},
           {"--max-message-bytes", "10"},
           {"--shutdown-grace-ms", "1.5"},
           {"--max-concurrent-calls"},
           {"--grpc-address"},
           {"--log-level", "loud"},
       }) {
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
    auto config = Parse(args);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto config = Parse({"--max-concurrent-calls", "abc"});
  EXPECT_THAT(Message(config.status()), HasSubstr("--max-concurrent-calls"));
  EXPECT_THAT(Message(config.status()), HasSubstr("abc"));
  config = Parse({"--grpc-address"});
  EXPECT_THAT(Message(config.status()), HasSubstr("needs a value"));
}

TEST(KeidCommandLineTest, RequireClientCertNeedsACa) {
  auto config = Parse({"--require-client-cert"});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(config.status()), HasSubstr("--tls-client-ca"));

  config = Parse({"--require-client-cert", "--tls-client-ca", "ca.pem"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->server.tls.require_client_cert);
  EXPECT_EQ(config->server.tls.client_ca_file, "ca.pem");

  // The CA may come from the config file.
  std::string path = WriteConfig("keid_ca.json", R"({"tls":{"client_ca_file":"file-ca.pem"}})");
  config = Parse({"--config", path, "--require-client-cert"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.tls.client_ca_file, "file-ca.pem");

  // And require_client_cert from the file is checked too.
  path = WriteConfig("keid_req.json", R"({"tls":{"require_client_cert":true}})");
  EXPECT_FALSE(Parse({"--config", path}).ok());
}

TEST(KeidCommandLineTest, AuthTokensAndApiKeys) {
  auto config = Parse({"--auth-token", "tok-1=alice", "--auth-token=tok-2=bob",
                       "--api-key", "key-1=ci"});
  ASSERT_TRUE(config.ok()) << config.status();
  const AuthOptions& auth = config->server.auth;
  EXPECT_TRUE(auth.enabled());
  ASSERT_EQ(auth.bearer_tokens.size(), 2u);
  EXPECT_EQ(auth.bearer_tokens.at("tok-1"), "alice");
  EXPECT_EQ(auth.bearer_tokens.at("tok-2"), "bob");
  ASSERT_EQ(auth.api_keys.size(), 1u);
  EXPECT_EQ(auth.api_keys.at("key-1"), "ci");

  // Without "=WHO" the subject is generated; "=" inside the subject is kept.
  config = Parse({"--auth-token", "plain", "--api-key", "k=a=b"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.auth.bearer_tokens.at("plain"), "token-1");
  EXPECT_EQ(config->server.auth.api_keys.at("k"), "a=b");

  // Flags add to tokens from the config file.
  std::string path = WriteConfig("keid_auth.json", R"({"auth":{"bearer_tokens":{"f":"file"}}})");
  config = Parse({"--auth-token", "x=flag", "--config", path});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.auth.bearer_tokens.size(), 2u);
  EXPECT_EQ(config->server.auth.bearer_tokens.at("f"), "file");
  EXPECT_EQ(config->server.auth.bearer_tokens.at("x"), "flag");
}

TEST(KeidCommandLineTest, EmptyCredentialsAreRejected) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--auth-token", "=alice"}, {"--auth-token", ""}, {"--auth-token="},
           {"--api-key", "=bot"}}) {
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
    auto config = Parse(args);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(config.status()), HasSubstr(args[0].substr(0, args[0].find('='))));
  }
}

TEST(KeidCommandLineTest, ConfigToJsonRedactsSecrets) {
  auto config = Parse({"--auth-token", "super-secret-token=alice", "--api-key",
                       "very-secret-key=ci-bot"});
  ASSERT_TRUE(config.ok());
  std::string printed = ConfigToJson(*config);
  EXPECT_THAT(printed, Not(HasSubstr("super-secret-token")));
  EXPECT_THAT(printed, Not(HasSubstr("very-secret-key")));
  auto json = nlohmann::json::parse(printed);
  EXPECT_EQ(json["auth"]["bearer_tokens"].size(), 1u);
  EXPECT_EQ(json["auth"]["bearer_tokens"].begin().value(), "alice");
  EXPECT_EQ(json["auth"]["api_keys"].begin().value(), "ci-bot");

  bool exit_now = false;
  std::string output;
  ASSERT_TRUE(Parse({"--auth-token", "super-secret-token=alice", "--print-config"}, &exit_now,
                    &output)
                  .ok());
  EXPECT_TRUE(exit_now);
  EXPECT_THAT(output, Not(HasSubstr("super-secret-token")));
  EXPECT_THAT(output, HasSubstr("alice"));
}

TEST(KeidCommandLineTest, PrintedConfigUsesOnlyKnownKeysAndRoundTrips) {
  auto config = Parse({"--grpc-address", "0.0.0.0:5", "--max-concurrent-calls", "7",
                       "--shutdown-grace-ms", "1234", "--log-level", "debug"});
  ASSERT_TRUE(config.ok());
  config->server.limits.default_deadline = absl::Milliseconds(800);
  KeidConfig reread;
  absl::Status s = ApplyJsonConfig(ConfigToJson(*config), &reread);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(reread.server.grpc_address, "0.0.0.0:5");
  EXPECT_EQ(reread.server.limits.max_concurrent_calls, 7);
  EXPECT_EQ(reread.server.shutdown_grace, absl::Milliseconds(1234));
  EXPECT_EQ(reread.server.limits.default_deadline, absl::Milliseconds(800));
  EXPECT_EQ(reread.server.limits.max_deadline, absl::InfiniteDuration());
  EXPECT_EQ(reread.log_level, "debug");
  EXPECT_EQ(reread.server.max_message_bytes, 4194304);
}

TEST(KeidCommandLineTest, BusFlags) {
  auto durable = Parse({"--bus-dir", "/tmp/keid-bus"});
  ASSERT_TRUE(durable.ok()) << durable.status();
  EXPECT_EQ(durable->bus.storage, bus::BusConfig::Storage::kFile);
  EXPECT_EQ(durable->bus.directory, "/tmp/keid-bus");
  auto nats = Parse({"--bus-nats=nats://127.0.0.1:4333"});
  ASSERT_TRUE(nats.ok()) << nats.status();
  EXPECT_EQ(nats->bus.engine, bus::BusConfig::Engine::kNats);
  EXPECT_EQ(nats->bus.nats_url, "nats://127.0.0.1:4333");
  std::string path = WriteConfig("keid_bus_file.json", R"({"bus": {"storage": "file"}})");
  auto missing_dir = Parse({"--config", path});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_THAT(missing_dir.status().message(), HasSubstr("bus.directory"));
}

}  // namespace
}  // namespace kei::keid
