// Differential tests of kei::JsonCodec's native proto3 JSON (cc/codec/
// json_writer.cc, json_reader.cc) against protobuf 3.21's own JSON mapping:
// for every option combination over a randomized corpus, output byte-identical
// to protobuf's, except that maps come out sorted by key where protobuf
// follows its hash order (messages holding a map with two or more entries are
// compared as JSON values, and must be a reordering of protobuf's bytes);
// deterministic output; round trips of protobuf's output; and agreement on a
// list of hand-written edge and malformed inputs.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cc/codec/json_codec.h"
#include "cc/codec/json_reader.h"
#include "cc/codec/json_writer.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kei/agent/v1/agent.pb.h"
#include "kei/test/v1/echo.pb.h"
#include "kei/test/v1/json_types.pb.h"
#include "nlohmann/json.hpp"

namespace kei {
namespace {

namespace gp = google::protobuf;
using gp::FieldDescriptor;
using gp::Message;
using gp::Reflection;
using test::v1::JsonTypes;

// ---- Random values, edge cases weighted in ----------------------------------------------

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  bool Chance(int percent) { return Int(0, 99) < percent; }
  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  int64_t I64() {
    static const int64_t kEdges[] = {0, 1, -1, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max(), 9007199254740993LL,
                                     -9007199254740993LL, 1000000};
    if (Chance(40)) return kEdges[Int(0, 7)];
    return static_cast<int64_t>(rng_()) << 32 ^ rng_();
  }
  int32_t I32() {
    static const int32_t kEdges[] = {0, 1, -1, std::numeric_limits<int32_t>::min(),
                                     std::numeric_limits<int32_t>::max(), 100};
    if (Chance(40)) return kEdges[Int(0, 5)];
    return static_cast<int32_t>(rng_());
  }
  uint64_t U64() {
    if (Chance(30)) return Chance(50) ? 0 : std::numeric_limits<uint64_t>::max();
    return static_cast<uint64_t>(rng_()) << 32 ^ rng_();
  }
  uint32_t U32() {
    if (Chance(30)) return Chance(50) ? 0 : std::numeric_limits<uint32_t>::max();
    return static_cast<uint32_t>(rng_());
  }
  double Double() {
    static const double kEdges[] = {0.0,
                                    -0.0,
                                    1.0,
                                    0.1,
                                    -2.5,
                                    1e308,
                                    -1e308,
                                    DBL_MAX,
                                    DBL_MIN,
                                    5e-324,
                                    2.2250738585072009e-308,
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::quiet_NaN(),
                                    1e21,
                                    1e-7,
                                    123456789012345678.0,
                                    9007199254740993.0,
                                    0.30000000000000004};
    if (Chance(50)) return kEdges[Int(0, 18)];
    uint64_t bits = static_cast<uint64_t>(rng_()) << 32 ^ rng_();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isnan(d)) return 1.5;
    if (Chance(50)) return std::ldexp(static_cast<double>(rng_()), static_cast<int>(Int(-60, 60)));
    return d;
  }
  float Float() {
    static const float kEdges[] = {0.0f, -0.0f, 1.0f, 0.1f, 3.4e38f, FLT_MAX, -FLT_MAX,
                                   FLT_MIN, 1e-45f, 16777217.0f, 1.1f,
                                   std::numeric_limits<float>::infinity(),
                                   std::numeric_limits<float>::quiet_NaN()};
    if (Chance(50)) return kEdges[Int(0, 12)];
    uint32_t bits = rng_();
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    if (std::isnan(f)) return 2.5f;
    return f;
  }
  // Valid UTF-8, with escapes, controls, HTML characters, BMP and astral code
  // points and the code points protobuf escapes.
  std::string String() {
    static const uint32_t kSpecial[] = {0,      1,      8,      9,      10,     12,    13,
                                        0x1f,   '"',    '\\',   '/',    '<',    '>',   '&',
                                        '=',    '\'',   0x7f,   0x80,   0x85,   0x9f,  0xa0,
                                        0xad,   0xe9,   0x600,  0x6dd,  0x70f,  0x17b4, 0x200b,
                                        0x200f, 0x2028, 0x202e, 0x2060, 0x206f, 0xfeff, 0xfff9,
                                        0xfffd, 0xffff, 0x10000, 0x110bd, 0x1d173, 0x1f600,
                                        0xe0001, 0xe0020, 0xe007f, 0x10ffff, 0x4e2d, 0x7ff, 0x800};
    if (Chance(10)) return "";
    int len = Chance(3) ? static_cast<int>(Int(1000, 5000)) : static_cast<int>(Int(1, 20));
    std::string s;
    for (int i = 0; i < len; ++i) {
      uint32_t cp;
      if (Chance(70)) {
        cp = static_cast<uint32_t>(Int(0x20, 0x7e));
      } else if (Chance(60)) {
        cp = kSpecial[Int(0, sizeof(kSpecial) / sizeof(kSpecial[0]) - 1)];
      } else {
        do cp = static_cast<uint32_t>(Int(0x80, 0x10ffff));
        while (cp >= 0xd800 && cp <= 0xdfff);
      }
      AppendUtf8(cp, &s);
    }
    return s;
  }
  std::string Bytes() {
    std::string s(static_cast<size_t>(Chance(5) ? Int(100, 2000) : Int(0, 10)), '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }
  std::string Key() {
    if (Chance(20)) return String();
    static const char* kKeys[] = {"a", "b", "key", "", "with space", "ünï", "x.y", "0"};
    return kKeys[Int(0, 7)];
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  std::mt19937 rng_;
};

bool IsWkt(const gp::Descriptor* d, const char* name) { return d->full_name() == name; }

void FillValue(Gen& g, Message* value, int depth);

void FillStruct(Gen& g, Message* s, int depth) {
  auto* st = static_cast<gp::Struct*>(s);
  int n = static_cast<int>(g.Int(0, depth > 2 ? 1 : 4));
  for (int i = 0; i < n; ++i) FillValue(g, &(*st->mutable_fields())[g.Key()], depth + 1);
}

void FillValue(Gen& g, Message* m, int depth) {
  auto* v = static_cast<gp::Value*>(m);
  switch (g.Int(0, depth > 2 ? 3 : 5)) {
    case 0: v->set_null_value(gp::NULL_VALUE); break;
    case 1: {
      double d = g.Double();
      v->set_number_value(std::isfinite(d) ? d : 0.5);
      break;
    }
    case 2: v->set_string_value(g.String()); break;
    case 3: v->set_bool_value(g.Chance(50)); break;
    case 4: FillStruct(g, v->mutable_struct_value(), depth + 1); break;
    case 5: {
      int n = static_cast<int>(g.Int(0, 3));
      gp::ListValue* list = v->mutable_list_value();
      for (int i = 0; i < n; ++i) FillValue(g, list->add_values(), depth + 1);
      break;
    }
  }
}

void FillMessage(Gen& g, Message* m, int depth);

void FillSingle(Gen& g, Message* m, const FieldDescriptor* f, int depth) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      rep ? r->AddInt32(m, f, g.I32()) : r->SetInt32(m, f, g.I32());
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      rep ? r->AddInt64(m, f, g.I64()) : r->SetInt64(m, f, g.I64());
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      rep ? r->AddUInt32(m, f, g.U32()) : r->SetUInt32(m, f, g.U32());
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      rep ? r->AddUInt64(m, f, g.U64()) : r->SetUInt64(m, f, g.U64());
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      rep ? r->AddDouble(m, f, g.Double()) : r->SetDouble(m, f, g.Double());
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      rep ? r->AddFloat(m, f, g.Float()) : r->SetFloat(m, f, g.Float());
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      rep ? r->AddBool(m, f, g.Chance(50)) : r->SetBool(m, f, g.Chance(50));
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      int n;
      if (g.Chance(15)) {
        n = static_cast<int>(g.Int(-5, 100));  // maybe unknown
      } else {
        n = f->enum_type()->value(static_cast<int>(g.Int(0, f->enum_type()->value_count() - 1)))->number();
      }
      rep ? r->AddEnumValue(m, f, n) : r->SetEnumValue(m, f, n);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = f->type() == FieldDescriptor::TYPE_BYTES ? g.Bytes() : g.String();
      rep ? r->AddString(m, f, s) : r->SetString(m, f, s);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      FillMessage(g, sub, depth + 1);
      break;
    }
  }
}

void FillMessage(Gen& g, Message* m, int depth) {
  const gp::Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  if (IsWkt(d, "google.protobuf.Value")) return FillValue(g, m, depth);
  if (IsWkt(d, "google.protobuf.Struct")) return FillStruct(g, m, depth);
  if (IsWkt(d, "google.protobuf.Timestamp")) {
    auto* t = static_cast<gp::Timestamp*>(m);
    t->set_seconds(g.Chance(20) ? (g.Chance(50) ? -62135596800LL : 253402300799LL)
                                : g.Int(-62135596800LL, 253402300799LL));
    static const int kNanos[] = {0, 1, 500000000, 123000, 999999999, 10};
    t->set_nanos(g.Chance(50) ? kNanos[g.Int(0, 5)] : static_cast<int>(g.Int(0, 999999999)));
    return;
  }
  if (IsWkt(d, "google.protobuf.Duration")) {
    auto* t = static_cast<gp::Duration*>(m);
    int64_t s = g.Chance(20) ? (g.Chance(50) ? 315576000000LL : 0) : g.Int(0, 315576000000LL);
    int32_t n = g.Chance(50) ? 0 : static_cast<int32_t>(g.Int(0, 999999999));
    if (g.Chance(50)) {
      s = -s;
      n = -n;
    }
    t->set_seconds(s);
    t->set_nanos(n);
    return;
  }
  if (IsWkt(d, "google.protobuf.FieldMask")) {
    static const char* kPaths[] = {"a", "foo_bar", "foo.bar_baz", "x1", "a.b.c_d"};
    int n = static_cast<int>(g.Int(0, 3));
    for (int i = 0; i < n; ++i) static_cast<gp::FieldMask*>(m)->add_paths(kPaths[g.Int(0, 4)]);
    return;
  }
  if (IsWkt(d, "google.protobuf.ListValue")) {
    int n = static_cast<int>(g.Int(0, 3));
    for (int i = 0; i < n; ++i) FillValue(g, static_cast<gp::ListValue*>(m)->add_values(), depth + 1);
    return;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->containing_oneof() != nullptr && !f->containing_oneof()->is_synthetic()) continue;
    if (!g.Chance(depth == 0 ? 45 : 25)) continue;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth > 3) continue;
    if (f->is_map()) {
      int n = static_cast<int>(g.Int(0, 3));
      for (int k = 0; k < n; ++k) {
        Message* entry = r->AddMessage(m, f);
        FillSingle(g, entry, f->message_type()->map_key(), depth + 1);
        const FieldDescriptor* vf = f->message_type()->map_value();
        if (vf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          FillMessage(g, entry->GetReflection()->MutableMessage(entry, vf), depth + 1);
        } else {
          FillSingle(g, entry, vf, depth + 1);
        }
      }
    } else if (f->is_repeated()) {
      int n = static_cast<int>(g.Int(0, 3));
      for (int k = 0; k < n; ++k) FillSingle(g, m, f, depth);
    } else {
      FillSingle(g, m, f, depth);
      // Sometimes set a scalar back to its default (present for optional fields).
      if (g.Chance(10) && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) r->ClearField(m, f);
    }
  }
  for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
    if (!g.Chance(60)) continue;
    const gp::OneofDescriptor* o = d->oneof_decl(i);
    const FieldDescriptor* f = o->field(static_cast<int>(g.Int(0, o->field_count() - 1)));
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth > 3) continue;
    FillSingle(g, m, f, depth);
  }
}

// ---- Helpers -----------------------------------------------------------------------------

JsonCodecOptions Options(int bits) {
  JsonCodecOptions o;
  o.emit_defaults = bits & 1;
  o.use_proto_names = bits & 2;
  o.pretty = bits & 4;
  return o;
}

std::string ProtobufJson(const Message& m, const JsonCodecOptions& o, bool* ok) {
  gp::util::JsonPrintOptions p;
  p.always_print_primitive_fields = o.emit_defaults;
  p.preserve_proto_field_names = o.use_proto_names;
  p.add_whitespace = o.pretty;
  std::string out;
  *ok = gp::util::MessageToJsonString(m, &out, p).ok();
  return out;
}

bool SameMessage(const Message& a, const Message& b, std::string* report) {
  gp::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  gp::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  differencer.ReportDifferencesToString(report);
  return differencer.Compare(a, b);
}

// Where two outputs part, with a little context (full outputs can be huge).
std::string Diff(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t from = i > 60 ? i - 60 : 0;
  return "at " + std::to_string(i) + "\n ours:     " + a.substr(from, 120) +
         "\n protobuf: " + b.substr(from, 120);
}

struct Stats {
  int messages = 0, compared = 0, native_writes = 0, native_reads = 0, semantic = 0;
};

// Whether `m` holds, at any depth, a map field (google.protobuf.Struct's
// `fields` included) with two or more entries: the only place where the
// native writer's member order (sorted keys) and protobuf's (hash order) part.
bool HasMultiEntryMap(const Message& m) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_map() && r->FieldSize(m, f) >= 2) return true;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (HasMultiEntryMap(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (HasMultiEntryMap(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

using OrderedJson = nlohmann::ordered_json;

// The key text a map entry prints with.
std::string MapKeyText(const Message& entry) {
  const FieldDescriptor* f = entry.GetDescriptor()->map_key();
  const Reflection* r = entry.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: return r->GetString(entry, f);
    case FieldDescriptor::CPPTYPE_INT32: return std::to_string(r->GetInt32(entry, f));
    case FieldDescriptor::CPPTYPE_INT64: return std::to_string(r->GetInt64(entry, f));
    case FieldDescriptor::CPPTYPE_UINT32: return std::to_string(r->GetUInt32(entry, f));
    case FieldDescriptor::CPPTYPE_UINT64: return std::to_string(r->GetUInt64(entry, f));
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(entry, f) ? "true" : "false";
    default: return "?";
  }
}

// Strict "a before b" for map keys as printed: numeric for integers, false
// before true, bytewise for strings.
bool MapKeyLess(FieldDescriptor::CppType type, const std::string& a, const std::string& b) {
  switch (type) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: return std::stoll(a) < std::stoll(b);
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: return std::stoull(a) < std::stoull(b);
    case FieldDescriptor::CPPTYPE_BOOL: return a == "false" && b == "true";
    default: return a < b;  // std::string compares bytes as unsigned char
  }
}

// Calls visit(map_field, map_object) for every map in `j`, the JSON printed
// for `m` (at any depth, Struct included), innermost first. `visit` may
// reorder the members of the object it is given.
template <typename Visit>
void ForEachMap(const Message& m, OrderedJson& j, bool proto_names, const Visit& visit);

template <typename Visit>
void ForEachMapIn(const Message& m, const FieldDescriptor* f, OrderedJson& j, bool proto_names,
                  const Visit& visit) {
  ASSERT_TRUE(j.is_object()) << f->full_name();
  const FieldDescriptor* value_field = f->message_type()->map_value();
  if (value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Reflection* r = m.GetReflection();
    std::map<std::string, const Message*> values;  // last entry per key wins
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      const Message& entry = r->GetRepeatedMessage(m, f, i);
      values[MapKeyText(entry)] = &entry.GetReflection()->GetMessage(entry, value_field);
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      auto found = values.find(it.key());
      ASSERT_TRUE(found != values.end()) << f->full_name() << ": no entry for " << it.key();
      ASSERT_NO_FATAL_FAILURE(ForEachMap(*found->second, it.value(), proto_names, visit));
    }
  }
  ASSERT_NO_FATAL_FAILURE(visit(f, j));
}

template <typename Visit>
void ForEachMap(const Message& m, OrderedJson& j, bool proto_names, const Visit& visit) {
  const gp::Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  if (IsWkt(d, "google.protobuf.Struct")) {
    return ForEachMapIn(m, d->FindFieldByName("fields"), j, proto_names, visit);
  }
  if (IsWkt(d, "google.protobuf.Value")) {
    const auto& v = static_cast<const gp::Value&>(m);
    if (v.has_struct_value()) return ForEachMap(v.struct_value(), j, proto_names, visit);
    if (v.has_list_value()) return ForEachMap(v.list_value(), j, proto_names, visit);
    return;
  }
  if (IsWkt(d, "google.protobuf.ListValue")) {
    const auto& list = static_cast<const gp::ListValue&>(m);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), static_cast<size_t>(list.values_size()));
    for (int i = 0; i < list.values_size(); ++i) {
      ASSERT_NO_FATAL_FAILURE(ForEachMap(list.values(i), j[i], proto_names, visit));
    }
    return;
  }
  if (d->file()->package() == "google.protobuf" || !j.is_object()) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    auto member = j.find(proto_names ? f->name() : f->json_name());
    if (member == j.end()) continue;
    if (f->is_map()) {
      ASSERT_NO_FATAL_FAILURE(ForEachMapIn(m, f, *member, proto_names, visit));
    } else if (f->is_repeated()) {
      ASSERT_TRUE(member->is_array()) << f->full_name();
      ASSERT_EQ(member->size(), static_cast<size_t>(r->FieldSize(m, f))) << f->full_name();
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        ASSERT_NO_FATAL_FAILURE(
            ForEachMap(r->GetRepeatedMessage(m, f, k), (*member)[k], proto_names, visit));
      }
    } else {
      ASSERT_NO_FATAL_FAILURE(ForEachMap(r->GetMessage(m, f), *member, proto_names, visit));
    }
  }
}

// Every map in `json` (printed for `m`) lists its keys in strictly increasing
// order: numeric for integer keys, false before true, bytewise for strings.
void ExpectSortedMaps(const Message& m, const std::string& json, bool proto_names) {
  OrderedJson j = OrderedJson::parse(json, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON";
  ForEachMap(m, j, proto_names, [](const FieldDescriptor* f, OrderedJson& object) {
    const FieldDescriptor::CppType key_type = f->message_type()->map_key()->cpp_type();
    const std::string* previous = nullptr;
    for (auto it = object.begin(); it != object.end(); ++it) {
      if (previous != nullptr) {
        ASSERT_TRUE(MapKeyLess(key_type, *previous, it.key()))
            << f->full_name() << ": \"" << *previous << "\" before \"" << it.key() << "\"";
      }
      previous = &it.key();
    }
  });
}

// Byte-identical, or, with `semantic` (a map with 2+ entries somewhere in
// `m`): the same JSON value (nlohmann's object comparison ignores member
// order); the same member order as protobuf's once protobuf's maps are sorted
// by key (so field order is still checked); and a reordering of protobuf's
// bytes (so escaping and number spelling are too).
void ExpectSameJson(const std::string& ours, const std::string& expected, bool semantic,
                    const Message& m, bool proto_names) {
  if (!semantic) {
    ASSERT_TRUE(ours == expected) << "not byte-identical";
    return;
  }
  nlohmann::json a = nlohmann::json::parse(ours, nullptr, false);
  nlohmann::json b = nlohmann::json::parse(expected, nullptr, false);
  ASSERT_FALSE(a.is_discarded()) << "ours is not JSON";
  ASSERT_FALSE(b.is_discarded()) << "protobuf's is not JSON";
  ASSERT_TRUE(a == b) << "different JSON values";

  OrderedJson ordered_ours = OrderedJson::parse(ours);
  OrderedJson sorted_expected = OrderedJson::parse(expected);
  ASSERT_NO_FATAL_FAILURE(ForEachMap(
      m, sorted_expected, proto_names, [](const FieldDescriptor* f, OrderedJson& object) {
        const FieldDescriptor::CppType key_type = f->message_type()->map_key()->cpp_type();
        std::vector<std::pair<std::string, OrderedJson>> members;
        for (auto it = object.begin(); it != object.end(); ++it) {
          members.emplace_back(it.key(), std::move(it.value()));
        }
        std::stable_sort(members.begin(), members.end(), [&](const auto& x, const auto& y) {
          return MapKeyLess(key_type, x.first, y.first);
        });
        object = OrderedJson::object();
        for (auto& [key, value] : members) object.emplace(key, std::move(value));
      }));
  ASSERT_TRUE(ordered_ours == sorted_expected) << "members in another order";

  std::string sorted_ours = ours, sorted_bytes = expected;
  std::sort(sorted_ours.begin(), sorted_ours.end());
  std::sort(sorted_bytes.begin(), sorted_bytes.end());
  ASSERT_TRUE(sorted_ours == sorted_bytes) << "not a reordering of protobuf's bytes";
}

void CheckMessage(const Message& m, Stats* stats) {
  ++stats->messages;
  const bool semantic = HasMultiEntryMap(m);
  if (semantic) ++stats->semantic;
  for (int bits = 0; bits < 8; ++bits) {
    const JsonCodecOptions o = Options(bits);
    bool pb_ok;
    std::string expected = ProtobufJson(m, o, &pb_ok);
    std::string ours;
    absl::Status s = JsonCodec(o).Marshal(m, &ours);
    ASSERT_EQ(s.ok(), pb_ok) << s << "\n" << m.ShortDebugString().substr(0, 2000);
    if (!pb_ok) continue;
    ++stats->compared;
    ASSERT_NO_FATAL_FAILURE(ExpectSameJson(ours, expected, semantic, m, o.use_proto_names))
        << "options " << bits << " " << Diff(ours, expected);
    std::string again;
    ASSERT_TRUE(JsonCodec(o).Marshal(m, &again).ok());
    ASSERT_TRUE(again == ours) << "not deterministic: " << Diff(again, ours);

    std::string native;
    json_internal::JsonWriteOptions wo{o.emit_defaults, o.use_proto_names, o.pretty};
    if (json_internal::WriteJson(m, wo, &native)) {
      ++stats->native_writes;
      ASSERT_NO_FATAL_FAILURE(ExpectSameJson(native, expected, semantic, m, o.use_proto_names))
          << Diff(native, expected);
      ASSERT_TRUE(native == ours) << Diff(native, ours);
      ASSERT_NO_FATAL_FAILURE(ExpectSortedMaps(m, native, o.use_proto_names))
          << native.substr(0, 2000);
    } else if (getenv("JSON_DEBUG")) {
      std::printf("fallback: %s\n", m.ShortDebugString().substr(0, 300).c_str());
    }

    // (b) protobuf's output parses back to the same message.
    std::unique_ptr<Message> back(m.New());
    absl::Status ps = JsonCodec().Unmarshal(expected, back.get());
    ASSERT_TRUE(ps.ok()) << ps << "\n" << expected.substr(0, 2000);
    std::unique_ptr<Message> pb_back(m.New());
    ASSERT_TRUE(gp::util::JsonStringToMessage(expected, pb_back.get()).ok());
    std::string report;
    ASSERT_TRUE(SameMessage(*pb_back, *back, &report)) << report.substr(0, 3000);
    if (bits == 0) {
      std::unique_ptr<Message> direct(m.New());
      std::string error;
      if (json_internal::ReadJson(expected, {}, direct.get(), &error) ==
          json_internal::ReadResult::kOk) {
        ++stats->native_reads;
        ASSERT_TRUE(SameMessage(*pb_back, *direct, &report)) << report.substr(0, 3000);
      }
    }
  }
}

TEST(JsonCodecConformanceTest, RandomJsonTypesMatchProtobuf) {
  Stats stats;
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    Gen g(seed);
    JsonTypes m;
    FillMessage(g, &m, 0);
    ASSERT_NO_FATAL_FAILURE(CheckMessage(m, &stats)) << "seed " << seed;
  }
  // The corpus is native apart from rare shapes (e.g. floats a rounding sliver
  // above FLT_MAX on input).
  EXPECT_GT(stats.native_writes, stats.compared * 9 / 10);
  EXPECT_GT(stats.native_reads, stats.messages * 8 / 10);  // FLT_MAX-ish floats: protobuf decides
  std::printf(
      "messages %d (with multi-entry maps %d), outputs compared %d, native writes %d, "
      "native reads %d\n",
      stats.messages, stats.semantic, stats.compared, stats.native_writes, stats.native_reads);
}

TEST(JsonCodecConformanceTest, RandomAgentAndEchoMessagesMatchProtobuf) {
  Stats stats;
  std::vector<std::unique_ptr<Message>> prototypes;
  prototypes.emplace_back(new agent::v1::PlanRequest);
  prototypes.emplace_back(new agent::v1::PlanResponse);
  prototypes.emplace_back(new agent::v1::ActRequest);
  prototypes.emplace_back(new agent::v1::ActResponse);
  prototypes.emplace_back(new agent::v1::ObserveRequest);
  prototypes.emplace_back(new agent::v1::ObserveResponse);
  prototypes.emplace_back(new agent::v1::WatchRequest);
  prototypes.emplace_back(new agent::v1::AgentEvent);
  prototypes.emplace_back(new agent::v1::SessionRequest);
  prototypes.emplace_back(new agent::v1::SessionResponse);
  prototypes.emplace_back(new test::v1::EchoRequest);
  prototypes.emplace_back(new test::v1::ExpandRequest);
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    for (const auto& prototype : prototypes) {
      Gen g(seed * 31 + prototype->GetDescriptor()->index());
      std::unique_ptr<Message> m(prototype->New());
      FillMessage(g, m.get(), 0);
      ASSERT_NO_FATAL_FAILURE(CheckMessage(*m, &stats))
          << "seed " << seed << " " << m->GetDescriptor()->full_name();
    }
  }
  EXPECT_EQ(stats.native_writes, stats.compared);
  std::printf(
      "messages %d (with multi-entry maps %d), outputs compared %d, native writes %d, "
      "native reads %d\n",
      stats.messages, stats.semantic, stats.compared, stats.native_writes, stats.native_reads);
}

TEST(JsonCodecConformanceTest, FallbackShapesStillMatchProtobuf) {
  Stats stats;
  std::vector<JsonTypes> cases(8);
  cases[0].mutable_w_value();                                   // empty Value
  (*cases[1].mutable_m_string_value())["k"];                    // empty Value in a map
  cases[2].set_f_string(std::string("bad \xff utf8"));          // invalid UTF-8
  cases[3].mutable_w_timestamp()->set_seconds(253402300800LL);  // out of range
  cases[4].mutable_w_duration()->set_nanos(-5);
  cases[4].mutable_w_duration()->set_seconds(5);
  cases[5].mutable_w_field_mask()->add_paths("fooBar");
  cases[6].mutable_w_value()->set_number_value(std::numeric_limits<double>::infinity());
  cases[7].mutable_w_struct();
  for (const JsonTypes& m : cases) {
    for (int bits = 0; bits < 8; ++bits) {
      const JsonCodecOptions o = Options(bits);
      bool pb_ok;
      std::string expected = ProtobufJson(m, o, &pb_ok);
      std::string ours;
      absl::Status s = JsonCodec(o).Marshal(m, &ours);
      EXPECT_EQ(s.ok(), pb_ok) << m.DebugString();
      if (pb_ok) {
        EXPECT_EQ(ours, expected) << m.DebugString();
      }
    }
  }
  // Top-level well-known types go to protobuf too.
  gp::Value value;
  value.set_string_value("x");
  std::string out;
  ASSERT_TRUE(JsonCodec().Marshal(value, &out).ok());
  EXPECT_EQ(out, "\"x\"");
  gp::Value back;
  ASSERT_TRUE(JsonCodec().Unmarshal("[1, \"a\"]", &back).ok());
  EXPECT_EQ(back.list_value().values_size(), 2);
}

TEST(JsonCodecConformanceTest, MapKeysComeOutSortedAndDeterministic) {
  JsonTypes m;
  for (const char* k : {"b", "a", "\xc3\xa9", "B", "", "a b"}) (*m.mutable_m_string_string())[k] = k;
  for (int32_t k : {5, -3, 100, 0, std::numeric_limits<int32_t>::min()}) {
    (*m.mutable_m_int32_int32())[k] = 1;
  }
  for (int64_t k : {std::numeric_limits<int64_t>::max(), int64_t{-1}, int64_t{10}, int64_t{9}}) {
    (*m.mutable_m_int64_int64())[k] = 2;
  }
  for (uint64_t k : {std::numeric_limits<uint64_t>::max(), uint64_t{2}, uint64_t{10}}) {
    (*m.mutable_m_uint64_uint64())[k] = 3;
  }
  (*m.mutable_m_bool_string())[true] = "t";
  (*m.mutable_m_bool_string())[false] = "f";
  (*m.mutable_m_string_nested())["z"].set_a(1);
  (*(*m.mutable_m_string_nested())["y"].mutable_children()->Add()->mutable_children()->Add()->mutable_children()->Add())
      .set_b("deep");
  auto* fields = m.mutable_w_struct()->mutable_fields();
  (*fields)["zeta"].set_number_value(1);
  (*fields)["alpha"].set_bool_value(true);
  auto* inner = (*fields)["mid"].mutable_struct_value()->mutable_fields();
  (*inner)["y"].set_string_value("y");
  (*inner)["x"].set_null_value(gp::NULL_VALUE);

  std::string out;
  ASSERT_TRUE(JsonCodec().Marshal(m, &out).ok());
  EXPECT_EQ(out,
            R"({"mStringString":{"":"","B":"B","a":"a","a b":"a b","b":"b",)"
            "\"\xc3\xa9\":\"\xc3\xa9\"},"
            R"("mInt32Int32":{"-2147483648":1,"-3":1,"0":1,"5":1,"100":1},)"
            R"("mInt64Int64":{"-1":"2","9":"2","10":"2","9223372036854775807":"2"},)"
            R"("mUint64Uint64":{"2":"3","10":"3","18446744073709551615":"3"},)"
            R"("mBoolString":{"false":"f","true":"t"},)"
            R"("mStringNested":{"y":{"children":[{"children":[{"children":[{"b":"deep"}]}]}]},"z":{"a":1}},)"
            R"("wStruct":{"alpha":true,"mid":{"x":null,"y":"y"},"zeta":1}})");
  for (int bits = 0; bits < 8; ++bits) {
    const JsonCodecOptions o = Options(bits);
    bool pb_ok;
    std::string expected = ProtobufJson(m, o, &pb_ok);
    ASSERT_TRUE(pb_ok);
    std::string first, second;
    ASSERT_TRUE(JsonCodec(o).Marshal(m, &first).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectSameJson(first, expected, true, m, o.use_proto_names)) << bits;
    ASSERT_NO_FATAL_FAILURE(ExpectSortedMaps(m, first, o.use_proto_names));
    // The same bytes again, and for a copy (another hash seed in protobuf's maps)
    // and for the message parsed back from either JSON.
    JsonTypes copy = m;
    ASSERT_TRUE(JsonCodec(o).Marshal(copy, &second).ok());
    EXPECT_EQ(first, second) << bits;
    for (const std::string* json : {&first, &expected}) {
      JsonTypes back;
      ASSERT_TRUE(JsonCodec().Unmarshal(*json, &back).ok());
      second.clear();
      ASSERT_TRUE(JsonCodec(o).Marshal(back, &second).ok());
      EXPECT_EQ(first, second) << bits;
    }
  }
}

TEST(JsonCodecConformanceTest, RepeatedMapKeysKeepTheLastEntry) {
  // Entries added through reflection may repeat a key; the map (and protobuf's
  // printer) keeps the last one.
  JsonTypes m;
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName("m_string_string");
  const Reflection* r = m.GetReflection();
  for (const char* value : {"first", "other", "second"}) {
    Message* entry = r->AddMessage(&m, f);
    const gp::Descriptor* ed = entry->GetDescriptor();
    entry->GetReflection()->SetString(entry, ed->map_key(), value == std::string("other") ? "j" : "k");
    entry->GetReflection()->SetString(entry, ed->map_value(), value);
  }
  const FieldDescriptor* fi = m.GetDescriptor()->FindFieldByName("m_int32_int32");
  for (int value : {1, 2, 3}) {
    Message* entry = r->AddMessage(&m, fi);
    const gp::Descriptor* ed = entry->GetDescriptor();
    entry->GetReflection()->SetInt32(entry, ed->map_key(), value == 2 ? 4 : 7);
    entry->GetReflection()->SetInt32(entry, ed->map_value(), value);
  }
  std::string native;
  ASSERT_TRUE(json_internal::WriteJson(m, {}, &native));
  EXPECT_EQ(native, R"({"mStringString":{"j":"other","k":"second"},"mInt32Int32":{"4":2,"7":3}})");
  bool pb_ok;
  std::string expected = ProtobufJson(m, JsonCodecOptions(), &pb_ok);
  ASSERT_TRUE(pb_ok);
  ExpectSameJson(native, expected, true, m, false);

  // On input, a key spelled twice is an error, as in protobuf; another spelling
  // of the same key replaces the earlier entry.
  JsonTypes parsed;
  EXPECT_FALSE(JsonCodec().Unmarshal(R"({"mInt32Int32": {"7": 1, "7": 2}})", &parsed).ok());
  ASSERT_TRUE(
      JsonCodec().Unmarshal(R"({"mInt32Int32": {"7": 1, "4": 2, "07": 3}, "mBoolString": {"t": "a", "true": "b"}})",
                            &parsed)
          .ok());
  EXPECT_EQ(r->FieldSize(parsed, fi), 2);  // one entry per key in the repeated view
  EXPECT_EQ(parsed.m_int32_int32().at(7), 3);
  EXPECT_EQ(parsed.m_int32_int32().at(4), 2);
  EXPECT_EQ(parsed.m_bool_string().size(), 1u);
  EXPECT_EQ(parsed.m_bool_string().at(true), "b");
}

// ---- Hand-written inputs: same verdict as protobuf's parser --------------------------------

const char* const kInputs[] = {
    // numbers
    R"({"fInt32": 1e2})", R"({"fInt32": "1e2"})", R"({"fInt32": 1.5})", R"({"fInt32": "+1"})",
    R"({"fInt32": " 1"})", R"({"fInt32": "1.0"})", R"({"fInt32": 01})", R"({"fInt32": -0})",
    R"({"fInt32": 2147483648})", R"({"fInt32": -2147483648.0})", R"({"fInt32": 1.0e0})",
    R"({"fInt32": "-0"})", R"({"fUint32": "-0"})", R"({"fUint32": -0})", R"({"fInt32": true})",
    R"({"fInt32": "0x10"})", R"({"fInt32": 0x10})", R"({"fInt32": -})", R"({"fInt32": 1e})",
    R"({"fInt32": .5})", R"({"fInt32": "many"})", R"({"fInt32": [1]})", R"({"fInt32": {}})",
    R"({"fInt64": 1e18})", R"({"fInt64": "1e18"})", R"({"fInt64": 9223372036854775807})",
    R"({"fInt64": 9223372036854775808})", R"({"fInt64": -9223372036854775808})",
    R"({"fInt64": "-9223372036854775808"})", R"({"fInt64": "-9223372036854775809"})",
    R"({"fInt64": 9.2233720368547758e18})", R"({"fInt64": "+5"})", R"({"fSint64": "00012"})",
    R"({"fUint64": 18446744073709551615})", R"({"fUint64": "18446744073709551616"})",
    R"({"fUint64": -1})", R"({"fUint64": 1.8446744073709552e19})",
    R"({"fUint64": 1.8446744073709550e19})", R"({"fFixed64": "12"})", R"({"fSfixed32": -7})",
    R"({"fDouble": 1e400})", R"({"fDouble": "1e400"})", R"({"fDouble": "NaN"})",
    R"({"fDouble": "nan"})", R"({"fDouble": "Infinity"})", R"({"fDouble": "-Infinity"})",
    R"({"fDouble": "1e2"})", R"({"fDouble": 9007199254740993})", R"({"fDouble": -0})",
    R"({"fDouble": -0.0})", R"({"fDouble": 1.})", R"({"fDouble": -.5})", R"({"fDouble": 1e-400})",
    R"({"fDouble": 4.9e-324})", R"({"fDouble": "abc"})", R"({"fDouble": true})",
    R"({"fFloat": 3.4028235e38})", R"({"fFloat": 3.40282347e+38})", R"({"fFloat": 3.5e38})",
    R"({"fFloat": "3.5e38"})", R"({"fFloat": "-Infinity"})", R"({"fFloat": 1e-50})",
    R"({"fFloat": -1e39})",
    // bools, strings, bytes
    R"({"fBool": true})", R"({"fBool": "true"})", R"({"fBool": "yes"})", R"({"fBool": 1})",
    R"({"fBool": null})", R"({"fString": 1})", R"({"fString": true})", R"({"fString": "\/"})",
    R"({"fString": "\u00e9\uD83D\uDE00"})", R"({"fString": "\ud800"})",
    R"({"fString": "\udc00"})", R"({"fString": "\ud800\u0041"})", R"({"fString": "\x"})",
    R"({"fString": "\u00"})", "{\"fString\": \"a\tb\"}", "{\"fString\": \"a\x01\"}",
    "{\"fString\": \"\xff\"}", R"({"fString": 'x'})", R"({"fString": "unterminated)",
    R"({"fBytes": "AQI="})", R"({"fBytes": "AQI"})", R"({"fBytes": "-_8="})", R"({"fBytes": "a"})",
    R"({"fBytes": "AQI=="})", R"({"fBytes": "AQ="})", R"({"fBytes": "A Q=="})",
    R"({"fBytes": "_-_-"})", R"({"fBytes": "+/+/"})", R"({"fBytes": ""})", R"({"fBytes": 5})",
    // long values: the eight-bytes-at-a-time scan meets escapes, control and
    // non-ASCII bytes at every offset, and both base64 alphabets mixed
    R"({"fBytes": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="})",
    R"({"fBytes": "AQIDBAUGBwgJCgsMDQ4P+BESExQVFhcY_RobHB0eHyA="})",
    R"({"fBytes": "AQIDBAUGBwgJCgsMDQ4P-BESExQVFhcY_RobHB0eHyA="})",
    R"({"fBytes": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"})",
    R"({"fBytes": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=x"})",
    R"({"fBytes": "AQIDBAUGBwgJCgsM DQ4PEBESExQVFhcYGRobHB0eHyA="})",
    R"({"fString": "abcdefghijklmno"pqrstuvwxyz"})", R"({"fString": "abcdefgh\ijklmnop"})",
    R"({"fString": "abcdefghijklmnopqérs"})", "{\"fString\": \"abcdefghijk\x7fl\"}",
    "{\"fString\": \"abcdefghijklm\x1fnopq\"}", "{\"fString\": \"abcdefghij\xc3\xa9klmnopq\"}",
    "{\"fString\": \"abcdefghijklmnopqrstu\xc3\"}", R"({"fString": "abcdefghijklmnopqrstuvwx"})",
    R"({"fString": "abcdefghijklmnopqrstuvwxyz)",
    // enums
    R"({"fEnum": "JSON_COLOR_RED"})", R"({"fEnum": "json_color_red"})", R"({"fEnum": "BOGUS"})",
    R"({"fEnum": 7})", R"({"fEnum": -3})", R"({"fEnum": "1"})", R"({"fEnum": 1.0})",
    R"({"fEnum": 1.5})", R"({"fEnum": 2147483648})", R"({"fEnum": null})", R"({"fEnum": true})",
    R"({"rEnum": ["BOGUS", "JSON_COLOR_RED", 2]})", R"({"pEnum": "BOGUS"})",
    R"({"mSfixed32Enum": {"1": "BOGUS"}})", R"({"wNull": null})", R"({"wNull": "NULL_VALUE"})",
    R"({"wNull": 0})",
    // repeated and maps
    R"({"rInt32": [1, 2, 3]})", R"({"rInt32": 5})", R"({"rInt32": null})",
    R"({"rInt32": [1, null, 2]})", R"({"rInt32": [1,]})", R"({"rInt32": [,1]})",
    R"({"rInt32": [1], "rInt32": [2]})", R"({"rNested": {"a": 1}})",
    R"({"rNested": [null, {"a": 1}]})", R"({"rwInt32": [null, 1]})", R"({"rwValue": [null, 1]})",
    R"({"rString": ["a", 1]})", R"({"rNested": [{"a": "x"}]})",
    R"({"mInt32Int32": {"1": null}})", R"({"mInt32Int32": {"x": 1}})",
    R"({"mInt32Int32": {"01": 1}})", R"({"mInt32Int32": {"1": "2"}})",
    R"({"mInt32Int32": {"1": 1, "01": 2}})", R"({"mInt64Int64": {"-5": 1}})",
    R"({"mUint32Uint32": {"-1": 1}})", R"({"mUint64Uint64": {"18446744073709551615": "1"}})",
    R"({"mBoolString": {"true": "a", "false": "b"}})", R"({"mBoolString": {"true": "a", "1": "b"}})",
    R"({"mBoolString": {"True": "a"}})", R"({"mBoolString": {"maybe": "a"}})",
    R"({"mStringValue": {"a": null}})", R"({"mStringNested": {"a": null}})",
    R"({"mStringNested": {"a": {"b": "x", "children": [{"a": 1}]}}})",
    R"({"mStringString": {"a": "b", "a": "c"}})", R"({"mStringString": {"a": 1}})",
    R"({"mStringString": {"a": "b"}, "mStringString": {"a": "c"}})", R"({"mStringString": []})",
    R"({"mFixed64Bytes": {"7": "AQI="}})", R"({"mSint32Double": {"-1": "NaN"}})",
    R"({"mInt32Int32": {"1": 1, "1": 2}})", R"({"mInt32Int32": {"01": 1, "1": 2, "01": 3}})",
    R"({"mInt32Int32": {"1": 1, "2": 2, "01": 3, "2": 4}})", R"({"mBoolString": {"true": "a", "true": "b"}})",
    R"({"mBoolString": {"true": "a", "t": "b", "false": "c", "0": "d"}})",
    R"({"mSfixed64Nested": {"1": {"a": 1}, "01": {"b": "x"}}})", R"({"mSfixed64Nested": {"1": {"a": 1}, "01": null}})",
    R"({"mStringNested": {"a": {"a": 1}, "b": null, "c": {}}})", R"({"mStringValue": {"a": 1, "b": null, "a": 2}})",
    R"({"mStringString": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10"}})",
    R"({"mStringString": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "a": "10"}})",
    R"({"mUint32Uint32": {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "01": 10}})",
    R"({"mUint32Uint32": {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "9": 10}})",
    R"({"wStruct": {"b": 1, "a": 2, "c": {"y": 1, "x": 2}}})",
    // nested, duplicates, oneofs, optional, null
    R"({"fNested": {"a": 1, "b": "x", "color": "JSON_COLOR_GREEN"}})", R"({"fNested": null})",
    R"({"fNested": 5})", R"({"fNested": {"a": 1}, "fNested": {"b": "x"}})",
    R"({"fInt32": 1, "fInt32": 2})", R"({"fInt32": 1, "fInt32": null})",
    R"({"fNested": {"a": 1}, "fNested": null})", R"({"oString": "a", "oInt32": 1})",
    R"({"oString": "a", "oString": "b"})", R"({"oString": null, "oInt32": 1})",
    R"({"oValue": null})", R"({"oValue": "x", "oString": "y"})", R"({"oNested": null, "oString": "x"})",
    R"({"oNested": {}, "oInt32": 1})", R"({"oEnum": "BOGUS"})", R"({"oEnum": "BOGUS", "oString": "x"})",
    R"({"pInt32": null})", R"({"pInt32": 0})", R"({"pInt32": 1, "pInt32": 2})",
    R"({"pString": ""})", R"({"pDouble": -0.0})",
    // names
    R"({"f_int32": 3, "renamed": 4, "custom_named": 5})", R"({"customNamed": 5})",
    R"({"fieldWith2UnderScores": 1})", R"({"field_with_2_under__scores": 2})",
    R"({"fieldWith2Under_Scores": 2})", R"({"FInt32": 1})", R"({"unknown": {"a": [1, {"b": null}]}})",
    R"({"unknown": 1, "fInt32": 2})", R"({"": 1})",
    // well-known types
    R"({"wTimestamp": "1970-01-01T00:00:00Z"})", R"({"wTimestamp": "1970-01-01T00:00:00.5+01:00"})",
    R"({"wTimestamp": "2024-02-29T23:59:59.123456789-08:30"})", R"({"wTimestamp": "2023-02-29T00:00:00Z"})",
    R"({"wTimestamp": "1970-01-01t00:00:00z"})", R"({"wTimestamp": "1970-01-01T00:00:00.1234567891Z"})",
    R"({"wTimestamp": "0000-01-01T00:00:00Z"})", R"({"wTimestamp": "1970-02-30T00:00:00Z"})",
    R"({"wTimestamp": "1970-01-01T00:00:60Z"})", R"({"wTimestamp": "1970-01-01T00:00:00"})",
    R"({"wTimestamp": "1970-01-01T00:00:00.Z"})", R"({"wTimestamp": 0})",
    R"({"wTimestamp": "9999-12-31T23:59:59.999999999Z"})", R"({"wTimestamp": "0001-01-01T00:00:00Z"})",
    R"({"wTimestamp": "1970-01-01T00:00:00+24:00"})", R"({"wTimestamp": null})",
    R"({"wDuration": "1.5s"})", R"({"wDuration": "-0.5s"})", R"({"wDuration": "1s"})",
    R"({"wDuration": "+1s"})", R"({"wDuration": "1.s"})", R"({"wDuration": ".5s"})",
    R"({"wDuration": "1.1234567891s"})", R"({"wDuration": "1"})", R"({"wDuration": "315576000001s"})",
    R"({"wDuration": "-315576000000s"})", R"({"wDuration": "-1.000000001s"})", R"({"wDuration": 1})",
    R"({"wFieldMask": "fooBar,baz.quxQuux"})", R"({"wFieldMask": "foo_bar"})", R"({"wFieldMask": ""})",
    R"({"wFieldMask": "Foo"})", R"({"wFieldMask": "a,,b"})", R"({"wFieldMask": 1})",
    R"({"wInt32": "5"})", R"({"wInt32": null})", R"({"wInt32": 1.5})", R"({"wInt64": 5})",
    R"({"wUint64": "18446744073709551615"})", R"({"wString": "x"})", R"({"wString": 5})",
    R"({"wBool": null})", R"({"wBool": false})", R"({"wBytes": "AQI="})", R"({"wFloat": 1e39})",
    R"({"wDouble": "Infinity"})", R"({"wUint32": -1})",
    R"({"wStruct": {"a": 1, "b": [true, null, "x", {"c": {}}]}})", R"({"wStruct": null})",
    R"({"wStruct": 5})", R"({"wStruct": []})", R"({"wStruct": {"a": 1, "a": 2}})",
    R"({"wList": [1, "a", null, [], {}]})", R"({"wList": {}})", R"({"wList": 1})",
    R"({"wEmpty": {}})", R"({"wEmpty": {"a": 1}})", R"({"wEmpty": 1})",
    R"({"wValue": null})", R"({"wValue": 1e400})", R"({"wValue": -0})", R"({"wValue": -0.0})",
    R"({"wValue": {"a": [1, 2]}})", R"({"wValue": [1, {"a": null}]})", R"({"wValue": "s"})",
    R"({"wValue": 18446744073709551616})", R"({"rwTimestamp": ["1970-01-01T00:00:01Z", null]})",
    R"({"rwDuration": ["1s", "x"]})", R"({"rwStruct": [{}, {"a": {}}]})",
    R"({"wAny": {}})",
    // syntax
    "null", "[]", "5", "\"x\"", "true", R"({"fInt32": 1} x)", R"({"fInt32": 1}{"fInt32": 2})",
    "{}", "{ }", R"({"fInt32": 1)", R"({"fInt32": 1,})", R"({fInt32: 1})", R"({'fInt32': 1})",
    "{\"fInt32\":1}   \n ", "  {\"fInt32\":1}", R"({"fInt32" : 1 , "fString" : "x" })",
    R"({"fInt32":1 "fString":"x"})", R"({"fInt32"})", R"({"fInt32":})", R"({"fInt32" 1})",
    R"({,})", R"({"fInt32": nul})", R"({"fInt32": tru})", R"({"fString": "x"]})", "{",
    "{\"fString\": \"x", "{\"fNested\": {\"a\": 1}", R"({"unknown": [1, 2}})",
    R"({"unknown": {"a" 1}})", R"({"unknown": [1,]})", R"({"unknown": 'x'})",
};

void CheckInput(const std::string& input, bool reject_unknown, int* native) {
  JsonCodecOptions o;
  o.reject_unknown_fields = reject_unknown;
  JsonTypes ours;
  absl::Status s = JsonCodec(o).Unmarshal(input, &ours);
  JsonTypes theirs;
  gp::util::JsonParseOptions po;
  po.ignore_unknown_fields = !reject_unknown;
  bool pb_ok = gp::util::JsonStringToMessage(input, &theirs, po).ok();
  EXPECT_EQ(s.ok(), pb_ok) << input << " (reject_unknown=" << reject_unknown << "): " << s;
  if (!s.ok()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << input;
    EXPECT_THAT(std::string(s.message()), testing::HasSubstr("invalid JSON for kei.test.v1.JsonTypes"));
  }
  if (s.ok() && pb_ok) {
    std::string report;
    EXPECT_TRUE(SameMessage(theirs, ours, &report)) << input << "\n" << report;
  }
  JsonTypes direct;
  std::string error;
  if (json_internal::ReadJson(input, {reject_unknown}, &direct, &error) !=
      json_internal::ReadResult::kUnsupported) {
    ++*native;
  }
}

TEST(JsonCodecConformanceTest, HandWrittenInputsAgreeWithProtobuf) {
  int native = 0, total = 0;
  for (const char* input : kInputs) {
    for (bool reject : {false, true}) {
      ++total;
      CheckInput(input, reject, &native);
    }
  }
  std::printf("inputs %d, decided natively %d\n", total, native);
}

TEST(JsonCodecConformanceTest, DeepNestingIsRejectedWithoutCrashing) {
  for (int n : {5000, 200000}) {
    for (const char* open_close : {"[]", "{}"}) {
      std::string input = "{\"wValue\": ";
      for (int i = 0; i < n; ++i) {
        input.push_back(open_close[0]);
        if (open_close[0] == '{') input += "\"a\":";
      }
      input += "1";
      for (int i = 0; i < n; ++i) input.push_back(open_close[1]);
      input.push_back('}');
      JsonTypes m;
      absl::Status s = JsonCodec().Unmarshal(input, &m);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << n;
      std::string unknown = "{\"zzz\": " + std::string(n, '[') + std::string(n, ']') + "}";
      s = JsonCodec().Unmarshal(unknown, &m);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << n;
    }
  }
  // Moderate nesting is fine.
  std::string input = "{\"wValue\": " + std::string(20, '[') + std::string(20, ']') + "}";
  JsonTypes m;
  EXPECT_TRUE(JsonCodec().Unmarshal(input, &m).ok());
  JsonTypes nested;
  gp::Message* cur = nested.mutable_f_nested();
  for (int i = 0; i < 30; ++i) cur = static_cast<JsonTypes::Nested*>(cur)->add_children();
  std::string out;
  ASSERT_TRUE(JsonCodec().Marshal(nested, &out).ok());
  JsonTypes back;
  ASSERT_TRUE(JsonCodec().Unmarshal(out, &back).ok()) << out;
  std::string report;
  EXPECT_TRUE(SameMessage(nested, back, &report)) << report;
}

TEST(JsonCodecConformanceTest, ErrorsNameTheFieldPath) {
  agent::v1::PlanRequest plan;
  absl::Status s = JsonCodec().Unmarshal(R"({"objective":"x","maxSteps":"many"})", &plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "invalid JSON for kei.agent.v1.PlanRequest: maxSteps: expected an integer, got \"many\"");

  JsonTypes m;
  s = JsonCodec().Unmarshal(R"({"fNested": {"children": [{"a": true}]}})", &m);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("fNested.children.a: expected an integer"));
  JsonCodecOptions strict;
  strict.reject_unknown_fields = true;
  s = JsonCodec(strict).Unmarshal(R"({"fNested": {"nope": 1}})", &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("fNested: unknown field \"nope\""));
}

}  // namespace
}  // namespace kei
