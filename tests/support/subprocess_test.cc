// Self-test for the child-process helper: exit codes, combined output, timeouts
// that kill the whole group, and starting/stopping a long-lived child.
#include "tests/support/subprocess.h"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kei::testing {
namespace {

using ::testing::HasSubstr;

// True once `pid` is gone or a zombie (killed, not yet reaped by its new parent).
bool ProcessGone(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(RunCommandTest, CapturesStdoutAndExitCode) {
  absl::StatusOr<CommandResult> r = RunCommand({"echo", "hello"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->signal, 0);
  EXPECT_EQ(r->output, "hello\n");
}

TEST(RunCommandTest, CombinesStderrAndReportsNonZeroExit) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_THAT(r->output, HasSubstr("out\n"));
  EXPECT_THAT(r->output, HasSubstr("err\n"));
}

TEST(RunCommandTest, ReportsDeathBySignal) {
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
}

TEST(RunCommandTest, MissingProgramIsNotFound) {
  absl::StatusOr<CommandResult> r = RunCommand({"kei-no-such-program-xyz"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
}

TEST(RunCommandTest, EmptyArgvIsInvalid) {
  EXPECT_EQ(RunCommand({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunCommandTest, PassesEnvironmentAndWorkingDirectory) {
  ProcessOptions options;
  options.env = {{"KEI_SUBPROCESS_TEST", "42"}, {"PATH", getenv("PATH")}};
  options.working_dir = "/";
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "echo $KEI_SUBPROCESS_TEST; pwd"}, absl::Seconds(10), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "42\n/\n");
}

TEST(RunCommandTest, LargeOutputDoesNotBlock) {
  absl::StatusOr<CommandResult> r = RunCommand({"head", "-c", "1000000", "/dev/zero"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output.size(), 1000000u);
}

TEST(RunCommandTest, TimeoutKillsTheWholeGroup) {
  absl::Time start = absl::Now();
  // The shell prints the pid of a background child, then waits forever.
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "sleep 30 & echo bg=$!; wait"}, absl::Milliseconds(500));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  std::string message(r.status().message());
  size_t at = message.rfind("bg=");  // the command line holds "bg=$!" too
  ASSERT_NE(at, std::string::npos) << message;
  std::string digits;
  for (size_t i = at + 3; i < message.size() && isdigit(message[i]); ++i) digits += message[i];
  int bg = 0;
  ASSERT_TRUE(absl::SimpleAtoi(digits, &bg)) << message;
  EXPECT_TRUE(ProcessGone(bg, absl::Seconds(5))) << "background child " << bg << " survived";
}

TEST(StartProcessTest, WaitForOutputThenStopWithSigterm) {
  absl::StatusOr<std::unique_ptr<Process>> p =
      StartProcess({"sh", "-c", "echo listening on 1234; sleep 30"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->WaitForOutput("listening on", absl::Seconds(10))) << (*p)->Output();
  EXPECT_TRUE((*p)->Running());
  absl::Time start = absl::Now();
  ExitInfo exit = (*p)->Stop(absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(exit.signal, SIGTERM);
  EXPECT_FALSE((*p)->Running());
  EXPECT_EQ((*p)->Output(), "listening on 1234\n");
  // Stopping again returns the same answer.
  EXPECT_EQ((*p)->Stop().signal, SIGTERM);
}

TEST(StartProcessTest, StopEscalatesToSigkill) {
  absl::StatusOr<std::unique_ptr<Process>> p = StartProcess(
      {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->WaitForOutput("ready", absl::Seconds(10)));
  absl::Time start = absl::Now();
  ExitInfo exit = (*p)->Stop(absl::Milliseconds(300));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_EQ(exit.signal, SIGKILL);
}

TEST(StartProcessTest, WaitReturnsExitCodeAndFullOutput) {
  absl::StatusOr<std::unique_ptr<Process>> p =
      StartProcess({"sh", "-c", "echo done; exit 7"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<ExitInfo> exit = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ((*p)->Output(), "done\n");
}

TEST(StartProcessTest, WaitTimesOutAndLeavesItRunning) {
  absl::StatusOr<std::unique_ptr<Process>> p = StartProcess({"sleep", "30"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Wait(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE((*p)->Running());
  EXPECT_EQ((*p)->Kill().signal, SIGKILL);
}

TEST(StartProcessTest, WaitForOutputFailsWhenOutputEnds) {
  absl::StatusOr<std::unique_ptr<Process>> p = StartProcess({"echo", "nope"});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::Time start = absl::Now();
  EXPECT_FALSE((*p)->WaitForOutput("ready", absl::Seconds(10)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(StartProcessTest, DestructorStopsTheChild) {
  pid_t pid = 0;
  {
    absl::StatusOr<std::unique_ptr<Process>> p = StartProcess({"sleep", "30"});
    ASSERT_TRUE(p.ok()) << p.status();
    pid = (*p)->pid();
  }
  EXPECT_TRUE(ProcessGone(pid, absl::Seconds(1)));
}

}  // namespace
}  // namespace kei::testing
