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

// Adam over the rows a sparse gradient touches ("lazy" Adam, as TensorFlow's LazyAdam): the
// moments and the parameters change in those rows only, with one global step count for the
// bias correction. Nothing the size of a table is allocated per step: on a 500k-row table the
// dense Adam's per-step gradient and temporaries (each past glibc's mmap threshold) cost more in
// page faults than the step computes. Under a full softmax every candidate row is touched
// each step, so there it is the dense Adam restricted to the rows that have data.
class SparseAdam {
 public:
  SparseAdam(std::vector<torch::Tensor> params, double learning_rate, double beta1 = 0.9, double beta2 = 0.999,
             double epsilon = 1e-8)
      : params_(std::move(params)), lr_(learning_rate), beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {
    for (const torch::Tensor& p : params_) {
      m_.push_back(torch::zeros_like(p));
      v_.push_back(torch::zeros_like(p));
    }
  }

  void zero_grad() {
    for (torch::Tensor& p : params_) p.mutable_grad() = torch::Tensor();
  }

  void step() {
    torch::NoGradGuard no_grad;
    ++steps_;
    const double correction1 = 1.0 - std::pow(beta1_, steps_), correction2 = 1.0 - std::pow(beta2_, steps_);
    for (size_t i = 0; i < params_.size(); ++i) {
      const torch::Tensor& grad = params_[i].grad();
      if (!grad.defined() || !grad.is_sparse() || grad._nnz() == 0) continue;
      const torch::Tensor g = grad.coalesce();
      const torch::Tensor rows = g.indices()[0];
      const torch::Tensor values = g.values();
      const torch::Tensor m = m_[i].index_select(0, rows).mul_(beta1_).add_(values, 1.0 - beta1_);
      const torch::Tensor v = v_[i].index_select(0, rows).mul_(beta2_).addcmul_(values, values, 1.0 - beta2_);
      m_[i].index_copy_(0, rows, m);
      v_[i].index_copy_(0, rows, v);
      const torch::Tensor update = (m / correction1).div_((v / correction2).sqrt_().add_(epsilon_)).mul_(-lr_);
      params_[i].index_add_(0, rows, update);
    }
  }

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  double lr_, beta1_, beta2_, epsilon_;
  int64_t steps_ = 0;
};

inline void SparseStep(torch::optim::Adagrad& optimizer) { SparseAdagradStep(optimizer); }
inline void SparseStep(SparseAdam& optimizer) { optimizer.step(); }

// One optimisation step on `loss`: gradients cleared, backward, the dense and the sparse
// optimiser (Adagrad or SparseAdam) stepped. Returns the loss value.
template <typename Sparse>
double OptimizerStep(const torch::Tensor& loss, torch::optim::Optimizer& dense, Sparse& sparse) {
  dense.zero_grad();
  sparse.zero_grad();
  loss.backward();
  dense.step();
  SparseStep(sparse);
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
