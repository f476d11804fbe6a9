// A minimal blocking HTTP/1.1 client over POSIX sockets, for tests. It sends bytes exactly as
// given (so tests can send malformed requests) and parses one response.
#ifndef VREC_TESTS_TESTING_HTTP_CLIENT_H_
#define VREC_TESTS_TESTING_HTTP_CLIENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vrec::testing {

struct HttpReply {
  int status = 0;
  std::string headers;  // raw header block, lower-cased names
  std::string body;
};

// Sends `raw` to 127.0.0.1:port and reads one response (Content-Length or until close).
absl::StatusOr<HttpReply> SendRaw(uint16_t port, const std::string& raw, int timeout_ms = 10000);
// Sends several raw requests on one connection and reads one response for each (keep-alive);
// a request starting "HEAD " gets a response without body.
absl::StatusOr<std::vector<HttpReply>> SendPipelined(uint16_t port, const std::vector<std::string>& raws,
                                                     int timeout_ms = 10000);

// A raw connected socket to 127.0.0.1:port that sends nothing (-1 on failure), and its close.
int ConnectTo(uint16_t port);
void CloseConnection(int fd);

absl::StatusOr<HttpReply> HttpGet(uint16_t port, const std::string& target);
absl::StatusOr<HttpReply> HttpPost(uint16_t port, const std::string& target, const std::string& body,
                                   const std::string& content_type = "application/json");

}  // namespace vrec::testing

#endif  // VREC_TESTS_TESTING_HTTP_CLIENT_H_
