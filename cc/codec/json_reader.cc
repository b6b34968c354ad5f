#include "cc/codec/json_reader.h"

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/codec/json_scan.h"
#include "cc/codec/json_wkt.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/stubs/strutil.h"

namespace kei::json_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// JSON nesting (objects and arrays) and message nesting allowed; binary
// protobuf refuses messages nested deeper than 100 anyway.
constexpr int kMaxJsonDepth = 100;
constexpr int kMaxMessageDepth = 100;

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Characters of a base64 value: 0 not allowed, 1 in both alphabets (letters,
// digits, '='), 2 standard only ('+', '/'), 3 URL-safe only ('-', '_').
constexpr struct Base64Classes {
  unsigned char of[256] = {};
  constexpr Base64Classes() {
    for (int c = 'A'; c <= 'Z'; ++c) of[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c) of[c] = 1;
    for (int c = '0'; c <= '9'; ++c) of[c] = 1;
    of[static_cast<int>('=')] = 1;
    of[static_cast<int>('+')] = of[static_cast<int>('/')] = 2;
    of[static_cast<int>('-')] = of[static_cast<int>('_')] = 3;
  }
  unsigned char operator[](unsigned char c) const { return of[c]; }
} kBase64Class;

// A JSON scalar, or the start of an object/array (not consumed).
struct Scalar {
  enum Kind { kNumber, kString, kTrue, kFalse, kNull, kObject, kArray } kind;
  absl::string_view text;  // number text or decoded string
};

// Strict RFC 8259 number grammar over the whole of `s`.
bool IsStrictNumber(absl::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  return i == n;
}

bool IsIntegerText(absl::string_view s) {
  return s.find_first_of(".eE") == absl::string_view::npos;
}

// Keys seen so far in one JSON object, each with an int: a linear scan while
// there are few (no allocation), a hash table beyond that, so that duplicate
// detection stays linear in the input.
template <typename K>
class KeyIndex {
 public:
  // The int stored with `key`, or -1.
  template <typename Q>
  int Find(const Q& key) const {
    if (!large_.empty()) {
      auto it = large_.find(key);
      return it == large_.end() ? -1 : it->second;
    }
    for (const auto& [k, v] : small_) {
      if (k == key) return v;
    }
    return -1;
  }
  void Add(K key, int value) {
    if (large_.empty() && small_.size() < kSmall) {
      small_.emplace_back(std::move(key), value);
      return;
    }
    if (large_.empty()) {
      large_.reserve(kSmall * 2);
      for (auto& [k, v] : small_) large_.emplace(std::move(k), v);
      small_.clear();
    }
    large_.emplace(std::move(key), value);
  }

 private:
  static constexpr size_t kSmall = 8;
  absl::InlinedVector<std::pair<K, int>, kSmall> small_;
  absl::flat_hash_map<K, int> large_;
};

class Reader {
 public:
  Reader(absl::string_view data, const JsonReadOptions& options)
      : p_(data.data()), end_(data.data() + data.size()), options_(options) {}

  ReadResult Run(Message* message, std::string* error) {
    SkipWs();
    if (p_ == end_ || *p_ != '{') {
      if (p_ != end_ && (*p_ == '\'')) return ReadResult::kUnsupported;
      *error = "expected a JSON object";
      return ReadResult::kInvalid;
    }
    if (ParseMessageObject(message, 0, 0)) {
      SkipWs();
      if (p_ == end_) return ReadResult::kOk;
      Fail("unexpected data after the JSON object");
    }
    if (result_ == ReadResult::kInvalid) *error = std::move(error_);
    return result_;
  }

 private:
  // ---- errors ----

  bool Unsupported() {
    result_ = ReadResult::kUnsupported;
    return false;
  }
  bool Fail(absl::string_view what) {
    if (result_ != ReadResult::kOk) return false;
    result_ = ReadResult::kInvalid;
    std::string path;
    for (const FieldDescriptor* field : path_) {
      if (!path.empty()) path.push_back('.');
      path.append(field->json_name());
    }
    if (path.empty()) {
      error_ = absl::StrCat(what, " at offset ", offset());
    } else {
      error_ = absl::StrCat(path, ": ", what);
    }
    return false;
  }
  bool FailGot(absl::string_view expected, const Scalar& s) {
    std::string got;
    switch (s.kind) {
      case Scalar::kNumber: got = std::string(s.text.substr(0, 40)); break;
      case Scalar::kString:
        got = absl::StrCat("\"", s.text.substr(0, 40), s.text.size() > 40 ? "...\"" : "\"");
        break;
      case Scalar::kTrue: got = "true"; break;
      case Scalar::kFalse: got = "false"; break;
      case Scalar::kNull: got = "null"; break;
      case Scalar::kObject: got = "an object"; break;
      case Scalar::kArray: got = "an array"; break;
    }
    return Fail(absl::StrCat("expected ", expected, ", got ", got));
  }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }

  // ---- lexing ----

  void SkipWs() {
    while (p_ != end_ && IsWs(*p_)) ++p_;
  }
  bool Consume(char c) {
    SkipWs();
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool Literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }

  static bool AppendUtf8(uint32_t cp, std::string* out) {
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
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      char c = p_[i];
      r <<= 4;
      if (c >= '0' && c <= '9') r |= c - '0';
      else if (c >= 'a' && c <= 'f') r |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') r |= c - 'A' + 10;
      else return false;
    }
    p_ += 4;
    *v = r;
    return true;
  }

  // At '"'. Returns the string's contents: a view of the input when it has no
  // escapes, else decoded into `scratch`. Validates UTF-8.
  bool ParseString(std::string* scratch, absl::string_view* out) {
    ++p_;  // '"'
    const char* start = p_;
    // Fast path: no escapes, plain ASCII.
    p_ = SkipPlainStringBytes(p_, end_);
    if (p_ != end_ && *p_ == '"') {
      *out = absl::string_view(start, p_ - start);
      ++p_;
      return true;
    }
    scratch->assign(start, p_ - start);
    while (p_ != end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        *out = *scratch;
        return true;
      }
      if (c < 0x20) return Unsupported();  // protobuf takes raw control characters
      if (c >= 0x80) {
        // Copy one strictly valid UTF-8 sequence.
        int len = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
        if (len == 0 || end_ - p_ < len) return Unsupported();
        uint32_t cp = c & (0xff >> (len + 1));
        for (int i = 1; i < len; ++i) {
          unsigned char cc = static_cast<unsigned char>(p_[i]);
          if ((cc & 0xc0) != 0x80) return Unsupported();
          cp = (cp << 6) | (cc & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
          return Unsupported();
        }
        scratch->append(p_, len);
        p_ += len;
        continue;
      }
      if (c != '\\') {
        scratch->push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      ++p_;
      if (p_ == end_) break;
      char e = *p_++;
      switch (e) {
        case '"': scratch->push_back('"'); break;
        case '\\': scratch->push_back('\\'); break;
        case '/': scratch->push_back('/'); break;
        case 'b': scratch->push_back('\b'); break;
        case 'f': scratch->push_back('\f'); break;
        case 'n': scratch->push_back('\n'); break;
        case 'r': scratch->push_back('\r'); break;
        case 't': scratch->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return Fail("invalid \\u escape in string");
          if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("invalid unicode code point in string");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
              return Fail("missing low surrogate in string");
            }
            p_ += 2;
            if (!Hex4(&low) || low < 0xdc00 || low > 0xdfff) {
              return Fail("invalid low surrogate in string");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(cp, scratch);
          break;
        }
        default:
          return Unsupported();  // protobuf accepts unknown escapes
      }
    }
    return Fail("unterminated string");
  }

  // Reads a scalar value; objects and arrays are reported, not consumed.
  bool ReadScalar(Scalar* s) {
    SkipWs();
    if (p_ == end_) return Fail("unexpected end of input, expected a value");
    char c = *p_;
    switch (c) {
      case '"':
        s->kind = Scalar::kString;
        return ParseString(&string_scratch_, &s->text);
      case '{':
        s->kind = Scalar::kObject;
        return true;
      case '[':
        s->kind = Scalar::kArray;
        return true;
      case 't':
        if (Literal("true", 4)) { s->kind = Scalar::kTrue; return true; }
        break;
      case 'f':
        if (Literal("false", 5)) { s->kind = Scalar::kFalse; return true; }
        break;
      case 'n':
        if (Literal("null", 4)) { s->kind = Scalar::kNull; return true; }
        break;
      case '\'':
        return Unsupported();
      default:
        if (c == '-' || IsDigit(c)) {
          // protobuf's lax number scan; anything beyond strict JSON goes to it.
          const char* start = p_;
          ++p_;
          while (p_ != end_ && (IsDigit(*p_) || *p_ == '.' || *p_ == 'e' || *p_ == 'E' ||
                                *p_ == '+' || *p_ == '-' || *p_ == 'x')) {
            ++p_;
          }
          s->kind = Scalar::kNumber;
          s->text = absl::string_view(start, p_ - start);
          if (!IsStrictNumber(s->text)) return Unsupported();
          return true;
        }
        break;
    }
    return Fail("invalid JSON value");
  }

  // Skips any JSON value (an unknown field's).
  bool SkipValue(int json_depth) {
    SkipWs();
    if (p_ == end_) return Fail("unexpected end of input, expected a value");
    if (*p_ == '{' || *p_ == '[') {
      if (json_depth + 1 > kMaxJsonDepth) return Fail("JSON nested too deeply");
      const bool object = *p_ == '{';
      ++p_;
      if (Consume(object ? '}' : ']')) return true;
      while (true) {
        if (object) {
          SkipWs();
          if (p_ == end_ || *p_ != '"') return KeyError();
          absl::string_view key;
          if (!ParseString(&key_scratch_, &key)) return false;
          if (!Consume(':')) return Fail("expected ':' after object key");
        }
        if (!SkipValue(json_depth + 1)) return false;
        if (Consume(',')) {
          SkipWs();
          if (p_ != end_ && *p_ == (object ? '}' : ']')) return Unsupported();  // trailing comma
          continue;
        }
        if (Consume(object ? '}' : ']')) return true;
        return Fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    Scalar s;
    return ReadScalar(&s);
  }

  bool KeyError() {
    if (p_ != end_ && (*p_ == '\'' || *p_ == '_' || std::isalpha(static_cast<unsigned char>(*p_)) ||
                       *p_ == '}')) {
      return Unsupported();  // unquoted or single-quoted keys, trailing commas
    }
    return Fail("expected a quoted object key");
  }

  // ---- messages ----

  const FieldDescriptor* FindField(const Descriptor* d, absl::string_view key) {
    const FieldDescriptor* f = nullptr;
    if (key.size() < 64) {
      // ConstStringParam is std::string in protobuf 3.21; short keys stay in SSO.
      std::string name(key);
      f = d->FindFieldByName(name);
      if (f != nullptr) return f;
      f = d->FindFieldByCamelcaseName(name);
      if (f != nullptr && f->json_name() == key) return f;
    }
    const int count = d->field_count();
    for (int i = 0; i < count; ++i) {
      const FieldDescriptor* field = d->field(i);
      if (field->json_name() == key) return field;
    }
    return nullptr;
  }

  // At '{'. Parses the members of an object into `message` (a non-WKT message).
  bool ParseMessageObject(Message* message, int json_depth, int msg_depth) {
    if (json_depth + 1 > kMaxJsonDepth || msg_depth > kMaxMessageDepth) {
      return Fail("JSON nested too deeply");
    }
    const Descriptor* d = message->GetDescriptor();
    if (d->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3) {
      return Unsupported();
    }
    if (d->oneof_decl_count() > 64) return Unsupported();
    uint64_t oneofs_set = 0;
    ++p_;  // '{'
    if (Consume('}')) return true;
    while (true) {
      SkipWs();
      if (p_ == end_ || *p_ != '"') return KeyError();
      absl::string_view key;
      if (!ParseString(&key_scratch_, &key)) return false;
      if (!Consume(':')) return Fail("expected ':' after object key");
      const FieldDescriptor* field = key.empty() ? nullptr : FindField(d, key);
      if (field == nullptr) {
        if (options_.reject_unknown_fields || key.empty()) {
          return Fail(absl::StrCat("unknown field \"", key.substr(0, 64), "\" in ",
                                   d->full_name()));
        }
        if (!SkipValue(json_depth + 1)) return false;
      } else {
        path_.push_back(field);
        if (!ParseField(message, field, &oneofs_set, json_depth + 1, msg_depth)) return false;
        path_.pop_back();
      }
      if (Consume(',')) {
        SkipWs();
        if (p_ != end_ && *p_ == '}') return Unsupported();  // trailing comma
        continue;
      }
      if (Consume('}')) return true;
      return Fail("expected ',' or '}' after object member");
    }
  }

  bool IsValueType(const FieldDescriptor* f) {
    return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
           ClassifyWkt(f->message_type()) == Wkt::kValue;
  }

  bool ParseField(Message* message, const FieldDescriptor* field, uint64_t* oneofs_set,
                  int json_depth, int msg_depth) {
    const Reflection* r = message->GetReflection();
    SkipWs();
    if (p_ == end_) return Fail("unexpected end of input, expected a value");
    const bool is_null = Literal("null", 4);
    if (is_null && !(IsValueType(field) && !field->is_repeated())) {
      return true;  // null: the field keeps its default
    }
    if (const google::protobuf::OneofDescriptor* oneof = field->containing_oneof()) {
      uint64_t bit = uint64_t{1} << oneof->index();
      if (*oneofs_set & bit) {
        return Fail(absl::StrCat("oneof ", oneof->name(), " is already set"));
      }
      *oneofs_set |= bit;
    }
    if (is_null) {  // a singular google.protobuf.Value
      return SetValueNull(r->MutableMessage(message, field));
    }
    if (field->is_map()) return ParseMap(message, field, json_depth, msg_depth);
    if (field->is_repeated()) {
      if (*p_ != '[') return Unsupported();  // protobuf takes a lone value as a list of one
      return ParseList(message, field, json_depth, msg_depth);
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return ParseMessageValue(r->MutableMessage(message, field), json_depth, msg_depth + 1);
    }
    return ParseScalarInto(message, field, -1);
  }

  bool ParseList(Message* message, const FieldDescriptor* field, int json_depth, int msg_depth) {
    if (json_depth + 1 > kMaxJsonDepth) return Fail("JSON nested too deeply");
    const Reflection* r = message->GetReflection();
    ++p_;  // '['
    if (Consume(']')) return true;
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    while (true) {
      SkipWs();
      if (p_ == end_) return Fail("unexpected end of input in array");
      if (Literal("null", 4)) {
        if (IsValueType(field)) {
          if (!SetValueNull(r->AddMessage(message, field))) return false;
        }
        // Other null elements are dropped, as protobuf does.
      } else if (is_message) {
        if (!ParseMessageValue(r->AddMessage(message, field), json_depth, msg_depth + 1)) {
          return false;
        }
      } else {
        if (!ParseScalarInto(message, field, 0)) return false;
      }
      if (Consume(',')) {
        SkipWs();
        if (p_ != end_ && *p_ == ']') return Unsupported();  // trailing comma
        continue;
      }
      if (Consume(']')) return true;
      return Fail("expected ',' or ']' in array");
    }
  }

  // Maps are filled through the public repeated view, one entry message per
  // key. protobuf's JSON parser refuses a key spelled twice and otherwise lets
  // a later entry for the same key ("1" then "01", "true" then "t") replace
  // the earlier one, as binary parsing does; the entry is reused so that the
  // view holds each key once, like a map parsed from binary.
  bool ParseMap(Message* message, const FieldDescriptor* field, int json_depth, int msg_depth) {
    const Reflection* r = message->GetReflection();
    if (*p_ != '{') {
      Scalar s;
      if (!ReadScalar(&s)) return false;
      return FailGot("an object", s);
    }
    if (json_depth + 1 > kMaxJsonDepth) return Fail("JSON nested too deeply");
    if (r->FieldSize(*message, field) != 0) return Unsupported();  // map given twice
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    const FieldDescriptor::CppType key_type = key_field->cpp_type();
    const bool message_value = value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    KeyIndex<absl::string_view> string_keys;  // string keys (views into the entries)
    KeyIndex<uint64_t> number_keys;           // other keys, by value
    KeyIndex<std::string> spellings;          // other keys, as written
    ++p_;  // '{'
    if (Consume('}')) return true;
    int size = 0;
    while (true) {
      SkipWs();
      if (p_ == end_ || *p_ != '"') return KeyError();
      absl::string_view key;
      if (!ParseString(&key_scratch_, &key)) return false;
      if (!Consume(':')) return Fail("expected ':' after map key");
      Message* entry;
      if (key_type == FieldDescriptor::CPPTYPE_STRING) {
        if (string_keys.Find(key) >= 0) return DuplicateKey(key);
        entry = r->AddMessage(message, field);
        const Reflection* er = entry->GetReflection();
        er->SetString(entry, key_field, std::string(key));
        std::string unused;
        const std::string& stored = er->GetStringReference(*entry, key_field, &unused);
        if (&stored == &unused) return Unsupported();
        string_keys.Add(stored, size++);
      } else {
        if (spellings.Find(key) >= 0) return DuplicateKey(key);
        spellings.Add(std::string(key), 0);
        uint64_t number;
        if (key_type == FieldDescriptor::CPPTYPE_BOOL) {
          bool v;
          if (!StringToBool(key, &v)) return FailGot("a boolean map key", Scalar{Scalar::kString, key});
          entry = r->AddMessage(message, field);
          entry->GetReflection()->SetBool(entry, key_field, v);
          number = v;
        } else {
          entry = r->AddMessage(message, field);
          Scalar s{Scalar::kString, key};
          if (!ParseScalarInto(entry, key_field, -1, &s)) return false;
          const Reflection* er = entry->GetReflection();
          switch (key_type) {
            case FieldDescriptor::CPPTYPE_INT32: number = static_cast<int64_t>(er->GetInt32(*entry, key_field)); break;
            case FieldDescriptor::CPPTYPE_INT64: number = static_cast<uint64_t>(er->GetInt64(*entry, key_field)); break;
            case FieldDescriptor::CPPTYPE_UINT32: number = er->GetUInt32(*entry, key_field); break;
            case FieldDescriptor::CPPTYPE_UINT64: number = er->GetUInt64(*entry, key_field); break;
            default: return Unsupported();
          }
        }
        const int existing = number_keys.Find(number);
        if (existing >= 0) {
          // Another spelling of a key already read: the later value wins.
          r->RemoveLast(message, field);
          entry = r->MutableRepeatedMessage(message, field, existing);
          entry->GetReflection()->ClearField(entry, value_field);
        } else {
          number_keys.Add(number, size++);
        }
      }
      const Reflection* er = entry->GetReflection();
      SkipWs();
      if (p_ == end_) return Fail("unexpected end of input, expected a value");
      if (Literal("null", 4)) {
        // The entry keeps its default value (Value: null).
        if (IsValueType(value_field)) {
          if (!SetValueNull(er->MutableMessage(entry, value_field))) return false;
        } else if (message_value) {
          er->MutableMessage(entry, value_field);
        }
      } else if (message_value) {
        if (!ParseMessageValue(er->MutableMessage(entry, value_field), json_depth, msg_depth + 1)) {
          return false;
        }
      } else {
        if (!ParseScalarInto(entry, value_field, -1)) return false;
      }
      if (Consume(',')) {
        SkipWs();
        if (p_ != end_ && *p_ == '}') return Unsupported();  // trailing comma
        continue;
      }
      if (Consume('}')) return true;
      return Fail("expected ',' or '}' in map");
    }
  }

  bool DuplicateKey(absl::string_view key) {
    return Fail(absl::StrCat("duplicate map key \"", key.substr(0, 64), "\""));
  }

  bool SetValueNull(Message* value) {
    const Descriptor* d = value->GetDescriptor();
    const FieldDescriptor* null_field = d->FindFieldByNumber(1);
    if (null_field == nullptr || null_field->cpp_type() != FieldDescriptor::CPPTYPE_ENUM) {
      return Unsupported();
    }
    value->GetReflection()->SetEnumValue(value, null_field, 0);
    return true;
  }

  // ---- scalar conversions (protobuf's DataPiece rules) ----

  // safe_strtob: true/t/yes/y/1 and false/f/no/n/0, any case.
  static bool StringToBool(absl::string_view s, bool* v) {
    if (!s.empty() && (s.front() == ' ' || s.back() == ' ')) return false;
    return google::protobuf::safe_strtob(google::protobuf::StringPiece(s.data(), s.size()), v);
  }

  // Integers from JSON numbers (exact doubles allowed) or strings
  // ([+-]digits, as protobuf's safe_strto*).
  enum class Conv { kOk, kBad, kUnsupported };

  static Conv NumberToInt64(absl::string_view text, int64_t lo, int64_t hi, int64_t* out) {
    if (IsIntegerText(text)) {
      int64_t v;
      if (absl::SimpleAtoi(text, &v)) {
        if (v < lo || v > hi) return Conv::kBad;
        *out = v;
        return Conv::kOk;
      }
      if (text[0] != '-') return Conv::kBad;  // too large
    }
    double d;
    if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) return Conv::kBad;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return Conv::kBad;
    int64_t v = static_cast<int64_t>(d);
    if (static_cast<double>(v) != d || v < lo || v > hi) return Conv::kBad;
    *out = v;
    return Conv::kOk;
  }

  static Conv NumberToUint64(absl::string_view text, uint64_t hi, uint64_t* out) {
    if (IsIntegerText(text)) {
      if (text == "-0") {
        *out = 0;
        return Conv::kOk;
      }
      uint64_t v;
      if (absl::SimpleAtoi(text, &v)) {
        if (v > hi) return Conv::kBad;
        *out = v;
        return Conv::kOk;
      }
      return Conv::kBad;
    }
    double d;
    if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) return Conv::kBad;
    if (d < 0 || d >= 18446744073709551616.0) return Conv::kBad;
    uint64_t v = static_cast<uint64_t>(d);
    if (static_cast<double>(v) != d || v > hi) return Conv::kBad;
    *out = v;
    return Conv::kOk;
  }

  static Conv StringToInteger(absl::string_view s, bool is_signed, absl::string_view* digits,
                              bool* negative) {
    size_t i = 0;
    *negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      *negative = s[0] == '-';
      i = 1;
    }
    if (i == s.size()) return Conv::kBad;
    for (size_t j = i; j < s.size(); ++j) {
      if (!IsDigit(s[j])) {
        for (char c : s) {
          if (c != ' ' && std::isspace(static_cast<unsigned char>(c))) return Conv::kUnsupported;
        }
        return Conv::kBad;
      }
    }
    if (*negative && !is_signed) return Conv::kBad;
    *digits = s.substr(i);
    return Conv::kOk;
  }

  static Conv ToInt64(const Scalar& s, int64_t lo, int64_t hi, int64_t* out) {
    if (s.kind == Scalar::kNumber) return NumberToInt64(s.text, lo, hi, out);
    if (s.kind != Scalar::kString) return Conv::kBad;
    absl::string_view digits;
    bool negative;
    Conv c = StringToInteger(s.text, true, &digits, &negative);
    if (c != Conv::kOk) return c;
    uint64_t magnitude;
    if (!absl::SimpleAtoi(digits, &magnitude)) return Conv::kBad;
    if (negative) {
      if (magnitude > uint64_t{1} << 63) return Conv::kBad;
      int64_t v = magnitude == uint64_t{1} << 63 ? std::numeric_limits<int64_t>::min()
                                                 : -static_cast<int64_t>(magnitude);
      if (v < lo) return Conv::kBad;
      *out = v;
    } else {
      if (magnitude > static_cast<uint64_t>(hi)) return Conv::kBad;
      *out = static_cast<int64_t>(magnitude);
    }
    return Conv::kOk;
  }

  static Conv ToUint64(const Scalar& s, uint64_t hi, uint64_t* out) {
    if (s.kind == Scalar::kNumber) return NumberToUint64(s.text, hi, out);
    if (s.kind != Scalar::kString) return Conv::kBad;
    absl::string_view digits;
    bool negative;
    Conv c = StringToInteger(s.text, false, &digits, &negative);
    if (c != Conv::kOk) return c;
    uint64_t v;
    if (!absl::SimpleAtoi(digits, &v) || v > hi) return Conv::kBad;
    *out = v;
    return Conv::kOk;
  }

  static Conv ToDouble(const Scalar& s, double* out) {
    if (s.kind == Scalar::kNumber) {
      if (IsIntegerText(s.text)) {
        // protobuf reads integers as integers first: "-0" is 0, not -0.0.
        int64_t i;
        uint64_t u;
        if (absl::SimpleAtoi(s.text, &i)) {
          *out = static_cast<double>(i);
          return Conv::kOk;
        }
        if (absl::SimpleAtoi(s.text, &u)) {
          *out = static_cast<double>(u);
          return Conv::kOk;
        }
      }
      if (!absl::SimpleAtod(s.text, out) || !std::isfinite(*out)) return Conv::kBad;
      return Conv::kOk;
    }
    if (s.kind != Scalar::kString) return Conv::kBad;
    if (s.text == "NaN") {
      *out = std::numeric_limits<double>::quiet_NaN();
      return Conv::kOk;
    }
    if (s.text == "Infinity") {
      *out = std::numeric_limits<double>::infinity();
      return Conv::kOk;
    }
    if (s.text == "-Infinity") {
      *out = -std::numeric_limits<double>::infinity();
      return Conv::kOk;
    }
    if (!IsStrictNumber(s.text)) {
      for (char c : s.text) {
        if (!(IsDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' ||
              c == 'x' || c == 'X' || c == 'p' || c == 'P')) {
          return Conv::kBad;
        }
      }
      return Conv::kUnsupported;  // "1.", ".5", "+1", hex: protobuf's strtod decides
    }
    if (!absl::SimpleAtod(s.text, out) || !std::isfinite(*out)) return Conv::kBad;
    return Conv::kOk;
  }

  // index < 0: set a singular field; else add to a repeated one. `given`: a
  // scalar already read (map keys).
  bool ParseScalarInto(Message* message, const FieldDescriptor* field, int index,
                       const Scalar* given = nullptr) {
    const Reflection* r = message->GetReflection();
    Scalar s;
    if (given != nullptr) {
      s = *given;
    } else if (!ReadScalar(&s)) {
      return false;
    }
    const bool add = index >= 0;
    auto conv_fail = [&](Conv c, absl::string_view expected) {
      if (c == Conv::kUnsupported) return Unsupported();
      return FailGot(expected, s);
    };
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int64_t v;
        Conv c = ToInt64(s, std::numeric_limits<int32_t>::min(),
                         std::numeric_limits<int32_t>::max(), &v);
        if (c != Conv::kOk) return conv_fail(c, "an integer");
        add ? r->AddInt32(message, field, static_cast<int32_t>(v))
            : r->SetInt32(message, field, static_cast<int32_t>(v));
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        Conv c = ToInt64(s, std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), &v);
        if (c != Conv::kOk) return conv_fail(c, "an integer");
        add ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint64_t v;
        Conv c = ToUint64(s, std::numeric_limits<uint32_t>::max(), &v);
        if (c != Conv::kOk) return conv_fail(c, "a non-negative integer");
        add ? r->AddUInt32(message, field, static_cast<uint32_t>(v))
            : r->SetUInt32(message, field, static_cast<uint32_t>(v));
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        Conv c = ToUint64(s, std::numeric_limits<uint64_t>::max(), &v);
        if (c != Conv::kOk) return conv_fail(c, "a non-negative integer");
        add ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        Conv c = ToDouble(s, &v);
        if (c != Conv::kOk) return conv_fail(c, "a number");
        add ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        Conv c = ToDouble(s, &v);
        if (c != Conv::kOk) return conv_fail(c, "a number");
        if (std::isfinite(v) && (v > FLT_MAX || v < -FLT_MAX)) {
          // protobuf tolerates a rounding sliver above FLT_MAX; let it judge.
          if (std::fabs(v) < 3.4028236e38) return Unsupported();
          return FailGot("a 32-bit float", s);
        }
        float f = static_cast<float>(v);
        add ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (s.kind == Scalar::kTrue || s.kind == Scalar::kFalse) {
          v = s.kind == Scalar::kTrue;
        } else if (s.kind == Scalar::kString && StringToBool(s.text, &v)) {
        } else {
          return FailGot("a boolean", s);
        }
        add ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        if (s.kind != Scalar::kString) {
          return FailGot(field->type() == FieldDescriptor::TYPE_BYTES ? "base64 bytes" : "a string", s);
        }
        if (field->type() == FieldDescriptor::TYPE_BYTES) {
          // Standard or URL-safe base64 (as protobuf reads it); one alphabet
          // per value, so only that one's decoder runs.
          bool standard = false, url_safe = false;
          for (char c : s.text) {
            switch (kBase64Class[static_cast<unsigned char>(c)]) {
              case 0: return FailGot("base64 bytes", s);
              case 2: standard = true; break;
              case 3: url_safe = true; break;
              default: break;
            }
          }
          std::string decoded;
          google::protobuf::StringPiece piece(s.text.data(), s.text.size());
          if ((standard && url_safe) ||
              !(standard ? google::protobuf::Base64Unescape(piece, &decoded)
                         : google::protobuf::WebSafeBase64Unescape(piece, &decoded))) {
            return FailGot("base64 bytes", s);
          }
          add ? r->AddString(message, field, std::move(decoded))
              : r->SetString(message, field, std::move(decoded));
          return true;
        }
        add ? r->AddString(message, field, std::string(s.text))
            : r->SetString(message, field, std::string(s.text));
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number;
        if (s.kind == Scalar::kString) {
          const EnumValueDescriptor* value =
              field->enum_type()->FindValueByName(std::string(s.text));
          if (value != nullptr) {
            number = value->number();
          } else {
            int64_t v;
            Conv c = ToInt64(s, std::numeric_limits<int32_t>::min(),
                             std::numeric_limits<int32_t>::max(), &v);
            if (c == Conv::kUnsupported) return Unsupported();
            if (c != Conv::kOk) {
              if (!options_.reject_unknown_fields) {
                // protobuf drops unknown enum names when ignoring unknown fields
                // (a map entry keeps its key with the default value).
                if (field->containing_type()->options().map_entry()) {
                  r->SetEnumValue(message, field, 0);
                }
                return true;
              }
              return FailGot(absl::StrCat("a value of ", field->enum_type()->full_name()), s);
            }
            number = static_cast<int>(v);
          }
        } else if (s.kind == Scalar::kNumber) {
          int64_t v;
          Conv c = NumberToInt64(s.text, std::numeric_limits<int32_t>::min(),
                                 std::numeric_limits<int32_t>::max(), &v);
          if (c != Conv::kOk) return FailGot(absl::StrCat("a value of ", field->enum_type()->full_name()), s);
          number = static_cast<int>(v);
        } else {
          return FailGot(absl::StrCat("a value of ", field->enum_type()->full_name()), s);
        }
        add ? r->AddEnumValue(message, field, number) : r->SetEnumValue(message, field, number);
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Unsupported();
    }
    return Unsupported();
  }

  // ---- message values, well-known types included ----

  bool ParseMessageValue(Message* message, int json_depth, int msg_depth) {
    if (msg_depth > kMaxMessageDepth) return Fail("JSON nested too deeply");
    const Descriptor* d = message->GetDescriptor();
    const Reflection* r = message->GetReflection();
    Wkt wkt = ClassifyWkt(d);
    SkipWs();
    if (p_ == end_) return Fail("unexpected end of input, expected a value");
    switch (wkt) {
      case Wkt::kNone: {
        if (*p_ != '{') {
          Scalar s;
          if (!ReadScalar(&s)) return false;
          return FailGot("an object", s);
        }
        return ParseMessageObject(message, json_depth, msg_depth);
      }
      case Wkt::kAny:
        return Unsupported();
      case Wkt::kStruct: {
        const FieldDescriptor* fields = d->FindFieldByNumber(1);
        if (fields == nullptr || !fields->is_map()) return Unsupported();
        return ParseMap(message, fields, json_depth, msg_depth);
      }
      case Wkt::kListValue: {
        const FieldDescriptor* values = d->FindFieldByNumber(1);
        if (values == nullptr || !values->is_repeated()) return Unsupported();
        if (*p_ != '[') return Unsupported();
        return ParseList(message, values, json_depth, msg_depth);
      }
      case Wkt::kValue: {
        if (d->field_count() != 6) return Unsupported();
        char c = *p_;
        if (c == '{') {
          return ParseMessageValue(r->MutableMessage(message, d->FindFieldByNumber(5)), json_depth,
                                   msg_depth + 1);
        }
        if (c == '[') {
          return ParseMessageValue(r->MutableMessage(message, d->FindFieldByNumber(6)), json_depth,
                                   msg_depth + 1);
        }
        Scalar s;
        if (!ReadScalar(&s)) return false;
        switch (s.kind) {
          case Scalar::kNull:
            return SetValueNull(message);
          case Scalar::kTrue:
          case Scalar::kFalse:
            r->SetBool(message, d->FindFieldByNumber(4), s.kind == Scalar::kTrue);
            return true;
          case Scalar::kString:
            r->SetString(message, d->FindFieldByNumber(3), std::string(s.text));
            return true;
          case Scalar::kNumber: {
            double v;
            if (ToDouble(s, &v) != Conv::kOk) return FailGot("a number", s);
            r->SetDouble(message, d->FindFieldByNumber(2), v);
            return true;
          }
          default:
            return Unsupported();
        }
      }
      case Wkt::kTimestamp:
      case Wkt::kDuration:
      case Wkt::kFieldMask: {
        Scalar s;
        if (!ReadScalar(&s)) return false;
        if (s.kind != Scalar::kString) {
          return FailGot(wkt == Wkt::kTimestamp  ? "an RFC 3339 timestamp string"
                         : wkt == Wkt::kDuration ? "a duration string like \"1.5s\""
                                                 : "a field mask string",
                         s);
        }
        if (wkt == Wkt::kTimestamp) return ParseTimestamp(message, s);
        if (wkt == Wkt::kDuration) return ParseDuration(message, s);
        return ParseFieldMask(message, s);
      }
      default: {  // wrappers
        const FieldDescriptor* value = d->FindFieldByNumber(1);
        if (value == nullptr || value->is_repeated()) return Unsupported();
        return ParseScalarInto(message, value, -1);
      }
    }
  }

  static bool Digits(absl::string_view s, size_t pos, size_t n, int64_t* out) {
    if (pos + n > s.size()) return false;
    int64_t v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!IsDigit(s[i])) return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  }

  bool ParseTimestamp(Message* message, const Scalar& s) {
    const absl::string_view t = s.text;
    int64_t year, month, day, hour, minute, second;
    auto bad = [&] { return FailGot("an RFC 3339 timestamp string", s); };
    if (!Digits(t, 0, 4, &year) || t.size() < 20 || t[4] != '-' || !Digits(t, 5, 2, &month) ||
        t[7] != '-' || !Digits(t, 8, 2, &day) || t[10] != 'T' || !Digits(t, 11, 2, &hour) ||
        t[13] != ':' || !Digits(t, 14, 2, &minute) || t[16] != ':' ||
        !Digits(t, 17, 2, &second)) {
      return bad();
    }
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 ||
        day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) || hour > 23 || minute > 59 ||
        second > 59) {
      return bad();
    }
    size_t i = 19;
    int64_t nanos = 0;
    if (i < t.size() && t[i] == '.') {
      ++i;
      size_t start = i;
      while (i < t.size() && IsDigit(t[i])) ++i;
      size_t n = i - start;
      if (n == 0) return bad();
      if (n > 9) return Unsupported();  // protobuf truncates; let it
      for (size_t k = start; k < i; ++k) nanos = nanos * 10 + (t[k] - '0');
      for (size_t k = n; k < 9; ++k) nanos *= 10;
    }
    int64_t offset = 0;
    if (i < t.size() && t[i] == 'Z') {
      ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
      int64_t oh, om;
      if (!Digits(t, i + 1, 2, &oh) || i + 3 >= t.size() || t[i + 3] != ':' ||
          !Digits(t, i + 4, 2, &om) || oh > 23 || om > 59) {
        return bad();
      }
      offset = (oh * 3600 + om * 60) * (t[i] == '+' ? 1 : -1);
      i += 6;
    } else {
      return bad();
    }
    if (i != t.size()) return bad();
    int64_t seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                      hour * 3600 + minute * 60 + second - offset;
    if (seconds < kTimestampMinSeconds || seconds > kTimestampMaxSeconds) return Unsupported();
    const Descriptor* d = message->GetDescriptor();
    const FieldDescriptor* sf = d->FindFieldByNumber(1);
    const FieldDescriptor* nf = d->FindFieldByNumber(2);
    if (sf == nullptr || nf == nullptr) return Unsupported();
    message->GetReflection()->SetInt64(message, sf, seconds);
    message->GetReflection()->SetInt32(message, nf, static_cast<int32_t>(nanos));
    return true;
  }

  bool ParseDuration(Message* message, const Scalar& s) {
    absl::string_view t = s.text;
    auto bad = [&] { return FailGot("a duration string like \"1.5s\"", s); };
    if (t.empty() || t.back() != 's') return bad();
    t.remove_suffix(1);
    bool negative = false;
    if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
      negative = t[0] == '-';
      t.remove_prefix(1);
    }
    size_t dot = t.find('.');
    absl::string_view secs = t.substr(0, dot);
    absl::string_view frac = dot == absl::string_view::npos ? absl::string_view() : t.substr(dot + 1);
    if (secs.empty()) return bad();
    for (char c : secs) {
      if (!IsDigit(c)) return Unsupported();
    }
    for (char c : frac) {
      if (!IsDigit(c)) return Unsupported();
    }
    if (secs.size() > 15 || frac.size() > 9) return bad();
    int64_t seconds = 0, nanos = 0;
    for (char c : secs) seconds = seconds * 10 + (c - '0');
    for (char c : frac) nanos = nanos * 10 + (c - '0');
    for (size_t k = frac.size(); k < 9; ++k) nanos *= 10;
    if (seconds > kDurationMaxSeconds) return bad();
    const Descriptor* d = message->GetDescriptor();
    const FieldDescriptor* sf = d->FindFieldByNumber(1);
    const FieldDescriptor* nf = d->FindFieldByNumber(2);
    if (sf == nullptr || nf == nullptr) return Unsupported();
    message->GetReflection()->SetInt64(message, sf, negative ? -seconds : seconds);
    message->GetReflection()->SetInt32(message, nf,
                                       static_cast<int32_t>(negative ? -nanos : nanos));
    return true;
  }

  bool ParseFieldMask(Message* message, const Scalar& s) {
    const FieldDescriptor* paths = message->GetDescriptor()->FindFieldByNumber(1);
    if (paths == nullptr || !paths->is_repeated()) return Unsupported();
    absl::string_view t = s.text;
    if (t.empty()) return true;
    std::string path;
    size_t i = 0;
    while (true) {
      path.clear();
      size_t start = i;
      for (; i < t.size() && t[i] != ','; ++i) {
        char c = t[i];
        if ((c >= 'a' && c <= 'z') || IsDigit(c) || c == '.') {
          path.push_back(c);
        } else if (c >= 'A' && c <= 'Z' && i > start && t[i - 1] != '.') {
          path.push_back('_');
          path.push_back(static_cast<char>(c - 'A' + 'a'));
        } else {
          return Unsupported();  // protobuf's own path conventions
        }
      }
      if (path.empty()) return Unsupported();
      message->GetReflection()->AddString(message, paths, path);
      if (i == t.size()) return true;
      ++i;  // ','
    }
  }

  const char* p_;
  const char* const end_;
  const char* const begin_ = p_;
  const JsonReadOptions& options_;
  ReadResult result_ = ReadResult::kOk;
  std::string error_;
  std::string key_scratch_, string_scratch_;
  absl::InlinedVector<const FieldDescriptor*, 16> path_;
};

}  // namespace

ReadResult ReadJson(absl::string_view data, const JsonReadOptions& options, Message* message,
                    std::string* error) {
  // Top-level well-known types are bare JSON values; leave them to protobuf.
  if (ClassifyWkt(message->GetDescriptor()) != Wkt::kNone) return ReadResult::kUnsupported;
  Reader reader(data, options);
  return reader.Run(message, error);
}

}  // namespace kei::json_internal
