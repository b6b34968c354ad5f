#include "cc/http/rest_transcoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "cc/http/url_encoding.h"
#include "google/protobuf/reflection.h"

namespace kei::http {
namespace {

namespace gp = google::protobuf;
using FD = gp::FieldDescriptor;

constexpr size_t kMaxFieldPathDepth = 32;
constexpr size_t kMaxShownValueBytes = 64;

// 'value' for an error message: escaped, and cut short if long.
std::string Show(absl::string_view value) {
  if (value.size() > kMaxShownValueBytes) {
    return absl::StrCat("'", absl::CHexEscape(value.substr(0, kMaxShownValueBytes)), "...'");
  }
  return absl::StrCat("'", absl::CHexEscape(value), "'");
}

bool IsWhitespace(absl::string_view s) {
  return s.find_first_not_of(" \t\r\n") == absl::string_view::npos;
}

bool IsValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

// Skips one JSON value starting at *pos (after whitespace) without checking
// its insides: strings, and brackets balanced outside strings, nested at most
// max_depth deep. The JSON parser checks the rest; this only makes sure a
// body is one value, and finds a member in JSON protobuf printed.
bool SkipJsonValue(absl::string_view s, size_t* pos, int max_depth) {
  size_t i = *pos;
  while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i == s.size()) return false;
  auto skip_string = [&]() {  // s[i] == '"'
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  };
  char c = s[i];
  if (c == '"') {
    if (!skip_string()) return false;
  } else if (c == '{' || c == '[') {
    int depth = 0;
    while (true) {
      if (i == s.size()) return false;
      char d = s[i];
      if (d == '"') {
        if (!skip_string()) return false;
        continue;
      }
      if (d == '{' || d == '[') {
        if (++depth > max_depth) return false;
      } else if (d == '}' || d == ']') {
        --depth;
      }
      ++i;
      if (depth == 0) break;
    }
  } else {
    size_t start = i;
    while (i < s.size() && (absl::ascii_isalnum(static_cast<unsigned char>(s[i])) ||
                            s[i] == '-' || s[i] == '+' || s[i] == '.')) {
      ++i;
    }
    if (i == start) return false;
  }
  *pos = i;
  return true;
}

bool IsSingleJsonValue(absl::string_view s) {
  size_t pos = 0;
  // Protobuf's JSON parser stops at 100 levels too.
  if (!SkipJsonValue(s, &pos, /*max_depth=*/100)) return false;
  return IsWhitespace(s.substr(pos));
}

// A dotted field path resolved against a message type.
struct ResolvedPath {
  std::vector<const FD*> fields;
  // Proto names joined by '.', whatever spelling the input used.
  std::string canonical;
};

// `what` is "query parameter 'x'" or "path variable 'x'".
absl::Status Resolve(const gp::Descriptor* type, absl::string_view path, bool allow_json_names,
                     const std::string& what, ResolvedPath* out) {
  out->fields.clear();
  out->canonical.clear();
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  if (parts.size() > kMaxFieldPathDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is nested deeper than ", kMaxFieldPathDepth, " fields"));
  }
  const gp::Descriptor* current = type;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string part(parts[i]);
    const FD* field = current->FindFieldByName(part);
    if (field == nullptr && allow_json_names) {
      for (int k = 0; k < current->field_count() && field == nullptr; ++k) {
        if (current->field(k)->json_name() == part) field = current->field(k);
      }
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " names no field of ", current->full_name()));
    }
    out->fields.push_back(field);
    if (i > 0) out->canonical.push_back('.');
    out->canonical += field->name();
    bool last = i + 1 == parts.size();
    if (field->is_map()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": '", field->name(), "' is a map; maps cannot be set from the path or query"));
    }
    if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      const std::string& type_name = field->message_type()->full_name();
      if (field->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": '", field->name(),
                         "' is a repeated message field; those cannot be set from the path or "
                         "query"));
      }
      if (field->message_type()->file()->package() == "google.protobuf") {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": '", field->name(), "' is a ", type_name,
                         "; well-known types cannot be set from the path or query"));
      }
      if (last) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": '", field->name(), "' is a message (", type_name,
            "); name one of its fields, as '", out->canonical, ".", 
            field->message_type()->field_count() > 0 ? field->message_type()->field(0)->name()
                                                     : std::string("field"),
            "'"));
      }
      current = field->message_type();
    } else if (!last) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": '", field->name(), "' is not a message field"));
    }
  }
  return absl::OkStatus();
}

bool IsDecimalInteger(absl::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

bool HasOuterSpace(absl::string_view s) {
  return !s.empty() && (absl::ascii_isspace(static_cast<unsigned char>(s.front())) ||
                        absl::ascii_isspace(static_cast<unsigned char>(s.back())));
}

absl::Status BadValue(const std::string& what, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", Show(value), " ", why));
}

template <typename T>
absl::Status ParseInteger(const std::string& what, absl::string_view value, absl::string_view type,
                          bool is_unsigned, T* out) {
  if (!HasOuterSpace(value) && !(is_unsigned && !value.empty() && value[0] == '-') &&
      absl::SimpleAtoi(value, out)) {
    return absl::OkStatus();
  }
  if (IsDecimalInteger(value) && !HasOuterSpace(value)) {
    if (is_unsigned && value[0] == '-') {
      return BadValue(what, value, "is not an unsigned integer");
    }
    return BadValue(what, value, absl::StrCat("is out of range for ", type));
  }
  return BadValue(what, value, is_unsigned ? "is not an unsigned integer" : "is not an integer");
}

absl::Status ParseDouble(const std::string& what, absl::string_view value, absl::string_view type,
                         double* out) {
  if (value == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return absl::OkStatus();
  }
  if (value == "Infinity" || value == "-Infinity") {
    *out = value[0] == '-' ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity();
    return absl::OkStatus();
  }
  // Only decimal notation: no "inf", "nan", hex floats or surrounding spaces.
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
  });
  if (!plain || !absl::SimpleAtod(value, out)) return BadValue(what, value, "is not a number");
  if (!std::isfinite(*out) ||
      (type == "float" && std::fabs(*out) > std::numeric_limits<float>::max())) {
    return BadValue(what, value, absl::StrCat("is out of range for ", type));
  }
  return absl::OkStatus();
}

// Sets (or, for a repeated field, appends) `value` to `field` of `message`.
absl::Status SetScalar(gp::Message* message, const FD* field, absl::string_view value,
                       const std::string& what) {
  const gp::Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FD::CPPTYPE_INT32: {
      int32_t v = 0;
      absl::Status s = ParseInteger(what, value, "int32", false, &v);
      if (!s.ok()) return s;
      rep ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_INT64: {
      int64_t v = 0;
      absl::Status s = ParseInteger(what, value, "int64", false, &v);
      if (!s.ok()) return s;
      rep ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_UINT32: {
      uint32_t v = 0;
      absl::Status s = ParseInteger(what, value, "uint32", true, &v);
      if (!s.ok()) return s;
      rep ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_UINT64: {
      uint64_t v = 0;
      absl::Status s = ParseInteger(what, value, "uint64", true, &v);
      if (!s.ok()) return s;
      rep ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_DOUBLE: {
      double v = 0;
      absl::Status s = ParseDouble(what, value, "double", &v);
      if (!s.ok()) return s;
      rep ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_FLOAT: {
      double v = 0;
      absl::Status s = ParseDouble(what, value, "float", &v);
      if (!s.ok()) return s;
      float f = static_cast<float>(v);
      rep ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_BOOL: {
      bool v = false;
      if (value == "true") {
        v = true;
      } else if (value == "false") {
        v = false;
      } else {
        return BadValue(what, value, "is not a boolean (true or false)");
      }
      rep ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_ENUM: {
      const gp::EnumDescriptor* type = field->enum_type();
      const gp::EnumValueDescriptor* named = type->FindValueByName(std::string(value));
      int number = 0;
      if (named != nullptr) {
        number = named->number();
      } else if (!HasOuterSpace(value) && absl::SimpleAtoi(value, &number) &&
                 (type->FindValueByNumber(number) != nullptr ||
                  type->file()->syntax() == gp::FileDescriptor::SYNTAX_PROTO3)) {
        // A number; proto3 enums are open, so unknown numbers are kept.
      } else {
        return BadValue(what, value, absl::StrCat("is not a value of enum ", type->full_name()));
      }
      rep ? r->AddEnumValue(message, field, number) : r->SetEnumValue(message, field, number);
      return absl::OkStatus();
    }
    case FD::CPPTYPE_STRING: {
      std::string v;
      if (field->type() == FD::TYPE_BYTES) {
        if (!absl::Base64Unescape(value, &v) && !absl::WebSafeBase64Unescape(value, &v)) {
          return BadValue(what, value, "is not base64");
        }
      } else {
        if (!IsValidUtf8(value)) return BadValue(what, value, "is not valid UTF-8");
        v = std::string(value);
      }
      rep ? r->AddString(message, field, std::move(v))
          : r->SetString(message, field, std::move(v));
      return absl::OkStatus();
    }
    case FD::CPPTYPE_MESSAGE:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " names a message field"));
}

// Walks to the message holding the last field of `path`, creating parents.
// With check_oneofs, a field whose oneof already holds another member is an
// error rather than a silent switch.
absl::Status SetPath(gp::Message* root, const ResolvedPath& path, absl::string_view value,
                     const std::string& what, bool check_oneofs) {
  gp::Message* message = root;
  for (size_t i = 0; i < path.fields.size(); ++i) {
    const FD* field = path.fields[i];
    const gp::Reflection* r = message->GetReflection();
    if (check_oneofs) {
      const gp::OneofDescriptor* oneof = field->real_containing_oneof();
      if (oneof != nullptr && r->HasOneof(*message, oneof)) {
        const FD* set = r->GetOneofFieldDescriptor(*message, oneof);
        if (set != field) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, ": '", field->name(), "' and '", set->name(),
                           "' are both set, but belong to the same oneof '", oneof->name(), "'"));
        }
      }
    }
    if (i + 1 == path.fields.size()) return SetScalar(message, field, value, what);
    message = r->MutableMessage(message, field);
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " names no field"));
}

absl::Status ApplyBody(const RestRoute& route, absl::string_view body, gp::Message* request) {
  if (route.body.empty()) {
    if (!IsWhitespace(body)) {
      return absl::InvalidArgumentError(
          absl::StrCat("route ", route.Describe(), " takes no request body"));
    }
    return absl::OkStatus();
  }
  JsonCodec json;
  if (route.body == "*") return json.Unmarshal(body, request);
  const FD* field = route.body_field;
  if (field == nullptr || field->containing_type() != request->GetDescriptor()) {
    return absl::InternalError(
        absl::StrCat("route ", route.Describe(), " has no resolved body field"));
  }
  if (IsWhitespace(body)) return absl::OkStatus();
  if (!IsSingleJsonValue(body)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body (field '", field->name(), "' of ", request->GetDescriptor()->full_name(),
        ") is not one JSON value"));
  }
  // The body is the field's value: parse {"<field>": <body>} into a scratch
  // message and move that one field over (IsSingleJsonValue made sure the body
  // cannot reach any other field).
  std::unique_ptr<gp::Message> scratch(request->New());
  std::string wrapped = absl::StrCat("{\"", field->name(), "\":", body, "\n}");
  absl::Status s = json.Unmarshal(wrapped, scratch.get());
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body (field '", field->name(), "'): ", s.message()));
  }
  request->GetReflection()->SwapFields(request, scratch.get(), {field});
  return absl::OkStatus();
}

absl::Status ApplyQuery(const RestRoute& route, const std::set<std::string>& bound,
                        absl::string_view query, gp::Message* request) {
  if (query.empty()) return absl::OkStatus();
  const gp::Descriptor* type = request->GetDescriptor();
  std::set<std::string> seen;  // singular fields already set from the query
  size_t count = 0;
  std::string name, value;
  ResolvedPath path;
  for (absl::string_view piece : absl::StrSplit(query, '&')) {
    if (piece.empty()) continue;
    if (++count > kMaxQueryParameters) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxQueryParameters, " query parameters"));
    }
    size_t eq = piece.find('=');
    absl::string_view raw_name = piece.substr(0, eq);
    absl::string_view raw_value =
        eq == absl::string_view::npos ? absl::string_view() : piece.substr(eq + 1);
    auto decoded_name = PercentDecode(raw_name, /*plus_is_space=*/true);
    if (!decoded_name) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", Show(raw_name), " is not properly percent-encoded"));
    }
    name = *std::move(decoded_name);
    std::string what = absl::StrCat("query parameter ", Show(name));
    auto decoded_value = PercentDecode(raw_value, /*plus_is_space=*/true);
    if (!decoded_value) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": value ", Show(raw_value), " is not properly percent-encoded"));
    }
    value = *std::move(decoded_value);
    if (name.empty()) {
      return absl::InvalidArgumentError("query string has a parameter without a name");
    }
    if (route.body == "*") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": route ", route.Describe(),
                       " takes no query parameters; every field comes from the body"));
    }
    absl::Status s = Resolve(type, name, /*allow_json_names=*/true, what, &path);
    if (!s.ok()) return s;
    if (route.body_field != nullptr && path.fields[0] == route.body_field) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": '", route.body_field->name(), "' comes from the request body"));
    }
    if (bound.count(path.canonical) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is bound by the path"));
    }
    if (!path.fields.back()->is_repeated() && !seen.insert(path.canonical).second) {
      return absl::InvalidArgumentError(absl::StrCat(what, " appears more than once"));
    }
    s = SetPath(request, path, value, what, /*check_oneofs=*/true);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The JSON of a field's default value, for a response_body field the printer
// left out.
std::string DefaultJson(const FD* field) {
  if (field->is_map()) return "{}";
  if (field->is_repeated()) return "[]";
  if (field->real_containing_oneof() != nullptr) return "null";
  switch (field->cpp_type()) {
    case FD::CPPTYPE_STRING: return "\"\"";
    case FD::CPPTYPE_BOOL: return "false";
    case FD::CPPTYPE_INT64:
    case FD::CPPTYPE_UINT64: return "\"0\"";
    case FD::CPPTYPE_ENUM:
      return absl::StrCat("\"", field->default_value_enum()->name(), "\"");
    case FD::CPPTYPE_MESSAGE: return "{}";
    default: return "0";
  }
}

}  // namespace

absl::Status TranscodeRequest(const RestRoute& route, const PathBindings& bindings,
                              absl::string_view query, absl::string_view body,
                              gp::Message* request) {
  if (request == nullptr) return absl::InternalError("no request message");
  request->Clear();
  absl::Status s = ApplyBody(route, body, request);
  if (!s.ok()) return s;
  std::set<std::string> bound;
  ResolvedPath path;
  for (const auto& [field_path, value] : bindings) {
    std::string what = absl::StrCat("path variable ", Show(field_path));
    s = Resolve(request->GetDescriptor(), field_path, /*allow_json_names=*/false, what, &path);
    if (!s.ok()) return s;
    s = SetPath(request, path, value, what, /*check_oneofs=*/false);
    if (!s.ok()) return s;
    bound.insert(path.canonical);
  }
  return ApplyQuery(route, bound, query, request);
}

absl::StatusOr<std::string> TranscodeResponse(const RestRoute& route, const gp::Message& response,
                                              const JsonCodecOptions& options) {
  JsonCodec json(options);
  std::string out;
  const FD* field = route.response_body_field;
  if (field == nullptr) {
    absl::Status s = json.Marshal(response, &out);
    if (!s.ok()) return s;
    return out;
  }
  if (field->containing_type() != response.GetDescriptor()) {
    return absl::InternalError(absl::StrCat("response_body of route ", route.Describe(),
                                            " is not a field of ",
                                            response.GetDescriptor()->full_name()));
  }
  const gp::Reflection* r = response.GetReflection();
  if (!field->is_repeated() && field->cpp_type() == FD::CPPTYPE_MESSAGE) {
    absl::Status s = json.Marshal(r->GetMessage(response, field), &out);
    if (!s.ok()) return s;
    return out;
  }
  // Print a copy holding only this field, then cut its value out of
  // {"<name>":<value>,...}.
  std::unique_ptr<gp::Message> copy(response.New());
  copy->CopyFrom(response);
  std::vector<const FD*> set;
  copy->GetReflection()->ListFields(*copy, &set);
  for (const FD* other : set) {
    if (other != field) copy->GetReflection()->ClearField(copy.get(), other);
  }
  JsonCodecOptions compact = options;
  compact.pretty = false;
  absl::Status s = JsonCodec(compact).Marshal(*copy, &out);
  if (!s.ok()) return s;
  const std::string& key = options.use_proto_names ? field->name() : field->json_name();
  // Walk the top-level object's members.
  constexpr int kAnyDepth = std::numeric_limits<int>::max();
  bool well_formed = out.size() >= 2 && out[0] == '{';
  size_t pos = 1;
  while (well_formed && pos < out.size() && out[pos] == '"') {
    size_t key_start = pos;
    if (!SkipJsonValue(out, &pos, kAnyDepth) || pos >= out.size() || out[pos] != ':') {
      well_formed = false;
      break;
    }
    absl::string_view member(out.data() + key_start + 1, pos - key_start - 2);
    size_t value_start = ++pos;
    if (!SkipJsonValue(out, &pos, kAnyDepth)) {
      well_formed = false;
      break;
    }
    if (member == key) return out.substr(value_start, pos - value_start);
    if (pos < out.size() && out[pos] == ',') ++pos;
  }
  if (!well_formed) {
    return absl::InternalError(absl::StrCat("cannot cut field '", field->name(), "' out of ",
                                            response.GetDescriptor()->full_name(), " JSON"));
  }
  return DefaultJson(field);
}

}  // namespace kei::http
