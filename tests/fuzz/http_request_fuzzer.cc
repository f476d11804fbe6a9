// Fuzz target: HTTP request handling. The input is the bytes a client sends on a connection;
// they are read the way the server reads them (serving/http_server.h AnswerWire: Beast's parser
// with the server's limits and bounded read buffer) and answered by the real FeedService over a
// small feature store with ingestion on (posted events reach an event log in a scratch folder).
// Invariants: every answer has a status in 200..599, and every 4xx/5xx body is the JSON error
// shape {"error": {"code": ..., "message": ...}}.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/json_reader.h"
#include "featurestore/feature_store.h"
#include "pipeline/recommender.h"
#include "serving/event_ingestor.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace vrec;  // NOLINT: a fuzz target's one file

constexpr TimestampMs kNow = 100 * kMsPerDay;

struct World {
  std::unique_ptr<featurestore::FeatureStore> store;
  std::unique_ptr<serving::EventIngestor> ingestor;
  std::unique_ptr<ManualClock> clock;
  std::unique_ptr<serving::FeedService> service;
  serving::HttpServerOptions options;
};

// Videos 0..19 with clicks in the last day; users 1..3 with a watched video each.
World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    const std::string dir = fuzz::ScratchDir() + "/http_store";
    std::filesystem::remove_all(dir);
    std::filesystem::remove(fuzz::ScratchDir() + "/http_events.log");
    auto store = featurestore::FeatureStore::Create(dir, featurestore::FeatureStoreOptions());
    if (!store.ok()) fuzz::Fail("cannot create the store");
    w->store = std::move(*store);
    std::vector<featurestore::VideoFeatures> videos(20);
    for (VideoId v = 0; v < 20; ++v) {
      videos[v].id = v;
      videos[v].known = true;
      videos[v].category = v % 2 ? "music" : "news";
      videos[v].duration_ms = 60000;
      videos[v].counters.Add(featurestore::kClicks, v + 1, kNow - kMsPerHour);
    }
    std::vector<featurestore::UserFeatures> users(3);
    for (int u = 0; u < 3; ++u) {
      users[u].id = u + 1;
      users[u].known = true;
      users[u].last_active_ms = kNow - kMsPerHour;
      users[u].history = {{static_cast<VideoId>(u), kNow - kMsPerHour, 1.0f, featurestore::HistoryEntry::kWatched}};
    }
    featurestore::FeatureWriteBatch batch;
    for (const auto& v : videos) batch.videos.push_back(&v);
    for (const auto& u : users) batch.users.push_back(&u);
    batch.as_of_ms = kNow;
    if (!w->store->Write(batch, featurestore::FeatureWriteOptions()).ok()) fuzz::Fail("cannot write the store");
    auto model = pipeline::LoadFeedModel(*w->store, kNow);
    if (!model.ok()) fuzz::Fail("cannot load the popularity model");
    auto ingestor = serving::EventIngestor::Create(fuzz::ScratchDir() + "/http_events.log", w->store.get(),
                                                   serving::EventIngestorOptions());
    if (!ingestor.ok()) fuzz::Fail("cannot start ingestion");
    w->ingestor = std::move(*ingestor);
    w->clock = std::make_unique<ManualClock>(kNow);
    w->service = std::make_unique<serving::FeedService>(serving::FeedServiceOptions(), *model, w->store.get(),
                                                        w->ingestor.get(), w->clock.get());
    w->options.body_limit_bytes = 64 << 10;
    w->options.header_limit_bytes = 8 << 10;
    return w;
  }();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  const serving::HttpResponse response =
      serving::AnswerWire(absl::string_view(reinterpret_cast<const char*>(data), size), w.options,
                          [&w](const serving::HttpRequest& r) { return w.service->Handle(r); });
  if (response.status < 200 || response.status > 599) fuzz::Fail("status out of range");
  if (response.status >= 400) {
    auto json = ParseJson(response.body);
    const JsonValue* error = json.ok() ? json->Find("error") : nullptr;
    if (error == nullptr || error->Find("code") == nullptr || error->Find("message") == nullptr) {
      std::fprintf(stderr, "status %d body %s\n", response.status, response.body.c_str());
      fuzz::Fail("an error response is not the JSON error shape");
    }
  }
  return 0;
}
