#include "serving/http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "common/json_writer.h"

namespace vrec::serving {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string* HttpRequest::Param(absl::string_view name) const {
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

HttpResponse JsonError(int http_status, absl::string_view code, absl::string_view message) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Key("code").String(code).Key("message").String(message);
  w.EndObject().EndObject();
  HttpResponse r;
  r.status = http_status;
  r.body = w.Release();
  return r;
}

HttpResponse StatusToResponse(const absl::Status& status) {
  int http_status = 500;
  std::string code = "internal";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      http_status = 400;
      code = "invalid_argument";
      break;
    case absl::StatusCode::kNotFound:
      http_status = 404;
      code = "not_found";
      break;
    case absl::StatusCode::kFailedPrecondition:
      http_status = 409;
      code = "failed_precondition";
      break;
    case absl::StatusCode::kResourceExhausted:
      http_status = 429;
      code = "resource_exhausted";
      break;
    case absl::StatusCode::kUnavailable:
      http_status = 503;
      code = "unavailable";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      http_status = 504;
      code = "deadline_exceeded";
      break;
    case absl::StatusCode::kUnimplemented:
      http_status = 501;
      code = "unimplemented";
      break;
    default:
      break;
  }
  return JsonError(http_status, code, status.message());
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const bool complete = i + 2 < text.size();
      const int hi = complete ? HexValue(text[i + 1]) : -1;
      const int lo = complete ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError("malformed percent-escape in the request target");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == absl::string_view::npos) end = query.size();
    const absl::string_view part = query.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      auto key = PercentDecode(part.substr(0, eq), true);
      if (!key.ok()) return key.status();
      std::string value;
      if (eq != absl::string_view::npos) {
        auto decoded = PercentDecode(part.substr(eq + 1), true);
        if (!decoded.ok()) return decoded.status();
        value = std::move(*decoded);
      }
      params.emplace_back(std::move(*key), std::move(value));
    }
    start = end + 1;
  }
  return params;
}

namespace {

using Clock = std::chrono::steady_clock;

HttpResponse Overloaded(const HttpServerOptions& o, absl::string_view why) {
  HttpResponse r = JsonError(
      503, "overloaded", absl::StrCat("the server is at capacity (", why, "); retry after ", o.retry_after_ms, " ms"));
  r.headers.push_back({"Retry-After", std::to_string(std::max(1, (o.retry_after_ms + 999) / 1000))});
  r.headers.push_back({"Retry-After-Ms", std::to_string(o.retry_after_ms)});
  return r;
}

HttpResponse RunHandler(const HttpHandler& handler, const HttpRequest& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return JsonError(500, "internal", absl::StrCat("handler failed: ", e.what()));
  } catch (...) {
    return JsonError(500, "internal", "handler failed");
  }
}

struct Counters {
  std::atomic<uint64_t> shed_queue_full{0};
  std::atomic<uint64_t> shed_deadline{0};
  std::atomic<uint64_t> shed_connections{0};
  std::atomic<int64_t> connections{0};
};

struct Job {
  HttpRequest request;
  Clock::time_point queued;
  std::function<void(HttpResponse)> done;  // posts the response back to the connection
};

// One lane's workers and bounded queue (see the top of http_server.h).
class LanePool {
 public:
  LanePool(const HttpServerOptions& options, const HttpHandler& handler, Counters& counters, int threads)
      : options_(options), handler_(handler), counters_(counters), threads_(threads) {}
  ~LanePool() { Stop(); }

  // Starts the workers; each runs init(index) first, then counts down `started`.
  void Start(const std::function<void(int)>& init, absl::BlockingCounter* started) {
    for (int i = 0; i < threads_; ++i) {
      workers_.emplace_back([this, i, init, started] {
        if (init) init(i);
        if (started != nullptr) started->DecrementCount();
        Loop();
      });
    }
  }

  // Queues the job, or returns false (leaving `job` intact) when the lane is saturated.
  bool Submit(Job& job) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    const double expected_wait_ms = static_cast<double>(queue_.size()) * service_ms_ / threads_;
    if (queue_.size() >= static_cast<size_t>(options_.max_queued) ||
        (!queue_.empty() && expected_wait_ms > options_.max_queue_wait_ms)) {
      counters_.shed_queue_full.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(job));
    wake_.Signal();
    return true;
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      queue_.clear();  // their connections close when the io_context goes
      wake_.SignalAll();
    }
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

 private:
  void Loop() {
    while (true) {
      Job job;
      {
        absl::MutexLock lock(&mu_);
        while (queue_.empty() && !stopping_) wake_.Wait(&mu_);
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      const Clock::time_point start = Clock::now();
      HttpResponse response;
      if (start - job.queued > std::chrono::milliseconds(options_.queue_deadline_ms)) {
        counters_.shed_deadline.fetch_add(1, std::memory_order_relaxed);
        response = Overloaded(options_, "queued past the deadline");
      } else {
        response = RunHandler(handler_, job.request);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        absl::MutexLock lock(&mu_);
        service_ms_ = 0.9 * service_ms_ + 0.1 * ms;  // recent service time
      }
      job.done(std::move(response));
    }
  }

  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  Counters& counters_;
  const int threads_;
  std::vector<std::thread> workers_;
  absl::Mutex mu_;
  absl::CondVar wake_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  double service_ms_ ABSL_GUARDED_BY(mu_) = 1.0;
};

struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
  mutable Counters counters;
  LanePool* work = nullptr;    // owned by HttpServer::Impl, stopped before the io_context
  LanePool* ingest = nullptr;
};

// The most bytes a connection buffers that the parser has not consumed: a request line and
// headers (header_limit_bytes) plus a read's worth. A chunk header with an endless extension or
// an endless trailer overflows it (400) instead of growing memory without bound.
size_t ReadBufferLimit(const HttpServerOptions& o) { return o.header_limit_bytes + (16 << 10); }

// The parser every request is read with.
void ConfigureParser(const HttpServerOptions& o, http::request_parser<http::string_body>* parser) {
  parser->body_limit(o.body_limit_bytes);
  parser->header_limit(static_cast<std::uint32_t>(o.header_limit_bytes));
}

// The answer to a failed read, or nullopt when the connection just closes (the peer went away,
// or was idle past the timeout).
std::optional<HttpResponse> ReadErrorResponse(beast::error_code ec, const HttpServerOptions& o) {
  if (ec == http::error::body_limit) {
    return JsonError(413, "payload_too_large", absl::StrCat("request body exceeds ", o.body_limit_bytes, " bytes"));
  }
  if (ec == http::error::header_limit) return JsonError(431, "headers_too_large", "request headers are too large");
  if (ec == http::error::buffer_overflow) {
    return JsonError(400, "bad_request",
                     absl::StrCat("malformed HTTP request: a line (chunk header, extension or trailer) exceeds ",
                                  ReadBufferLimit(o), " bytes"));
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::partial_message &&
      ec != http::error::end_of_stream) {
    return JsonError(400, "bad_request", absl::StrCat("malformed HTTP request: ", ec.message()));
  }
  return std::nullopt;
}

absl::StatusOr<HttpRequest> ToRequest(const http::request<http::string_body>& raw) {
  HttpRequest request;
  request.method = std::string(raw.method_string());
  const absl::string_view target(raw.target().data(), raw.target().size());
  const size_t q = target.find('?');
  auto path = PercentDecode(target.substr(0, q), false);
  if (!path.ok()) return path.status();
  request.path = std::move(*path);
  if (q != absl::string_view::npos) {
    auto params = ParseQueryString(target.substr(q + 1));
    if (!params.ok()) return params.status();
    request.params = std::move(*params);
  }
  request.body = raw.body();
  if (auto it = raw.find(http::field::content_type); it != raw.end()) {
    request.content_type = std::string(it->value());
  }
  return request;
}

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<const Shared> shared)
      : stream_(std::move(socket)), buffer_(ReadBufferLimit(shared->options)), shared_(std::move(shared)) {
    shared_->counters.connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { shared_->counters.connections.fetch_sub(1, std::memory_order_relaxed); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    ConfigureParser(shared_->options, &*parser_);
    stream_.expires_after(std::chrono::milliseconds(shared_->options.request_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // An answered read error closes the connection: the stream's framing is lost.
      if (std::optional<HttpResponse> answer = ReadErrorResponse(ec, shared_->options)) return Send(*answer, 11, false);
      return Close();  // the peer went away
    }
    const http::request<http::string_body>& raw = parser_->get();
    const unsigned version = raw.version();
    const bool keep_alive = raw.keep_alive(), head = raw.method() == http::verb::head;
    absl::StatusOr<HttpRequest> request = ToRequest(raw);
    if (!request.ok()) return Send(JsonError(400, "bad_request", request.status().message()), version, keep_alive, head);
    const HttpServerOptions& o = shared_->options;
    const HttpLane lane = o.lane ? o.lane(*request) : HttpLane::kWork;
    if (lane == HttpLane::kInline) return Send(RunHandler(shared_->handler, *request), version, keep_alive, head);
    Job job{std::move(*request), Clock::now(),
            [self = shared_from_this(), version, keep_alive, head](HttpResponse response) {
              net::post(self->stream_.get_executor(), [self, response = std::move(response), version, keep_alive,
                                                       head]() mutable {
                self->Send(std::move(response), version, keep_alive, head);
              });
            }};
    LanePool* pool = lane == HttpLane::kIngest ? shared_->ingest : shared_->work;
    if (!pool->Submit(job)) Send(Overloaded(o, "too many requests waiting"), version, keep_alive, head);
  }

  // `head`: the headers a GET would get, Content-Length included, and no body (RFC 9110 9.3.2);
  // a body after them would be read as the start of the next response on a kept-alive connection.
  void Send(HttpResponse response, unsigned version, bool keep_alive, bool head = false) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    message->set(http::field::server, "vrec");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    if (head) {
      const size_t length = message->body().size();
      message->body().clear();
      message->content_length(length);
    }
    response_ = message;
    http::async_write(stream_, *message,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(),
                                                !keep_alive));
  }

  void OnWrite(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec || close) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  boost::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  std::shared_ptr<const Shared> shared_;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(std::shared_ptr<Shared> shared)
      : shared_(shared),
        work_(shared->options, shared->handler, shared->counters, shared->options.threads),
        ingest_(shared->options, shared->handler, shared->counters, shared->options.ingest_threads),
        ioc_(shared->options.io_threads),
        acceptor_(ioc_) {
    shared->work = &work_;
    shared->ingest = &ingest_;
  }

  absl::Status Bind() {
    beast::error_code ec;
    const auto address = net::ip::make_address(shared_->options.address, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad listen address '", shared_->options.address, "': ", ec.message()));
    }
    const tcp::endpoint endpoint(address, shared_->options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", shared_->options.address, ":",
                                                 shared_->options.port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  void Start() {
    // The workers first (the warm-up runs on them), then the I/O threads.
    absl::BlockingCounter initialized(shared_->options.threads);
    work_.Start(shared_->options.thread_init, &initialized);
    ingest_.Start(nullptr, nullptr);
    initialized.Wait();
    Accept();
    for (int i = 0; i < shared_->options.io_threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    work_.Stop();
    ingest_.Stop();
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  HttpServerStats stats() const {
    const Counters& c = shared_->counters;
    return {c.shed_queue_full.load(), c.shed_deadline.load(), c.shed_connections.load(), c.connections.load()};
  }

  uint16_t port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (shared_->counters.connections.load(std::memory_order_relaxed) >= shared_->options.max_connections) {
          RefuseConnection(std::move(socket));
        } else {
          std::make_shared<Session>(std::move(socket), shared_)->Run();
        }
      }
      Accept();
    });
  }

  // A connection over the cap: a 503 into its (empty) send buffer, then close.
  void RefuseConnection(tcp::socket socket) {
    shared_->counters.shed_connections.fetch_add(1, std::memory_order_relaxed);
    const HttpResponse r = Overloaded(shared_->options, "too many connections");
    std::string wire = absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nServer: vrec\r\nContent-Type: ",
                                    r.content_type, "\r\nConnection: close\r\nContent-Length: ", r.body.size(), "\r\n");
    for (const auto& [name, value] : r.headers) absl::StrAppend(&wire, name, ": ", value, "\r\n");
    absl::StrAppend(&wire, "\r\n", r.body);
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(wire), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  std::shared_ptr<const Shared> shared_;
  LanePool work_;
  LanePool ingest_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  uint16_t port_ = 0;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                               HttpHandler handler) {
  if (options.threads < 1 || options.threads > 256 || options.io_threads < 1 || options.io_threads > 256 ||
      options.ingest_threads < 1 || options.ingest_threads > 256) {
    return absl::InvalidArgumentError("threads, io_threads and ingest_threads must be in [1, 256]");
  }
  if (options.max_connections < 1 || options.max_queued < 1 || !(options.max_queue_wait_ms > 0) ||
      options.queue_deadline_ms < 1 || options.retry_after_ms < 1) {
    return absl::InvalidArgumentError(
        "max_connections, max_queued, max_queue_wait_ms, queue_deadline_ms and retry_after_ms must be positive");
  }
  if (options.request_timeout_ms < 1) return absl::InvalidArgumentError("request_timeout_ms must be positive");
  if (!handler) return absl::InvalidArgumentError("no handler");
  auto shared = std::make_shared<Shared>();
  shared->options = options;
  shared->handler = std::move(handler);
  auto impl = std::make_unique<Impl>(std::move(shared));
  absl::Status bound = impl->Bind();
  if (!bound.ok()) return bound;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Start() { impl_->Start(); }
void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}
uint16_t HttpServer::port() const { return impl_->port(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

HttpResponse AnswerWire(absl::string_view wire, const HttpServerOptions& options, const HttpHandler& handler) {
  // What http::async_read does on a connection: fill the bounded buffer a read at a time, let
  // the parser consume it, and at the end of the input either finish or fail the message.
  beast::flat_buffer buffer(ReadBufferLimit(options));
  http::request_parser<http::string_body> parser;
  ConfigureParser(options, &parser);
  beast::error_code ec;
  size_t offset = 0;
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      const size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        break;
      } else if (used > 0) {
        continue;
      }
    }
    if (parser.is_done()) break;
    if (offset == wire.size()) {
      if (parser.got_some()) {
        parser.put_eof(ec);
      } else {
        ec = http::error::end_of_stream;
      }
      if (!ec && !parser.is_done()) ec = http::error::partial_message;
      break;
    }
    const size_t room = std::min<size_t>(buffer.max_size() - buffer.size(), 65536);
    if (room == 0) {
      ec = http::error::buffer_overflow;
      break;
    }
    const size_t n = std::min(room, wire.size() - offset);
    buffer.commit(net::buffer_copy(buffer.prepare(n), net::buffer(wire.data() + offset, n)));
    offset += n;
  }
  if (ec) {
    if (std::optional<HttpResponse> answer = ReadErrorResponse(ec, options)) return *answer;
    return JsonError(400, "bad_request", "incomplete HTTP request");
  }
  absl::StatusOr<HttpRequest> request = ToRequest(parser.get());
  if (!request.ok()) return JsonError(400, "bad_request", request.status().message());
  return RunHandler(handler, *request);
}

}  // namespace vrec::serving
