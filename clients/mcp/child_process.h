// A child process the stdio MCP transport talks to: started with fork/exec,
// its stdin and stdout connected to this process by pipes, its stderr passed
// through or discarded. Writing never raises SIGPIPE (a dead child is an
// error status), and Close ends the child (EOF on its stdin, then SIGTERM,
// then SIGKILL to its process group) and reaps it, so nothing is left behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kei::mcp {

struct ChildProcessOptions {
  // Added to (or replacing entries of) this process's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // The child's working directory; empty keeps ours.
  std::string working_dir;
  // True: the child's stderr goes where ours goes; false: /dev/null.
  bool inherit_stderr = true;
};

class ChildProcess {
 public:
  // argv[0] is looked up in PATH when it has no slash. NOT_FOUND when it
  // cannot be executed (reported by the child before exec fails).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const ChildProcessOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes all of `bytes` to the child's stdin; UNAVAILABLE once it is gone.
  // Thread-safe (writes do not interleave).
  absl::Status Write(absl::string_view bytes);
  // Reads what the child wrote to stdout: false at end of output (or after
  // Close). One reader at a time.
  bool Read(std::string* chunk);

  // Closes the child's stdin, waits up to `grace` for it to exit, then sends
  // SIGTERM and (after `grace` again) SIGKILL, and reaps it. Idempotent.
  // Returns the exit status (128 + signal when a signal ended it).
  int Close(absl::Duration grace = absl::Seconds(2));

 private:
  ChildProcess(pid_t pid, int in_fd, int out_fd) : pid_(pid), in_fd_(in_fd), out_fd_(out_fd) {}
  bool Reaped(int* status);  // non-blocking waitpid

  const pid_t pid_;
  absl::Mutex write_mu_;
  int in_fd_ ABSL_GUARDED_BY(write_mu_);
  const int out_fd_;
  // A pipe whose write end Close closes, so a blocked Read wakes up.
  int wake_fds_[2] = {-1, -1};
  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
  int exit_code_ ABSL_GUARDED_BY(close_mu_) = 0;
};

}  // namespace kei::mcp
