#include "cc/codec/json_writer.h"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "cc/codec/json_wkt.h"
#include "google/protobuf/descriptor.h"

namespace kei::json_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// ---- Scalars, formatted as protobuf's strutil does ----------------------------------

// protobuf's SimpleDtoa: %.15g when that round-trips, else %.17g.
void AppendDouble(double value, std::string* out) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%.*g", DBL_DIG, value);
  if (std::strtod(buffer, nullptr) != value) {
    n = std::snprintf(buffer, sizeof(buffer), "%.*g", DBL_DIG + 2, value);
  }
  out->append(buffer, n);
}

// protobuf's SimpleFtoa: %.6g when that round-trips, else %.9g.
void AppendFloat(float value, std::string* out) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%.*g", FLT_DIG, value);
  // protobuf's safe_strtof also refuses results that set ERANGE (denormals).
  char* end = nullptr;
  errno = 0;
  float parsed = std::strtof(buffer, &end);
  if (end == buffer || errno != 0 || parsed != value) {
    n = std::snprintf(buffer, sizeof(buffer), "%.*g", FLT_DIG + 3, value);
  }
  out->append(buffer, n);
}

template <typename T>
void AppendDoubleLike(T value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else if constexpr (sizeof(T) == sizeof(float)) {
    AppendFloat(value, out);
  } else {
    AppendDouble(value, out);
  }
}

void AppendInt(int64_t value, std::string* out) {
  char buffer[24];
  char* end = absl::numbers_internal::FastIntToBuffer(value, buffer);
  out->append(buffer, end - buffer);
}

void AppendUint(uint64_t value, std::string* out) {
  char buffer[24];
  char* end = absl::numbers_internal::FastIntToBuffer(value, buffer);
  out->append(buffer, end - buffer);
}

// ---- Strings: protobuf 3.21's JsonEscaping ---------------------------------------------

constexpr char kHex[] = "0123456789abcdef";

// Code points protobuf escapes beyond ASCII (json_escaping.cc, NeedsEscape).
bool NeedsEscape(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x600 && cp <= 0x603) ||
         cp == 0x6dd || cp == 0x70f || cp == 0x17b4 || cp == 0x17b5 ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f) ||
         cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 ||
         (cp >= 0xe0020 && cp <= 0xe007f);
}

void AppendU16Escape(uint32_t unit, std::string* out) {
  char buffer[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf],
                    kHex[(unit >> 4) & 0xf], kHex[unit & 0xf]};
  out->append(buffer, 6);
}

// 0: copy as is; 1: \uXXXX; other: the two-character escape.
constexpr unsigned char kAsciiEscape[128] = {
    1,   1, 1, 1, 1, 1, 1, 1, 'b', 't', 'n', 1, 'f', 'r', 1, 1,  // 0x00
    1,   1, 1, 1, 1, 1, 1, 1, 1,   1,   1,   1, 1,   1,   1, 1,  // 0x10
    0,   0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,          // 0x20
    0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,            // 0x30 < >
    0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,            // 0x40
    0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,         // 0x50
    0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,            // 0x60
    0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,            // 0x70 DEL
};

// Decodes one strictly valid UTF-8 sequence at s[i]; returns its length or 0.
int DecodeUtf8(const unsigned char* s, size_t n, size_t i, uint32_t* cp) {
  unsigned char c = s[i];
  if (c < 0xc2) return 0;
  if (c < 0xe0) {
    if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80) return 0;
    *cp = ((c & 0x1f) << 6) | (s[i + 1] & 0x3f);
    return 2;
  }
  if (c < 0xf0) {
    if (i + 2 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80) return 0;
    uint32_t v = ((c & 0x0f) << 12) | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
    if (v < 0x800 || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return 3;
  }
  if (c < 0xf5) {
    if (i + 3 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
        (s[i + 3] & 0xc0) != 0x80) {
      return 0;
    }
    uint32_t v = ((c & 0x07) << 18) | ((s[i + 1] & 0x3f) << 12) |
                 ((s[i + 2] & 0x3f) << 6) | (s[i + 3] & 0x3f);
    if (v < 0x10000 || v > 0x10ffff) return 0;
    *cp = v;
    return 4;
  }
  return 0;
}

// Appends "value" quoted and escaped; false on invalid UTF-8.
bool AppendString(const std::string& value, std::string* out) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  out->push_back('"');
  size_t run = 0;  // start of the pending unescaped run
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      unsigned char e = kAsciiEscape[c];
      if (e == 0) {
        ++i;
        continue;
      }
      out->append(value, run, i - run);
      if (e == 1) {
        AppendU16Escape(c, out);
      } else {
        char buffer[2] = {'\\', static_cast<char>(e)};
        out->append(buffer, 2);
      }
      run = ++i;
      continue;
    }
    uint32_t cp;
    int len = DecodeUtf8(s, n, i, &cp);
    if (len == 0) return false;
    if (NeedsEscape(cp)) {
      out->append(value, run, i - run);
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        AppendU16Escape(0xd800 + (v >> 10), out);
        AppendU16Escape(0xdc00 + (v & 0x3ff), out);
      } else {
        AppendU16Escape(cp, out);
      }
      i += len;
      run = i;
    } else {
      i += len;
    }
  }
  out->append(value, run, n - run);
  out->push_back('"');
  return true;
}

void AppendBase64(const std::string& value, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char* s = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  // Sized once and written in place: bytes fields are often the bulk of a message.
  const size_t at = out->size();
  out->resize(at + 2 + (n + 2) / 3 * 4);
  char* d = out->data() + at;
  *d++ = '"';
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (s[i] << 16) | (s[i + 1] << 8) | s[i + 2];
    d[0] = kAlphabet[v >> 18];
    d[1] = kAlphabet[(v >> 12) & 63];
    d[2] = kAlphabet[(v >> 6) & 63];
    d[3] = kAlphabet[v & 63];
    d += 4;
  }
  if (n - i == 1) {
    const uint32_t v = s[i] << 16;
    d[0] = kAlphabet[v >> 18];
    d[1] = kAlphabet[(v >> 12) & 63];
    d[2] = '=';
    d[3] = '=';
    d += 4;
  } else if (n - i == 2) {
    const uint32_t v = (s[i] << 16) | (s[i + 1] << 8);
    d[0] = kAlphabet[v >> 18];
    d[1] = kAlphabet[(v >> 12) & 63];
    d[2] = kAlphabet[(v >> 6) & 63];
    d[3] = '=';
    d += 4;
  }
  *d = '"';
}

// ".123", ".123456" or ".123456789" (nothing for 0), as protobuf's FormatNanos.
void AppendNanos(int32_t nanos, std::string* out) {
  if (nanos == 0) return;
  int digits = nanos % 1000 != 0 ? 9 : nanos % 1000000 != 0 ? 6 : 3;
  int32_t value = nanos;
  for (int d = 9; d > digits; --d) value /= 10;
  char buffer[10];
  buffer[0] = '.';
  for (int d = digits; d >= 1; --d) {
    buffer[d] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(buffer, digits + 1);
}

void AppendPadded(int64_t value, int width, std::string* out) {
  char buffer[8];
  for (int i = width - 1; i >= 0; --i) {
    buffer[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(buffer, width);
}

// ---- The writer -------------------------------------------------------------------------

class Writer {
 public:
  Writer(const JsonWriteOptions& options, std::string* out)
      : options_(options), out_(out) {}

  bool WriteRoot(const Message& message) {
    if (!WriteMessage(message, 0)) return false;
    if (options_.pretty) out_->push_back('\n');
    return true;
  }

 private:
  // Separator before the i-th member of an object or array at `depth`.
  void Separator(bool first, int depth) {
    if (!first) out_->push_back(',');
    if (options_.pretty) {
      out_->push_back('\n');
      out_->append(depth, ' ');
    }
  }
  void Close(char c, bool empty, int depth) {
    if (options_.pretty && !empty) {
      out_->push_back('\n');
      out_->append(depth, ' ');
    }
    out_->push_back(c);
  }
  void Key(const std::string& name) {
    out_->push_back('"');
    out_->append(name);  // field names need no escaping
    out_->append(options_.pretty ? "\": " : "\":");
  }
  const std::string& FieldName(const FieldDescriptor* field) const {
    return options_.use_proto_names ? field->name() : field->json_name();
  }

  // How a message-typed value prints: protobuf's object source renders some
  // well-known types as a primitive or a list, which matters for ordering when
  // emit_defaults is on.
  enum class Shape { kObject, kPrimitive, kList, kNothing };

  // A message (not a WKT shown as primitive) printed as an object, at `depth`.
  bool WriteMessage(const Message& message, int depth) {
    const Descriptor* descriptor = message.GetDescriptor();
    Wkt wkt = ClassifyWkt(descriptor);
    if (wkt != Wkt::kNone) return WriteWkt(message, wkt, depth);
    if (descriptor->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3) {
      return false;
    }
    const Reflection* reflection = message.GetReflection();
    out_->push_back('{');
    bool first = true;
    if (!options_.emit_defaults) {
      // Present fields in field-number order (the binary order protobuf prints in).
      absl::InlinedVector<const FieldDescriptor*, 16> fields;
      if (!PresentFields(message, &fields)) return false;
      for (const FieldDescriptor* field : fields) {
        Separator(first, depth + 1);
        first = false;
        Key(FieldName(field));
        if (!WriteField(message, field, depth + 1)) return false;
      }
    } else {
      // protobuf's DefaultValueObjectWriter: one slot per field in declaration
      // order (scalars outside oneofs, lists, maps and message fields); a set
      // value lands in its slot if it prints with the slot's shape, otherwise it
      // is appended after all slots, in field-number order.
      absl::InlinedVector<const FieldDescriptor*, 8> appended;
      const int count = descriptor->field_count();
      for (int i = 0; i < count; ++i) {
        const FieldDescriptor* field = descriptor->field(i);
        if (field->is_repeated()) {
          Separator(first, depth + 1);
          first = false;
          Key(FieldName(field));
          if (!WriteField(message, field, depth + 1)) return false;
          continue;
        }
        const bool in_oneof = field->containing_oneof() != nullptr;
        if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
          if (in_oneof) {
            if (reflection->HasField(message, field)) appended.push_back(field);
            continue;
          }
          Separator(first, depth + 1);
          first = false;
          Key(FieldName(field));
          if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM &&
              IsNullValueEnum(field->enum_type()) && !reflection->HasField(message, field)) {
            // The populated default is the enum's first name, not null.
            out_->append("\"NULL_VALUE\"");
            continue;
          }
          if (!WriteField(message, field, depth + 1)) return false;
          continue;
        }
        if (!reflection->HasField(message, field)) continue;
        Shape shape = ShapeOf(reflection->GetMessage(message, field));
        if (shape == Shape::kObject) {
          Separator(first, depth + 1);
          first = false;
          Key(FieldName(field));
          if (!WriteField(message, field, depth + 1)) return false;
        } else if (shape != Shape::kNothing) {
          appended.push_back(field);
        }
      }
      if (appended.size() > 1) {
        std::sort(appended.begin(), appended.end(),
                  [](const FieldDescriptor* a, const FieldDescriptor* b) {
                    return a->number() < b->number();
                  });
      }
      for (const FieldDescriptor* field : appended) {
        Separator(first, depth + 1);
        first = false;
        Key(FieldName(field));
        if (!WriteField(message, field, depth + 1)) return false;
      }
    }
    Close('}', first, depth);
    return true;
  }

  Shape ShapeOf(const Message& message) {
    const Descriptor* descriptor = message.GetDescriptor();
    switch (ClassifyWkt(descriptor)) {
      case Wkt::kNone:
      case Wkt::kStruct:
      case Wkt::kAny:
        return Shape::kObject;
      case Wkt::kListValue:
        return Shape::kList;
      case Wkt::kValue: {
        const Reflection* reflection = message.GetReflection();
        const FieldDescriptor* set = reflection->GetOneofFieldDescriptor(
            message, descriptor->oneof_decl(0));
        if (set == nullptr) return Shape::kNothing;
        if (set->name() == "struct_value") return Shape::kObject;
        if (set->name() == "list_value") return Shape::kList;
        return Shape::kPrimitive;
      }
      default:
        return Shape::kPrimitive;
    }
  }

  bool PresentFields(const Message& message,
                     absl::InlinedVector<const FieldDescriptor*, 16>* fields) {
    const Descriptor* descriptor = message.GetDescriptor();
    const Reflection* reflection = message.GetReflection();
    const int count = descriptor->field_count();
    bool sorted = true;
    for (int i = 0; i < count; ++i) {
      const FieldDescriptor* field = descriptor->field(i);
      bool present = field->is_repeated() ? reflection->FieldSize(message, field) > 0
                                          : reflection->HasField(message, field);
      if (!present) continue;
      if (!fields->empty() && fields->back()->number() > field->number()) sorted = false;
      fields->push_back(field);
    }
    if (!sorted) {
      std::sort(fields->begin(), fields->end(),
                [](const FieldDescriptor* a, const FieldDescriptor* b) {
                  return a->number() < b->number();
                });
    }
    return true;
  }

  bool WriteField(const Message& message, const FieldDescriptor* field, int depth) {
    const Reflection* reflection = message.GetReflection();
    if (field->is_map()) return WriteMap(message, field, depth);
    if (field->is_repeated()) {
      const int size = reflection->FieldSize(message, field);
      out_->push_back('[');
      for (int i = 0; i < size; ++i) {
        Separator(i == 0, depth + 1);
        if (!WriteValue(message, field, i, depth + 1)) return false;
      }
      Close(']', size == 0, depth);
      return true;
    }
    return WriteValue(message, field, -1, depth);
  }

  // A map entry and its key, for ordering.
  struct MapEntry {
    const Message* entry;
    const std::string* text;  // string keys
    int64_t number;           // integer and bool keys (uint64 keys as bits)
  };

  // Maps, read through the public repeated view of their entries (protobuf
  // keeps direct map iteration private) and written sorted by key: byte order
  // for strings, numeric order for integers, false before true. protobuf's
  // own printer follows the map's hash order instead, which varies from run
  // to run; JSON member order carries no meaning, so the two differ only in
  // order. Should the view hold one key twice (entries added through
  // reflection), the last one wins, as it does in the map itself.
  bool WriteMap(const Message& message, const FieldDescriptor* field, int depth) {
    const Reflection* reflection = message.GetReflection();
    const int size = reflection->FieldSize(message, field);
    out_->push_back('{');
    if (size == 0) {
      Close('}', true, depth);
      return true;
    }
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    const FieldDescriptor::CppType key_type = key_field->cpp_type();
    absl::InlinedVector<MapEntry, 8> entries;
    entries.reserve(size);
    for (int i = 0; i < size; ++i) {
      const Message& entry = reflection->GetRepeatedMessage(message, field, i);
      const Reflection* er = entry.GetReflection();
      MapEntry e{&entry, nullptr, 0};
      switch (key_type) {
        case FieldDescriptor::CPPTYPE_STRING: {
          const std::string& key = er->GetStringReference(entry, key_field, &key_scratch_);
          if (&key == &key_scratch_) return false;  // not stored in the entry
          e.text = &key;
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32: e.number = er->GetInt32(entry, key_field); break;
        case FieldDescriptor::CPPTYPE_INT64: e.number = er->GetInt64(entry, key_field); break;
        case FieldDescriptor::CPPTYPE_UINT32: e.number = er->GetUInt32(entry, key_field); break;
        case FieldDescriptor::CPPTYPE_UINT64:
          e.number = static_cast<int64_t>(er->GetUInt64(entry, key_field));
          break;
        case FieldDescriptor::CPPTYPE_BOOL: e.number = er->GetBool(entry, key_field); break;
        default:
          return false;
      }
      entries.push_back(e);
    }
    if (entries.size() > 1) {
      auto less = [key_type](const MapEntry& a, const MapEntry& b) {
        switch (key_type) {
          case FieldDescriptor::CPPTYPE_STRING: return *a.text < *b.text;  // bytewise
          case FieldDescriptor::CPPTYPE_UINT64:
            return static_cast<uint64_t>(a.number) < static_cast<uint64_t>(b.number);
          default: return a.number < b.number;
        }
      };
      // Stable, so that among equal keys the last added stays last.
      std::stable_sort(entries.begin(), entries.end(), less);
      size_t kept = 0;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i + 1 < entries.size() && !less(entries[i], entries[i + 1])) continue;
        entries[kept++] = entries[i];
      }
      entries.resize(kept);
    }
    bool first = true;
    for (const MapEntry& e : entries) {
      Separator(first, depth + 1);
      first = false;
      switch (key_type) {
        case FieldDescriptor::CPPTYPE_STRING:
          if (!AppendString(*e.text, out_)) return false;
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          out_->push_back('"');
          AppendUint(static_cast<uint64_t>(e.number), out_);
          out_->push_back('"');
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          out_->append(e.number != 0 ? "\"true\"" : "\"false\"");
          break;
        default:  // int32, int64, uint32 (all exact in int64)
          out_->push_back('"');
          AppendInt(e.number, out_);
          out_->push_back('"');
          break;
      }
      out_->append(options_.pretty ? ": " : ":");
      if (!WriteValue(*e.entry, value_field, -1, depth + 1)) return false;
    }
    Close('}', first, depth);
    return true;
  }

  bool WriteEnum(const FieldDescriptor* field, int number) {
    if (IsNullValueEnum(field->enum_type())) {
      out_->append("null");
      return true;
    }
    const EnumValueDescriptor* value = field->enum_type()->FindValueByNumber(number);
    if (value == nullptr) {
      AppendInt(number, out_);
    } else {
      out_->push_back('"');
      out_->append(value->name());
      out_->push_back('"');
    }
    return true;
  }

  // A message value inside a list, a map or a field.
  bool WriteNested(const Message& message, int depth) { return WriteMessage(message, depth); }

  // index < 0: singular field.
  bool WriteValue(const Message& message, const FieldDescriptor* field, int index,
                  int depth) {
    const Reflection* r = message.GetReflection();
    const bool rep = index >= 0;
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        AppendInt(rep ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field), out_);
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        AppendUint(rep ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field), out_);
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        out_->push_back('"');
        AppendInt(rep ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field), out_);
        out_->push_back('"');
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_->push_back('"');
        AppendUint(rep ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field), out_);
        out_->push_back('"');
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        AppendDoubleLike(rep ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field), out_);
        return true;
      case FieldDescriptor::CPPTYPE_FLOAT:
        AppendDoubleLike(rep ? r->GetRepeatedFloat(message, field, index) : r->GetFloat(message, field), out_);
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_->append((rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field)) ? "true" : "false");
        return true;
      case FieldDescriptor::CPPTYPE_ENUM:
        return WriteEnum(field, rep ? r->GetRepeatedEnumValue(message, field, index)
                                    : r->GetEnumValue(message, field));
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = rep ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                       : r->GetStringReference(message, field, &scratch);
        if (field->type() == FieldDescriptor::TYPE_BYTES) {
          AppendBase64(value, out_);
          return true;
        }
        return AppendString(value, out_);
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return WriteNested(rep ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field),
                           depth);
    }
    return false;
  }

  // ---- Well-known types ----

  bool WriteWkt(const Message& message, Wkt wkt, int depth) {
    const Descriptor* d = message.GetDescriptor();
    const Reflection* r = message.GetReflection();
    switch (wkt) {
      case Wkt::kNone:
      case Wkt::kAny:
        return false;
      case Wkt::kTimestamp: {
        const FieldDescriptor* seconds_field = d->FindFieldByNumber(1);
        const FieldDescriptor* nanos_field = d->FindFieldByNumber(2);
        if (seconds_field == nullptr || nanos_field == nullptr) return false;
        int64_t seconds = r->GetInt64(message, seconds_field);
        int32_t nanos = r->GetInt32(message, nanos_field);
        if (seconds < kTimestampMinSeconds || seconds > kTimestampMaxSeconds || nanos < 0 ||
            nanos > 999999999) {
          return false;
        }
        int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
        int64_t rem = seconds - days * 86400;
        int64_t year;
        unsigned month, day;
        CivilFromDays(days, &year, &month, &day);
        out_->push_back('"');
        AppendPadded(year, 4, out_);
        out_->push_back('-');
        AppendPadded(month, 2, out_);
        out_->push_back('-');
        AppendPadded(day, 2, out_);
        out_->push_back('T');
        AppendPadded(rem / 3600, 2, out_);
        out_->push_back(':');
        AppendPadded(rem / 60 % 60, 2, out_);
        out_->push_back(':');
        AppendPadded(rem % 60, 2, out_);
        AppendNanos(nanos, out_);
        out_->append("Z\"");
        return true;
      }
      case Wkt::kDuration: {
        const FieldDescriptor* seconds_field = d->FindFieldByNumber(1);
        const FieldDescriptor* nanos_field = d->FindFieldByNumber(2);
        if (seconds_field == nullptr || nanos_field == nullptr) return false;
        int64_t seconds = r->GetInt64(message, seconds_field);
        int32_t nanos = r->GetInt32(message, nanos_field);
        if (seconds < -kDurationMaxSeconds || seconds > kDurationMaxSeconds ||
            nanos < -999999999 || nanos > 999999999 || (seconds > 0 && nanos < 0) ||
            (seconds < 0 && nanos > 0)) {
          return false;
        }
        out_->push_back('"');
        if (seconds < 0 || nanos < 0) out_->push_back('-');
        AppendUint(seconds < 0 ? -static_cast<uint64_t>(seconds) : seconds, out_);
        AppendNanos(nanos < 0 ? -nanos : nanos, out_);
        out_->append("s\"");
        return true;
      }
      case Wkt::kFieldMask: {
        const FieldDescriptor* paths = d->FindFieldByNumber(1);
        if (paths == nullptr || !paths->is_repeated()) return false;
        const int size = r->FieldSize(message, paths);
        out_->push_back('"');
        for (int i = 0; i < size; ++i) {
          std::string scratch;
          const std::string& path = r->GetRepeatedStringReference(message, paths, i, &scratch);
          if (path.empty()) return false;
          if (i > 0) out_->push_back(',');
          // Only plain snake_case paths; anything else goes to protobuf.
          for (size_t j = 0; j < path.size(); ++j) {
            char c = path[j];
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') {
              out_->push_back(c);
            } else if (c == '_' && j > 0 && j + 1 < path.size() && path[j - 1] != '.' &&
                       path[j - 1] != '_' && path[j + 1] >= 'a' && path[j + 1] <= 'z') {
              out_->push_back(static_cast<char>(path[++j] - 'a' + 'A'));
            } else {
              return false;
            }
          }
        }
        out_->push_back('"');
        return true;
      }
      case Wkt::kStruct: {
        const FieldDescriptor* fields = d->FindFieldByNumber(1);
        if (fields == nullptr || !fields->is_map()) return false;
        return WriteMap(message, fields, depth);
      }
      case Wkt::kListValue: {
        const FieldDescriptor* values = d->FindFieldByNumber(1);
        if (values == nullptr || !values->is_repeated()) return false;
        return WriteField(message, values, depth);
      }
      case Wkt::kValue: {
        if (d->oneof_decl_count() != 1) return false;
        const FieldDescriptor* set = r->GetOneofFieldDescriptor(message, d->oneof_decl(0));
        if (set == nullptr) return false;  // an empty Value: protobuf prints nothing
        switch (set->number()) {
          case 1:  // null_value
            out_->append("null");
            return true;
          case 2: {  // number_value
            double v = r->GetDouble(message, set);
            if (!std::isfinite(v)) return false;
            AppendDouble(v, out_);
            return true;
          }
          case 3:  // string_value
          case 4:  // bool_value
          case 5:  // struct_value
          case 6:  // list_value
            return WriteValue(message, set, -1, depth);
        }
        return false;
      }
      default: {  // wrappers
        const FieldDescriptor* value = d->FindFieldByNumber(1);
        if (value == nullptr || value->is_repeated()) return false;
        return WriteValue(message, value, -1, depth);
      }
    }
  }

  const JsonWriteOptions& options_;
  std::string* out_;
  std::string key_scratch_;  // for GetStringReference; map keys never use it
};

}  // namespace

bool WriteJson(const Message& message, const JsonWriteOptions& options, std::string* out) {
  // Top-level well-known types print as bare values; leave those to protobuf.
  if (ClassifyWkt(message.GetDescriptor()) != Wkt::kNone) return false;
  Writer writer(options, out);
  return writer.WriteRoot(message);
}

}  // namespace kei::json_internal
