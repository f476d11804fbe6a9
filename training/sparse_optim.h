// Pieces of the training loop the trainers share: the optimiser step over dense layers and
// sparse embedding tables, and the step progress line. Included only by trainer .cc files.
#ifndef VREC_TRAINING_SPARSE_OPTIM_H_
#define VREC_TRAINING_SPARSE_OPTIM_H_

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "common/progress.h"

namespace vrec::training {

// Adagrad step over sparse embedding tables. A table no example in the batch touched (tags in
// a batch without tags, creators in a dataset without them) has an empty sparse gradient,
// which LibTorch 1.13's Adagrad cannot divide: such gradients are dropped first.
inline void SparseAdagradStep(torch::optim::Adagrad& optimizer) {
  for (torch::Tensor& p : optimizer.param_groups()[0].params()) {
    if (p.grad().defined() && p.grad().is_sparse() && p.grad()._nnz() == 0) p.mutable_grad() = torch::Tensor();
  }
  optimizer.step();
}

// One optimisation step on `loss`: gradients cleared, backward, the dense and the sparse
// optimiser stepped. Returns the loss value.
inline double OptimizerStep(const torch::Tensor& loss, torch::optim::Optimizer& dense,
                            torch::optim::Adagrad& sparse) {
  dense.zero_grad();
  sparse.zero_grad();
  loss.backward();
  dense.step();
  SparseAdagradStep(sparse);
  return loss.item<double>();
}

// The same with one optimiser over every parameter.
inline double OptimizerStep(const torch::Tensor& loss, torch::optim::Optimizer& optimizer) {
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return loss.item<double>();
}

// Counts a training loop's steps from construction and, when `show`, prints
// "<job>: epoch E/N step S/T loss L, R examples/s, ETA X s" at most every 2 s and at the end
// of each epoch.
class StepProgress {
 public:
  StepProgress(const char* job, int epochs, size_t steps_per_epoch, int batch_size, bool show)
      : job_(job), epochs_(epochs), steps_per_epoch_(steps_per_epoch), batch_size_(batch_size), show_(show),
        start_(std::chrono::steady_clock::now()), last_print_(start_) {}

  // After step `step` (0-based) of `epoch` (1-based); `mean_loss` over the epoch so far.
  void Step(int epoch, size_t step, double mean_loss) {
    ++done_steps_;
    if (!show_) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_print_).count() <= 2.0 && step + 1 != steps_per_epoch_) return;
    last_print_ = now;
    const double rate = done_steps_ * batch_size_ / std::chrono::duration<double>(now - start_).count();
    const uint64_t total_steps = steps_per_epoch_ * epochs_;
    std::fprintf(stderr, "%s: epoch %d/%d step %zu/%zu loss %.4f, %s examples/s, ETA %.0f s\n", job_, epoch, epochs_,
                 step + 1, steps_per_epoch_, mean_loss, HumanCount(rate).c_str(),
                 (total_steps - done_steps_) * batch_size_ / rate);
  }

  // Since construction, validation included.
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // Training examples per second of the whole loop.
  double examples_per_second(double seconds) const {
    return done_steps_ * batch_size_ / std::max(1e-9, seconds);
  }

 private:
  const char* job_;
  int epochs_;
  size_t steps_per_epoch_;
  int batch_size_;
  bool show_;
  std::chrono::steady_clock::time_point start_, last_print_;
  uint64_t done_steps_ = 0;
};

}  // namespace vrec::training

#endif  // VREC_TRAINING_SPARSE_OPTIM_H_
