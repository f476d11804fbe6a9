// Progress reporting for long jobs: "label: done/total (pct) rate/s ETA" on stderr, rewritten
// in place on a terminal and printed every few seconds otherwise, then a one-line summary.
#ifndef VREC_COMMON_PROGRESS_H_
#define VREC_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace vrec {

// Not thread-safe: report from one thread.
class Progress {
 public:
  // `total` 0 means unknown (no percentage or ETA). `unit` names what is counted ("events").
  Progress(std::string label, uint64_t total, std::string unit, bool enabled = true);
  // Sets the count done so far; prints at most a few times per second.
  void Update(uint64_t done);
  // Prints the final line: count, elapsed seconds and rate.
  void Finish(uint64_t done);
  double ElapsedSeconds() const;

 private:
  void Print(uint64_t done, bool final_line);

  std::string label_;
  uint64_t total_;
  std::string unit_;
  bool enabled_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

// "1.23M", "45.6k", "789".
std::string HumanCount(double n);

}  // namespace vrec

#endif  // VREC_COMMON_PROGRESS_H_
