#include "serving/impression_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vrec::serving {

namespace {

absl::StatusOr<std::pair<int, uint64_t>> OpenForAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open the impression log ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return std::make_pair(fd, size);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImpressionLog>> ImpressionLog::Open(const std::string& path,
                                                                   const ImpressionLogOptions& options) {
  if (options.keep < 1 || options.keep > 1000) return absl::InvalidArgumentError("keep must be in [1, 1000]");
  absl::StatusOr<std::pair<int, uint64_t>> opened = OpenForAppend(path);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<ImpressionLog>(new ImpressionLog(path, opened->first, opened->second, options));
}

ImpressionLog::~ImpressionLog() { ::close(fd_); }

absl::Status ImpressionLog::Rotate() {
  for (int i = options_.keep; i >= 1; --i) {
    const std::string from = i == 1 ? path_ : absl::StrCat(path_, ".", i - 1);
    ::rename(from.c_str(), absl::StrCat(path_, ".", i).c_str());  // a missing one is fine
  }
  absl::StatusOr<std::pair<int, uint64_t>> opened = OpenForAppend(path_);
  if (!opened.ok()) return opened.status();  // keep writing to the renamed file
  ::close(fd_);
  fd_ = opened->first;
  size_ = opened->second;
  ++rotations_;
  return absl::OkStatus();
}

absl::Status ImpressionLog::Append(const data::ServedFeed& feed) {
  std::string line = data::FormatServedFeed(feed);
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  if (options_.max_bytes > 0 && size_ > 0 && size_ + line.size() > options_.max_bytes) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("impression log write failed: ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  size_ += line.size();
  ++appended_;
  return absl::OkStatus();
}

uint64_t ImpressionLog::rotations() const {
  absl::MutexLock lock(&mu_);
  return rotations_;
}

uint64_t ImpressionLog::appended() const {
  absl::MutexLock lock(&mu_);
  return appended_;
}

}  // namespace vrec::serving
