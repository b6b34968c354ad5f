// The bus as a user meets it: the real keid binary (in memory and with
// --bus-dir), driven by the real keictl over gRPC and WebSocket, and a keid
// restart that keeps a consumer group's position and the durable log.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace kei::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class BusKeidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keid_ = FindTestFile("tools/keid/keid", "KEI_KEID_PATH");
    keictl_ = FindTestFile("tools/keictl/keictl", "KEI_KEICTL_PATH");
    ASSERT_FALSE(keid_.empty());
    ASSERT_FALSE(keictl_.empty());
  }

  // Starts keid; sets grpc_ and ws_.
  void StartKeid(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {keid_, "--grpc-address", "127.0.0.1:0", "--http-address",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto process = StartProcess(argv);
    ASSERT_TRUE(process.ok()) << process.status();
    keid_process_ = *std::move(process);
    ASSERT_TRUE(keid_process_->WaitForOutput("listening http://", absl::Seconds(20)))
        << keid_process_->Output();
    for (absl::string_view line : absl::StrSplit(keid_process_->Output(), '\n')) {
      if (absl::ConsumePrefix(&line, "listening grpc://")) grpc_ = absl::StrCat("grpc://", line);
      if (absl::ConsumePrefix(&line, "listening http://")) {
        ws_ = absl::StrCat("ws://", line, "/api/v1/stream");
      }
    }
  }

  CommandResult Keictl(std::vector<std::string> args) {
    args.insert(args.begin(), keictl_);
    auto result = RunCommand(args, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  std::string Scratch(absl::string_view name) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", getpid());
  }

  std::string keid_, keictl_, grpc_, ws_;
  std::unique_ptr<Process> keid_process_;
};

TEST_F(BusKeidTest, KeictlPublishesSubscribesAndRequestsOverGrpcAndWebSocket) {
  StartKeid();
  for (const std::string& url : {grpc_, ws_}) {
    SCOPED_TRACE(url);
    auto pub = Keictl({"bus", "pub", url, "demo.greetings", R"({"hello":"bus"})", "--type",
                       "dev.kei.demo", "--id", "greeting-1"});
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
    EXPECT_THAT(pub.output, HasSubstr(R"("id":"greeting-1")"));
    auto again = Keictl({"bus", "pub", url, "demo.greetings", R"({"hello":"bus"})", "--id",
                         "greeting-1"});
    EXPECT_THAT(again.output, HasSubstr(R"("duplicate":true)"));
    auto sub = Keictl({"bus", "sub", url, "demo.>", "--from", "all", "--count", "1",
                       "--timeout-ms", "5000"});
    ASSERT_EQ(sub.exit_code, 0) << sub.output;
    EXPECT_THAT(sub.output, HasSubstr(R"("topic":"demo.greetings")"));
    EXPECT_THAT(sub.output, HasSubstr(R"("type":"dev.kei.demo")"));
    EXPECT_THAT(sub.output, HasSubstr(R"("data":{"hello":"bus"})"));

    auto nobody = Keictl({"bus", "request", url, "svc.nobody", "hi", "--timeout-ms", "1000"});
    EXPECT_NE(nobody.exit_code, 0);
    EXPECT_THAT(nobody.output, HasSubstr("no responders"));
    auto bad = Keictl({"bus", "pub", url, "bad topic", "x"});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_THAT(bad.output, HasSubstr("INVALID_ARGUMENT"));
  }
}

TEST_F(BusKeidTest, DurableLogAndGroupPositionSurviveARestart) {
  std::string dir = Scratch("bus-keid");
  StartKeid({"--bus-dir", dir});
  for (int i = 1; i <= 5; ++i) {
    auto pub = Keictl({"bus", "pub", grpc_, "jobs.build", absl::StrCat(R"({"n":)", i, "}")});
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
  }
  // The group takes (and acknowledges) the first three.
  auto first = Keictl({"bus", "sub", grpc_, "jobs.>", "--group", "builders", "--from", "all",
                       "--count", "3", "--timeout-ms", "5000"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr(R"("data":{"n":3})"));
  // Give the broker its state-saving interval, then restart keid gracefully.
  absl::SleepFor(absl::Milliseconds(300));
  keid_process_->Stop();
  StartKeid({"--bus-dir", dir});
  auto rest = Keictl({"bus", "sub", grpc_, "jobs.>", "--group", "builders", "--count", "2",
                      "--timeout-ms", "5000"});
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_THAT(rest.output, HasSubstr(R"("data":{"n":4})"));
  EXPECT_THAT(rest.output, HasSubstr(R"("data":{"n":5})"));
  EXPECT_THAT(rest.output, Not(HasSubstr(R"("data":{"n":1})")));
  auto replay = Keictl({"bus", "sub", grpc_, "jobs.build", "--from", "1", "--count", "5",
                        "--timeout-ms", "5000"});
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(std::count(replay.output.begin(), replay.output.end(), '\n'), 5) << replay.output;
}

TEST_F(BusKeidTest, BadBusConfigurationIsAClearError) {
  auto result = RunCommand({keid_, "--bus-nats", "nats://127.0.0.1:1", "--grpc-address",
                            "127.0.0.1:0", "--http-address", ""},
                           absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(result->exit_code, 0);
  EXPECT_THAT(result->output, HasSubstr("bus:"));
  EXPECT_THAT(result->output, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace kei::testing
