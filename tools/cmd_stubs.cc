#include "tools/commands.h"
namespace vrec {
absl::Status RunServe(int, char**) { return absl::UnimplementedError("todo"); }
absl::Status RunBench(int, char**) { return absl::UnimplementedError("todo"); }
}  // namespace vrec
