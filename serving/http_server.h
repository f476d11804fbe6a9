// The HTTP front door: a Boost.Beast server on a multi-threaded io_context. It parses and
// limits requests, hands each one to a handler as a plain HttpRequest, and writes the
// handler's HttpResponse. Beast and Asio types never leave http_server.cc.
//
// Malformed requests are answered here with JSON errors and the connection is closed:
// 400 (unparsable request or query string), 413 (body over body_limit_bytes), 431 (headers
// over header_limit_bytes). A handler that throws produces a 500; the server never crashes on
// a request.
//
// Overload is bounded. I/O threads only read, parse and write; each request goes to a lane
// (options.lane): kInline requests (health checks, metrics) are answered on the I/O thread at
// once, off the saturated path; kWork requests (feeds) and kIngest requests (event posts, which
// wait on fsync) each have their own worker threads and queue. A request is refused with 503
// {"error":{"code":"overloaded",...}}, `Retry-After` (seconds, as HTTP defines it) and
// `Retry-After-Ms`, without waiting, when its lane's expected queueing time (queued requests x
// the lane's recent service time / workers) exceeds max_queue_wait_ms or max_queued requests
// wait; one that still waited past queue_deadline_ms is refused the same way when a worker takes
// it. Connections beyond max_connections get the same 503 and are closed.
#ifndef VREC_SERVING_HTTP_SERVER_H_
#define VREC_SERVING_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vrec::serving {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query string
  std::vector<std::pair<std::string, std::string>> params;  // decoded query parameters, in order
  std::string body;
  std::string content_type;

  // The last value of parameter `name`, or nullptr.
  const std::string* Param(absl::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// {"error":{"code":"<code>","message":"<message>"}} with the given HTTP status.
HttpResponse JsonError(int http_status, absl::string_view code, absl::string_view message);
// Maps a non-OK Status to its HTTP status and a JsonError; the one place that does so.
// InvalidArgument/OutOfRange 400, NotFound 404, FailedPrecondition 409, ResourceExhausted 429,
// Unavailable 503, DeadlineExceeded 504, Unimplemented 501, anything else 500.
HttpResponse StatusToResponse(const absl::Status& status);

// Called concurrently from the server's threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Where a request runs (see the top of this file).
enum class HttpLane { kInline, kWork, kIngest };

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // listen address
  uint16_t port = 8080;               // 0 picks a free port (see HttpServer::port())
  int threads = 2;                    // kWork workers: they run the handler for most requests
  int io_threads = 1;                 // read, parse and write; run kInline requests
  int ingest_threads = 4;             // kIngest workers (mostly waiting on group-committed fsyncs)
  size_t body_limit_bytes = 1 << 20;  // larger bodies get 413; default 1 MiB
  size_t header_limit_bytes = 16 << 10;  // larger headers get 431; default 16 KiB
  int request_timeout_ms = 30000;     // idle or slow connections are closed; default 30 s
  int max_connections = 1024;         // open connections; beyond, 503 and close
  int max_queued = 256;               // requests waiting per lane; beyond, 503
  double max_queue_wait_ms = 20;      // expected wait in a lane beyond which requests get 503
  int queue_deadline_ms = 200;        // a request that waited longer gets 503 instead of running
  int retry_after_ms = 100;           // what a 503 for overload asks clients to wait
  // The lane of each request (nullptr: every request kWork).
  std::function<HttpLane(const HttpRequest&)> lane;
  // Runs once on each kWork worker (its index in [0, threads)) before it serves anything;
  // Start() returns when all have finished. For per-thread warm-up: thread-local buffers and
  // library state (BLAS work buffers, allocator arenas) are built on first use on each thread.
  std::function<void(int)> thread_init;
};

// Counters of what the server refused for overload, since Start().
struct HttpServerStats {
  uint64_t shed_queue_full = 0;      // refused at admission
  uint64_t shed_deadline = 0;        // waited past queue_deadline_ms
  uint64_t shed_connections = 0;     // connections over max_connections
  int64_t connections = 0;           // open now
};

// Owns the listening socket and its threads. Start() once; Stop() is idempotent and also
// runs at destruction. Thread-safe.
class HttpServer {
 public:
  // Validates options and binds the socket (so port() is known). InvalidArgument for bad
  // options or address, Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                            HttpHandler handler);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts accepting on options.threads background threads (after options.thread_init).
  void Start();
  // Stops accepting, closes connections and joins the threads.
  void Stop();
  uint16_t port() const;
  HttpServerStats stats() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads `wire` as one request the way a connection reads it (the same parser, limits, bounded
// read buffer and error answers) and answers it through `handler` on the calling thread; input
// that ends before the request does is a 400. For the HTTP fuzzer (fuzz/) and tests.
HttpResponse AnswerWire(absl::string_view wire, const HttpServerOptions& options, const HttpHandler& handler);

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space). InvalidArgument on a bad escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(
    absl::string_view query);

}  // namespace vrec::serving

#endif  // VREC_SERVING_HTTP_SERVER_H_
