// posix_spawn-based child processes for tests; see subprocess.h. posix_spawn (not
// fork) because test binaries are multi-threaded (gRPC, reader threads), and a
// process group per child so a timeout or Stop() also reaches its descendants.
#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace kei::testing {
namespace {

// How long the reader keeps draining the pipe after the child is gone, in case
// a process that left the group (setsid) still holds the write end.
constexpr absl::Duration kDrainAfterExit = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(5);

ExitInfo DecodeWaitStatus(int status) {
  ExitInfo info;
  if (WIFEXITED(status)) {
    info.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
    info.exit_code = 128 + info.signal;
  } else {
    info.exit_code = -1;
  }
  return info;
}

// The parent's environment with `overrides` applied, as "KEY=VALUE" strings.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& [key, value] : overrides) {
    std::string prefix = absl::StrCat(key, "=");
    bool replaced = false;
    for (std::string& entry : env) {
      if (absl::StartsWith(entry, prefix)) {
        entry = absl::StrCat(prefix, value);
        replaced = true;
      }
    }
    if (!replaced) env.push_back(absl::StrCat(prefix, value));
  }
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> StartProcess(
    const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("StartProcess: empty argv");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // dup2 clears close-on-exec on the target; the originals close at exec.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (pgid == pid); no blocked signals; every signal back to
  // its default action (ignored signals, e.g. SIGPIPE, survive exec otherwise).
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<std::string> args = argv;
  std::vector<char*> c_args = CStrings(args);
  std::vector<std::string> env = BuildEnvironment(options.env);
  std::vector<char*> c_env = CStrings(env);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, c_args[0], &actions, &attr, c_args.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    std::string message =
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc));
    if (rc == ENOENT) return absl::NotFoundError(message);
    return absl::InternalError(message);
  }
  return std::unique_ptr<Process>(new Process(pid, fds[0]));
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const ProcessOptions& options) {
  absl::StatusOr<std::unique_ptr<Process>> process = StartProcess(argv, options);
  if (!process.ok()) return process.status();
  absl::StatusOr<ExitInfo> exit = (*process)->Wait(timeout);
  if (!exit.ok()) {
    (*process)->Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("command timed out after ", absl::FormatDuration(timeout),
                     " and was killed: ", absl::StrJoin(argv, " "),
                     "\noutput:\n", (*process)->Output()));
  }
  CommandResult result;
  result.exit_code = exit->exit_code;
  result.signal = exit->signal;
  result.output = (*process)->Output();
  return result;
}

Process::Process(pid_t pid, int output_fd) : pid_(pid), output_fd_(output_fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

Process::~Process() {
  Stop();
  FinishReader();
  close(output_fd_);
}

void Process::ReadLoop() {
  char buffer[16384];
  for (;;) {
    int64_t drain_deadline = drain_deadline_ns_.load();
    if (drain_deadline != 0 && absl::GetCurrentTimeNanos() > drain_deadline) break;
    pollfd pfd{output_fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, 50);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;
    ssize_t n = read(output_fd_, buffer, sizeof(buffer));
    if (n > 0) {
      absl::MutexLock lock(&mu_);
      output_.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    break;  // EOF or a read error
  }
  absl::MutexLock lock(&mu_);
  output_closed_ = true;
}

std::string Process::Output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

namespace {
struct OutputWait {
  const std::string* output;
  const bool* closed;
  absl::string_view needle;
};
bool OutputReady(OutputWait* wait) {
  return *wait->closed || absl::StrContains(*wait->output, wait->needle);
}
}  // namespace

bool Process::WaitForOutput(absl::string_view needle, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  OutputWait wait{&output_, &output_closed_, needle};
  mu_.AwaitWithTimeout(absl::Condition(&OutputReady, &wait), timeout);
  return absl::StrContains(output_, needle);
}

bool Process::PollExit() {
  absl::MutexLock lock(&exit_mu_);
  if (exited_) return true;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT leaves the child a zombie, so its pid (and so the group id) cannot
  // be reused while stragglers in its group are killed below.
  int rc = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT);
  if (rc != 0) {
    if (errno == EINTR) return false;
    // ECHILD: reaped behind our back (e.g. SIGCHLD set to SIG_IGN); nothing to
    // learn about how it ended.
    exited_ = true;
    exit_info_.exit_code = -1;
    drain_deadline_ns_.store(absl::GetCurrentTimeNanos() +
                             absl::ToInt64Nanoseconds(kDrainAfterExit));
    return true;
  }
  if (info.si_pid == 0) return false;  // still running
  kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  exit_info_ = DecodeWaitStatus(status);
  drain_deadline_ns_.store(absl::GetCurrentTimeNanos() +
                           absl::ToInt64Nanoseconds(kDrainAfterExit));
  return true;
}

void Process::SignalGroup(int sig) {
  absl::MutexLock lock(&exit_mu_);
  if (!exited_) kill(-pid_, sig);
}

void Process::AwaitExit() {
  while (!PollExit()) absl::SleepFor(kPollInterval);
}

void Process::FinishReader() {
  absl::MutexLock lock(&join_mu_);
  if (joined_) return;
  if (reader_.joinable()) reader_.join();
  joined_ = true;
}

bool Process::Running() { return !PollExit(); }

absl::StatusOr<ExitInfo> Process::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!PollExit()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
  FinishReader();
  absl::MutexLock lock(&exit_mu_);
  return exit_info_;
}

ExitInfo Process::Stop(absl::Duration grace) {
  if (!PollExit()) {
    SignalGroup(SIGTERM);
    absl::Time deadline = absl::Now() + grace;
    while (!PollExit() && absl::Now() < deadline) absl::SleepFor(kPollInterval);
    SignalGroup(SIGKILL);
    AwaitExit();
  }
  FinishReader();
  absl::MutexLock lock(&exit_mu_);
  return exit_info_;
}

ExitInfo Process::Kill() {
  SignalGroup(SIGKILL);
  AwaitExit();
  FinishReader();
  absl::MutexLock lock(&exit_mu_);
  return exit_info_;
}

}  // namespace kei::testing
