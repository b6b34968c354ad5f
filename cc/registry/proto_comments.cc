#include "cc/registry/proto_comments.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace kei {
namespace {

struct Table {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, std::string> comments ABSL_GUARDED_BY(mu);
};

Table& Comments() {
  static Table* table = new Table;  // never destroyed: read during static teardown
  return *table;
}

}  // namespace

bool ProtoComments::Register(std::initializer_list<std::pair<const char*, const char*>> entries) {
  Table& table = Comments();
  absl::MutexLock lock(&table.mu);
  for (const auto& [name, comment] : entries) table.comments[name] = comment;
  return true;
}

std::string ProtoComments::Find(absl::string_view full_name) {
  Table& table = Comments();
  absl::MutexLock lock(&table.mu);
  auto it = table.comments.find(full_name);
  return it == table.comments.end() ? std::string() : it->second;
}

}  // namespace kei
