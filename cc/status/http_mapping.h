// The HTTP mapping table, as the Connect protocol defines it: the status each
// canonical code is sent with, and the code a client infers from a bare HTTP
// status when the response carries no Connect error body.
#pragma once

#include "absl/status/status.h"

namespace kei {

// HTTP status for an error with this code (Connect protocol table).
int HttpStatusFromCode(absl::StatusCode code);

// Code for an HTTP error status without a Connect error body (Connect's
// "HTTP to error code" table; 2xx maps to OK).
absl::StatusCode CodeFromHttpStatus(int http_status);

}  // namespace kei
