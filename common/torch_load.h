// Loading LibTorch weights from an untrusted file into a module built from a config.
// torch::load replaces each parameter's storage with whatever the file holds, of any shape, so
// a file saved with another config (or crafted) would leave a module whose tensors disagree with
// the code that reads them. LoadCheckedWeights loads into the module and then requires every
// parameter and buffer to keep the name, shape and dtype it had, and every value to be finite.
#ifndef VREC_COMMON_TORCH_LOAD_H_
#define VREC_COMMON_TORCH_LOAD_H_

#include <string>

#include "absl/status/status.h"
#include "torch/torch.h"

namespace vrec {

// DataLoss (naming `what` and `path`) when the file is missing, unreadable or does not fit
// `module`; the module is then in an unspecified state and must be discarded.
[[nodiscard]] absl::Status LoadCheckedWeights(torch::nn::Module& module, const std::string& path,
                                              const std::string& what);

}  // namespace vrec

#endif  // VREC_COMMON_TORCH_LOAD_H_
