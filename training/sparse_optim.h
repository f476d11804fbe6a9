// Helpers for the LibTorch optimisers the trainers share. Included only by trainer .cc files.
#ifndef VREC_TRAINING_SPARSE_OPTIM_H_
#define VREC_TRAINING_SPARSE_OPTIM_H_

#include <torch/torch.h>

namespace vrec {

// Adagrad step over sparse embedding tables. A table no example in the batch touched (tags in
// a batch without tags, creators in a dataset without them) has an empty sparse gradient,
// which LibTorch 1.13's Adagrad cannot divide: such gradients are dropped first.
inline void SparseAdagradStep(torch::optim::Adagrad& optimizer) {
  for (torch::Tensor& p : optimizer.param_groups()[0].params()) {
    if (p.grad().defined() && p.grad().is_sparse() && p.grad()._nnz() == 0) p.mutable_grad() = torch::Tensor();
  }
  optimizer.step();
}

}  // namespace vrec

#endif  // VREC_TRAINING_SPARSE_OPTIM_H_
