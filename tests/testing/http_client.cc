#include "tests/testing/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vrec::testing {
namespace {

class Connection {
 public:
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return absl::InternalError("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(absl::StrCat("connect failed: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  absl::Status SendAll(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        // The server may answer (413) and close before reading everything we send.
        return absl::OkStatus();
      }
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  // Reads one response from the buffered stream; the response to a HEAD has no body, whatever its
  // Content-Length says.
  absl::StatusOr<HttpReply> ReadReply(int timeout_ms, bool head_request) {
    while (true) {
      const size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        HttpReply reply;
        const std::string head = buffer_.substr(0, end);
        const size_t sp = head.find(' ');
        if (sp == std::string::npos || !absl::SimpleAtoi(head.substr(sp + 1, 3), &reply.status)) {
          return absl::DataLossError(absl::StrCat("bad status line: ", head.substr(0, 80)));
        }
        reply.headers = absl::AsciiStrToLower(head);
        size_t length = 0;
        const size_t cl = reply.headers.find("content-length:");
        bool has_length = false;
        if (cl != std::string::npos) {
          const size_t eol = reply.headers.find("\r\n", cl);
          has_length = absl::SimpleAtoi(
              absl::StripAsciiWhitespace(reply.headers.substr(cl + 15, eol - cl - 15)), &length);
        }
        if (head_request) {
          length = 0;
          has_length = true;
        }
        while (has_length ? buffer_.size() < end + 4 + length : !closed_) {
          absl::Status s = Fill(timeout_ms);
          if (!s.ok()) return s;
        }
        if (!has_length) length = buffer_.size() - end - 4;
        reply.body = buffer_.substr(end + 4, length);
        buffer_.erase(0, end + 4 + length);
        return reply;
      }
      if (closed_) return absl::DataLossError("connection closed before a full response");
      absl::Status s = Fill(timeout_ms);
      if (!s.ok()) return s;
    }
  }

 private:
  absl::Status Fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready == 0) return absl::DeadlineExceededError("no response in time");
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      closed_ = true;
      return absl::OkStatus();
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return absl::OkStatus();
  }

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace

absl::StatusOr<std::vector<HttpReply>> SendPipelined(uint16_t port, const std::vector<std::string>& raws,
                                                     int timeout_ms) {
  Connection c;
  absl::Status s = c.Connect(port);
  if (!s.ok()) return s;
  std::vector<HttpReply> replies;
  for (const std::string& raw : raws) {
    s = c.SendAll(raw);
    if (!s.ok()) return s;
    absl::StatusOr<HttpReply> reply = c.ReadReply(timeout_ms, raw.rfind("HEAD ", 0) == 0);
    if (!reply.ok()) return reply.status();
    replies.push_back(std::move(*reply));
  }
  return replies;
}

absl::StatusOr<HttpReply> SendRaw(uint16_t port, const std::string& raw, int timeout_ms) {
  absl::StatusOr<std::vector<HttpReply>> replies = SendPipelined(port, {raw}, timeout_ms);
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

absl::StatusOr<HttpReply> HttpGet(uint16_t port, const std::string& target) {
  return SendRaw(port, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
}

absl::StatusOr<HttpReply> HttpPost(uint16_t port, const std::string& target, const std::string& body,
                                   const std::string& content_type) {
  return SendRaw(port, absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ",
                                    content_type, "\r\nContent-Length: ", body.size(),
                                    "\r\nConnection: close\r\n\r\n", body));
}

int ConnectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void CloseConnection(int fd) { ::close(fd); }

}  // namespace vrec::testing
