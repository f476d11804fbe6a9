#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace vrec {

std::string HumanCount(double n) {
  if (n >= 1e9) return absl::StrFormat("%.2fG", n / 1e9);
  if (n >= 1e6) return absl::StrFormat("%.2fM", n / 1e6);
  if (n >= 1e4) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrFormat("%.0f", n);
}

Progress::Progress(std::string label, uint64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (tty_ ? 0.25 : 5.0)) return;
  last_print_ = now;
  Print(done, false);
}

void Progress::Finish(uint64_t done) {
  if (!enabled_) return;
  Print(done, true);
}

void Progress::Print(uint64_t done, bool final_line) {
  const double elapsed = ElapsedSeconds();
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::string line = absl::StrFormat("%s: %s", label_, HumanCount(done));
  if (total_ > 0 && !final_line) {
    line += absl::StrFormat("/%s %s (%.1f%%)", HumanCount(total_), unit_, 100.0 * done / total_);
  } else {
    line += " " + unit_;
  }
  line += absl::StrFormat(", %s/s", HumanCount(rate));
  if (final_line) {
    line += absl::StrFormat(", done in %.1f s", elapsed);
  } else if (total_ > 0 && rate > 0 && done <= total_) {
    line += absl::StrFormat(", ETA %.0f s", (total_ - done) / rate);
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace vrec
