// The NATS connection the backend and its subscriptions share; see
// nats_connection.h.
#include "bus/nats/nats_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bus/nats/envelope_headers.h"
#include "bus/subject.h"

namespace kei::bus::nats {
namespace {

constexpr int kReconnectWaitMillis = 250;
constexpr int kCloseFlushMillis = 1000;
constexpr size_t kMaxStreamNameLength = 64;

int64_t Millis(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Milliseconds(d)); }

absl::Status ValidateOptions(const NatsBackendOptions& o) {
  if (o.url.empty()) return absl::InvalidArgumentError("NATS url is empty");
  if (auto s = ValidateTopic(o.subject_prefix); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("NATS subject_prefix: ", s.message()));
  }
  bool name_ok = !o.stream_name.empty() && o.stream_name.size() <= kMaxStreamNameLength;
  for (char c : o.stream_name) {
    name_ok = name_ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!name_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NATS stream_name '", o.stream_name, "' must be 1-64 characters of [A-Za-z0-9_-]"));
  }
  if (o.duplicate_window < absl::ZeroDuration() || o.max_age < absl::ZeroDuration() ||
      o.max_bytes < 0 || o.max_msgs < 0) {
    return absl::InvalidArgumentError("NATS stream limits must not be negative");
  }
  if (o.connect_timeout <= absl::ZeroDuration() || o.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("NATS timeouts must be positive");
  }
  return absl::OkStatus();
}

bool IsSubjectToken(absl::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    if (c <= ' ' || c >= 0x7F || c == '*' || c == '>') return false;
  }
  return true;
}

}  // namespace

absl::Status NatsError(absl::string_view what, natsStatus status, jsErrCode js_error,
                       const char* detail) {
  std::string text = absl::StrCat(what, ": ", natsStatus_GetText(status));
  if (detail == nullptr) detail = nats_GetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') {
    absl::StrAppend(&text, " (", detail, ")");
  }
  if (js_error != jsErrCode{}) {
    absl::StrAppend(&text, " [JetStream error ", js_error, "]");
    switch (js_error) {
      case JSStreamMessageExceedsMaximumErr:
        return absl::ResourceExhaustedError(text);
      case JSStreamNotFoundErr:
      case JSConsumerNotFoundErr:
        return absl::NotFoundError(text);
      default:
        return absl::FailedPreconditionError(text);
    }
  }
  switch (status) {
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_QUEUE_NAME:
      return absl::InvalidArgumentError(text);
    case NATS_MAX_PAYLOAD:
      return absl::ResourceExhaustedError(text);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(text);
    default:
      return absl::UnavailableError(text);
  }
}

std::optional<AckSubject> ParseAckSubject(absl::string_view subject) {
  if (!absl::ConsumePrefix(&subject, kAckPrefix)) return std::nullopt;
  std::vector<absl::string_view> tokens = absl::StrSplit(subject, '.');
  // <stream>.<consumer>.<delivered>.<sseq>.<cseq>.<nanos>.<pending>, or that
  // after <domain>.<account hash> (and with a random token at the end).
  size_t base = tokens.size() == 7 ? 0 : 2;
  if (tokens.size() != 7 && tokens.size() < 9) return std::nullopt;
  for (absl::string_view token : tokens) {
    if (!IsSubjectToken(token)) return std::nullopt;
  }
  AckSubject ack;
  ack.stream = std::string(tokens[base]);
  ack.consumer = std::string(tokens[base + 1]);
  if (!absl::SimpleAtoi(tokens[base + 2], &ack.delivered) ||
      !absl::SimpleAtoi(tokens[base + 3], &ack.stream_sequence) ||
      !absl::SimpleAtoi(tokens[base + 4], &ack.consumer_sequence) ||
      !absl::SimpleAtoi(tokens[base + 5], &ack.timestamp_nanos)) {
    return std::nullopt;
  }
  return ack;
}

void ApplyStart(const StartPosition& start, uint64_t last_sequence, jsConsumerConfig* config) {
  switch (start.kind) {
    case StartPosition::Kind::kNew:
      config->DeliverPolicy = js_DeliverByStartSequence;
      config->OptStartSeq = last_sequence + 1;
      break;
    case StartPosition::Kind::kAll:
      config->DeliverPolicy = js_DeliverAll;
      break;
    case StartPosition::Kind::kSequence:
      config->DeliverPolicy = js_DeliverByStartSequence;
      config->OptStartSeq = std::max<uint64_t>(start.sequence, 1);
      break;
    case StartPosition::Kind::kTime: {
      constexpr int64_t kSecond = 1000000000;
      int64_t nanos = std::max<int64_t>(absl::ToUnixNanos(start.time), 0);
      if (nanos % kSecond < kSecond / 10) nanos -= nanos % kSecond;
      config->DeliverPolicy = js_DeliverByStartTime;
      config->OptStartTime = std::max<int64_t>(nanos, 1);  // <= 0 would be left out
      break;
    }
  }
}

NatsConnection::NatsConnection(NatsBackendOptions options, natsConnection* nc, jsCtx* js)
    : options_(std::move(options)),
      msg_prefix_(absl::StrCat(options_.subject_prefix, ".msg.")),
      req_prefix_(absl::StrCat(options_.subject_prefix, ".req.")),
      nc_(nc),
      js_(js) {}

NatsConnection::~NatsConnection() {
  jsCtx_Destroy(js_);
  natsConnection_Destroy(nc_);
}

absl::StatusOr<std::shared_ptr<NatsConnection>> NatsConnection::Open(NatsBackendOptions options) {
  if (auto s = ValidateOptions(options); !s.ok()) return s;
  // The library's global state is set up once per process and never torn
  // down (other connections may still use it).
  static const natsStatus opened = nats_Open(-1);
  if (opened != NATS_OK) return NatsError("initializing the NATS library", opened);

  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return NatsError("creating NATS options", s);
  std::unique_ptr<natsOptions, decltype(&natsOptions_Destroy)> opts(raw, &natsOptions_Destroy);
  s = natsOptions_SetURL(opts.get(), options.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), Millis(options.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetName(opts.get(), "kei-bus");
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);  // forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), kReconnectWaitMillis);
  // One shared delivery thread pool instead of a thread per subscription.
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts.get(), true);
  // Requests in flight fail at once on a disconnect instead of timing out.
  if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(opts.get(), true);
  if (s != NATS_OK) return NatsError("configuring the NATS connection", s);

  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, opts.get());
  if (s != NATS_OK) return NatsError(absl::StrCat("connecting to ", options.url), s);
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = Millis(options.request_timeout);
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, nc, &js_options);
  if (s != NATS_OK) {
    natsConnection_Destroy(nc);
    return NatsError("creating the JetStream context", s);
  }
  std::shared_ptr<NatsConnection> connection(new NatsConnection(std::move(options), nc, js));
  if (auto status = connection->EnsureStream(); !status.ok()) return status;
  return connection;
}

absl::Status NatsConnection::EnsureStream() {
  std::string subject = MsgSubject(">");
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = options_.stream_name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = options_.storage == NatsBackendOptions::Storage::kMemory ? js_MemoryStorage
                                                                            : js_FileStorage;
  config.Duplicates = absl::ToInt64Nanoseconds(options_.duplicate_window);
  config.MaxAge = absl::ToInt64Nanoseconds(options_.max_age);
  config.MaxBytes = options_.max_bytes > 0 ? options_.max_bytes : -1;
  config.MaxMsgs = options_.max_msgs > 0 ? options_.max_msgs : -1;
  jsErrCode js_error{};
  natsStatus s = js_AddStream(nullptr, js_, &config, nullptr, &js_error);
  if (s != NATS_OK && js_error == JSStreamNameExistErr) {
    js_error = jsErrCode{};
    s = js_UpdateStream(nullptr, js_, &config, nullptr, &js_error);
  }
  if (s == NATS_NO_RESPONDERS || js_error == JSNotEnabledErr ||
      js_error == JSNotEnabledForAccountErr) {
    return absl::UnavailableError(
        absl::StrCat("JetStream is not enabled on the NATS server at ", options_.url));
  }
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("creating or updating stream ", options_.stream_name), s,
                     js_error);
  }
  return absl::OkStatus();
}

std::string NatsConnection::MsgSubject(absl::string_view topic) const {
  return absl::StrCat(msg_prefix_, topic);
}

std::string NatsConnection::ReqSubject(absl::string_view topic) const {
  return absl::StrCat(req_prefix_, topic);
}

std::string NatsConnection::TopicOfMsg(absl::string_view subject) const {
  return absl::ConsumePrefix(&subject, msg_prefix_) ? std::string(subject) : "";
}

std::string NatsConnection::TopicOfReq(absl::string_view subject) const {
  return absl::ConsumePrefix(&subject, req_prefix_) ? std::string(subject) : "";
}

absl::StatusOr<PublishResult> NatsConnection::PublishStored(absl::string_view topic,
                                                            const v1::Envelope& envelope,
                                                            const std::string& msg_id) {
  auto msg = EncodeEnvelope(MsgSubject(topic), "", envelope);
  if (!msg.ok()) return msg.status();
  jsPubOptions publish;
  jsPubOptions_Init(&publish);
  publish.MsgId = msg_id.c_str();
  publish.ExpectStream = options_.stream_name.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode js_error{};
  natsStatus s = js_PublishMsg(&ack, js_, msg->get(), &publish, &js_error);
  if (s != NATS_OK) return NatsError(absl::StrCat("publishing to '", topic, "'"), s, js_error);
  PublishResult result{envelope.id(), ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return result;
}

namespace {

// A pipelined batch: which message is at which position, and the outcomes the
// JetStream acknowledgement handler fills in.
struct Batch {
  absl::Mutex mu;
  absl::flat_hash_map<natsMsg*, size_t> positions ABSL_GUARDED_BY(mu);
  std::vector<absl::StatusOr<PublishResult>> results ABSL_GUARDED_BY(mu);
  const std::vector<NatsConnection::OutgoingMessage>* messages;
};

void OnBatchAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* batch = static_cast<Batch*>(closure);
  {
    absl::MutexLock lock(&batch->mu);
    auto it = batch->positions.find(msg);
    if (it != batch->positions.end()) {
      size_t i = it->second;
      batch->positions.erase(it);
      const auto& [topic, envelope] = (*batch->messages)[i];
      if (ack != nullptr) {
        batch->results[i] = PublishResult{envelope->id(), ack->Sequence, ack->Duplicate};
      } else {
        batch->results[i] = NatsError(absl::StrCat("publishing to '", topic, "'"), error->Err,
                                      error->ErrCode, error->ErrText);
      }
    }
  }
  natsMsg_Destroy(msg);
}

}  // namespace

std::vector<absl::StatusOr<PublishResult>> NatsConnection::PublishStoredBatch(
    const std::vector<OutgoingMessage>& messages) {
  if (messages.size() <= 1) {
    std::vector<absl::StatusOr<PublishResult>> results;
    for (const auto& [topic, envelope] : messages) {
      results.push_back(PublishStored(topic, *envelope, envelope->id()));
    }
    return results;
  }
  Batch batch;
  batch.messages = &messages;
  batch.results.assign(messages.size(),
                       absl::UnavailableError("no acknowledgement from JetStream in time"));
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = Millis(options_.request_timeout);
  options.PublishAsync.MaxPending = static_cast<int64_t>(messages.size());
  options.PublishAsync.AckHandler = &OnBatchAck;
  options.PublishAsync.AckHandlerClosure = &batch;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, nc_, &options); s != NATS_OK) {
    return std::vector<absl::StatusOr<PublishResult>>(
        messages.size(), NatsError("creating a JetStream context", s));
  }
  jsPubOptions publish;
  jsPubOptions_Init(&publish);
  publish.ExpectStream = options_.stream_name.c_str();
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& [topic, envelope] = messages[i];
    auto msg = EncodeEnvelope(MsgSubject(topic), "", *envelope);
    if (!msg.ok()) {
      absl::MutexLock lock(&batch.mu);
      batch.results[i] = msg.status();
      continue;
    }
    natsMsg* raw = msg->release();
    {
      absl::MutexLock lock(&batch.mu);
      batch.positions[raw] = i;
    }
    publish.MsgId = envelope->id().c_str();
    natsMsg* sent = raw;
    if (natsStatus s = js_PublishMsgAsync(js, &sent, &publish); s != NATS_OK) {
      absl::MutexLock lock(&batch.mu);
      batch.positions.erase(raw);
      batch.results[i] = NatsError(absl::StrCat("publishing to '", topic, "'"), s);
      natsMsg_Destroy(sent);
    }
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = Millis(options_.request_timeout);
  if (js_PublishAsyncComplete(js, &wait) != NATS_OK) {
    // Give up on what is still unacknowledged (it stays "no acknowledgement"),
    // then wait for acknowledgement handlers already running to return.
    natsMsgList left;
    if (js_PublishAsyncGetPendingList(&left, js) == NATS_OK) natsMsgList_Destroy(&left);
    js_PublishAsyncComplete(js, &wait);
  }
  jsCtx_Destroy(js);
  absl::MutexLock lock(&batch.mu);
  return std::move(batch.results);
}

absl::Status NatsConnection::PublishRaw(const std::string& subject, absl::string_view data,
                                        const std::string& reply) {
  int size = static_cast<int>(data.size());
  natsStatus s =
      reply.empty()
          ? natsConnection_Publish(nc_, subject.c_str(), data.data(), size)
          : natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(), data.data(), size);
  if (s != NATS_OK) return NatsError(absl::StrCat("publishing to ", subject), s);
  return absl::OkStatus();
}

absl::StatusOr<NatsConnection::Bounds> NatsConnection::StreamBounds() {
  jsStreamInfo* info = nullptr;
  jsErrCode js_error{};
  natsStatus s =
      js_GetStreamInfo(&info, js_, options_.stream_name.c_str(), nullptr, &js_error);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("reading stream ", options_.stream_name), s, js_error);
  }
  Bounds bounds{info->State.FirstSeq, info->State.LastSeq};
  if (bounds.first == 0) bounds.first = bounds.last + 1;
  jsStreamInfo_Destroy(info);
  return bounds;
}

uint64_t NatsConnection::reconnects() const {
  natsStatistics* stats = nullptr;
  uint64_t reconnects = 0;
  if (natsStatistics_Create(&stats) == NATS_OK && natsConnection_GetStats(nc_, stats) == NATS_OK) {
    natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects);
  }
  natsStatistics_Destroy(stats);
  return reconnects;
}

void NatsConnection::RememberGroup(const std::string& group, const GroupOptions& options) {
  absl::MutexLock lock(&mu_);
  groups_[group] = options;
}

std::optional<GroupOptions> NatsConnection::KnownGroup(const std::string& group) const {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

void NatsConnection::Register(std::weak_ptr<Closable> subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(std::remove_if(subscriptions_.begin(), subscriptions_.end(),
                                      [](const std::weak_ptr<Closable>& s) { return s.expired(); }),
                       subscriptions_.end());
  subscriptions_.push_back(std::move(subscription));
}

void NatsConnection::Close() {
  std::vector<std::weak_ptr<Closable>> subscriptions;
  {
    absl::MutexLock lock(&mu_);
    subscriptions.swap(subscriptions_);
  }
  for (const auto& weak : subscriptions) {
    if (auto subscription = weak.lock()) subscription->Shutdown();
  }
  natsConnection_FlushTimeout(nc_, kCloseFlushMillis);
  natsConnection_Close(nc_);
}

}  // namespace kei::bus::nats
