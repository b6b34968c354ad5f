// Request and response translation for REST routes (the kit's kei.v1.http, as
// google.api.http): the HTTP body, path variables and query parameters become
// one request message; the response (or its response_body field) becomes JSON.
// Values from the path and query are set through protobuf reflection with
// proto3 JSON's rules for scalars; bodies use protobuf's JSON mapping.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/codec/json_codec.h"
#include "cc/http/path_template.h"
#include "cc/http/route_table.h"
#include "google/protobuf/message.h"

namespace kei::http {

// At most this many query parameters per request.
inline constexpr size_t kMaxQueryParameters = 1024;

// Fills `request` (cleared first; of the route's request type) from, in order:
//  1. the body, per the route: "*": the JSON body is the whole message (empty
//     means the empty message); "field": the JSON body is that field's value
//     (empty leaves it unset); no body: the body must be empty or whitespace;
//  2. the path bindings (RouteTable::Match), which override the body;
//  3. the query string ("a=1&b.c=x&tags=1&tags=2", no leading '?';
//     percent-decoded, '+' is a space). Names are field paths in proto or JSON
//     spelling; repeated fields take repeated parameters; a singular field may
//     appear once. A parameter may not name a field bound by the path, inside
//     the body field, or any field at all when the body is "*".
// Path and query values are converted per proto3 JSON: integers in decimal
// (64-bit ones too), floats also "NaN", "Infinity", "-Infinity", bools "true"/
// "false", enums by name or number, bytes as base64 or base64url, strings as
// valid UTF-8. Maps, repeated messages and message fields (well-known types
// included) cannot be set from the path or query.
// Errors are INVALID_ARGUMENT and name the field, e.g.
//   query parameter 'count': "abc" is not an integer
//   path variable 'shelf.name' names no field of kei.test.v1.X
//   query parameter 'colour' names no field of kei.test.v1.X
absl::Status TranscodeRequest(const RestRoute& route, const PathBindings& bindings,
                              absl::string_view query, absl::string_view body,
                              google::protobuf::Message* request);

// The JSON body the route answers with: the whole response, or only its
// response_body field's value (which may be an array, a string, a number...).
absl::StatusOr<std::string> TranscodeResponse(const RestRoute& route,
                                              const google::protobuf::Message& response,
                                              const JsonCodecOptions& options = {});

}  // namespace kei::http
