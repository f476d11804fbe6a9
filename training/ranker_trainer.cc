#include "training/ranker_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/leave_last_out.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/transforms.h"
#include "ranking/candidate_featurizer.h"
#include "ranking/cross_features.h"
#include "ranking/internal/ranker_net.h"
#include "bundle/bundle.h"
#include "retrieval/popularity.h"
#include "retrieval/trending.h"
#include "retrieval/two_tower.h"
#include "retrieval/vector_index.h"
#include "training/sparse_optim.h"

namespace vrec::training {
namespace {

constexpr uint8_t kLabelClick = 1 << ranking::kHeadClick;
constexpr uint8_t kLabelWatch = 1 << ranking::kHeadWatch;
constexpr uint8_t kLabelLike = 1 << ranking::kHeadLike;
constexpr int kSlateK = 10;

struct Slate {
  featurestore::UserInputs user;
  size_t first = 0;  // its examples: [first, first + size) of the train or validation list
  uint32_t size = 0;
  bool validation = false;
  uint32_t seeds_first = 0;  // the user's engaged seeds: [seeds_first, + seeds_size) of RankerData::seeds
  uint32_t seeds_size = 0;
};

struct Example {
  uint32_t slate = 0;
  VideoId video_id = 0;
  uint16_t position = kUnknownPosition;
  bool sampled = false;  // a sampled negative, not a logged impression
  featurestore::VideoInputs video;
  ranking::CrossInputs cross;
  uint8_t labels = 0;
};

struct RankerData {
  std::vector<Slate> slates;
  std::vector<Example> train, validation;
  std::vector<featurestore::VideoInputs> seeds;  // each slate's seed videos as of its request (item-to-item signal)
  TimestampMs from_ms = 0, validation_ms = 0, end_ms = 0;
};

using LabelMap = absl::flat_hash_map<std::pair<RequestId, VideoId>, uint8_t>;

// The graded relevance the replay uses: click 1, long watch 2, like or share 3.
int Grade(uint8_t labels) {
  if (labels & kLabelLike) return 3;
  if (labels & kLabelWatch) return 2;
  return (labels & kLabelClick) ? 1 : 0;
}

// The head labels one engagement event sets: click for any, watch50 for a long watch
// (RelevanceGrade >= 2), like for a like or share.
uint8_t EngagementLabels(const Event& e, const Catalog& catalog) {
  const Video* video = catalog.FindVideo(e.video_id);
  uint8_t bits = kLabelClick;
  if (e.type == EventType::kWatch &&
      RelevanceGrade(e.type, e.watch_time_ms, video != nullptr ? video->duration_ms : 0) >= 2) {
    bits |= kLabelWatch;
  }
  if (e.type == EventType::kLike || e.type == EventType::kShare) bits |= kLabelLike;
  return bits;
}

// The trending and popular ranks the server's popularity snapshot (retrieval/popularity.h)
// would have had, rebuilt from point-in-time features every hour of log time (the server
// refreshes every minute): the source signals of the ranker's examples.
class PointInTimeRanks {
 public:
  void Advance(const Catalog& catalog, const featurestore::FeatureReplay& replay, TimestampMs now) {
    if (now < next_ms_) return;
    next_ms_ = now + kMsPerHour;
    retrieval::PointInTimePopularityScores(catalog, replay, now, &trending_scores_, &popular_scores_);
    retrieval::TopRanks(trending_scores_, ranking::kCrossRankCap, &trending_);
    retrieval::TopRanks(popular_scores_, ranking::kCrossRankCap, &popular_);
  }
  // Signals without the embedding-based ones (AddRetrievalScores sets those).
  ranking::SourceSignals Signals(VideoId video) const {
    ranking::SourceSignals s;
    if (const auto it = trending_.find(video); it != trending_.end()) s.trending_rank = it->second;
    if (const auto it = popular_.find(video); it != popular_.end()) s.popular_rank = it->second;
    return s;
  }

 private:
  TimestampMs next_ms_ = INT64_MIN;
  std::vector<float> trending_scores_, popular_scores_;
  absl::flat_hash_map<VideoId, uint32_t> trending_, popular_;
};

// Opens a slate for `user` (point-in-time features) at `now`: its user inputs and its
// engaged seeds' video inputs as of now.
void OpenSlate(const featurestore::FeatureReplay& replay, const featurestore::UserFeatures& user,
               const ranking::CandidateFeaturizer& featurizer, TimestampMs now, Device device, bool validation,
               size_t first, const featurestore::TransformOptions& t, RankerData* data) {
  Slate slate;
  slate.user = featurizer.user();
  slate.first = first;
  slate.validation = validation;
  thread_local std::vector<VideoId> seeds;
  ranking::EngagedSeeds(user, &seeds);
  slate.seeds_first = static_cast<uint32_t>(data->seeds.size());
  slate.seeds_size = static_cast<uint32_t>(seeds.size());
  for (VideoId v : seeds)
    data->seeds.push_back(featurestore::TransformVideo(replay.video(v), featurestore::FeatureContext{now, device}, t));
  data->slates.push_back(slate);
}

// Appends `count` videos drawn uniformly from the catalog (uploaded by `now`) to `list` as
// not-shown examples of the last slate, with features as they are now.
void AddSampledNegatives(const Catalog& catalog, const featurestore::FeatureReplay& replay,
                         const ranking::CandidateFeaturizer& featurizer, const PointInTimeRanks& ranks, TimestampMs now,
                         int count, Rng& rng, RankerData* data, std::vector<Example>* list) {
  const std::vector<Video>& videos = catalog.videos();
  if (videos.empty() || data->slates.empty()) return;
  for (int k = 0; k < count; ++k) {
    const Video& v = videos[rng.UniformInt(videos.size())];
    if (v.upload_ms > now) continue;
    const featurestore::VideoFeatures& features = replay.video(v.id);
    Example neg;
    neg.slate = static_cast<uint32_t>(data->slates.size() - 1);
    neg.video_id = v.id;
    neg.sampled = true;
    featurizer.FeaturizeAt(now, features, ranks.Signals(v.id), &neg.video, &neg.cross);
    list->push_back(neg);
  }
}

absl::Status CollectLabels(const std::string& path, const Catalog& catalog, TimestampMs from_ms, LabelMap* labels);

// Pass 1: where to start so that at most max_examples training impressions are kept, and
// the labels of the impressions from there on.
absl::Status ReadLabels(const std::string& world_dir, const Catalog& catalog, const WorldManifest& manifest,
                        const RankerTrainOptions& o, RankerData* data, LabelMap* labels, uint64_t* found) {
  const std::string path = WorldEventsPath(world_dir);
  std::vector<uint64_t> per_hour((data->end_ms - manifest.start_ms) / kMsPerHour + 1);
  uint64_t impressions = 0;
  VREC_RETURN_IF_ERROR(ForEachEventBlock(path, [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (e.type != EventType::kImpression || e.request_id == 0 || e.timestamp_ms >= data->validation_ms ||
          e.timestamp_ms < manifest.start_ms) {
        continue;
      }
      ++per_hour[(e.timestamp_ms - manifest.start_ms) / kMsPerHour];
      ++impressions;
    }
    return absl::OkStatus();
  }));
  *found = impressions;
  if (impressions == 0) return absl::OkStatus();
  data->from_ms = manifest.start_ms;
  if (o.max_examples > 0) {
    uint64_t kept = 0;
    for (size_t h = per_hour.size(); h-- > 0;) {
      if (kept + per_hour[h] > o.max_examples) {
        data->from_ms = manifest.start_ms + static_cast<TimestampMs>(h + 1) * kMsPerHour;
        break;
      }
      kept += per_hour[h];
    }
  }
  return CollectLabels(path, catalog, data->from_ms, labels);
}

// The labels of every request's videos from the engagement events (with a request id) at or
// after from_ms.
absl::Status CollectLabels(const std::string& path, const Catalog& catalog, TimestampMs from_ms, LabelMap* labels) {
  return ForEachEventBlock(path, [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (e.request_id == 0 || e.timestamp_ms < from_ms || !IsEngagement(e.type)) continue;
      (*labels)[{e.request_id, e.video_id}] |= EngagementLabels(e, catalog);
    }
    return absl::OkStatus();
  });
}

// Pass 2: point-in-time features of every kept impression, one user snapshot per slate.
// `served` (sorted by time, may be null) are impressions from outside the log (the server's
// impression log), taken in time order with the log's but never applied to the features.
absl::Status BuildExamples(const std::string& world_dir, const Catalog& catalog, const WorldManifest& manifest,
                           const RankerTrainOptions& o, const LabelMap& labels, RankerData* data,
                           const std::vector<Event>* served = nullptr) {
  const featurestore::TransformOptions& t = o.model.transform;
  featurestore::FeatureReplay replay(catalog, o.update);
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader, EventLogReader::Open(WorldEventsPath(world_dir)));
  Progress progress("ranker examples", manifest.num_events, "events", o.show_progress);
  uint64_t read = 0;
  RequestId current = 0;
  std::optional<ranking::CandidateFeaturizer> featurizer;
  std::vector<CreatorId> creators;
  PointInTimeRanks ranks;
  uint64_t validation_impressions = 0;
  Rng rng(o.seed ^ 0x9e9);
  size_t next_served = 0;
  bool done = false;
  while (!done) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    const bool log_ended = block.empty();
    size_t b = 0;
    while (true) {
      // The next event in time: a served impression first when it is not later than the
      // log's next one (after the log's end, the rest of them).
      const bool served_left = served != nullptr && next_served < served->size();
      const bool from_served =
          served_left && (b < block.size() ? (*served)[next_served].timestamp_ms <= block[b].timestamp_ms : log_ended);
      if (!from_served && b >= block.size()) break;
      const Event& e = from_served ? (*served)[next_served++] : block[b++];
      if (e.timestamp_ms >= data->end_ms) {
        done = true;
        break;
      }
      if (e.type == EventType::kImpression && e.request_id != 0 && e.timestamp_ms >= data->from_ms) {
        const bool validation = e.timestamp_ms >= data->validation_ms;
        // Whole slates only: stop taking validation slates once the cap is reached.
        if (validation && o.max_validation > 0 && e.request_id != current &&
            validation_impressions >= o.max_validation) {
          if (!from_served) replay.Apply(e);
          continue;
        }
        validation_impressions += validation;
        std::vector<Example>& list = validation ? data->validation : data->train;
        if (e.request_id != current || data->slates.empty()) {
          // Close the previous slate with its sampled negatives (features as of now).
          ranks.Advance(catalog, replay, e.timestamp_ms);
          if (!data->slates.empty() && o.sampled_negatives > 0) {
            AddSampledNegatives(catalog, replay, *featurizer, ranks, e.timestamp_ms, o.sampled_negatives, rng, data,
                                data->slates.back().validation ? &data->validation : &data->train);
          }
          const featurestore::UserFeatures& user = replay.user(e.user_id);
          ranking::CatalogHistoryCreators(user, catalog, &creators);
          featurizer.emplace(user, creators, featurestore::FeatureContext{e.timestamp_ms, e.device}, t);
          OpenSlate(replay, user, *featurizer, e.timestamp_ms, e.device, validation, list.size(), t, data);
          current = e.request_id;
        }
        const featurestore::VideoFeatures& video = replay.video(e.video_id);
        Example ex;
        ex.slate = static_cast<uint32_t>(data->slates.size() - 1);
        ex.video_id = e.video_id;
        ex.position = e.position;
        // The slate's featurizer is at its first impression's time; each impression at its own.
        featurizer->FeaturizeAt(e.timestamp_ms, video, ranks.Signals(e.video_id), &ex.video, &ex.cross);
        if (const auto it = labels.find({e.request_id, e.video_id}); it != labels.end()) ex.labels = it->second;
        list.push_back(ex);
        ++data->slates.back().size;
      }
      if (!from_served) replay.Apply(e);
    }
    if (log_ended) break;
    read += block.size();
    progress.Update(read);
  }
  progress.Finish(read);
  return absl::OkStatus();
}

// Logs without impressions (MicroLens and most public datasets record only engagement):
// every user-video engagement is a shown-and-engaged example, with the user's and video's
// features just before the first engagement, labels from all of that pair's engagements,
// and sampled catalog videos as the not-shown examples. With leave-last-out, each user's
// test item is never seen and the validation item forms the validation slates.
absl::Status BuildExamplesFromEngagements(const std::string& world_dir, const Catalog& catalog,
                                          const WorldManifest& manifest, const RankerTrainOptions& o,
                                          const HeldOutItems* held_out, RankerData* data) {
  const featurestore::TransformOptions& t = o.model.transform;
  featurestore::FeatureReplay replay(catalog, o.update);
  // pair -> (index << 1) | is_validation of its example, or kNotKept past the validation cap.
  constexpr size_t kNotKept = ~size_t{0};
  absl::flat_hash_map<std::pair<UserId, VideoId>, size_t> first;
  Rng rng(o.seed ^ 0x9e9);
  std::vector<CreatorId> creators;
  PointInTimeRanks ranks;
  uint64_t read = 0;
  Progress progress("ranker examples", manifest.num_events, "events", o.show_progress);
  VREC_RETURN_IF_ERROR(ForEachEventBlock(WorldEventsPath(world_dir), [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (e.timestamp_ms >= data->end_ms) break;
      if (held_out != nullptr && held_out->IsTest(e.user_id, e.video_id)) continue;  // never seen
      if (IsEngagement(e.type) && e.timestamp_ms >= data->from_ms) {
        const uint8_t bits = EngagementLabels(e, catalog);
        const bool validation =
            held_out != nullptr ? held_out->IsValidation(e.user_id, e.video_id) : e.timestamp_ms >= data->validation_ms;
        std::vector<Example>& list = validation ? data->validation : data->train;
        auto [it, inserted] = first.try_emplace({e.user_id, e.video_id}, kNotKept);
        if (!inserted) {
          if (it->second != kNotKept) {
            std::vector<Example>& owner = it->second & 1 ? data->validation : data->train;
            owner[it->second >> 1].labels |= bits;
          }
        } else if (!validation || o.max_validation == 0 || data->validation.size() < o.max_validation) {
          ranks.Advance(catalog, replay, e.timestamp_ms);
          const featurestore::UserFeatures& user = replay.user(e.user_id);
          ranking::CatalogHistoryCreators(user, catalog, &creators);
          const ranking::CandidateFeaturizer featurizer(user, creators,
                                                        featurestore::FeatureContext{e.timestamp_ms, e.device}, t);
          OpenSlate(replay, user, featurizer, e.timestamp_ms, e.device, validation, list.size(), t, data);
          const featurestore::VideoFeatures& video = replay.video(e.video_id);
          Example ex;
          ex.slate = static_cast<uint32_t>(data->slates.size() - 1);
          ex.video_id = e.video_id;
          featurizer.Featurize(video, ranks.Signals(e.video_id), &ex.video, &ex.cross);
          ex.labels = bits;
          it->second = (list.size() << 1) | (validation ? 1 : 0);
          list.push_back(ex);
          AddSampledNegatives(catalog, replay, featurizer, ranks, e.timestamp_ms, o.sampled_negatives, rng, data,
                              &list);
          // The slate is the engaged video and its sampled ones (for validation NDCG).
          data->slates.back().size = static_cast<uint32_t>(list.size() - data->slates.back().first);
        }
      }
      replay.Apply(e);
    }
    read += block.size();
    progress.Update(read);
    return absl::OkStatus();
  }));
  progress.Finish(read);
  return absl::OkStatus();
}

// Features exactly as the bundle's two-tower was trained on: its transforms and history length.
absl::Status UseBundleFeatures(const bundle::BundleManifest& manifest, RankerTrainOptions* o) {
  o->model.transform = manifest.two_tower.transform;
  VREC_RETURN_IF_ERROR(o->model.Validate());
  o->update.history_length = manifest.history_length;
  return absl::OkStatus();
}

// Fills the embedding-based source signals with the base two-tower on the same point-in-time
// features: the retrieval score (user and video embeddings) and the item-to-item similarity
// (the video's and the slate's seed videos' embeddings).
absl::Status AddRetrievalScores(const retrieval::TwoTowerModel& two_tower, const RankerTrainOptions& o,
                                RankerData* data) {
  const int dim = two_tower.dim();
  std::vector<float> users(data->slates.size() * dim);
  std::vector<featurestore::UserInputs> batch;
  for (size_t s = 0; s < data->slates.size(); s += 4096) {
    batch.clear();
    for (size_t i = s; i < std::min(data->slates.size(), s + 4096); ++i) batch.push_back(data->slates[i].user);
    VREC_RETURN_IF_ERROR(two_tower.EmbedUsers(batch, users.data() + s * dim));
  }
  std::vector<float> seeds(data->seeds.size() * dim);
  for (size_t s = 0; s < data->seeds.size(); s += 8192) {
    const size_t n = std::min<size_t>(8192, data->seeds.size() - s);
    VREC_RETURN_IF_ERROR(two_tower.EmbedVideos(absl::MakeConstSpan(data->seeds.data() + s, n), seeds.data() + s * dim));
  }
  data->seeds = std::vector<featurestore::VideoInputs>();
  Rng rng(o.seed ^ 0x5eed);
  std::vector<featurestore::VideoInputs> videos;
  std::vector<float> embedded;
  std::vector<const float*> slate_seeds;
  for (std::vector<Example>* list : {&data->train, &data->validation}) {
    const bool train = list == &data->train;
    for (size_t s = 0; s < list->size(); s += 8192) {
      const size_t n = std::min<size_t>(8192, list->size() - s);
      videos.clear();
      for (size_t i = 0; i < n; ++i) videos.push_back((*list)[s + i].video);
      embedded.resize(n * dim);
      VREC_RETURN_IF_ERROR(two_tower.EmbedVideos(videos, embedded.data()));
      for (size_t i = 0; i < n; ++i) {
        Example& ex = (*list)[s + i];
        // Learn the case the server has no embedding for (a video newer than the index) too.
        if (train && rng.Bernoulli(o.retrieval_dropout)) continue;
        const float* video = embedded.data() + i * dim;
        const float* u = users.data() + size_t{ex.slate} * dim;
        ex.cross.SetRetrievalScore(retrieval::InnerProduct(u, video, dim), true);  // as the retriever scores it
        const Slate& slate = data->slates[ex.slate];
        slate_seeds.clear();
        for (uint32_t k = 0; k < slate.seeds_size; ++k) slate_seeds.push_back(seeds.data() + size_t{slate.seeds_first + k} * dim);
        float similarity = 0;
        if (ranking::ItemToItemScore(slate_seeds, video, dim, &similarity)) ex.cross.SetItemToItem(similarity, true);
      }
    }
  }
  return absl::OkStatus();
}

// NDCG@10 of one slate's examples (a run of `list`) ranked by `scores` (higher first; null:
// the logged order). -1 for a slate without engagement.
double SlateNdcg(const std::vector<Example>& list, const Slate& slate, const float* scores) {
  std::vector<uint32_t> order(slate.size);
  for (uint32_t i = 0; i < slate.size; ++i) order[i] = i;
  if (scores != nullptr) {
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return scores[slate.first + a] > scores[slate.first + b];
    });
  }
  std::vector<VideoId> ranked;
  Relevance relevance;
  for (uint32_t i = 0; i < slate.size; ++i) {
    const Example& ex = list[slate.first + order[i]];
    // A sampled video may repeat a shown one: rank each video once, at its first place.
    if (std::find(ranked.begin(), ranked.end(), ex.video_id) != ranked.end()) continue;
    ranked.push_back(ex.video_id);
    if (const int g = Grade(ex.labels); g > 0) relevance.emplace_back(ex.video_id, g);
  }
  if (relevance.empty()) return -1.0;
  std::sort(relevance.begin(), relevance.end());
  relevance.erase(std::unique(relevance.begin(), relevance.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  relevance.end());
  return ScoreRanking(ranked, relevance, kSlateK).ndcg;
}

RankerEpochMetrics Validate(const ranking::RankerModel& model, const RankerData& data, double* logged_ndcg,
                            uint64_t* slates_scored) {
  const std::vector<Example>& v = data.validation;
  std::vector<float> heads(v.size() * ranking::kNumRankerHeads);
  std::vector<featurestore::UserInputs> users;
  std::vector<featurestore::VideoInputs> videos;
  std::vector<ranking::CrossInputs> cross;
  for (size_t s = 0; s < v.size(); s += 4096) {
    users.clear();
    videos.clear();
    cross.clear();
    for (size_t i = s; i < std::min(v.size(), s + 4096); ++i) {
      users.push_back(data.slates[v[i].slate].user);
      videos.push_back(v[i].video);
      cross.push_back(v[i].cross);
    }
    if (!model.ScoreExamples(users, videos, cross, heads.data() + s * ranking::kNumRankerHeads).ok()) break;
  }
  RankerEpochMetrics m;
  std::vector<float> p;
  std::vector<uint8_t> y;
  for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
    p.clear();
    y.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      if (h != ranking::kHeadExposure && v[i].sampled) continue;
      p.push_back(heads[i * ranking::kNumRankerHeads + h]);
      y.push_back(h == ranking::kHeadExposure ? !v[i].sampled : (v[i].labels >> h) & 1);
    }
    double positives = 0;
    for (uint8_t label : y) positives += label;
    m.heads[h] = {Auc(p, y), LogLoss(p, y), y.empty() ? 0.0 : positives / y.size()};
  }
  std::vector<float> combined(v.size());
  for (size_t i = 0; i < v.size(); ++i) combined[i] = model.Combine(&heads[i * ranking::kNumRankerHeads]);
  double ranked_sum = 0, logged_sum = 0;
  uint64_t count = 0;
  for (const Slate& slate : data.slates) {
    if (!slate.validation || slate.size == 0) continue;
    const double ranked = SlateNdcg(v, slate, combined.data());
    if (ranked < 0) continue;
    ranked_sum += ranked;
    logged_sum += SlateNdcg(v, slate, nullptr);
    ++count;
  }
  m.slate_ndcg = count > 0 ? ranked_sum / count : 0.0;
  *logged_ndcg = count > 0 ? logged_sum / count : 0.0;
  *slates_scored = count;
  return m;
}

// Hard-links (or copies) a file of the base bundle into the new one.
absl::Status LinkInto(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::create_hard_link(from, to, error);
  if (!error) return absl::OkStatus();
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
  if (error) return absl::InternalError(absl::StrCat("cannot copy ", from, " to ", to, ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RankerTrainSummary> TrainRanker(const std::string& world_dir, const std::string& models_dir,
                                               const RankerTrainOptions& options) {
  RankerTrainOptions o = options;
  if (o.epochs < 1 || o.batch_size < 2 || o.threads < 1 || o.validation_fraction <= 0 || o.validation_fraction >= 1 ||
      o.retrieval_dropout < 0 || o.retrieval_dropout > 1) {
    return absl::InvalidArgumentError(
        "need epochs >= 1, batch size >= 2, threads >= 1, validation fraction in (0, 1) and retrieval dropout in "
        "[0, 1]");
  }
  int64_t base = o.base_version;
  if (base == 0) {
    absl::StatusOr<int64_t> latest = bundle::LatestCompleteBundle(models_dir);
    if (!latest.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no complete retrieval bundle in ", models_dir,
          " to build the ranker on: run `vrec train-retrieval` and `vrec build-index` first"));
    }
    // The newest retrieval bundle: a ranker bundle carries the same retrieval files, but
    // retraining should build on what train-retrieval and build-index made last.
    base = *latest;
    for (int64_t v = *latest; v >= 1; --v) {
      absl::StatusOr<bundle::BundleManifest> m = bundle::ReadBundleManifest(bundle::BundleDir(models_dir, v));
      if (m.ok() && m->complete && !m->ranker.has_value()) {
        base = v;
        break;
      }
    }
  }
  const std::string base_dir = bundle::BundleDir(models_dir, base);
  VREC_ASSIGN_OR_RETURN(bundle::BundleManifest base_manifest, bundle::ReadBundleManifest(base_dir));
  if (!base_manifest.complete) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", base_dir, " is not complete (run build-index)"));
  }
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::TwoTowerModel> two_tower,
                        bundle::LoadBundleTwoTower(base_dir, base_manifest));
  VREC_RETURN_IF_ERROR(UseBundleFeatures(base_manifest, &o));

  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world_dir));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  RankerData data;
  data.end_ms = o.until_ms;
  if (data.end_ms == 0) {
    data.end_ms = base_manifest.train.end_ms;
  }
  data.end_ms = std::min(data.end_ms, manifest.end_ms + 1);
  data.validation_ms =
      data.end_ms - static_cast<TimestampMs>(o.validation_fraction * (data.end_ms - manifest.start_ms));
  const bool held_out_items = base_manifest.protocol != "time-split";  // leave-last-out, random
  LabelMap labels;
  uint64_t impressions = 0;
  if (!held_out_items) {
    VREC_RETURN_IF_ERROR(ReadLabels(world_dir, catalog, manifest, o, &data, &labels, &impressions));
  }
  if (impressions > 0) {
    VREC_RETURN_IF_ERROR(BuildExamples(world_dir, catalog, manifest, o, labels, &data));
    labels = LabelMap();
  } else {
    // No logged feeds: engagements are the shown examples.
    HeldOutItems held_out;
    if (held_out_items) {
      VREC_ASSIGN_OR_RETURN(const std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world_dir)));
      VREC_ASSIGN_OR_RETURN(held_out, SplitHeldOut(base_manifest.protocol, rows));
    }
    if (o.sampled_negatives == 0) {
      return absl::FailedPreconditionError(
          "the log has no impressions with request ids, so the ranker learns engagement against sampled videos: "
          "--sampled-negatives must be positive");
    }
    if (o.show_progress) {
      std::fprintf(stderr, "train-ranker: no logged impressions; engagements are the shown examples, %d sampled "
                           "videos each the not-shown ones\n", o.sampled_negatives);
    }
    data.from_ms = manifest.start_ms;
    VREC_RETURN_IF_ERROR(BuildExamplesFromEngagements(world_dir, catalog, manifest, o,
                                                      held_out_items ? &held_out : nullptr, &data));
    if (o.max_examples > 0 && data.train.size() > o.max_examples * (1 + o.sampled_negatives)) {
      data.train.erase(data.train.begin(), data.train.end() - o.max_examples * (1 + o.sampled_negatives));
    }
  }
  if (data.train.size() < static_cast<size_t>(o.batch_size) || data.validation.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("too few impressions to train the ranker: ", data.train.size(),
                                                      " for training, ", data.validation.size(), " for validation"));
  }
  VREC_RETURN_IF_ERROR(AddRetrievalScores(*two_tower, o, &data));

  VREC_ASSIGN_OR_RETURN(const int64_t version, bundle::NextBundleVersion(models_dir));
  const std::string bundle = bundle::BundleDir(models_dir, version);
  VREC_RETURN_IF_ERROR(MakeDirs(bundle + "/checkpoints"));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::RankerModel> model, ranking::RankerModel::Create(o.model, o.seed));

  RankerTrainSummary summary;
  summary.from_engagements = impressions == 0;
  summary.bundle_dir = bundle;
  summary.version = version;
  summary.base_version = base;
  summary.train_examples = data.train.size();
  summary.validation_examples = data.validation.size();
  summary.train_end_ms = data.end_ms;
  try {
    torch::set_num_threads(o.threads);
    torch::manual_seed(o.seed);
    ranking::internal::RankerNet& net = model->net().net;
    net->train();
    torch::optim::Adam dense(net->DenseParameters(), torch::optim::AdamOptions(o.learning_rate));
    torch::optim::Adagrad sparse(net->SparseParameters(), torch::optim::AdagradOptions(o.sparse_learning_rate));
    Rng rng(o.seed);
    std::vector<size_t> order(data.train.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const size_t steps_per_epoch = data.train.size() / o.batch_size;
    std::vector<featurestore::UserInputs> users(o.batch_size);
    std::vector<featurestore::VideoInputs> videos(o.batch_size);
    std::vector<ranking::CrossInputs> cross(o.batch_size);
    std::vector<float> targets(o.batch_size * ranking::kNumRankerHeads);
    std::vector<int64_t> positions(o.batch_size);
    std::vector<float> logged(o.batch_size);  // 1: a logged impression (gets the position offset)
    std::vector<float> weights(o.batch_size * ranking::kNumRankerHeads);
    // The position offset explains position bias in engagement, never exposure.
    const torch::Tensor engagement_heads = torch::tensor({1.0f, 1.0f, 1.0f, 0.0f}).unsqueeze(0);
    StepProgress progress("train-ranker", o.epochs, steps_per_epoch, o.batch_size, o.show_progress);
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.UniformInt(i)]);
      double loss_sum = 0;
      for (size_t step = 0; step < steps_per_epoch; ++step) {
        for (int i = 0; i < o.batch_size; ++i) {
          const Example& ex = data.train[order[step * o.batch_size + i]];
          users[i] = data.slates[ex.slate].user;
          videos[i] = ex.video;
          cross[i] = ex.cross;
          positions[i] = ex.sampled ? 0 : ex.position;
          logged[i] = ex.sampled ? 0.0f : 1.0f;
          for (int h = 0; h < ranking::kEngagementHeads; ++h) {
            targets[i * ranking::kNumRankerHeads + h] = (ex.labels >> h) & 1;
            weights[i * ranking::kNumRankerHeads + h] = ex.sampled ? 0.0f : 1.0f;  // engagement heads: given shown
          }
          targets[i * ranking::kNumRankerHeads + ranking::kHeadExposure] = ex.sampled ? 0.0f : 1.0f;
          weights[i * ranking::kNumRankerHeads + ranking::kHeadExposure] = 1.0f;
        }
        const torch::Tensor logits =
            net->Logits(net->User(ranking::internal::PackUsers(users)), ranking::internal::PackVideos(videos, cross)) +
            net->PositionBias(torch::from_blob(positions.data(), {o.batch_size}, torch::kInt64)) *
                torch::from_blob(logged.data(), {o.batch_size, 1}, torch::kFloat32) * engagement_heads;
        const torch::Tensor y =
            torch::from_blob(targets.data(), {o.batch_size, ranking::kNumRankerHeads}, torch::kFloat32);
        const torch::Tensor w =
            torch::from_blob(weights.data(), {o.batch_size, ranking::kNumRankerHeads}, torch::kFloat32);
        const torch::Tensor loss =
            torch::binary_cross_entropy_with_logits(logits, y, w, {}, at::Reduction::Sum) / o.batch_size;
        loss_sum += OptimizerStep(loss, dense, sparse);
        progress.Step(epoch, step, loss_sum / (step + 1));
      }
      net->eval();
      uint64_t slates = 0;
      RankerEpochMetrics m = Validate(*model, data, &summary.logged_slate_ndcg, &slates);
      net->train();
      m.loss = loss_sum / std::max<size_t>(1, steps_per_epoch);
      summary.validation_slates = slates;
      summary.epochs.push_back(m);
      if (o.show_progress) {
        std::string heads;
        for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
          if (m.heads[h].positive_rate <= 0 || m.heads[h].positive_rate >= 1) {
            absl::StrAppendFormat(&heads, " %s n/a (one label only);", ranking::RankerHeadName(h));
          } else {
            absl::StrAppendFormat(&heads, " %s AUC %.4f log-loss %.4f;", ranking::RankerHeadName(h), m.heads[h].auc,
                                  m.heads[h].log_loss);
          }
        }
        const std::string baseline =
            summary.from_engagements ? absl::StrFormat("engaged video among %d sampled", o.sampled_negatives)
                                     : absl::StrFormat("logged order %.4f", summary.logged_slate_ndcg);
        std::fprintf(stderr, "train-ranker: epoch %d: loss %.4f;%s slate NDCG@%d %.4f (%s) over %llu slates\n",
                     epoch, m.loss, heads.c_str(), kSlateK, m.slate_ndcg, baseline.c_str(),
                     static_cast<unsigned long long>(slates));
      }
      VREC_RETURN_IF_ERROR(model->Save(absl::StrCat(bundle, "/checkpoints/ranker-epoch-", epoch, ".pt")));
    }
    summary.train_seconds = progress.seconds();
    summary.examples_per_second = progress.examples_per_second(summary.train_seconds);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("ranker training failed: ", e.what_without_backtrace()));
  }
  summary.exported_epoch = static_cast<int>(summary.epochs.size());
  if (o.keep_best) {
    summary.exported_epoch = static_cast<int>(std::max_element(summary.epochs.begin(), summary.epochs.end(),
                                                               [](const auto& a, const auto& b) {
                                                                 return a.slate_ndcg < b.slate_ndcg;
                                                               }) -
                                              summary.epochs.begin()) + 1;
  }
  VREC_RETURN_IF_ERROR(LinkInto(absl::StrCat(bundle, "/checkpoints/ranker-epoch-", summary.exported_epoch, ".pt"),
                                bundle::BundleRankerPath(bundle)));
  for (const std::string& file :
       {bundle::BundleModelPath(bundle), bundle::BundleItemsPath(bundle), bundle::BundleIndexPath(bundle)}) {
    VREC_RETURN_IF_ERROR(LinkInto(base_dir + file.substr(bundle.size()), file));
  }
  if (base_manifest.collaborative.has_value()) {
    VREC_RETURN_IF_ERROR(LinkInto(bundle::BundleCollabPath(base_dir), bundle::BundleCollabPath(bundle)));
  }
  if (std::filesystem::exists(bundle::BundleHeldOutModelPath(base_dir))) {
    VREC_RETURN_IF_ERROR(LinkInto(bundle::BundleHeldOutModelPath(base_dir), bundle::BundleHeldOutModelPath(bundle)));
  }

  bundle::BundleManifest m = base_manifest;
  m.version = version;
  m.created_ms = SystemClock::Get()->NowMs();
  m.kind = "two_tower+ranker";
  bundle::RankerInfo& k = m.ranker.emplace();
  k.config = o.model;
  k.cross_features = ranking::kCrossFeatures;
  k.base_version = base;
  const RankerEpochMetrics& best = summary.epochs[summary.exported_epoch - 1];
  k.train_end_ms = data.end_ms;
  k.train_from_ms = data.from_ms;
  k.validation_from_ms = data.validation_ms;
  k.examples = static_cast<int64_t>(data.train.size());
  k.validation_examples = static_cast<int64_t>(data.validation.size());
  k.epochs = o.epochs;
  k.exported_epoch = summary.exported_epoch;
  k.seed = o.seed;
  k.examples_per_second = summary.examples_per_second;
  for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
    k.validation_auc[h] = best.heads[h].auc;
    k.validation_log_loss[h] = best.heads[h].log_loss;
  }
  k.validation_slate_ndcg = best.slate_ndcg;
  k.from_engagements = summary.from_engagements;
  k.sampled_negatives = o.sampled_negatives;
  k.logged_slate_ndcg = summary.logged_slate_ndcg;
  m.complete = true;
  VREC_RETURN_IF_ERROR(WriteBundleManifest(bundle, m));
  if (o.fusion) {
    FusionTrainOptions fo = o.fusion_options;
    fo.threads = o.threads;
    fo.show_progress = o.show_progress;
    VREC_ASSIGN_OR_RETURN(summary.fusion, TrainFusion(world_dir, bundle, fo));
  }
  return summary;
}

absl::StatusOr<SlateReplayResult> ReplayRankerOnSlates(const std::string& world_dir, const std::string& bundle_dir,
                                                       const SlateReplayOptions& options) {
  VREC_ASSIGN_OR_RETURN(const bundle::BundleManifest manifest, bundle::ReadBundleManifest(bundle_dir));
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const ranking::RankerModel> ranker,
                        bundle::LoadBundleRanker(bundle_dir, manifest));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::TwoTowerModel> two_tower,
                        bundle::LoadBundleTwoTower(bundle_dir, manifest));
  RankerTrainOptions o;
  o.sampled_negatives = 0;
  o.retrieval_dropout = 0;
  o.max_validation = options.max_impressions;
  o.show_progress = options.show_progress;
  VREC_RETURN_IF_ERROR(UseBundleFeatures(manifest, &o));
  VREC_ASSIGN_OR_RETURN(WorldManifest world, ReadWorldManifest(world_dir));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  RankerData data;
  data.from_ms = options.from_ms;
  data.validation_ms = options.from_ms;  // every slate is scored, none trained on
  data.end_ms = options.until_ms > 0 ? options.until_ms : world.end_ms + 1;
  LabelMap labels;
  VREC_RETURN_IF_ERROR(CollectLabels(WorldEventsPath(world_dir), catalog, data.from_ms, &labels));
  VREC_RETURN_IF_ERROR(BuildExamples(world_dir, catalog, world, o, labels, &data, &options.served));
  labels = LabelMap();
  VREC_RETURN_IF_ERROR(AddRetrievalScores(*two_tower, o, &data));
  SlateReplayResult result;
  result.impressions = data.validation.size();
  if (data.validation.empty()) return result;
  result.metrics = Validate(*ranker, data, &result.logged_ndcg, &result.slates);
  return result;
}

}  // namespace vrec::training
