#include "tools/commands.h"
namespace vrec {
absl::Status RunBench(int, char**) { return absl::UnimplementedError("todo"); }
}  // namespace vrec
