// `vrec drill bundle`: corrupts a model bundle's files many times over and loads each damaged
// bundle as the server would (bundle::LoadBundle), counting what is refused and what loads. A
// crash ends the drill (the last line printed names the file and trial). Two modes per trial:
// the damaged file as it is (the MANIFEST's digests refuse it) and with the MANIFEST rewritten
// to match it (so the parsers and checks behind the digests face the damage).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bundle/bundle.h"
#include "bundle/manifest.h"
#include "common/random.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {
namespace {

struct Tally {
  uint64_t refused = 0, loaded = 0;
  std::map<std::string, uint64_t> codes;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// One damage: a few overwritten bytes (the 0x7fffffff at an aligned offset, or random
// bytes), or a truncation.
std::string Damage(const std::string& original, Rng& rng) {
  if (original.empty()) return "x";
  std::string bytes = original;
  const uint64_t kind = rng.UniformInt(4);
  if (kind == 0) {
    bytes.resize(rng.UniformInt(bytes.size()));
    return bytes;
  }
  const int spots = 1 + static_cast<int>(rng.UniformInt(8));
  for (int s = 0; s < spots; ++s) {
    size_t at = rng.UniformInt(bytes.size());
    if (kind == 1) {  // a large int32 into an aligned word (counts, offsets, levels)
      at &= ~size_t{3};
      const unsigned char word[4] = {0xff, 0xff, 0xff, 0x7f};
      for (int i = 0; i < 4 && at + i < bytes.size(); ++i) bytes[at + i] = static_cast<char>(word[i]);
    } else if (kind == 2 && at < 256) {  // headers
      bytes[at] = static_cast<char>(rng.UniformInt(256));
    } else {
      bytes[at] = static_cast<char>(rng.UniformInt(256));
    }
  }
  if (bytes == original) bytes[rng.UniformInt(bytes.size())] ^= 0x01;  // always a change
  return bytes;
}

}  // namespace

absl::Status RunDrill(int argc, char** argv) {
  std::string what = argc > 2 ? argv[2] : "";
  if (what != "bundle") {
    return absl::InvalidArgumentError("usage: vrec drill bundle --models DIR [--version V --trials 200 --seed 1]");
  }
  std::string models, scratch = "/tmp/vrec-drill-bundle";
  int64_t version = 0;
  uint64_t trials = 200, seed = 1;
  FlagSet flags("vrec drill bundle",
                "Corrupts each file of a bundle --trials times in each of two modes (digests as written, "
                "MANIFEST rewritten to match) and loads every damaged copy as the server does; prints what was "
                "refused and what loaded. Works on a copy under --scratch.");
  flags.String("models", &models, "models directory");
  flags.Int("version", &version, "bundle version (0: the newest complete one)");
  flags.Uint64("trials", &trials, "corruptions per file and mode");
  flags.Uint64("seed", &seed, "random seed");
  flags.String("scratch", &scratch, "scratch models directory (replaced)");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (version == 0) {
    VREC_ASSIGN_OR_RETURN(version, bundle::LatestCompleteBundle(models));
  }
  const std::string source = bundle::BundleDir(models, version);
  VREC_ASSIGN_OR_RETURN(const bundle::BundleManifest manifest, bundle::ReadBundleManifest(source));
  if (manifest.files.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, " has no file digests in its MANIFEST (written by an older build); rebuild it"));
  }
  // A real copy (train-ranker bundles hard-link their base's files: never damage those).
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  const std::string dir = bundle::BundleDir(scratch, 1);
  std::filesystem::create_directories(dir, ec);
  for (const auto& [name, digest] : manifest.files) {
    std::filesystem::copy_file(source + "/" + name, dir + "/" + name, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot copy ", name, ": ", ec.message()));
  }
  const std::string manifest_bytes = ReadAll(bundle::BundleManifestPath(source));
  WriteAll(bundle::BundleManifestPath(dir), manifest_bytes);
  VREC_RETURN_IF_ERROR(bundle::LoadBundle(scratch, 1).status());  // the undamaged copy loads

  Rng rng(seed);
  std::printf("%-22s %-18s %7s %8s %7s  refusals by code\n", "file", "mode", "trials", "refused", "loaded");
  for (const auto& [name, digest] : manifest.files) {
    const std::string path = dir + "/" + name;
    const std::string original = ReadAll(path);
    for (const bool rewrite : {false, true}) {
      Tally t;
      for (uint64_t trial = 0; trial < trials; ++trial) {
        std::fprintf(stderr, "\rdrill: %s %s trial %llu   ", name.c_str(), rewrite ? "rewritten" : "digests",
                     static_cast<unsigned long long>(trial + 1));
        WriteAll(path, Damage(original, rng));
        if (rewrite) VREC_RETURN_IF_ERROR(bundle::WriteBundleManifest(dir, manifest));
        const absl::Status s = bundle::LoadBundle(scratch, 1).status();
        if (s.ok()) {
          ++t.loaded;
        } else {
          ++t.refused;
          ++t.codes[std::string(absl::StatusCodeToString(s.code()))];
        }
        if (rewrite) WriteAll(bundle::BundleManifestPath(dir), manifest_bytes);
      }
      WriteAll(path, original);
      std::string codes;
      for (const auto& [code, n] : t.codes) absl::StrAppend(&codes, code, " ", n, "  ");
      std::fprintf(stderr, "\r");
      std::printf("%-22s %-18s %7llu %8llu %7llu  %s\n", name.c_str(), rewrite ? "MANIFEST rewritten" : "as written",
                  static_cast<unsigned long long>(trials), static_cast<unsigned long long>(t.refused),
                  static_cast<unsigned long long>(t.loaded), codes.c_str());
      std::fflush(stdout);
    }
  }
  std::printf("no crash; a damaged file that loads changed only weights or embeddings within their checks\n");
  return absl::OkStatus();
}

}  // namespace vrec
