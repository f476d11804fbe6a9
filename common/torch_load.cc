#include "common/torch_load.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vrec {
namespace {

struct Slot {
  std::string name;
  std::vector<int64_t> sizes;
  c10::ScalarType dtype;
};

std::vector<Slot> Slots(const torch::nn::Module& module) {
  std::vector<Slot> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    out.push_back({p.key(), p.value().sizes().vec(), p.value().scalar_type()});
  }
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    out.push_back({b.key(), b.value().sizes().vec(), b.value().scalar_type()});
  }
  return out;
}

}  // namespace

absl::Status LoadCheckedWeights(torch::nn::Module& module, const std::string& path, const std::string& what) {
  const std::vector<Slot> want = Slots(module);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    module.load(archive);
    const std::vector<Slot> got = Slots(module);
    if (got.size() != want.size()) {
      return absl::DataLossError(absl::StrCat("cannot load ", what, " from ", path, ": ", got.size(),
                                              " tensors, the config has ", want.size()));
    }
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> tensors;
    for (const auto& p : module.named_parameters(true)) tensors.push_back(p.value());
    for (const auto& b : module.named_buffers(true)) tensors.push_back(b.value());
    for (size_t i = 0; i < want.size(); ++i) {
      if (got[i].name != want[i].name || got[i].sizes != want[i].sizes || got[i].dtype != want[i].dtype) {
        return absl::DataLossError(absl::StrCat(
            "cannot load ", what, " from ", path, ": tensor ", got[i].name, " is [", absl::StrJoin(got[i].sizes, ","),
            "], the config wants ", want[i].name, " [", absl::StrJoin(want[i].sizes, ","),
            "] (saved with another config, or corrupt)"));
      }
      if (tensors[i].is_floating_point() && !torch::isfinite(tensors[i]).all().item<bool>()) {
        return absl::DataLossError(
            absl::StrCat("cannot load ", what, " from ", path, ": tensor ", got[i].name, " has non-finite values"));
      }
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("cannot load ", what, " from ", path,
                                            " (missing, corrupt, or saved with another config): ",
                                            e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot load ", what, " from ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace vrec
