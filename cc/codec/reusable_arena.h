// A protobuf arena for one message at a time, reset before the next. Reusing a
// heap message does not save what it looks like: proto3's Clear() deletes
// every singular sub-message, so each parse allocates them (and their
// strings) again, and frees them on the next Clear. In an arena that keeps its
// first block those objects cost nothing; only string contents longer than
// the small-string buffer still come from the heap.
#pragma once

#include <cstddef>
#include <memory>

#include "google/protobuf/arena.h"

namespace kei {

class ReusableArena {
 public:
  explicit ReusableArena(size_t block_bytes = size_t{256} << 10)
      : block_(new char[block_bytes]), arena_(Options(block_.get(), block_bytes)) {}
  ReusableArena(const ReusableArena&) = delete;
  ReusableArena& operator=(const ReusableArena&) = delete;

  // A new, empty T in the arena. Whatever Fresh returned before is gone.
  template <class T>
  T* Fresh() {
    arena_.Reset();
    return google::protobuf::Arena::CreateMessage<T>(&arena_);
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block, size_t bytes) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = bytes;
    options.max_block_size = bytes;  // growth past the first block, rarely
    return options;
  }

  std::unique_ptr<char[]> block_;  // outlives arena_ (declared first)
  google::protobuf::Arena arena_;
};

}  // namespace kei
