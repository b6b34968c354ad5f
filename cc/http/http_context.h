// Builds a kei::Context for a call that arrived over HTTP: headers become
// metadata, Connect-Timeout-Ms the deadline, the peer and any client
// certificate identity carry over. Response metadata goes back as headers.
#pragma once

#include "absl/status/status.h"
#include "cc/dispatch/context.h"
#include "cc/http/http_message.h"

namespace kei::http {

// INVALID_ARGUMENT for a malformed Connect-Timeout-Ms. The request's headers
// and peer move into the context (the request has neither afterwards).
absl::Status InitContext(HttpRequest& request, Context* context);

// Appends the handler's response metadata to `headers`, with `prefix`
// ("trailer-" for Connect unary trailers, "" otherwise). Overload pushback also
// becomes a standard Retry-After header.
void AppendResponseMetadata(const Context& context, absl::string_view prefix,
                            HeaderList* headers);

// The JSON error response every HTTP route answers with: Connect's error body
// with the status from the kit's HTTP mapping table.
HttpResponse ErrorResponse(const absl::Status& status);

}  // namespace kei::http
