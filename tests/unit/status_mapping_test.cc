// The error model's tables: canonical code names, the Connect HTTP table (both
// directions, as the Connect protocol specifies them), the JSON-RPC table used by
// MCP, and the gRPC identity mapping.
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cc/status/code_names.h"
#include "cc/status/grpc_mapping.h"
#include "cc/status/http_mapping.h"
#include "cc/status/jsonrpc_mapping.h"
#include "gtest/gtest.h"

namespace kei {
namespace {

using C = absl::StatusCode;

struct CodeRow {
  C code;
  const char* upper;
  const char* connect;
  int http;  // Connect protocol: code -> HTTP status.
};

// https://connectrpc.com/docs/protocol#error-codes (after RFC 003 / PR 130).
const std::vector<CodeRow>& Table() {
  static const auto* rows = new std::vector<CodeRow>{
      {C::kCancelled, "CANCELLED", "canceled", 499},
      {C::kUnknown, "UNKNOWN", "unknown", 500},
      {C::kInvalidArgument, "INVALID_ARGUMENT", "invalid_argument", 400},
      {C::kDeadlineExceeded, "DEADLINE_EXCEEDED", "deadline_exceeded", 504},
      {C::kNotFound, "NOT_FOUND", "not_found", 404},
      {C::kAlreadyExists, "ALREADY_EXISTS", "already_exists", 409},
      {C::kPermissionDenied, "PERMISSION_DENIED", "permission_denied", 403},
      {C::kResourceExhausted, "RESOURCE_EXHAUSTED", "resource_exhausted", 429},
      {C::kFailedPrecondition, "FAILED_PRECONDITION", "failed_precondition", 400},
      {C::kAborted, "ABORTED", "aborted", 409},
      {C::kOutOfRange, "OUT_OF_RANGE", "out_of_range", 400},
      {C::kUnimplemented, "UNIMPLEMENTED", "unimplemented", 501},
      {C::kInternal, "INTERNAL", "internal", 500},
      {C::kUnavailable, "UNAVAILABLE", "unavailable", 503},
      {C::kDataLoss, "DATA_LOSS", "data_loss", 500},
      {C::kUnauthenticated, "UNAUTHENTICATED", "unauthenticated", 401},
  };
  return *rows;
}

TEST(CodeNamesTest, EveryCodeHasBothSpellings) {
  ASSERT_EQ(Table().size(), 16u);
  for (const auto& row : Table()) {
    SCOPED_TRACE(row.upper);
    EXPECT_EQ(CodeName(row.code), row.upper);
    EXPECT_EQ(ConnectCodeName(row.code), row.connect);
  }
  EXPECT_EQ(CodeName(C::kOk), "OK");
  EXPECT_EQ(ConnectCodeName(C::kOk), "ok");
}

TEST(CodeNamesTest, NamesAreDistinct) {
  std::set<std::string> upper, lower;
  for (const auto& row : Table()) {
    upper.insert(std::string(CodeName(row.code)));
    lower.insert(std::string(ConnectCodeName(row.code)));
  }
  EXPECT_EQ(upper.size(), 16u);
  EXPECT_EQ(lower.size(), 16u);
}

TEST(CodeNamesTest, ParsesBothSpellingsCaseInsensitively) {
  for (const auto& row : Table()) {
    SCOPED_TRACE(row.upper);
    EXPECT_EQ(CodeFromName(row.upper), row.code);
    EXPECT_EQ(CodeFromName(row.connect), row.code);
    EXPECT_EQ(CodeFromName(CodeName(row.code)), row.code);
    EXPECT_EQ(CodeFromName(ConnectCodeName(row.code)), row.code);
  }
  EXPECT_EQ(CodeFromName("OK"), C::kOk);
  EXPECT_EQ(CodeFromName("ok"), C::kOk);
  EXPECT_EQ(CodeFromName("Invalid_Argument"), C::kInvalidArgument);
  // gRPC spells it CANCELLED, Connect "canceled": both parse.
  EXPECT_EQ(CodeFromName("cancelled"), C::kCancelled);
  EXPECT_EQ(CodeFromName("CANCELED"), C::kCancelled);
}

TEST(CodeNamesTest, UnknownNamesAreRejected) {
  EXPECT_EQ(CodeFromName(""), std::nullopt);
  EXPECT_EQ(CodeFromName("invalid argument"), std::nullopt);
  EXPECT_EQ(CodeFromName("INVALID-ARGUMENT"), std::nullopt);
  EXPECT_EQ(CodeFromName("not_a_code"), std::nullopt);
  EXPECT_EQ(CodeFromName("3"), std::nullopt);
  EXPECT_EQ(CodeFromName(" ok"), std::nullopt);
}

TEST(CodeNamesTest, OutOfRangeCodeFallsBackToUnknown) {
  EXPECT_EQ(CodeName(static_cast<C>(42)), "UNKNOWN");
  EXPECT_EQ(ConnectCodeName(static_cast<C>(-1)), "unknown");
}

TEST(CodeNamesTest, StatusToString) {
  EXPECT_EQ(StatusToString(absl::OkStatus()), "OK");
  EXPECT_EQ(StatusToString(absl::InvalidArgumentError("objective: must not be empty")),
            "INVALID_ARGUMENT: objective: must not be empty");
  EXPECT_EQ(StatusToString(absl::UnavailableError("")), "UNAVAILABLE: ");
  EXPECT_EQ(StatusToString(absl::Status(C::kDataLoss, "x")), "DATA_LOSS: x");
}

TEST(HttpMappingTest, CodeToHttpFollowsConnectTable) {
  EXPECT_EQ(HttpStatusFromCode(C::kOk), 200);
  for (const auto& row : Table()) {
    SCOPED_TRACE(row.upper);
    EXPECT_EQ(HttpStatusFromCode(row.code), row.http);
  }
  EXPECT_EQ(HttpStatusFromCode(static_cast<C>(99)), 500);
}

TEST(HttpMappingTest, HttpToCodeFollowsConnectTable) {
  // Connect's table for errors without a Connect body, identical to gRPC's.
  EXPECT_EQ(CodeFromHttpStatus(400), C::kInternal);
  EXPECT_EQ(CodeFromHttpStatus(401), C::kUnauthenticated);
  EXPECT_EQ(CodeFromHttpStatus(403), C::kPermissionDenied);
  EXPECT_EQ(CodeFromHttpStatus(404), C::kUnimplemented);
  EXPECT_EQ(CodeFromHttpStatus(429), C::kUnavailable);
  EXPECT_EQ(CodeFromHttpStatus(502), C::kUnavailable);
  EXPECT_EQ(CodeFromHttpStatus(503), C::kUnavailable);
  EXPECT_EQ(CodeFromHttpStatus(504), C::kUnavailable);
  // Every other status is unknown.
  for (int status : {100, 301, 304, 405, 408, 409, 412, 413, 415, 431, 499, 500, 501,
                     505, 599, 0, -1, 1000}) {
    SCOPED_TRACE(status);
    EXPECT_EQ(CodeFromHttpStatus(status), C::kUnknown);
  }
}

TEST(HttpMappingTest, SuccessStatusesAreOk) {
  for (int status : {200, 201, 204, 299}) {
    EXPECT_EQ(CodeFromHttpStatus(status), C::kOk) << status;
  }
  EXPECT_NE(CodeFromHttpStatus(300), C::kOk);
  EXPECT_NE(CodeFromHttpStatus(199), C::kOk);
}

TEST(HttpMappingTest, RetryableStatusesStayRetryableRoundTrip) {
  // What a client infers from a bare status must never turn a server's
  // "don't retry" into UNAVAILABLE, except for the gateway/overload statuses.
  EXPECT_EQ(CodeFromHttpStatus(HttpStatusFromCode(C::kUnavailable)), C::kUnavailable);
  EXPECT_EQ(CodeFromHttpStatus(HttpStatusFromCode(C::kUnauthenticated)),
            C::kUnauthenticated);
  EXPECT_EQ(CodeFromHttpStatus(HttpStatusFromCode(C::kPermissionDenied)),
            C::kPermissionDenied);
  EXPECT_EQ(CodeFromHttpStatus(HttpStatusFromCode(C::kInternal)), C::kUnknown);
}

TEST(JsonRpcMappingTest, ReservedCodes) {
  EXPECT_EQ(kJsonRpcParseError, -32700);
  EXPECT_EQ(kJsonRpcInvalidRequest, -32600);
  EXPECT_EQ(kJsonRpcMethodNotFound, -32601);
  EXPECT_EQ(kJsonRpcInvalidParams, -32602);
  EXPECT_EQ(kJsonRpcInternalError, -32603);

  EXPECT_EQ(JsonRpcCodeFromCode(C::kInvalidArgument), -32602);
  EXPECT_EQ(JsonRpcCodeFromCode(C::kUnimplemented), -32601);
  EXPECT_EQ(JsonRpcCodeFromCode(C::kInternal), -32603);

  EXPECT_EQ(CodeFromJsonRpcCode(-32700), C::kInvalidArgument);
  EXPECT_EQ(CodeFromJsonRpcCode(-32600), C::kInvalidArgument);
  EXPECT_EQ(CodeFromJsonRpcCode(-32602), C::kInvalidArgument);
  EXPECT_EQ(CodeFromJsonRpcCode(-32601), C::kUnimplemented);
  EXPECT_EQ(CodeFromJsonRpcCode(-32603), C::kInternal);
}

TEST(JsonRpcMappingTest, ServerRangeCodesCarryTheCanonicalCode) {
  EXPECT_EQ(JsonRpcCodeFromCode(C::kCancelled), -32001);
  EXPECT_EQ(JsonRpcCodeFromCode(C::kNotFound), -32005);
  EXPECT_EQ(JsonRpcCodeFromCode(C::kUnauthenticated), -32016);
  EXPECT_EQ(JsonRpcCodeFromCode(C::kUnavailable), -32014);
  for (const auto& row : Table()) {
    SCOPED_TRACE(row.upper);
    int jsonrpc = JsonRpcCodeFromCode(row.code);
    // Errors always use a JSON-RPC error code in the reserved/server ranges.
    EXPECT_LE(jsonrpc, -32000);
    EXPECT_GE(jsonrpc, -32768);
    // Round trip recovers the canonical code.
    EXPECT_EQ(CodeFromJsonRpcCode(jsonrpc), row.code);
  }
}

TEST(JsonRpcMappingTest, UnknownJsonRpcCodesAreUnknown) {
  for (int code : {0, 1, -1, -32000, -32017, -32099, -32604, -32699, -32701, 12345}) {
    SCOPED_TRACE(code);
    EXPECT_EQ(CodeFromJsonRpcCode(code), C::kUnknown);
  }
}

TEST(GrpcMappingTest, RoundTripKeepsCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (const auto& row : Table()) {
    SCOPED_TRACE(row.upper);
    absl::Status status(row.code, "message for " + std::string(row.upper));
    grpc::Status g = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(row.code));
    EXPECT_EQ(g.error_message(), "message for " + std::string(row.upper));
    EXPECT_EQ(FromGrpcStatus(g), status);
  }
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
            absl::UnavailableError("down"));
}

TEST(GrpcMappingTest, OutOfRangeGrpcCodeBecomesUnknown) {
  absl::Status s = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(17), "odd"));
  EXPECT_EQ(s.code(), C::kUnknown);
  EXPECT_EQ(s.message(), "odd");
  s = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(-3), "neg"));
  EXPECT_EQ(s.code(), C::kUnknown);
}

TEST(GrpcMappingTest, NonCanonicalOrEmptyStatusStillCarriesCodeAndMessage) {
  // A handler returning a code outside 1..16 must not put it on the wire.
  grpc::Status g = ToGrpcStatus(absl::Status(static_cast<C>(42), "odd"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_NE(g.error_message().find("odd"), std::string::npos);
  // Errors always carry a readable message.
  g = ToGrpcStatus(absl::Status(C::kNotFound, ""));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "NOT_FOUND");
}

}  // namespace
}  // namespace kei
