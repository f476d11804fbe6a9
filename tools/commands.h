// The subcommands of the `vrec` binary. Each parses its own flags from argv[2..] and prints
// its results; an error is returned for `main` to print on one line.
#ifndef VREC_TOOLS_COMMANDS_H_
#define VREC_TOOLS_COMMANDS_H_

#include <string>

#include "absl/status/status.h"

namespace vrec {

// Where a world's feature store lives unless --store says otherwise: WORLD/features.
std::string DefaultStoreDir(const std::string& world);

absl::Status RunGenerate(int argc, char** argv);
absl::Status RunFeaturize(int argc, char** argv);
absl::Status RunTrainRetrieval(int argc, char** argv);
absl::Status RunBuildIndex(int argc, char** argv);
absl::Status RunTrainRanker(int argc, char** argv);
absl::Status RunImport(int argc, char** argv);
absl::Status RunEvents(int argc, char** argv);
absl::Status RunServe(int argc, char** argv);
absl::Status RunReplay(int argc, char** argv);
absl::Status RunBench(int argc, char** argv);
absl::Status RunDrill(int argc, char** argv);

}  // namespace vrec

#endif  // VREC_TOOLS_COMMANDS_H_
