// The `vrec` command line: one binary, one subcommand per job. Flags are parsed here and only
// here; each subcommand turns them into its library's options struct and runs it.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<absl::Status(int, char**)> run;
};

const Command kCommands[] = {
    {"generate", "make a synthetic world (users, videos, event log, latent truth)",
     vrec::RunGenerate},
    {"import", "turn MicroLens, MovieLens or a generic CSV into a world", vrec::RunImport},
    {"events", "summarise or dump a world's event log", vrec::RunEvents},
    {"featurize", "build a world's feature store (RocksDB) from its event log", vrec::RunFeaturize},
    {"train-retrieval", "train the two-tower retrieval model and export a bundle", vrec::RunTrainRetrieval},
    {"build-index", "embed all videos, build the bundle's HNSW index, measure its recall", vrec::RunBuildIndex},
    {"train-ranker", "train the multi-task ranker on logged impressions and export a bundle", vrec::RunTrainRanker},
    {"serve", "serve the HTTP feed API", vrec::RunServe},
    {"replay", "replay a world's log and score recommenders (NDCG, recall, HR, MAP)",
     vrec::RunReplay},
    {"bench", "benchmarks that print their numbers (events, featurestore)", vrec::RunBench},
    {"drill", "robustness drills that print their counts (bundle: corrupt a bundle's files, load each)",
     vrec::RunDrill},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out, "usage: vrec <command> [flags]   (vrec <command> --help for its flags)\n\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-16s %s\n", c.name, c.summary);
}

// Process-wide settings that must precede any allocation or library load. OpenBLAS picks its
// kernels when it loads, from OPENBLAS_CORETYPE; 0.3.21 takes AVX-512 machines for Haswell,
// halving GEMM speed, so on such machines the process re-executes itself once with SkylakeX.
// glibc must not hand freed memory back to the OS: a page fault costs ~11 us here, and
// training allocates and frees large tensors every step.
void ConfigureProcess(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && __builtin_cpu_supports("avx512f")) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);  // returns only on failure; then carry on as we are
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  ConfigureProcess(argv);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (c.name != std::string(argv[1])) continue;
    const absl::Status status = c.run(argc, argv);
    if (status.ok()) return 0;
    std::fprintf(stderr, "vrec %s: %s\n", c.name, std::string(status.message()).c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::fprintf(stderr, "vrec: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
