// `vrec serve`: loads a world's feature store and model bundle and serves the HTTP API until SIGINT/SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "serving/event_ingestor.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "serving/model_updater.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "common/progress.h"

namespace vrec {

absl::Status RunServe(int argc, char** argv) {
  serving::HttpServerOptions server_options;
  // Queueing budget for feeds: at 3x the default world's capacity this keeps the answered feeds'
  // p99 within 2x the unloaded p99 (README, measured numbers); the library's default is looser.
  server_options.max_queue_wait_ms = 5;
  serving::FeedServiceOptions feed_options;
  featurestore::FeatureStoreOptions store_options;
  pipeline::FeedModelOptions model_options;
  std::string world, store_dir, models_dir, clock_mode = "auto", quotas, impression_log = "default";
  bool read_only = false;
  ranking::RerankOptions& rerank = model_options.rerank;
  int64_t diversity_window = rerank.diversity_window, max_category = rerank.max_same_category,
          max_creator = rerank.max_same_creator, explore_position = rerank.explore_position,
          explore_pool = rerank.explore_pool;
  double freshness_boost = rerank.freshness_boost;
  double refresh_seconds = 60;
  uint32_t port = server_options.port, threads = server_options.threads;
  int64_t max_connections = server_options.max_connections;
  uint64_t body_limit = server_options.body_limit_bytes, cache_mb = store_options.block_cache_bytes >> 20;
  bool lock_memory = true;
  uint32_t warmup = 300;
  FlagSet flags("vrec serve",
                "Serves the feed API (GET /v1/feed, POST /v1/events, /healthz, /readyz, /metrics) over HTTP.");
  flags.String("world", &world, "world directory (its event log receives POST /v1/events)");
  flags.String("store", &store_dir, "feature store (default: WORLD/features, built by `vrec featurize`)");
  flags.String("models", &models_dir,
               "directory of model bundles: serve the newest complete one, and swap in newer ones as they appear "
               "(default: popularity sources only)");
  flags.String("clock", &clock_mode,
               "system (real time), world (the store's last event is now, then real time runs on) or auto "
               "(world when the store is more than a day old)");
  flags.Double("refresh-seconds", &refresh_seconds,
               "rebuild trending and fresh uploads from the store, and look for a newer bundle, this often (0: never)");
  flags.String("quotas", &quotas,
               "candidates per source, e.g. two_tower:300,item_to_item:100,trending:100,fresh:50,popular:50");
  flags.String("impression-log", &impression_log,
               "append every served feed (request id, positions, scores, propensities) to this JSON-lines file "
               "(default: WORLD/impressions.jsonl; empty: none)");
  serving::ImpressionLogOptions impression_options;
  uint64_t impression_max_mb = impression_options.max_bytes >> 20;
  int64_t impression_keep = impression_options.keep;
  flags.Uint64("impression-log-max-mb", &impression_max_mb,
               "rotate the impression log at this size: FILE becomes FILE.1, FILE.1 FILE.2, ... (0: never)");
  flags.Int("impression-log-keep", &impression_keep, "rotated impression logs kept (FILE.1 ... FILE.N)");
  flags.Double("freshness-boost", &freshness_boost, "re-ranking: score *= 1 + this * exp(-upload age / 1 day)");
  flags.Int("diversity-window", &diversity_window, "re-ranking: slots over which repeats are limited");
  flags.Int("max-same-category", &max_category, "re-ranking: videos of one category per window (0: no limit)");
  flags.Int("max-same-creator", &max_creator, "re-ranking: videos of one creator per window (0: no limit)");
  flags.Double("explore-rate", &rerank.explore_rate, "re-ranking: share of feeds with an exploration slot (0: none)");
  flags.Int("explore-position", &explore_position, "re-ranking: the exploration slot (0-based)");
  flags.Int("explore-pool", &explore_pool, "re-ranking: fresh candidates the exploration slot draws from");
  flags.Bool("read-only", &read_only,
             "serve the feature store as it is: no catching up from the event log, no event ingestion (POST "
             "/v1/events answers 503); for scoring a featurized past with `vrec replay --server`");
  flags.Bool("exact-search", &model_options.exact_search,
             "search the bundle's embeddings exactly instead of through its HNSW graph (slower; what the replay "
             "does, so served feeds can be compared with replayed ones)");
  flags.Bool("bundle-rules", &model_options.bundle_rules,
             "drop the re-ranking rules the bundle measured as lowering its validation NDCG (MANIFEST rules.*; "
             "--nobundle-rules applies the flags' rules as given)");
  flags.String("address", &server_options.address, "listen address");
  flags.Uint32("port", &port, "listen port (0 picks a free one and prints it)");
  flags.Uint32("threads", &threads, "feed worker threads");
  flags.Double("max-queue-ms", &server_options.max_queue_wait_ms,
               "refuse a request (503) when its lane's expected queueing exceeds this many ms");
  flags.Int("max-connections", &max_connections, "open connections; beyond, 503 and close");
  flags.Uint64("body-limit-bytes", &body_limit, "largest accepted request body");
  flags.Uint32("max-count", &feed_options.max_count, "largest allowed `count` per feed request");
  flags.Uint64("block-cache-mb", &cache_mb, "RocksDB block cache size in MiB");
  flags.Uint32("warmup-requests", &warmup, "feeds served internally after loading, before listening");
  flags.Bool("lock-memory", &lock_memory,
             "after loading, lock the process's memory (mlockall) so the OS cannot evict the feature store's "
             "mapped files or the models: a page read back from disk costs a request milliseconds");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (port > 65535) return absl::InvalidArgumentError("--port must be in [0, 65535]");
  if (!quotas.empty()) VREC_RETURN_IF_ERROR(retrieval::ParseQuotas(quotas, &model_options.retriever));
  if (refresh_seconds < 0) return absl::InvalidArgumentError("--refresh-seconds must be >= 0");
  if (diversity_window < 1 || diversity_window > 1000 || max_category < 0 || max_category > 1000 || max_creator < 0 ||
      max_creator > 1000 || explore_position < 0 || explore_position > 1000 || explore_pool < 1 ||
      explore_pool > 100000) {
    return absl::InvalidArgumentError(
        "out-of-range flag: --diversity-window 1-1000, --max-same-category and --max-same-creator 0-1000, "
        "--explore-position 0-1000, --explore-pool 1-100000");
  }
  rerank.freshness_boost = static_cast<float>(freshness_boost);
  rerank.diversity_window = static_cast<int>(diversity_window);
  rerank.max_same_category = static_cast<int>(max_category);
  rerank.max_same_creator = static_cast<int>(max_creator);
  rerank.explore_position = static_cast<int>(explore_position);
  rerank.explore_pool = static_cast<int>(explore_pool);
  VREC_RETURN_IF_ERROR(rerank.Validate());
  server_options.port = static_cast<uint16_t>(port);
  server_options.threads = static_cast<int>(threads);
  if (max_connections < 1 || max_connections > 1000000 || !(server_options.max_queue_wait_ms > 0)) {
    return absl::InvalidArgumentError("--max-connections must be in [1, 1000000] and --max-queue-ms positive");
  }
  server_options.max_connections = static_cast<int>(max_connections);
  server_options.body_limit_bytes = body_limit;
  store_options.block_cache_bytes = cache_mb << 20;
  store_options.cache_videos = true;  // a feed reads hundreds of videos per request
  if (store_dir.empty()) store_dir = DefaultStoreDir(world);

  Progress timer("load", 0, "", false);
  VREC_RETURN_IF_ERROR(ReadWorldManifest(world).status());
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<featurestore::FeatureStore> store,
                        featurestore::FeatureStore::Open(store_dir, store_options));
  // Read-only: the store is served as it is (no catching up from the log, POST /v1/events
  // answers 503), e.g. a past featurized for `vrec replay --server`.
  std::unique_ptr<serving::EventIngestor> ingestor;
  if (!read_only) {
    VREC_ASSIGN_OR_RETURN(ingestor, serving::EventIngestor::Create(WorldEventsPath(world), store.get(),
                                                                  serving::EventIngestorOptions()));
  }
  // A recorded world is served as if live: its last event is "now".
  const TimestampMs offset = store->as_of_ms() - SystemClock::Get()->NowMs();
  if (clock_mode == "auto") clock_mode = offset < -kMsPerDay ? "world" : "system";
  if (clock_mode != "world" && clock_mode != "system") {
    return absl::InvalidArgumentError(absl::StrCat("--clock must be system, world or auto, got '", clock_mode, "'"));
  }
  const OffsetClock clock(clock_mode == "world" ? offset : 0);
  retrieval::SetModelThreads(1);  // one user-tower forward per request: no intra-op threads
  serving::ModelUpdater updater(store.get(), models_dir, &clock, model_options);
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::FeedModel> model, updater.LoadInitial());
  std::fprintf(stderr,
               "loaded %s: feature store %s reflects %llu logged events (%llu caught up from the log); model %s "
               "(%s%s); %zu trending videos; clock %s (now %s); in %.1f s\n",
               world.c_str(), store_dir.c_str(), static_cast<unsigned long long>(store->watermark()),
               static_cast<unsigned long long>(ingestor != nullptr ? ingestor->recovered_events() : 0),
               model->version.c_str(),
               model->two_tower != nullptr ? (model_options.exact_search ? "two-tower, exact search" : "two-tower, HNSW")
                                           : "popularity only, no --models",
               model->ranker != nullptr ? ", with ranker" : (model->two_tower != nullptr ? ", no ranker" : ""),
               model->popularity.trending->ranked().size(), clock_mode.c_str(),
               FormatTimestamp(clock.NowMs()).c_str(), timer.ElapsedSeconds());
  if (lock_memory) {
    // Current pages (the store's memory-mapped tables, the index, the models) and future ones
    // (tables written after ingestion, per-request buffers) stay resident.
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
      std::fprintf(stderr, "memory locked (mlockall): the store, index and models stay resident\n");
    } else {
      std::fprintf(stderr,
                   "warning: --lock-memory: mlockall failed (%s); serving unlocked: pages the OS evicts are read "
                   "back from disk on demand (raise `ulimit -l` or grant CAP_IPC_LOCK, or pass --nolock-memory)\n",
                   std::strerror(errno));
    }
  }
  // The first feeds after loading run several times slower (cold caches, lazily built library
  // state, and per thread: BLAS work buffers, thread-local request buffers): each server thread
  // serves its share of --warmup-requests internally before the port answers, with no
  // impression log or metrics.
  VREC_ASSIGN_OR_RETURN(const WorldManifest manifest, ReadWorldManifest(world));
  serving::FeedService warm(feed_options, model, store.get(), nullptr, &clock, nullptr);
  Progress warm_timer("warm-up", 0, "", false);
  if (warmup > 0) {
    server_options.thread_init = [&](int thread) {
      serving::HttpRequest request;
      request.method = "GET";
      request.path = "/v1/feed";
      for (uint32_t i = thread; i < warmup; i += static_cast<uint32_t>(server_options.threads)) {
        const uint64_t user = manifest.num_users > 0 ? SplitMix64(i + 1) % manifest.num_users : i;
        request.params = {{"user_id", absl::StrCat(user)}, {"count", "20"}};
        warm.Handle(request);
      }
    };
  }
  std::unique_ptr<serving::ImpressionLog> impressions;
  if (impression_log == "default") impression_log = world + "/impressions.jsonl";
  if (!impression_log.empty()) {
    if (impression_keep < 1 || impression_keep > 1000 || impression_max_mb > (uint64_t{1} << 30)) {
      return absl::InvalidArgumentError("--impression-log-keep must be in [1, 1000] and --impression-log-max-mb at most 2^30");
    }
    impression_options.max_bytes = impression_max_mb << 20;
    impression_options.keep = static_cast<int>(impression_keep);
    VREC_ASSIGN_OR_RETURN(impressions, serving::ImpressionLog::Open(impression_log, impression_options));
  }
  serving::FeedService service(feed_options, std::move(model), store.get(), ingestor.get(), &clock, impressions.get());
  updater.PublishMetrics(service.metrics());
  if (refresh_seconds > 0) updater.Start(&service, absl::Seconds(refresh_seconds));
  // The updater's thread points at `service`, declared after it and so destroyed first: stop the
  // thread before that, on every way out of this function.
  struct StopUpdater {
    serving::ModelUpdater& updater;
    ~StopUpdater() { updater.Stop(); }
  } stop_updater{updater};

  // Signals go to this thread only: block them before the server threads start.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  server_options.lane = serving::FeedServiceLane;
  std::atomic<serving::HttpServer*> running{nullptr};
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<serving::HttpServer> server,
                        serving::HttpServer::Create(server_options, [&service, &running](const serving::HttpRequest& r) {
                          if (r.path == "/metrics") {
                            if (serving::HttpServer* s = running.load()) serving::PublishServerStats(s->stats(), service.metrics());
                          }
                          return service.Handle(r);
                        }));
  running = server.get();
  server->Start();
  if (warmup > 0) {
    std::fprintf(stderr, "warmed up with %u feeds on %d server threads in %.1f s\n", warmup, server_options.threads,
                 warm_timer.ElapsedSeconds());
  }
  const std::string base = absl::StrCat("http://", server_options.address, ":", server->port());
  std::printf("listening on %s:%u\n", server_options.address.c_str(), server->port());
  std::printf("try: curl '%s/v1/feed?user_id=1&count=10'\n", base.c_str());
  std::printf("Ctrl-C stops the server\n");
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "signal %d: stopping\n", signal_number);
  server->Stop();
  return absl::OkStatus();
}

}  // namespace vrec
