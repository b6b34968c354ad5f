// fork/exec with pipes for the stdio MCP transport (see child_process.h).
#include "clients/mcp/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace kei::mcp {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes without SIGPIPE killing the process: SIGPIPE is blocked in this
// thread for the write and a pending one is consumed.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n;
  do {
    n = ::write(fd, data, size);
  } while (n < 0 && errno == EINTR);
  int saved = errno;
  if (n < 0 && saved == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved;
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const ChildProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) return absl::InvalidArgumentError("empty command");
  // Everything the child needs is prepared before fork (only async-signal-safe
  // calls happen between fork and exec).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::map<std::string, std::string> env_map;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env_map[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return absl::InternalError("pipe failed");
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    return absl::InternalError("pipe failed");
  }
  int devnull = options.inherit_stderr ? -1 : ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  const char* dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      ::close(fd);
    }
    if (devnull >= 0) ::close(devnull);
    return absl::InternalError(absl::StrCat("fork failed: ", strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // Default signal handling and mask for the new program.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    if (devnull >= 0) ::dup2(devnull, 2);
    int err = 0;
    if (dir != nullptr && ::chdir(dir) != 0) {
      err = errno;
    } else {
      ::execvpe(args[0], args.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = ::write(err_pipe[1], &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (devnull >= 0) ::close(devnull);
  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(err_pipe[0], &child_errno, sizeof(child_errno));
  } while (got < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(child_errno))) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::NotFoundError(
        absl::StrCat("cannot start '", argv[0], "': ", strerror(child_errno)));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, in_pipe[1], out_pipe[0]));
  if (::pipe2(child->wake_fds_, O_CLOEXEC) != 0) {
    child->wake_fds_[0] = child->wake_fds_[1] = -1;
  }
  return child;
}

ChildProcess::~ChildProcess() {
  Close(absl::Milliseconds(500));
  int out = out_fd_;
  CloseFd(out);
  CloseFd(wake_fds_[0]);
}

absl::Status ChildProcess::Write(absl::string_view bytes) {
  absl::MutexLock lock(&write_mu_);
  if (in_fd_ < 0) return absl::UnavailableError("the server process's stdin is closed");
  while (!bytes.empty()) {
    ssize_t n = WriteNoSigpipe(in_fd_, bytes.data(), bytes.size());
    if (n < 0) {
      return absl::UnavailableError(
          absl::StrCat("writing to the server process failed: ", strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

bool ChildProcess::Read(std::string* chunk) {
  chunk->clear();
  char buf[16 * 1024];
  while (true) {
    struct pollfd fds[2] = {{out_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, wake_fds_[0] >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (fds[0].revents != 0) {
      ssize_t got = ::read(out_fd_, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      chunk->assign(buf, static_cast<size_t>(got));
      return true;
    }
    if (wake_fds_[0] >= 0 && fds[1].revents != 0) return false;
  }
}

bool ChildProcess::Reaped(int* status) {
  pid_t r;
  do {
    r = ::waitpid(pid_, status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  return r == pid_ || (r < 0 && errno == ECHILD);
}

int ChildProcess::Close(absl::Duration grace) {
  absl::MutexLock lock(&close_mu_);
  if (closed_) return exit_code_;
  closed_ = true;
  {
    absl::MutexLock write_lock(&write_mu_);
    CloseFd(in_fd_);
  }
  int status = 0;
  auto wait_for = [&](absl::Duration d) {
    absl::Time until = absl::Now() + d;
    while (true) {
      if (Reaped(&status)) return true;
      if (absl::Now() >= until) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
  };
  bool gone = wait_for(grace);
  if (!gone) {
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGTERM);
    gone = wait_for(grace);
  }
  if (!gone) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Whatever the child left in its group goes with it.
  ::kill(-pid_, SIGKILL);
  CloseFd(wake_fds_[1]);
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
  }
  return exit_code_;
}

}  // namespace kei::mcp
