// HugePageAllocator: big allocations are their own 2 MiB-aligned mappings,
// usable in full and returned on deallocate; small ones come from the heap;
// a standard container works with it.
#include "bus/huge_page_allocator.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace kei::bus {
namespace {

TEST(HugePageAllocatorTest, BigAllocationsAreAlignedMappingsUsableInFull) {
  HugePageAllocator<uint64_t> allocator;
  const size_t n = (size_t{5} << 20) / sizeof(uint64_t) + 3;  // over 5 MiB, not a multiple
  uint64_t* p = allocator.allocate(n);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % HugePageAllocator<uint64_t>::kHugePage, 0u);
  for (size_t i = 0; i < n; ++i) p[i] = i * 7;
  for (size_t i = 0; i < n; i += 4099) EXPECT_EQ(p[i], i * 7);
  EXPECT_EQ(p[n - 1], (n - 1) * 7);
  allocator.deallocate(p, n);
  // The mapping is gone: msync fails on unmapped pages.
  EXPECT_EQ(msync(p, 6 << 20, MS_ASYNC), -1);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(HugePageAllocatorTest, ImpossibleSizesThrow) {
  HugePageAllocator<uint64_t> allocator;
  EXPECT_THROW(allocator.allocate(SIZE_MAX / 4), std::bad_array_new_length);
}

TEST(HugePageAllocatorTest, SmallAllocationsComeFromTheHeap) {
  HugePageAllocator<char> allocator;
  char* p = allocator.allocate(100);
  std::memset(p, 'x', 100);
  EXPECT_EQ(p[99], 'x');
  allocator.deallocate(p, 100);
}

TEST(HugePageAllocatorTest, ContainersGrowAcrossTheThreshold) {
  std::vector<uint32_t, HugePageAllocator<uint32_t>> values;
  for (uint32_t i = 0; i < (3u << 20); ++i) values.push_back(i);  // 12 MiB at the end
  uint64_t sum = 0;
  for (uint32_t v : values) sum += v;
  EXPECT_EQ(sum, (uint64_t{3} << 20) * ((uint64_t{3} << 20) - 1) / 2);
}

}  // namespace
}  // namespace kei::bus
