#include "serving/impression_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace vrec::serving {

absl::StatusOr<std::unique_ptr<ImpressionLog>> ImpressionLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open the impression log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<ImpressionLog>(new ImpressionLog(fd));
}

ImpressionLog::~ImpressionLog() { ::close(fd_); }

absl::Status ImpressionLog::Append(const data::ServedFeed& feed) {
  std::string line = data::FormatServedFeed(feed);
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("impression log write failed: ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  ++appended_;
  return absl::OkStatus();
}

uint64_t ImpressionLog::appended() const {
  absl::MutexLock lock(&mu_);
  return appended_;
}

}  // namespace vrec::serving
