// keid and keictl as users run them: separate processes talking over loopback.
// keid starts from embedded defaults (on an ephemeral port), prints where it
// listens, answers keictl call/health/list, rejects bad configuration with a
// message naming the problem, enforces auth from flags, and drains on SIGTERM.
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

class KeidProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keid_ = FindTestFile("tools/keid/keid", "KEI_KEID_PATH");
    keictl_ = FindTestFile("tools/keictl/keictl", "KEI_KEICTL_PATH");
    ASSERT_FALSE(keid_.empty()) << "keid binary not found";
    ASSERT_FALSE(keictl_.empty()) << "keictl binary not found";
  }

  // Starts keid with `flags` and returns its grpc:// URL.
  std::string StartKeid(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {keid_, "--grpc-address", "127.0.0.1:0",
                                     "--http-address", "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto process = StartProcess(argv);
    EXPECT_TRUE(process.ok()) << process.status();
    keid_process_ = std::move(*process);
    EXPECT_TRUE(keid_process_->WaitForOutput("listening grpc://", absl::Seconds(10)))
        << keid_process_->Output();
    std::string output = keid_process_->Output();
    auto start = output.find("listening ") + 10;
    return output.substr(start, output.find('\n', start) - start);
  }

  CommandResult Keictl(std::vector<std::string> args) {
    args.insert(args.begin(), keictl_);
    auto result = RunCommand(args, absl::Seconds(20));
    EXPECT_TRUE(result.ok()) << result.status();
    return *result;
  }

  std::string keid_, keictl_;
  std::unique_ptr<Process> keid_process_;
};

TEST_F(KeidProcessTest, KeictlCallsHealthAndList) {
  std::string url = StartKeid();

  auto plan = Keictl({"call", url, "kei.agent.v1.AgentService/Plan",
                      R"({"objective":"echo hi then add 1 2"})"});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_TRUE(absl::StrContains(plan.output, "\"planId\": \"plan-")) << plan.output;

  auto bad = Keictl({"call", url, "kei.agent.v1.AgentService/Act", R"({"action":"nope"})"});
  EXPECT_EQ(bad.exit_code, 3) << bad.output;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(bad.output, "ERROR: INVALID_ARGUMENT: action:")) << bad.output;

  auto typo = Keictl({"call", url, "kei.agent.v1.AgentService/Plan", R"({"objectiv":"x"})"});
  EXPECT_EQ(typo.exit_code, 3) << typo.output;

  auto unknown = Keictl({"call", url, "kei.agent.v1.AgentService/Fly", "{}"});
  EXPECT_EQ(unknown.exit_code, 12) << unknown.output;  // UNIMPLEMENTED

  auto watch = Keictl({"call", url, "kei.agent.v1.AgentService/Watch",
                       R"({"fromSequence":"1","maxEvents":2})"});
  EXPECT_EQ(watch.exit_code, 0) << watch.output;
  EXPECT_TRUE(absl::StrContains(watch.output, "EVENT_KIND_PLAN_CREATED")) << watch.output;

  auto health = Keictl({"health", url});
  EXPECT_EQ(health.exit_code, 0);
  EXPECT_EQ(health.output, "SERVING\n");

  auto list = Keictl({"list", url});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(list.output, "kei.agent.v1.AgentService\n")) << list.output;
  EXPECT_TRUE(absl::StrContains(list.output, "grpc.health.v1.Health")) << list.output;

  auto methods = Keictl({"list", url, "kei.agent.v1.AgentService"});
  EXPECT_TRUE(absl::StrContains(methods.output,
                                "kei.agent.v1.AgentService/Session (bidi_streaming)"))
      << methods.output;

  ExitInfo exit = keid_process_->Stop();
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(keid_process_->Output(), "received SIGTERM"));

  auto down = Keictl({"--timeout-ms", "2000", "health", url});
  EXPECT_EQ(down.exit_code, 14) << down.output;  // UNAVAILABLE
}

TEST_F(KeidProcessTest, AuthFromFlags) {
  std::string url = StartKeid({"--auth-token", "t0ken=ci"});
  auto denied = Keictl({"call", url, "kei.agent.v1.AgentService/Plan", R"({"objective":"echo"})"});
  EXPECT_EQ(denied.exit_code, 16) << denied.output;  // UNAUTHENTICATED
  auto allowed = Keictl({"--token", "t0ken", "call", url, "kei.agent.v1.AgentService/Plan",
                         R"({"objective":"echo"})"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

TEST_F(KeidProcessTest, BadConfigurationIsAClearError) {
  std::string path = absl::StrCat(::testing::TempDir(), "/bad_keid.json");
  std::ofstream(path) << R"({"grpc": {"adress": "127.0.0.1:1"}})";
  auto bad_key = RunCommand({keid_, "--config", path});
  ASSERT_TRUE(bad_key.ok());
  EXPECT_EQ(bad_key->exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_key->output, "unknown key 'grpc.adress'")) << bad_key->output;

  std::ofstream(path) << R"({"limits": {"max_concurrent_calls": "many"}})";
  auto bad_type = RunCommand({keid_, "--config", path});
  EXPECT_EQ(bad_type->exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_type->output, "'limits.max_concurrent_calls' must be an integer"))
      << bad_type->output;

  auto bad_flag = RunCommand({keid_, "--grpc-adress", "x"});
  EXPECT_EQ(bad_flag->exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_flag->output, "unknown flag")) << bad_flag->output;

  auto in_use = StartKeid();
  auto clash = RunCommand({keid_, "--grpc-address", in_use.substr(7), "--http-address", ""});
  EXPECT_EQ(clash->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(clash->output, "cannot listen")) << clash->output;

  auto help = RunCommand({keid_, "--help"});
  EXPECT_EQ(help->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help->output, "--grpc-address"));
  auto config = RunCommand({keid_, "--print-config", "--auth-token", "secret=me"});
  EXPECT_EQ(config->exit_code, 0);
  EXPECT_FALSE(absl::StrContains(config->output, "secret")) << config->output;
}

}  // namespace
}  // namespace kei::testing
