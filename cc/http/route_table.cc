#include "cc/http/route_table.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cc/registry/kit_option.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"

namespace kei::http {
namespace {

namespace gp = google::protobuf;

// RFC 9110 token characters, for custom verbs.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

// A path variable must name a singular scalar field, through singular message
// fields. Returns why not, or empty.
std::string CheckVariable(const gp::Descriptor* type, const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  const gp::Descriptor* current = type;
  for (size_t i = 0; i < parts.size(); ++i) {
    const gp::FieldDescriptor* field = current->FindFieldByName(parts[i]);
    if (field == nullptr) {
      return absl::StrCat("path variable '", path, "' names no field of ", type->full_name());
    }
    bool last = i + 1 == parts.size();
    if (field->is_map()) return absl::StrCat("path variable '", path, "' names a map field");
    if (field->is_repeated()) {
      return absl::StrCat("path variable '", path, "' names a repeated field");
    }
    if (last) {
      if (field->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::StrCat("path variable '", path, "' names a message field (",
                            field->message_type()->full_name(), "), not a scalar");
      }
    } else {
      if (field->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::StrCat("path variable '", path, "': '", parts[i], "' is not a message field");
      }
      if (field->message_type()->file()->package() == "google.protobuf") {
        return absl::StrCat("path variable '", path, "': '", parts[i], "' is a ",
                            field->message_type()->full_name(),
                            "; well-known types cannot be set from the path");
      }
      current = field->message_type();
    }
  }
  return "";
}

// kei.v1.http, read through reflection rather than the generated
// kei/v1/annotations.pb.h, so that the runtime needs no generated code and
// methods from descriptor sets loaded at run time work too.
constexpr char kHttpExtension[] = "kei.v1.http";
constexpr char kHttpRuleType[] = "kei.v1.HttpRule";
constexpr int kHttpExtensionNumber = 51001;  // proto/kei/v1/annotations.proto

// One kei.v1.HttpRule, copied out of whatever message holds it.
struct HttpRuleData {
  std::string verb;  // empty: no pattern set
  std::string path;
  std::string body;
  std::string response_body;
  bool custom = false;
  std::vector<HttpRuleData> additional_bindings;
};

std::string StringField(const gp::Message& m, const char* name) {
  const gp::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->cpp_type() != gp::FieldDescriptor::CPPTYPE_STRING || f->is_repeated()) {
    return "";
  }
  return m.GetReflection()->GetString(m, f);
}

HttpRuleData ReadRule(const gp::Message& rule) {
  HttpRuleData out;
  const gp::Descriptor* type = rule.GetDescriptor();
  const gp::Reflection* r = rule.GetReflection();
  out.body = StringField(rule, "body");
  out.response_body = StringField(rule, "response_body");
  const gp::OneofDescriptor* pattern = type->FindOneofByName("pattern");
  const gp::FieldDescriptor* set =
      pattern != nullptr ? r->GetOneofFieldDescriptor(rule, pattern) : nullptr;
  if (set != nullptr && set->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING) {
    out.verb = absl::AsciiStrToUpper(set->name());  // get -> GET
    out.path = r->GetString(rule, set);
  } else if (set != nullptr && set->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
    const gp::Message& custom = r->GetMessage(rule, set);
    out.custom = true;
    out.verb = StringField(custom, "kind");
    out.path = StringField(custom, "path");
  }
  const gp::FieldDescriptor* extra = type->FindFieldByName("additional_bindings");
  if (extra != nullptr && extra->is_repeated() &&
      extra->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
    for (int i = 0; i < r->FieldSize(rule, extra); ++i) {
      out.additional_bindings.push_back(ReadRule(r->GetRepeatedMessage(rule, extra, i)));
    }
  }
  return out;
}

// The method's rule; nullopt if it has none.
absl::StatusOr<std::optional<HttpRuleData>> FindRule(const gp::MethodDescriptor* method) {
  auto rule = FindKitOption(method->options(), method->file()->pool(), kHttpExtension,
                            kHttpExtensionNumber, kHttpRuleType);
  if (!rule.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("method ", method->full_name(), ": ", rule.status().message()));
  }
  if (*rule == nullptr) return std::optional<HttpRuleData>();
  return std::optional<HttpRuleData>(ReadRule(**rule));
}

class Builder {
 public:
  absl::Status Add(const MethodHandler* handler) {
    const gp::MethodDescriptor* method = handler->info.descriptor;
    if (method == nullptr) return absl::OkStatus();
    auto found = FindRule(method);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::OkStatus();
    const HttpRuleData& rule = **found;
    if (handler->info.kind == StreamKind::kClientStreaming ||
        handler->info.kind == StreamKind::kBidiStreaming) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method ", handler->info.full_name, " is ", StreamKindName(handler->info.kind),
          ": REST routes (kei.v1.http) serve unary and server-streaming methods only"));
    }
    absl::Status s = AddRule(handler, rule, 0);
    if (!s.ok()) return s;
    for (size_t i = 0; i < rule.additional_bindings.size(); ++i) {
      const HttpRuleData& extra = rule.additional_bindings[i];
      if (!extra.additional_bindings.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("method ", handler->info.full_name, ": additional binding ", i + 1,
                         " has additional_bindings of its own; they may not nest"));
      }
      s = AddRule(handler, extra, static_cast<int>(i + 1));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::vector<RestRoute> Finish() && {
    // Most specific first; stable, so declaration order breaks ties.
    std::stable_sort(routes_.begin(), routes_.end(), [](const RestRoute& a, const RestRoute& b) {
      auto key = [](const RestRoute& r) {
        return std::make_tuple(r.path.literal_count() + (r.path.verb().empty() ? 0 : 1),
                               !r.path.has_double_wildcard(), r.path.segment_count());
      };
      return key(a) > key(b);
    });
    return std::move(routes_);
  }

 private:
  absl::Status AddRule(const MethodHandler* handler, const HttpRuleData& rule, int binding) {
    const std::string& method_name = handler->info.full_name;
    std::string where = binding == 0 ? absl::StrCat("method ", method_name)
                                     : absl::StrCat("method ", method_name,
                                                    " (additional binding ", binding, ")");
    if (rule.verb.empty() && !rule.custom) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": kei.v1.http rule has no verb and path"));
    }
    if (rule.custom && (rule.verb.empty() ||
                        !std::all_of(rule.verb.begin(), rule.verb.end(), IsTokenChar))) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": custom verb \"", absl::CHexEscape(rule.verb), "\" is not an HTTP method"));
    }
    RestRoute route;
    route.method = handler;
    route.binding = binding;
    route.verb = rule.verb;
    route.body = rule.body;
    route.response_body = rule.response_body;
    const std::string& path = rule.path;
    std::string route_name = absl::StrCat(route.verb, " ", absl::CHexEscape(path));
    auto parsed = PathTemplate::Parse(path);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ", route ", route_name, ": ", parsed.status().message()));
    }
    route.path = *std::move(parsed);

    const gp::Descriptor* input = handler->info.descriptor->input_type();
    const gp::Descriptor* output = handler->info.descriptor->output_type();
    for (const std::string& variable : route.path.FieldPaths()) {
      std::string why = CheckVariable(input, variable);
      if (!why.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ", route ", route_name, ": ", why));
      }
      if (!route.body.empty() && route.body != "*" && variable == route.body) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ", route ", route_name, ": body field '", route.body,
                         "' is also bound by the path"));
      }
    }
    if (!route.body.empty() && route.body != "*") {
      route.body_field = input->FindFieldByName(route.body);
      if (route.body_field == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ", route ", route_name, ": body '", absl::CHexEscape(route.body),
                         "' names no top-level field of ", input->full_name()));
      }
    }
    if (!route.response_body.empty()) {
      route.response_body_field = output->FindFieldByName(route.response_body);
      if (route.response_body_field == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ", route ", route_name, ": response_body '",
            absl::CHexEscape(route.response_body), "' names no top-level field of ",
            output->full_name()));
      }
    }

    std::string key = absl::StrCat(route.verb, " ", route.path.Shape());
    auto [it, inserted] = seen_.emplace(key, route.Describe());
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ", route ", route_name, ": the same verb and path as ", it->second,
          " (both match ", key, ")"));
    }
    routes_.push_back(std::move(route));
    return absl::OkStatus();
  }

  std::vector<RestRoute> routes_;
  std::map<std::string, std::string> seen_;  // verb + shape -> Describe()
};

}  // namespace

std::string RestRoute::Describe() const {
  return absl::StrCat(verb, " ", path.text(), " (",
                      method != nullptr ? method->info.full_name : std::string("no method"), ")");
}

absl::StatusOr<RouteTable> RouteTable::Build(const HandlerRegistry& registry) {
  return Build(registry.Handlers());
}

absl::StatusOr<RouteTable> RouteTable::Build(const std::vector<const MethodHandler*>& handlers) {
  Builder builder;
  for (const MethodHandler* handler : handlers) {
    if (handler == nullptr) continue;
    absl::Status s = builder.Add(handler);
    if (!s.ok()) return s;
  }
  RouteTable table;
  table.routes_ = std::move(builder).Finish();
  for (const RestRoute& route : table.routes_) {
    const std::string& v = route.path.verb();
    if (!v.empty() && std::find(table.template_verbs_.begin(), table.template_verbs_.end(), v) ==
                          table.template_verbs_.end()) {
      table.template_verbs_.push_back(v);
    }
  }
  return table;
}

std::optional<RouteTable::Match> RouteTable::Find(absl::string_view verb, absl::string_view path,
                                                  std::vector<std::string>* allowed) const {
  if (allowed != nullptr) allowed->clear();
  size_t query = path.find_first_of("?#");
  if (query != absl::string_view::npos) path = path.substr(0, query);
  SplitPath split;
  if (!SplitPath::Split(path, &split)) return std::nullopt;
  // The template verb the path asks for, if any.
  absl::string_view path_verb;
  if (!split.segments.empty()) {
    absl::string_view last = split.segments.back();
    for (const std::string& v : template_verbs_) {
      if (last.size() > v.size() + 1 && absl::EndsWith(last, v) &&
          last[last.size() - v.size() - 1] == ':') {
        path_verb = v;
        break;
      }
    }
  }
  for (const RestRoute& route : routes_) {
    if (route.path.verb() != path_verb) continue;
    if (route.verb == verb) {
      Match match;
      if (route.path.Match(split, &match.bindings)) {
        match.route = &route;
        if (allowed != nullptr) allowed->clear();
        return match;
      }
    } else if (allowed != nullptr &&
               std::find(allowed->begin(), allowed->end(), route.verb) == allowed->end() &&
               route.path.Match(split, nullptr)) {
      allowed->push_back(route.verb);
    }
  }
  if (allowed != nullptr) std::sort(allowed->begin(), allowed->end());
  return std::nullopt;
}

}  // namespace kei::http
