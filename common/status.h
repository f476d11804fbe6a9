// Status propagation helpers. Debian's Abseil 20220623 has no status macros; these are the
// two the codebase uses. Every function that can fail returns absl::Status or absl::StatusOr<T>.
#ifndef VREC_COMMON_STATUS_H_
#define VREC_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VREC_STATUS_CONCAT_INNER_(a, b) a##b
#define VREC_STATUS_CONCAT_(a, b) VREC_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define VREC_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::absl::Status vrec_status_ = (expr);          \
    if (!vrec_status_.ok()) return vrec_status_;   \
  } while (0)

// `lhs = value of expr` when expr (an absl::StatusOr) is OK, else returns its status.
#define VREC_ASSIGN_OR_RETURN(lhs, expr) \
  VREC_ASSIGN_OR_RETURN_IMPL_(VREC_STATUS_CONCAT_(vrec_statusor_, __LINE__), lhs, expr)

#define VREC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

#endif  // VREC_COMMON_STATUS_H_
