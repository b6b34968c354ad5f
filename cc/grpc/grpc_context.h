// Moves call state between gRPC's server context and kei::Context: metadata,
// deadline, peer and mutual-TLS identity in; response metadata out as trailers.
#pragma once

#include "cc/dispatch/context.h"
#include "grpcpp/server_context.h"

namespace kei::grpc_glue {

void InitContext(grpc::CallbackServerContext* server_context, Context* context);
// Entries gRPC cannot carry (bad key characters, control bytes in a text
// value) are dropped; keys are sent lower-cased.
void SendResponseMetadata(const Context& context,
                          grpc::CallbackServerContext* server_context);

}  // namespace kei::grpc_glue
