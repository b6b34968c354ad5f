// Threads that run handlers, apart from every transport's I/O threads: a
// handler that blocks (sleeps, waits on a lock or on another service) then
// never stalls unrelated calls, health checks included. The pool has a fixed
// number of threads, so slow calls queue instead of creating threads without
// bound (the limits interceptor bounds the queue).
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace kei {

class HandlerPool {
 public:
  explicit HandlerPool(int threads);
  // Runs what was submitted, then joins.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  void Submit(std::function<void()> task);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kei
