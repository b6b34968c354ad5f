#include "bus/dedup_window.h"

#include <utility>

namespace kei::bus {

std::optional<uint64_t> DedupWindow::Find(absl::string_view id, absl::Time now) {
  Expire(now);
  auto it = ids_.find(id);
  if (it == ids_.end()) return std::nullopt;
  return it->second.sequence;
}

void DedupWindow::Insert(std::string id, uint64_t sequence, absl::Time time) {
  if (window_ <= absl::ZeroDuration() || max_ids_ == 0) return;
  ids_.insert_or_assign(id, Seen{sequence, time});
  order_.emplace_back(time, std::move(id));
  while (ids_.size() > max_ids_) PopOldest();
}

void DedupWindow::PopOldest() {
  auto it = ids_.find(order_.front().second);
  // An id inserted again later keeps its newer entry.
  if (it != ids_.end() && it->second.time == order_.front().first) ids_.erase(it);
  order_.pop_front();
}

void DedupWindow::Erase(absl::string_view id) { ids_.erase(id); }

void DedupWindow::Expire(absl::Time now) {
  while (!order_.empty() && order_.front().first + window_ <= now) PopOldest();
}

}  // namespace kei::bus
