// `vrec replay --server HOST:PORT`: the feeds of a running `vrec serve`, scored as a replay
// system ("served-feed") next to the offline ones. Each test user's feed is requested over
// HTTP (GET /v1/feed?user_id=U&count=K); videos in the user's past are dropped client-side
// (the server's seen-set already excludes them when it serves the replay's past).
//
// The server must serve the replay's past: a store featurized with `--as-of T` (time-split) or
// `--hold-out PROTOCOL` (leave-last-out, random), started with `--read-only` so that it does not
// catch up from the log; `--clock world` puts its clock at the store's time.
#ifndef VREC_TOOLS_SERVED_FEED_H_
#define VREC_TOOLS_SERVED_FEED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "evaluation/replay.h"

namespace vrec {

// `server`: "HOST:PORT" or "http://HOST:PORT" with an IPv4 host. InvalidArgument otherwise;
// Unavailable when nothing answers /healthz there.
absl::StatusOr<std::unique_ptr<evaluation::ReplaySystem>> MakeServedFeedSystem(const std::string& server,
                                                                               uint32_t max_count);

}  // namespace vrec

#endif  // VREC_TOOLS_SERVED_FEED_H_
