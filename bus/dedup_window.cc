#include "bus/dedup_window.h"

namespace kei::bus {

std::optional<uint64_t> DedupWindow::Find(absl::string_view id, absl::Time now) {
  Expire(now);
  auto it = ids_.find(id);
  if (it == ids_.end()) return std::nullopt;
  return it->second.sequence;
}

void DedupWindow::Insert(absl::string_view id, uint64_t sequence, absl::Time time) {
  if (window_ <= absl::ZeroDuration() || max_ids_ == 0) return;
  auto [it, inserted] = ids_.try_emplace(id);
  it->second = Seen{sequence, time, ++insertions_};
  order_.push_back(Inserted{insertions_, time, &*it});
  while (ids_.size() > max_ids_) PopOldest();
}

void DedupWindow::PopOldest() {
  const Inserted& oldest = order_.front();
  // An id inserted again later keeps its entry until its newest insertion goes.
  if (oldest.entry->second.insertion == oldest.insertion) ids_.erase(oldest.entry->first);
  order_.pop_front();
}

void DedupWindow::Expire(absl::Time now) {
  while (!order_.empty() && order_.front().time + window_ <= now) PopOldest();
}

}  // namespace kei::bus
