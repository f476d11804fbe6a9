// `vrec drill bundle`: corrupts a model bundle's files many times over and loads each damaged
// bundle as the server would (bundle::LoadBundle), counting what is refused and what loads. A
// crash ends the drill (the last line printed names the file and trial). Two modes per trial:
// the damaged file as it is (the MANIFEST's digests refuse it) and with the MANIFEST rewritten
// to match it (so the parsers and checks behind the digests face the damage).
//
// With --world, the drill serves instead: a real HTTP server (127.0.0.1, an ephemeral port) on
// the world's feature store and the good bundle; each damaged copy appears as a new bundle
// version, the server's model updater refreshes, and a feed is requested over HTTP. Every feed
// must answer 200 from the version that served before (the damage was refused) or from the new
// version (the damage passed every check); anything else is counted and fails the drill.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bundle/bundle.h"
#include "bundle/manifest.h"
#include "common/clock.h"
#include "common/json_reader.h"
#include "common/random.h"
#include "common/status.h"
#include "featurestore/feature_store.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "serving/model_updater.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/http_connection.h"

namespace vrec {
namespace {

struct Tally {
  uint64_t refused = 0, loaded = 0, failed_feeds = 0;
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

// A server on the world's features and the bundles under `models` (its newest loads first).
class DrillServer {
 public:
  static absl::StatusOr<std::unique_ptr<DrillServer>> Start(const std::string& world, const std::string& models) {
    auto d = std::unique_ptr<DrillServer>(new DrillServer());
    featurestore::FeatureStoreOptions store_options;
    store_options.read_only = true;
    VREC_ASSIGN_OR_RETURN(d->store_, featurestore::FeatureStore::Open(world + "/features", store_options));
    d->clock_ = std::make_unique<ManualClock>(d->store_->as_of_ms());
    d->updater_ = std::make_unique<serving::ModelUpdater>(d->store_.get(), models, d->clock_.get(),
                                                          pipeline::FeedModelOptions());
    VREC_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::FeedModel> model, d->updater_->LoadInitial());
    d->service_ = std::make_unique<serving::FeedService>(serving::FeedServiceOptions(), model, d->store_.get(),
                                                         nullptr, d->clock_.get());
    serving::HttpServerOptions options;
    options.port = 0;
    serving::FeedService* service = d->service_.get();
    VREC_ASSIGN_OR_RETURN(d->server_, serving::HttpServer::Create(options, [service](const serving::HttpRequest& r) {
                            return service->Handle(r);
                          }));
    d->server_->Start();
    d->connection_ = std::make_unique<HttpConnection>(d->server_->port());
    return d;
  }
  ~DrillServer() {
    if (server_ != nullptr) server_->Stop();
  }

  absl::Status Refresh() { return updater_->RefreshOnce(service_.get()); }

  // The bundle version a feed is served from, or -1 when the feed was not a 200 with a version.
  int64_t FeedVersion() {
    std::string body;
    if (connection_->Get("/v1/feed?user_id=3&count=10", &body) != 200) return -1;
    const absl::StatusOr<JsonValue> json = ParseJson(body);
    const JsonValue* version = json.ok() ? json->Find("model_version") : nullptr;
    int64_t v = -1;
    if (version == nullptr || !version->is_string() || !absl::SimpleAtoi(version->string(), &v)) return -1;
    return v;
  }

 private:
  DrillServer() = default;
  std::unique_ptr<featurestore::FeatureStore> store_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<serving::ModelUpdater> updater_;
  std::unique_ptr<serving::FeedService> service_;
  std::unique_ptr<serving::HttpServer> server_;
  std::unique_ptr<HttpConnection> connection_;
};

}  // namespace

absl::Status RunDrill(int argc, char** argv) {
  std::string what = argc > 2 ? argv[2] : "";
  if (what != "bundle") {
    return absl::InvalidArgumentError(
        "usage: vrec drill bundle --models DIR [--world DIR --version V --trials 200 --seed 1]");
  }
  std::string models, world, scratch = "/tmp/vrec-drill-bundle";
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
  flags.String("world", &world,
               "serve WORLD's features and the bundle over HTTP, hand each damaged copy to the server as a new "
               "version and request a feed after each refresh (default: load only)");
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

  std::unique_ptr<DrillServer> server;
  int64_t serving = 1;  // the version the server answers from
  int64_t next_version = 2;
  if (!world.empty()) {
    VREC_ASSIGN_OR_RETURN(server, DrillServer::Start(world, scratch));
    if (server->FeedVersion() != serving) return absl::InternalError("the undamaged bundle does not serve");
  }
  // One damaged copy in the serving drill: a new version whose files are hard links to the good
  // copy's but `name`, which holds `bytes`. Tallies where the next feed came from, and keeps only
  // the good copy and the version serving.
  auto serve_damaged = [&](const std::string& name, const std::string& bytes, bool rewrite,
                           Tally* t) -> absl::Status {
    const int64_t version = next_version++;
    const std::string vdir = bundle::BundleDir(scratch, version);
    std::filesystem::create_directories(vdir);
    for (const auto& [file, unused] : manifest.files) {
      if (file == name) {
        WriteAll(vdir + "/" + file, bytes);
      } else {
        std::filesystem::create_hard_link(dir + "/" + file, vdir + "/" + file);
      }
    }
    if (rewrite) {
      VREC_RETURN_IF_ERROR(bundle::WriteBundleManifest(vdir, manifest));
    } else {
      WriteAll(bundle::BundleManifestPath(vdir), manifest_bytes);
    }
    (void)server->Refresh();  // a refused bundle is an error here, and the service keeps its model
    const int64_t answered = server->FeedVersion();
    std::error_code ec;
    if (answered == version) {
      ++t->loaded;
      if (serving != 1) std::filesystem::remove_all(bundle::BundleDir(scratch, serving), ec);
      serving = version;
      return absl::OkStatus();
    }
    if (answered == serving) {
      ++t->refused;
    } else {
      ++t->failed_feeds;
    }
    std::filesystem::remove_all(vdir, ec);
    return absl::OkStatus();
  };

  Rng rng(seed);
  std::printf("%-22s %-18s %7s %8s %7s %s\n", "file", "mode", "trials", "refused", "loaded",
              server != nullptr ? "failed feeds" : " refusals by code");
  uint64_t failed_feeds = 0;
  for (const auto& [name, digest] : manifest.files) {
    const std::string path = dir + "/" + name;
    const std::string original = ReadAll(path);
    for (const bool rewrite : {false, true}) {
      Tally t;
      for (uint64_t trial = 0; trial < trials; ++trial) {
        std::fprintf(stderr, "\rdrill: %s %s trial %llu   ", name.c_str(), rewrite ? "rewritten" : "digests",
                     static_cast<unsigned long long>(trial + 1));
        const std::string damaged = Damage(original, rng);
        if (server != nullptr) {
          VREC_RETURN_IF_ERROR(serve_damaged(name, damaged, rewrite, &t));
          continue;
        }
        WriteAll(path, damaged);
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
      if (server == nullptr) WriteAll(path, original);
      std::string codes;
      for (const auto& [code, n] : t.codes) absl::StrAppend(&codes, code, " ", n, "  ");
      if (server != nullptr) codes = absl::StrCat(t.failed_feeds);
      failed_feeds += t.failed_feeds;
      std::fprintf(stderr, "\r");
      std::printf("%-22s %-18s %7llu %8llu %7llu  %s\n", name.c_str(), rewrite ? "MANIFEST rewritten" : "as written",
                  static_cast<unsigned long long>(trials), static_cast<unsigned long long>(t.refused),
                  static_cast<unsigned long long>(t.loaded), codes.c_str());
      std::fflush(stdout);
    }
  }
  if (failed_feeds > 0) {
    return absl::InternalError(absl::StrCat(failed_feeds, " feeds failed or came from an unexpected version"));
  }
  if (server != nullptr) {
    std::printf("every feed answered 200, from the version before when the damage was refused\n");
  }
  std::printf("no crash; a damaged file that loads changed only weights or embeddings within their checks\n");
  return absl::OkStatus();
}

}  // namespace vrec
