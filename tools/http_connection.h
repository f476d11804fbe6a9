// A minimal keep-alive HTTP/1.1 client for the `vrec` command's own use against a running
// `vrec serve`: `vrec bench feed` and `vrec replay --server`. GET only, Content-Length bodies.
#ifndef VREC_TOOLS_HTTP_CONNECTION_H_
#define VREC_TOOLS_HTTP_CONNECTION_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vrec {

// One keep-alive HTTP/1.1 connection to an IPv4 address (default 127.0.0.1). Not thread-safe.
class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port, uint32_t address = INADDR_LOOPBACK) : port_(port), address_(address) {}
  ~HttpConnection() { Close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends a GET and reads the whole response; returns its status code, or -1 on a transport
  // error (the connection is then reopened on the next call).
  int Get(const std::string& target, std::string* body) {
    if (fd_ < 0 && !Open()) return -1;
    const std::string request = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      Close();
      return -1;
    }
    buffer_.clear();
    size_t header_end = std::string::npos;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Read()) return -1;
    }
    const std::string headers = absl::AsciiStrToLower(buffer_.substr(0, header_end));
    int status = 0;
    if (headers.size() < 12 || !absl::SimpleAtoi(headers.substr(9, 3), &status)) {
      Close();
      return -1;
    }
    size_t length = 0;
    const size_t at = headers.find("content-length:");
    if (at == std::string::npos ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(headers.substr(at + 15, headers.find("\r\n", at) - at - 15)),
                          &length)) {
      Close();
      return -1;
    }
    while (buffer_.size() < header_end + 4 + length) {
      if (!Read()) return -1;
    }
    body->assign(buffer_, header_end + 4, length);
    return status;
  }

 private:
  bool Open() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(address_);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      Close();
      return false;
    }
    return true;
  }
  bool Read() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      Close();
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  uint16_t port_;
  uint32_t address_;  // host byte order
  int fd_ = -1;
  std::string buffer_;
};


}  // namespace vrec

#endif  // VREC_TOOLS_HTTP_CONNECTION_H_
