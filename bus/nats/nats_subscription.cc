// Ephemeral and group subscriptions over NATS; see nats_subscription.h.
#include "bus/nats/nats_subscription.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bus/nats/envelope_headers.h"
#include "bus/nats/nats_group.h"

namespace kei::bus::nats {
namespace {

// Messages (and payload bytes) a subscription queues before it drops (a slow
// consumer), as NATS's own per-subscription defaults.
constexpr size_t kMaxQueued = 65536;
constexpr size_t kMaxQueuedBytes = 64 << 20;
// Largest batch one pull request asks for.
constexpr size_t kMaxPullBatch = 1024;
// A pull request's longest expiry; Next renews it while it waits longer.
constexpr absl::Duration kMaxPullWait = absl::Seconds(30);
// Deadlines closer than this get a no-wait pull (answered at once).
constexpr absl::Duration kMinPullWait = absl::Milliseconds(10);
// How long past its expiry a pull whose end never arrived (lost in a
// reconnect) still counts as open.
constexpr absl::Duration kPullGrace = absl::Seconds(2);
// How often Next checks whether a reconnect lost its open pull.
constexpr absl::Duration kReconnectCheck = absl::Seconds(1);
// Pause after a pull ended with an unexpected status.
constexpr absl::Duration kPullRetryDelay = absl::Milliseconds(250);
// How many of its newest stream sequences a group member remembers the
// deliveries of (see Feed::Attempt).
constexpr size_t kTrackedSequences = 1024;

int64_t Millis(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Milliseconds(d)); }

// What a group member needs beyond an ephemeral subscription.
struct GroupPart {
  std::string name;
  GroupOptions options;
  std::string reply_prefix;  // "<inbox>.": pull replies arrive on "<inbox>.<pull id>"
  std::string pull_subject;  // "$JS.API.CONSUMER.MSG.NEXT.<stream>.<group>"
};

// The state one subscription shares with the NATS callbacks feeding it. Each
// NATS subscription's closure holds a reference that its completion callback
// drops, so no callback ever sees a freed Feed.
class Feed final : public Closable, public std::enable_shared_from_this<Feed> {
 public:
  // Messages published before `not_before` are skipped (see ApplyStart).
  Feed(NatsConnection* connection, std::optional<GroupPart> group, absl::Time not_before)
      : connection_(connection), group_(std::move(group)), not_before_(not_before) {}

  // Creates an asynchronous NATS subscription with `subscribe(&sub, closure)`
  // (which must pass OnMessage and `closure`) and keeps it.
  template <typename Subscribe>
  absl::Status Add(Subscribe subscribe) {
    auto* closure = new std::shared_ptr<Feed>(shared_from_this());
    natsSubscription* sub = nullptr;
    if (absl::Status s = subscribe(&sub, static_cast<void*>(closure)); !s.ok()) {
      delete closure;
      return s;
    }
    // Fails only for a subscription already closed: the closure then stays.
    natsSubscription_SetOnCompleteCB(sub, &Feed::OnComplete, closure);
    absl::MutexLock lock(&subs_mu_);
    subs_.push_back(sub);
    return absl::OkStatus();
  }

  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    (*static_cast<std::shared_ptr<Feed>*>(closure))->Push(NatsMsgPtr(msg));
  }

  absl::StatusOr<std::vector<Delivery>> Next(size_t max, absl::Time deadline);
  void Close() { End(State::kClosed); }
  void Shutdown() override { End(State::kGone); }
  // Frees the NATS subscriptions (after Close).
  void Release() {
    absl::MutexLock lock(&subs_mu_);
    for (natsSubscription* sub : subs_) natsSubscription_Destroy(sub);
    subs_.clear();
  }

 private:
  enum class State { kOpen, kClosed, kGone };
  // A pull request to send (to group_->pull_subject).
  struct Pull {
    std::string reply;
    std::string body;
  };

  static void OnComplete(void* closure) {
    auto* feed = static_cast<std::shared_ptr<Feed>*>(closure);
    {
      absl::MutexLock lock(&(*feed)->mu_);
      if ((*feed)->state_ == State::kOpen) (*feed)->state_ = State::kGone;
    }
    delete feed;
  }

  void Push(NatsMsgPtr msg) {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kOpen) return;
    size_t bytes = natsMsg_GetDataLength(msg.get());
    if (queue_.size() >= kMaxQueued || queued_bytes_ + bytes > kMaxQueuedBytes) {
      ++dropped_;
      return;
    }
    queued_bytes_ += bytes;
    queue_.push_back(std::move(msg));
  }

  void End(State how);
  // Moves up to `max` queued messages to `out`, consuming pull statuses.
  void Take(size_t max, std::vector<NatsMsgPtr>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnPullStatus(natsMsg* msg, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A pull request when none is open (or it was lost), sized by `max`.
  // `reconnects` is the connection's count now (read without mu_).
  std::optional<Pull> StartPull(size_t max, absl::Time deadline, absl::Time now,
                                uint64_t reconnects) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Until when Next waits for news.
  absl::Time WaitUntil(absl::Time deadline) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Decodes taken messages; group deliveries past max_deliveries go to the
  // dead-letter topic instead.
  std::vector<Delivery> Deliver(std::vector<NatsMsgPtr> taken);
  // The attempt a group delivery is, or none for one to drop (see there).
  std::optional<uint32_t> Attempt(const AckSubject& ack, absl::Time now);
  void DeadLetter(const Message& original, const std::string& ack_subject);

  NatsConnection* const connection_;  // outlives the Feed's users
  const std::optional<GroupPart> group_;
  const absl::Time not_before_;

  absl::Mutex subs_mu_;  // never taken by callbacks
  std::vector<natsSubscription*> subs_ ABSL_GUARDED_BY(subs_mu_);

  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kOpen;
  std::deque<NatsMsgPtr> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Groups: the open pull request, and deliveries handed out (ack subject to
  // ack deadline), returned on Close.
  uint64_t pull_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool pull_open_ ABSL_GUARDED_BY(mu_) = false;
  bool pull_no_wait_ ABSL_GUARDED_BY(mu_) = false;
  size_t pull_remaining_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time pull_until_ ABSL_GUARDED_BY(mu_);
  uint64_t pull_reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time pull_not_before_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::flat_hash_map<std::string, absl::Time> held_ ABSL_GUARDED_BY(mu_);
  // Groups: the group deliveries received, and the last one of each recent
  // stream sequence (see Attempt).
  struct Seen {
    uint32_t attempt = 0;
    uint64_t consumer_sequence = 0;
    uint64_t received = 0;  // deliveries received before it
    absl::Time held_until;  // InfinitePast when dead-lettered
  };
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Seen> seen_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::vector<Delivery>> Feed::Next(size_t max, absl::Time deadline) {
  if (max == 0) max = 1;
  bool pulled = false;
  while (true) {
    std::vector<NatsMsgPtr> taken;
    std::optional<Pull> pull;
    uint64_t reconnects = group_ ? connection_->reconnects() : 0;
    {
      absl::MutexLock lock(&mu_);
      if (state_ == State::kClosed) return absl::CancelledError("subscription closed");
      if (dropped_ > 0) {
        uint64_t dropped = std::exchange(dropped_, 0);
        return absl::ResourceExhaustedError(
            absl::StrCat("subscriber fell behind; ", dropped, " messages were dropped for it"));
      }
      absl::Time now = absl::Now();
      Take(max, &taken);
      if (taken.empty()) {
        if (state_ == State::kGone) {
          return absl::UnavailableError("the NATS bus backend went away (connection closed)");
        }
        // One no-wait pull at most once the deadline passed.
        if (group_ && !(pulled && now >= deadline)) {
          pull = StartPull(max, deadline, now, reconnects);
        }
        if (!pull) {
          absl::Time until = WaitUntil(deadline);
          if (now >= until) return std::vector<Delivery>{};
          auto news = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return !queue_.empty() || state_ != State::kOpen || dropped_ > 0;
          };
          mu_.AwaitWithDeadline(absl::Condition(&news), until);
          continue;
        }
      }
    }
    if (pull) {
      pulled = true;
      if (auto s = connection_->PublishRaw(group_->pull_subject, pull->body, pull->reply);
          !s.ok()) {
        absl::MutexLock lock(&mu_);
        pull_open_ = false;
        return s;
      }
      continue;
    }
    std::vector<Delivery> out = Deliver(std::move(taken));
    if (!out.empty()) return out;
  }
}

void Feed::Take(size_t max, std::vector<NatsMsgPtr>* out) {
  absl::Time now = absl::Now();
  while (!queue_.empty() && out->size() < max) {
    NatsMsgPtr msg = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= natsMsg_GetDataLength(msg.get());
    if (group_) {
      if (absl::StartsWith(natsMsg_GetSubject(msg.get()), group_->reply_prefix)) {
        OnPullStatus(msg.get(), now);
        continue;
      }
      const char* reply = natsMsg_GetReply(msg.get());
      if (reply != nullptr && absl::StartsWith(reply, kAckPrefix) && pull_open_ &&
          --pull_remaining_ == 0) {
        pull_open_ = false;  // the batch is complete
      }
    }
    out->push_back(std::move(msg));
  }
}

void Feed::OnPullStatus(natsMsg* msg, absl::Time now) {
  absl::string_view subject = natsMsg_GetSubject(msg);
  uint64_t id = 0;
  if (!absl::SimpleAtoi(subject.substr(group_->reply_prefix.size()), &id) || id != pull_id_) {
    return;
  }
  pull_open_ = false;
  const char* code = nullptr;
  const char* text = nullptr;
  natsMsgHeader_Get(msg, "Status", &code);
  natsMsgHeader_Get(msg, "Description", &text);
  absl::string_view status = code != nullptr ? code : "";
  absl::string_view description = text != nullptr ? text : "";
  // 404 No Messages, 408 Request Timeout: the pull simply ended.
  if (status == "404" || status == "408") return;
  if (absl::StrContains(description, "Consumer Deleted")) {
    std::fprintf(stderr, "bus: group %s: consumer unavailable: %s %s\n", group_->name.c_str(),
                 code != nullptr ? code : "", text != nullptr ? text : "");
    state_ = State::kGone;
    return;
  }
  // Anything else (503 while JetStream restarts, 409 limits): try again soon.
  pull_not_before_ = now + kPullRetryDelay;
}

std::optional<Feed::Pull> Feed::StartPull(size_t max, absl::Time deadline, absl::Time now,
                                          uint64_t reconnects) {
  bool lost = now >= pull_until_ || reconnects != pull_reconnects_;
  if ((pull_open_ && !lost) || now < pull_not_before_) return std::nullopt;
  size_t batch = std::min(max, kMaxPullBatch);
  absl::Duration wait = std::min(deadline - now, kMaxPullWait);
  pull_open_ = true;
  pull_no_wait_ = wait < kMinPullWait;
  pull_remaining_ = batch;
  pull_until_ =
      now + (pull_no_wait_ ? connection_->options().request_timeout : wait) + kPullGrace;
  pull_reconnects_ = reconnects;
  ++pull_id_;
  Pull pull;
  pull.reply = absl::StrCat(group_->reply_prefix, pull_id_);
  pull.body = pull_no_wait_ ? absl::StrCat("{\"batch\":", batch, ",\"no_wait\":true}")
                            : absl::StrCat("{\"batch\":", batch, ",\"expires\":",
                                           absl::ToInt64Nanoseconds(wait), "}");
  return pull;
}

absl::Time Feed::WaitUntil(absl::Time deadline) const {
  if (!group_) return deadline;
  // A no-wait pull is waited for even past the deadline; an open pull is
  // renewed when a reconnect or its expiry passing without an end lost it.
  if (pull_open_) {
    return pull_no_wait_ ? std::max(deadline, pull_until_)
                         : std::min({deadline, pull_until_, absl::Now() + kReconnectCheck});
  }
  return std::min(deadline, std::max(pull_not_before_, absl::Now()));
}

std::vector<Delivery> Feed::Deliver(std::vector<NatsMsgPtr> taken) {
  std::vector<Delivery> out;
  absl::Time now = absl::Now();
  for (NatsMsgPtr& msg : taken) {
    const char* reply = natsMsg_GetReply(msg.get());
    std::string reply_to = reply != nullptr ? reply : "";
    auto message = NewMessage();
    message->mutable_envelope() = DecodeEnvelope(msg.get());
    std::optional<AckSubject> ack = ParseAckSubject(reply_to);
    if (!ack) {  // a request
      message->topic = connection_->TopicOfReq(natsMsg_GetSubject(msg.get()));
      message->publish_time = now;
      message->reply_to = std::move(reply_to);
      if (!message->topic.empty()) out.push_back(Delivery{std::move(message), "", 1});
      continue;
    }
    message->topic = connection_->TopicOfMsg(natsMsg_GetSubject(msg.get()));
    message->sequence = ack->stream_sequence;
    message->publish_time = absl::FromUnixNanos(ack->timestamp_nanos);
    if (message->publish_time < not_before_) {
      if (group_) (void)connection_->PublishRaw(reply_to, "+ACK");  // not the group's
      continue;
    }
    if (!group_) {
      out.push_back(Delivery{std::move(message), "", 1});
      continue;
    }
    const GroupOptions& options = group_->options;
    std::optional<uint32_t> attempt = Attempt(*ack, now);
    if (!attempt) continue;
    if (options.max_deliveries > 0 && *attempt > static_cast<uint32_t>(options.max_deliveries)) {
      DeadLetter(*message, reply_to);
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      held_[reply_to] = now + options.ack_wait + Backoff(options, *attempt);
    }
    out.push_back(Delivery{std::move(message), std::move(reply_to), *attempt});
  }
  if (group_) {
    absl::MutexLock lock(&mu_);
    absl::erase_if(held_, [now](const auto& entry) { return entry.second <= now; });
  }
  return out;
}

std::optional<uint32_t> Feed::Attempt(const AckSubject& ack, absl::Time now) {
  // The attempt is JetStream's delivery count, but nats-server 2.9 (Debian 12
  // ships 2.9.10) loses a redelivery that comes due while the pull requests
  // waiting have all just expired (or lost their requester): it counts the
  // attempt, sends nothing, and rewinds the consumer's stream cursor by one,
  // so the last message the consumer delivered comes again as a new one
  // (delivery count 1), even when it was dead-lettered or acknowledged
  // meanwhile. So, for a message this member saw before:
  // - a count not above the attempt it saw then is such a replay: dropped
  //   while that delivery is still held (its ack still counts; JetStream
  //   redelivers later), else the next attempt (a dead-lettered message is
  //   dead-lettered again, de-duplicated, and never handed out);
  // - a count that skipped attempts only counts those other members could
  //   have had: the consumer's deliveries in between that this member did not
  //   receive.
  const GroupOptions& options = group_->options;
  absl::MutexLock lock(&mu_);
  uint64_t received = received_++;
  uint32_t attempt = ack.delivered;
  if (auto it = seen_.find(ack.stream_sequence); it != seen_.end()) {
    const Seen& last = it->second;
    if (ack.delivered <= last.attempt) {
      if (last.held_until > now) return std::nullopt;
      attempt = last.attempt + 1;
    } else if (ack.consumer_sequence > last.consumer_sequence) {
      uint64_t between = ack.consumer_sequence - last.consumer_sequence - 1;
      uint64_t mine = received - last.received - 1;
      uint64_t others = between > mine ? between - mine : 0;
      attempt = static_cast<uint32_t>(std::min<uint64_t>(ack.delivered, last.attempt + 1 + others));
    }
  }
  bool dead = options.max_deliveries > 0 && attempt > static_cast<uint32_t>(options.max_deliveries);
  seen_[ack.stream_sequence] =
      Seen{attempt, ack.consumer_sequence, received,
           dead ? absl::InfinitePast() : now + options.ack_wait + Backoff(options, attempt)};
  // Replays are of the cursor's newest messages: older ones can be forgotten.
  if (seen_.size() > kTrackedSequences) seen_.erase(seen_.begin());
  return attempt;
}

void Feed::DeadLetter(const Message& original, const std::string& ack_subject) {
  v1::Envelope envelope = original.envelope();
  auto& extensions = *envelope.mutable_extensions();
  extensions["keiorigtopic"] = original.topic;
  extensions["keiorigsequence"] = absl::StrCat(original.sequence);
  extensions["keigroup"] = group_->name;
  // Same event id as the original; de-duplicated per group and sequence.
  auto published = connection_->PublishStored(
      DeadLetterTopic(group_->name, group_->options), envelope,
      absl::StrCat("kei-deadletter:", group_->name, ":", original.sequence));
  if (!published.ok()) {
    // Still pending: JetStream redelivers it after its ack deadline and the
    // dead-lettering is tried again then.
    std::fprintf(stderr, "bus: group %s: dead-lettering sequence %llu failed: %s\n",
                 group_->name.c_str(), static_cast<unsigned long long>(original.sequence),
                 published.status().ToString().c_str());
    return;
  }
  (void)connection_->PublishRaw(ack_subject, "+TERM");
}

void Feed::End(State how) {
  std::vector<std::string> held;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kClosed || (state_ == State::kGone && how == State::kGone)) return;
    state_ = how;
    absl::Time now = absl::Now();
    for (const auto& [ack_subject, until] : held_) {
      if (until > now) held.push_back(ack_subject);
    }
    held_.clear();
    for (const NatsMsgPtr& msg : queue_) {
      const char* reply = natsMsg_GetReply(msg.get());
      if (group_ && reply != nullptr && absl::StartsWith(reply, kAckPrefix)) held.push_back(reply);
    }
    queue_.clear();
    queued_bytes_ = 0;
  }
  // Held deliveries go back to the group at once (acknowledged ones ignore
  // the -NAK); failing that, JetStream redelivers them after their deadline.
  for (const std::string& ack_subject : held) (void)connection_->PublishRaw(ack_subject, "-NAK");
  if (how == State::kGone) return;  // closing the connection ends the subscriptions
  absl::MutexLock lock(&subs_mu_);
  for (natsSubscription* sub : subs_) natsSubscription_Unsubscribe(sub);
}

// The Subscription handed out: owns the NATS subscriptions through the Feed
// and keeps the connection alive while it exists.
class NatsSubscription final : public Subscription {
 public:
  NatsSubscription(std::shared_ptr<NatsConnection> connection, std::shared_ptr<Feed> feed,
                   NatsConnection::Bounds bounds)
      : connection_(std::move(connection)), feed_(std::move(feed)), bounds_(bounds) {}
  ~NatsSubscription() override {
    feed_->Close();
    feed_->Release();
  }

  uint64_t last_sequence() const override { return bounds_.last; }
  uint64_t first_sequence() const override { return bounds_.first; }
  absl::StatusOr<std::vector<Delivery>> Next(size_t max, absl::Time deadline) override {
    return feed_->Next(max, deadline);
  }
  void Close() override { feed_->Close(); }

  Feed& feed() { return *feed_; }
  // Registers with the connection once every NATS subscription is in place
  // (and known to the server).
  absl::Status GoLive() {
    natsStatus s = natsConnection_FlushTimeout(connection_->nc(),
                                               Millis(connection_->options().request_timeout));
    if (s != NATS_OK) return NatsError("subscribing", s);
    connection_->Register(feed_);
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<NatsConnection> connection_;
  const std::shared_ptr<Feed> feed_;
  const NatsConnection::Bounds bounds_;
};

absl::Status CoreSubscribe(natsSubscription** sub, NatsConnection& connection,
                           const std::string& subject, const std::string& queue, void* closure) {
  natsStatus s =
      queue.empty()
          ? natsConnection_Subscribe(sub, connection.nc(), subject.c_str(), &Feed::OnMessage,
                                     closure)
          : natsConnection_QueueSubscribe(sub, connection.nc(), subject.c_str(), queue.c_str(),
                                          &Feed::OnMessage, closure);
  if (s != NATS_OK) return NatsError(absl::StrCat("subscribing to ", subject), s);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subscription>> SubscribeEphemeral(
    std::shared_ptr<NatsConnection> connection, const SubscribeSpec& spec,
    NatsConnection::Bounds bounds) {
  NatsConnection& c = *connection;
  absl::Time not_before = spec.start.kind == StartPosition::Kind::kTime ? spec.start.time
                                                                        : absl::InfinitePast();
  auto subscription = std::make_unique<NatsSubscription>(
      std::move(connection), std::make_shared<Feed>(&c, std::nullopt, not_before), bounds);
  std::string filter = c.MsgSubject(spec.pattern);
  absl::Status s = subscription->feed().Add([&](natsSubscription** sub, void* closure) {
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = c.options().stream_name.c_str();
    options.Ordered = true;
    ApplyStart(spec.start, bounds.last, &options.Config);
    jsErrCode js_error{};
    natsStatus st = js_Subscribe(sub, c.js(), filter.c_str(), &Feed::OnMessage, closure, nullptr,
                                 &options, &js_error);
    if (st != NATS_OK) {
      return NatsError(absl::StrCat("subscribing to '", spec.pattern, "'"), st, js_error);
    }
    return absl::OkStatus();
  });
  if (s.ok() && spec.accepts_requests) {
    s = subscription->feed().Add([&](natsSubscription** sub, void* closure) {
      return CoreSubscribe(sub, c, c.ReqSubject(spec.pattern), "", closure);
    });
  }
  if (s.ok()) s = subscription->GoLive();
  if (!s.ok()) return s;
  return subscription;
}

absl::StatusOr<std::unique_ptr<Subscription>> SubscribeGroup(
    std::shared_ptr<NatsConnection> connection, const SubscribeSpec& spec,
    GroupSettings settings, NatsConnection::Bounds bounds) {
  NatsConnection& c = *connection;
  natsInbox* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) {
    return NatsError("creating an inbox", s);
  }
  GroupPart group{spec.group, std::move(settings.options), absl::StrCat(inbox, "."),
                  absl::StrCat("$JS.API.CONSUMER.MSG.NEXT.", c.options().stream_name, ".",
                               spec.group)};
  natsInbox_Destroy(inbox);
  std::string pull_replies = absl::StrCat(group.reply_prefix, "*");
  auto subscription = std::make_unique<NatsSubscription>(
      std::move(connection), std::make_shared<Feed>(&c, std::move(group), settings.not_before),
      bounds);
  absl::Status s = subscription->feed().Add([&](natsSubscription** sub, void* closure) {
    return CoreSubscribe(sub, c, pull_replies, "", closure);
  });
  if (s.ok() && spec.accepts_requests) {
    // A queue group: one member gets each request.
    s = subscription->feed().Add([&](natsSubscription** sub, void* closure) {
      return CoreSubscribe(sub, c, c.ReqSubject(spec.pattern), spec.group, closure);
    });
  }
  if (s.ok()) s = subscription->GoLive();
  if (!s.ok()) return s;
  return subscription;
}

}  // namespace kei::bus::nats
