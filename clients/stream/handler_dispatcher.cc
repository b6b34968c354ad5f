#include "clients/stream/handler_dispatcher.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace kei {

HandlerDispatcher::HandlerDispatcher(std::function<void(const absl::Status&)> on_error)
    : on_error_(std::move(on_error)) {
  thread_ = std::thread([this] { Loop(); });
}

HandlerDispatcher::~HandlerDispatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HandlerDispatcher::Post(std::string what, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  tasks_.emplace_back(std::move(what), std::move(task));
  ++queued_;
}

void HandlerDispatcher::Drain() {
  absl::MutexLock lock(&mu_);
  uint64_t target = queued_;
  auto done = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ >= target; };
  mu_.Await(absl::Condition(&done));
}

void HandlerDispatcher::Loop() {
  while (true) {
    std::pair<std::string, std::function<void()>> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !tasks_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    bool threw = false;
    std::string failure;
    try {
      task.second();
    } catch (const std::exception& e) {
      threw = true;
      failure = e.what();
    } catch (...) {
      threw = true;
      failure = "an exception that is not a std::exception";
    }
    if (threw) {
      ++errors_;
      if (on_error_) {
        try {
          on_error_(absl::InternalError(absl::StrCat("the ", task.first, " threw: ", failure)));
        } catch (...) {
        }
      }
    }
    absl::MutexLock lock(&mu_);
    ++finished_;
  }
}

}  // namespace kei
