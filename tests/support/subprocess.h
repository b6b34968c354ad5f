// Child processes for tests: run a command to completion with a timeout (openssl,
// keictl, node peers), or start a long-lived one (keid) and stop it afterwards.
// Every child runs in its own process group with stdin from /dev/null and stdout
// and stderr combined into one pipe, so a test can read everything it printed and
// kill it together with anything it spawned.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kei::testing {

// How to start a child. argv[0] is looked up in PATH when it has no slash.
struct ProcessOptions {
  // Added to (or replacing entries of) the parent's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Working directory of the child; empty keeps the parent's.
  std::string working_dir;
};

// How a finished child ended.
struct ExitInfo {
  // The exit status, or 128 + signal number when a signal ended it (shell style).
  int exit_code = 0;
  // The signal that ended it, 0 when it exited by itself.
  int signal = 0;
};

// What RunCommand returns: how the command ended and everything it printed.
struct CommandResult {
  int exit_code = 0;  // as ExitInfo::exit_code
  int signal = 0;     // as ExitInfo::signal
  std::string output;  // stdout and stderr interleaved
};

// Runs argv to completion. Fails with kDeadlineExceeded (message carrying the
// output so far) if it has not finished within `timeout`, after killing its whole
// process group with SIGKILL; fails with kNotFound / kInternal if it cannot be
// started. A non-zero exit is not a failure: check CommandResult::exit_code.
// Processes the command leaves behind in its group are killed when it exits.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(60),
                                         const ProcessOptions& options = {});

// A started child. Output is collected in the background as it arrives. The
// destructor stops the child (as Stop()) if it is still running. Methods may be
// called from any thread.
class Process {
 public:
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // Everything the child has printed so far (stdout and stderr combined).
  std::string Output() const;

  // Waits until the output contains `needle` ("listening on"); false if the
  // timeout passes first or the output ends without it.
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout) const;

  // True while the child has not exited.
  bool Running();

  // Waits up to `timeout` for the child to exit by itself; kDeadlineExceeded
  // if it is still running (it is left running).
  absl::StatusOr<ExitInfo> Wait(absl::Duration timeout);

  // Sends SIGTERM to the child's process group, waits up to `grace`, then sends
  // SIGKILL; also kills whatever is left in the group once the child exited.
  // Returns how the child ended; calling it again returns the same answer.
  ExitInfo Stop(absl::Duration grace = absl::Seconds(5));

  // Sends SIGKILL to the child's process group at once and reaps the child.
  ExitInfo Kill();

 private:
  friend absl::StatusOr<std::unique_ptr<Process>> StartProcess(
      const std::vector<std::string>&, const ProcessOptions&);
  Process(pid_t pid, int output_fd);

  void ReadLoop();
  // Non-blocking: true once the child has exited (it is then reaped, the group
  // cleaned up and the reader told to finish).
  bool PollExit();
  // Sends `sig` to the child's process group unless the child was reaped.
  void SignalGroup(int sig);
  // Polls until the child has exited; no time limit.
  void AwaitExit();
  // Joins the reader once the child is gone, so Output() is complete.
  void FinishReader();

  const pid_t pid_;
  const int output_fd_;
  std::thread reader_;

  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool output_closed_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex exit_mu_;
  bool exited_ ABSL_GUARDED_BY(exit_mu_) = false;
  ExitInfo exit_info_ ABSL_GUARDED_BY(exit_mu_);

  absl::Mutex join_mu_;
  bool joined_ ABSL_GUARDED_BY(join_mu_) = false;

  // Set once the child is gone: the reader drains what is buffered and stops
  // even if a stray process outside the group still holds the pipe.
  std::atomic<int64_t> drain_deadline_ns_{0};
};

// Starts argv in the background (see ProcessOptions).
absl::StatusOr<std::unique_ptr<Process>> StartProcess(
    const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace kei::testing
