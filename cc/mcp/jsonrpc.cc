#include "cc/mcp/jsonrpc.h"

#include "absl/strings/str_cat.h"
#include "cc/status/code_names.h"
#include "cc/status/jsonrpc_mapping.h"

namespace kei::mcp {
namespace {

bool ValidId(const Json& id) { return id.is_string() || id.is_number_integer(); }

absl::Status Invalid(JsonRpcFailure* failure, Json id, std::string message) {
  if (failure) *failure = JsonRpcFailure{kJsonRpcInvalidRequest, message, std::move(id)};
  return absl::InvalidArgumentError(std::move(message));
}

}  // namespace

absl::StatusOr<JsonRpcMessage> ParseJsonRpc(const Json& message, JsonRpcFailure* failure) {
  if (!message.is_object()) return Invalid(failure, nullptr, "a JSON-RPC message must be an object");
  Json id = nullptr;
  if (auto it = message.find("id"); it != message.end()) {
    if (!ValidId(*it)) return Invalid(failure, nullptr, "\"id\" must be a string or an integer");
    id = *it;
  }
  auto version = message.find("jsonrpc");
  if (version == message.end() || !version->is_string() || *version != "2.0") {
    return Invalid(failure, id, "\"jsonrpc\" must be \"2.0\"");
  }
  JsonRpcMessage out;
  out.id = id;
  auto method = message.find("method");
  if (method != message.end()) {
    if (!method->is_string() || method->get_ref<const std::string&>().empty()) {
      return Invalid(failure, id, "\"method\" must be a non-empty string");
    }
    out.method = method->get<std::string>();
    if (auto params = message.find("params"); params != message.end()) {
      if (!params->is_object() && !params->is_null()) {
        if (failure) {
          *failure = JsonRpcFailure{kJsonRpcInvalidParams, "\"params\" must be an object", id};
        }
        return absl::InvalidArgumentError("\"params\" must be an object");
      }
      out.params = *params;
    }
    out.kind = message.contains("id") ? JsonRpcMessage::Kind::kRequest
                                      : JsonRpcMessage::Kind::kNotification;
    return out;
  }
  if (!message.contains("id")) {
    return Invalid(failure, nullptr, "a message needs a \"method\" or an \"id\"");
  }
  auto result = message.find("result");
  auto error = message.find("error");
  if ((result == message.end()) == (error == message.end())) {
    return Invalid(failure, id, "a response has exactly one of \"result\" and \"error\"");
  }
  if (result != message.end()) {
    out.kind = JsonRpcMessage::Kind::kResult;
    out.result = *result;
  } else {
    if (!error->is_object() || !error->contains("code") || !(*error)["code"].is_number_integer()) {
      return Invalid(failure, id, "\"error\" must be an object with an integer \"code\"");
    }
    out.kind = JsonRpcMessage::Kind::kError;
    out.error = *error;
  }
  return out;
}

absl::StatusOr<JsonRpcMessage> ParseJsonRpc(Json&& message, JsonRpcFailure* failure) {
  // Validate on the original, then take the (possibly large) payload out.
  Json payload;
  if (message.is_object()) {
    // Only shapes the validation accepts either way: an object of params, a
    // structured result. Errors are small and stay.
    for (const char* key : {"params", "result"}) {
      if (auto it = message.find(key); it != message.end() && it->is_object() && !it->empty()) {
        payload = std::move(*it);
        *it = Json::object();
        break;
      }
    }
  }
  auto parsed = ParseJsonRpc(static_cast<const Json&>(message), failure);
  if (!parsed.ok() || payload.is_null()) return parsed;
  if (parsed->kind == JsonRpcMessage::Kind::kResult) {
    parsed->result = std::move(payload);
  } else if (parsed->is_request() || parsed->is_notification()) {
    parsed->params = std::move(payload);
  }
  return parsed;
}

Json JsonRpcResult(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json JsonRpcError(const Json& id, int code, absl::string_view message, Json data) {
  Json error{{"code", code}, {"message", std::string(message)}};
  if (!data.is_null()) error["data"] = std::move(data);
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

Json JsonRpcErrorFromStatus(const Json& id, const absl::Status& status) {
  std::string message(status.message());
  if (message.empty()) message = std::string(CodeName(status.code()));
  return JsonRpcError(id, JsonRpcCodeFromCode(status.code()), message,
                      Json{{"code", std::string(CodeName(status.code()))}});
}

Json JsonRpcNotification(absl::string_view method, Json params) {
  Json out{{"jsonrpc", "2.0"}, {"method", std::string(method)}};
  if (!params.is_null()) out["params"] = std::move(params);
  return out;
}

Json JsonRpcRequest(const Json& id, absl::string_view method, Json params) {
  Json out{{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
  if (!params.is_null()) out["params"] = std::move(params);
  return out;
}

absl::Status StatusFromJsonRpcError(const Json& error) {
  int code = kJsonRpcInternalError;
  std::string message = "error without a message";
  if (error.is_object()) {
    if (auto it = error.find("code"); it != error.end() && it->is_number_integer()) {
      code = it->get<int>();
    }
    if (auto it = error.find("message"); it != error.end() && it->is_string()) {
      message = it->get<std::string>();
    }
    // A kit peer names the canonical code; trust it over the number.
    if (auto data = error.find("data"); data != error.end() && data->is_object()) {
      if (auto name = data->find("code"); name != data->end() && name->is_string()) {
        if (auto parsed = CodeFromName(name->get<std::string>())) {
          return absl::Status(*parsed, message);
        }
      }
    }
  }
  return absl::Status(CodeFromJsonRpcCode(code), message);
}

absl::StatusOr<Json> ParseJsonText(absl::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Parse again with exceptions only to report where it broke.
    try {
      (void)Json::parse(text);
    } catch (const Json::parse_error& e) {
      return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", e.what()));
    }
    return absl::InvalidArgumentError("malformed JSON");
  }
  return value;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kei::mcp
