// Reading bus messages as bytes (bus/wire_scan.h) and writing deliveries as
// bytes (bus/delivery_writer.h): a scan accepts exactly the envelopes a
// protobuf parser accepts (and finds the same id), batches split into the
// same requests, and written deliveries are byte for byte what the generated
// serializer writes.
#include <random>
#include <string>

#include "absl/strings/escaping.h"

#include "bus/bus_service.h"
#include "bus/delivery_writer.h"
#include "bus/wire_scan.h"
#include "cc/codec/proto_time.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"

namespace kei::bus {
namespace {

v1::Envelope FullEnvelope() {
  v1::Envelope e;
  e.set_id("0b4e28ba-2fa1-4d3b-8a5e-3c1f0b9e7d42");
  e.set_source("kei://agent/test");
  e.set_type("kei.test.event");
  e.set_subject("subject");
  TimeToProto(absl::FromUnixSeconds(1764000000) + absl::Nanoseconds(5), e.mutable_time());
  e.set_datacontenttype("application/octet-stream");
  e.set_dataschema("schema");
  e.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  e.set_tracestate("k=v");
  e.set_binary_data(std::string("\x00\xff\xfe bytes", 9));
  // One entry: a map's serialized order is not fixed.
  (*e.mutable_extensions())["ext"] = "välue";
  return e;
}

TEST(WireScanTest, FindsTheIdAndTimeOfWhatAParserAccepts) {
  v1::Envelope e = FullEnvelope();
  const std::string bytes = e.SerializeAsString();
  auto scan = ScanEnvelope(bytes);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->id, e.id());
  EXPECT_TRUE(scan->has_time);

  v1::Envelope any = FullEnvelope();
  any.mutable_proto_data()->set_type_url("type.googleapis.com/kei.test.v1.X");
  any.mutable_proto_data()->set_value(std::string("\xff\x00", 2));
  ASSERT_TRUE(ScanEnvelope(any.SerializeAsString()).ok());

  scan = ScanEnvelope("");
  ASSERT_TRUE(scan.ok());
  EXPECT_TRUE(scan->id.empty());
  EXPECT_FALSE(scan->has_time);

  // Unknown fields of every wire type are skipped, as a parser keeps them.
  std::string unknown = e.SerializeAsString();
  unknown += std::string("\xa8\x06\x2a", 3);                       // 101: varint
  unknown += std::string("\xb1\x06\x01\x02\x03\x04\x05\x06\x07\x08", 10);  // 102: fixed64
  unknown += std::string("\xbd\x06\x01\x02\x03\x04", 6);            // 103: fixed32
  unknown += std::string("\xc2\x06\x02\xff\xff", 5);                // 104: bytes, not UTF-8
  unknown += std::string("\x08\x07", 2);                            // id as a varint: unknown
  v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(unknown));
  scan = ScanEnvelope(unknown);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->id, parsed.id());
}

TEST(WireScanTest, RefusesWhatAParserRefuses) {
  const std::string good = FullEnvelope().SerializeAsString();
  auto refused = [](const std::string& bytes) {
    v1::Envelope parsed;
    EXPECT_FALSE(parsed.ParseFromString(bytes)) << "a parser accepts it";
    auto scan = ScanEnvelope(bytes);
    return !scan.ok() && scan.status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused(good.substr(0, good.size() - 1)));  // truncated
  EXPECT_TRUE(refused(good + "\x0a\x05" "abc"));          // length past the end
  EXPECT_TRUE(refused(good + "\x08"));                    // a varint cut short
  EXPECT_TRUE(refused(good + std::string(11, '\xff')));   // a varint too long
  // Tags and lengths are read in at most five bytes, even when the extra
  // bytes are only padding.
  EXPECT_TRUE(refused(std::string("\x0a\x81\x80\x80\x80\x80\x00\x78", 8)));  // length
  EXPECT_TRUE(refused(std::string("\x8a\x80\x80\x80\x80\x00\x01\x78", 8)));  // tag
  {
    // Padded to exactly five bytes, both are still fine.
    const std::string padded("\x8a\x80\x80\x80\x00\x81\x80\x80\x80\x00\x78", 11);
    v1::Envelope parsed;
    ASSERT_TRUE(parsed.ParseFromString(padded));
    auto scan = ScanEnvelope(padded);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_EQ(scan->id, "x");
  }
  EXPECT_TRUE(refused(std::string("\x12\x02\xc3\x28", 4)));  // source: not UTF-8
  v1::Envelope map_value;
  (*map_value.mutable_extensions())["k"] = "v";
  std::string bad_map = map_value.SerializeAsString();
  bad_map[bad_map.size() - 1] = '\xff';  // the value's only byte
  EXPECT_TRUE(refused(bad_map));
  v1::Envelope any;
  any.mutable_proto_data()->set_type_url("t");
  std::string bad_any = any.SerializeAsString();
  bad_any[bad_any.size() - 1] = '\xff';
  EXPECT_TRUE(refused(bad_any));
  // Groups (deprecated) are refused; a parser would accept a matched one, so
  // only the scan is asked.
  EXPECT_FALSE(ScanEnvelope(good + "\xab\x06\xac\x06").ok());
}

// Random corruptions of valid envelopes (a fixed seed, a bounded count):
// whatever the scan accepts, the parser accepts, with the same id.
TEST(WireScanTest, AcceptsNothingTheParserRefusesOnRandomCorruptions) {
  v1::Envelope any = FullEnvelope();
  any.mutable_proto_data()->set_type_url("type.googleapis.com/x");
  const std::string seeds[] = {FullEnvelope().SerializeAsString(), any.SerializeAsString()};
  std::mt19937 random(20261130);
  google::protobuf::LogSilencer quiet;  // the parser logs every bad UTF-8 string
  int accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = seeds[i % 2];
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0: bytes[at] = static_cast<char>(random()); break;               // replace
        case 1: bytes.insert(at, 1, static_cast<char>(random())); break;      // insert
        case 2: bytes.erase(at, 1); break;                                    // delete
        default: bytes.resize(at); break;                                     // truncate
      }
      if (bytes.empty()) bytes = seeds[0];
    }
    auto scan = ScanEnvelope(bytes);
    v1::Envelope parsed;
    const bool parses = parsed.ParseFromString(bytes);
    if (scan.ok()) {
      ++accepted;
      ASSERT_TRUE(parses) << "scan accepted what the parser refuses: "
                          << absl::BytesToHexString(bytes);
      ASSERT_EQ(scan->id, parsed.id());
      ASSERT_EQ(scan->has_time, parsed.has_time());
    } else {
      ++refused;
    }
  }
  // Both outcomes were exercised.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

TEST(WireScanTest, DefaultsAppendedParseAsSet) {
  v1::Envelope e = FullEnvelope();
  e.clear_id();
  e.clear_time();
  std::string bytes = e.SerializeAsString();
  const absl::Time now = absl::FromUnixMillis(1764000000123);
  const size_t offset = AppendEnvelopeDefaults("new-id", now, &bytes);
  EXPECT_EQ(bytes.substr(offset, 6), "new-id");
  v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.id(), "new-id");
  EXPECT_EQ(TimeFromProto(parsed.time()), now);
  EXPECT_EQ(parsed.binary_data(), e.binary_data());
  auto scan = ScanEnvelope(bytes);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->id, "new-id");
  EXPECT_TRUE(scan->has_time);
}

TEST(WireScanTest, SplitsABatchIntoItsRequests) {
  v1::PublishBatchRequest batch;
  for (int i = 0; i < 3; ++i) {
    v1::PublishRequest* m = batch.add_messages();
    m->set_topic("t." + std::to_string(i));
    *m->mutable_envelope() = FullEnvelope();
    m->mutable_envelope()->set_id("id-" + std::to_string(i));
  }
  const std::string bytes = batch.SerializeAsString();
  auto split = SplitPublishBatch(bytes, 1000);
  ASSERT_TRUE(split.ok()) << split.status();
  ASSERT_EQ(split->messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(split->messages[i].topic, batch.messages(i).topic());
    EXPECT_EQ(split->messages[i].envelope, batch.messages(i).envelope().SerializeAsString());
  }
  EXPECT_EQ(SplitPublishBatch(bytes, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SplitPublishBatch(bytes.substr(0, bytes.size() - 1), 1000).ok());
  auto empty = SplitPublishBatch("", 1000);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->messages.empty());
}

TEST(WireScanTest, AnEnvelopeInPiecesIsTheirMerge) {
  // PublishRequest{topic: "t", envelope: {id: "a", source: "s"}, envelope: {id: "b"}}
  v1::Envelope first;
  first.set_id("a");
  first.set_source("s");
  v1::Envelope second;
  second.set_id("b");
  v1::PublishRequest request;
  request.set_topic("t");
  std::string bytes = request.SerializeAsString();
  for (const v1::Envelope* piece : {&first, &second}) {
    const std::string p = piece->SerializeAsString();
    bytes += '\x12';
    bytes += static_cast<char>(p.size());
    bytes += p;
  }
  v1::PublishBatchRequest parsed_batch;
  const std::string batch = '\x0a' + std::string(1, static_cast<char>(bytes.size())) + bytes;
  ASSERT_TRUE(parsed_batch.ParseFromString(batch));
  auto split = SplitPublishBatch(batch, 1000);
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->messages.size(), 1u);
  v1::Envelope merged;
  ASSERT_TRUE(merged.ParseFromArray(split->messages[0].envelope.data(),
                                    static_cast<int>(split->messages[0].envelope.size())));
  EXPECT_EQ(merged.SerializeAsString(), parsed_batch.messages(0).envelope().SerializeAsString());
  EXPECT_EQ(merged.id(), "b");
  EXPECT_EQ(merged.source(), "s");

  // Pieces that parse only when put together do not parse.
  const std::string bad_pieces("\x0a\x0a\x12\x01\x0a\x12\x04\x03" "abc", 12);
  ASSERT_FALSE(parsed_batch.ParseFromString(bad_pieces));
  EXPECT_FALSE(SplitPublishBatch(bad_pieces, 1000).ok());
}

// What DeliveryToProto and the generated serializer would send.
std::string Expected(const Delivery& d) {
  v1::SubscribeResponse response;
  DeliveryToProto(d, response.add_deliveries());
  return response.SerializeAsString();
}

TEST(DeliveryWriterTest, WritesWhatTheGeneratedSerializerWrites) {
  const std::string envelope = FullEnvelope().SerializeAsString();
  auto id = ScanEnvelope(envelope)->id;
  auto serialized = NewSerializedMessage(envelope, id.data() - envelope.data(), id.size());
  serialized->topic = "agent.a.events";
  serialized->sequence = 300;
  serialized->publish_time = absl::FromUnixNanos(1764000000123456789);
  auto parsed = NewMessage();
  parsed->mutable_envelope() = FullEnvelope();
  parsed->topic = "t";
  parsed->sequence = 1;
  parsed->reply_to = "_INBOX.x";
  // publish_time left at the epoch: an empty Timestamp, still present.
  const Delivery deliveries[] = {
      {serialized, "", 1},
      {serialized, "g:300:2", 2},
      {parsed, "", 1},
      {parsed, "ack", 0},
  };
  std::string all, expected_all;
  for (const Delivery& d : deliveries) {
    std::string one;
    const size_t appended = AppendDelivery(d, &one);
    EXPECT_EQ(appended, one.size());
    EXPECT_EQ(one, Expected(d));
    AppendDelivery(d, &all);
    expected_all += Expected(d);
  }
  EXPECT_EQ(all, expected_all);
  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(all));
  ASSERT_EQ(response.deliveries_size(), 4);
  EXPECT_EQ(response.deliveries(1).ack_id(), "g:300:2");
  EXPECT_EQ(response.deliveries(1).envelope().SerializeAsString(), envelope);
}

}  // namespace
}  // namespace kei::bus
