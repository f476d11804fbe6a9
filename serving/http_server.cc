#include "serving/http_server.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
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

struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
};

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<const Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.header_limit_bytes));
    stream_.expires_after(std::chrono::milliseconds(shared_->options.request_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Send(JsonError(413, "payload_too_large",
                            absl::StrCat("request body exceeds ", shared_->options.body_limit_bytes,
                                         " bytes")),
                  11, /*keep_alive=*/false);
    }
    if (ec == http::error::header_limit) {
      return Send(JsonError(431, "headers_too_large", "request headers are too large"), 11, false);
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::partial_message) {
        return Send(JsonError(400, "bad_request", absl::StrCat("malformed HTTP request: ", ec.message())),
                    11, false);
      }
      return Close();  // the peer went away
    }
    const http::request<http::string_body>& raw = parser_->get();
    HttpResponse response = Handle(raw);
    Send(std::move(response), raw.version(), raw.keep_alive(), raw.method() == http::verb::head);
  }

  HttpResponse Handle(const http::request<http::string_body>& raw) {
    HttpRequest request;
    request.method = std::string(raw.method_string());
    const absl::string_view target(raw.target().data(), raw.target().size());
    const size_t q = target.find('?');
    auto path = PercentDecode(target.substr(0, q), false);
    if (!path.ok()) return JsonError(400, "bad_request", path.status().message());
    request.path = std::move(*path);
    if (q != absl::string_view::npos) {
      auto params = ParseQueryString(target.substr(q + 1));
      if (!params.ok()) return JsonError(400, "bad_request", params.status().message());
      request.params = std::move(*params);
    }
    request.body = raw.body();
    if (auto it = raw.find(http::field::content_type); it != raw.end()) {
      request.content_type = std::string(it->value());
    }
    try {
      return shared_->handler(request);
    } catch (const std::exception& e) {
      return JsonError(500, "internal", absl::StrCat("handler failed: ", e.what()));
    } catch (...) {
      return JsonError(500, "internal", "handler failed");
    }
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
  Impl(std::shared_ptr<const Shared> shared)
      : shared_(std::move(shared)), ioc_(shared_->options.threads), acceptor_(ioc_) {}

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
    Accept();
    const int n = shared_->options.threads;
    absl::BlockingCounter initialized(n);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, i, &initialized] {
        if (shared_->options.thread_init) shared_->options.thread_init(i);
        initialized.DecrementCount();
        ioc_.run();
      });
    }
    initialized.Wait();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  uint16_t port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), shared_)->Run();
      Accept();
    });
  }

  std::shared_ptr<const Shared> shared_;
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
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError("threads must be in [1, 256]");
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

}  // namespace vrec::serving
