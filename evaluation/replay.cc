#include "evaluation/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/json_writer.h"
#include "common/leave_last_out.h"
#include "common/status.h"
#include "common/progress.h"

namespace vrec::evaluation {
namespace {

struct Row {  // one engagement: user, video, time, grade
  UserId user;
  VideoId video;
  TimestampMs time;
  int grade;
};

uint32_t DurationOf(const Catalog& catalog, VideoId v) {
  const Video* video = catalog.FindVideo(v);
  return video == nullptr ? 0 : video->duration_ms;
}

void SampleCases(const ReplayOptions& options, std::vector<TestCase>* cases) {
  if (options.max_test_users == 0 || cases->size() <= options.max_test_users) return;
  Rng rng(options.seed);
  for (size_t i = cases->size(); i > 1; --i) std::swap((*cases)[i - 1], (*cases)[rng.UniformInt(i)]);
  cases->resize(options.max_test_users);
  std::sort(cases->begin(), cases->end(),
            [](const TestCase& a, const TestCase& b) { return a.user < b.user; });
}

void MarkAvailable(const Catalog& catalog, TimestampMs before_ms, ReplayData* data) {
  data->is_available.assign(catalog.video_id_limit(), 0);
  data->category_of.assign(catalog.video_id_limit(), 0);
  data->upload_ms.assign(catalog.video_id_limit(), 0);
  absl::flat_hash_map<std::string, uint32_t> categories;
  for (const Video& v : catalog.videos()) {
    if (!v.category.empty()) {
      data->category_of[v.id] = categories.try_emplace(v.category, categories.size() + 1).first->second;
    }
    data->upload_ms[v.id] = v.upload_ms;
    if (v.upload_ms < before_ms) {
      data->available.push_back(v.id);
      data->is_available[v.id] = 1;
    }
  }
  std::sort(data->available.begin(), data->available.end());
}

absl::Status BuildTimeSplit(const std::string& world_dir, const Catalog& catalog,
                            const WorldManifest& manifest, const ReplayOptions& options,
                            ReplayData* data) {
  TimestampMs split = options.split_time_ms;
  if (split == 0) {
    split = manifest.start_ms +
            static_cast<TimestampMs>(options.split_fraction * (manifest.end_ms - manifest.start_ms));
  }
  data->split_ms = split;
  retrieval::TrendingBuilder popular({split, 0});
  retrieval::TrendingBuilder recent({split, options.recent_window_ms});
  std::vector<std::pair<UserId, VideoId>> past;  // engaged before the split
  std::vector<Row> future;
  VREC_RETURN_IF_ERROR(ForEachEventBlock(WorldEventsPath(world_dir), [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (e.timestamp_ms < split) {
        ++data->past_events;
        popular.Add(e);
        recent.Add(e);
        if (IsEngagement(e.type)) {
          past.emplace_back(e.user_id, e.video_id);
          data->past_engagements.push_back({e.user_id, e.video_id, e.timestamp_ms});
        }
      } else {
        ++data->future_events;
        const int grade = RelevanceGrade(e.type, e.watch_time_ms, DurationOf(catalog, e.video_id));
        if (grade > 0) future.push_back({e.user_id, e.video_id, e.timestamp_ms, grade});
      }
    }
    return absl::OkStatus();
  }));
  if (data->past_events == 0 || future.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split at ", FormatTimestamp(split), " leaves ", data->past_events,
        " events before it and ", future.size(), " engagements after it; choose another split"));
  }
  std::sort(past.begin(), past.end());
  past.erase(std::unique(past.begin(), past.end()), past.end());
  std::stable_sort(data->past_engagements.begin(), data->past_engagements.end(),
                   [](const Engagement& a, const Engagement& b) { return std::tie(a.user, a.time) < std::tie(b.user, b.time); });
  std::sort(future.begin(), future.end(), [](const Row& a, const Row& b) {
    return std::tie(a.user, a.video) < std::tie(b.user, b.video);
  });
  for (size_t i = 0; i < future.size();) {
    TestCase test;
    test.user = future[i].user;
    test.as_of_ms = split;
    auto lo = std::lower_bound(past.begin(), past.end(), std::make_pair(test.user, VideoId{0}));
    for (auto it = lo; it != past.end() && it->first == test.user; ++it) test.history.push_back(it->second);
    for (; i < future.size() && future[i].user == test.user; ++i) {
      const Row& row = future[i];
      if (std::binary_search(test.history.begin(), test.history.end(), row.video)) continue;
      if (!test.relevance.empty() && test.relevance.back().first == row.video) {
        test.relevance.back().second = std::max(test.relevance.back().second, row.grade);
      } else {
        test.relevance.emplace_back(row.video, row.grade);
      }
    }
    if (!test.relevance.empty()) data->cases.push_back(std::move(test));
  }
  data->eligible_users = data->cases.size();
  SampleCases(options, &data->cases);
  data->popular = std::move(popular).Build();
  data->recent = std::move(recent).Build();
  MarkAvailable(catalog, split, data);
  return absl::OkStatus();
}

absl::Status BuildHeldOut(const std::string& world_dir, const Catalog& catalog,
                               const ReplayOptions& options, ReplayData* data) {
  VREC_ASSIGN_OR_RETURN(const std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world_dir)));
  VREC_ASSIGN_OR_RETURN(data->held_out, SplitHeldOut(ReplayProtocolName(options.protocol), rows));
  const HeldOutItems& items = data->held_out;
  TimestampMs last = 0;
  for (const Engagement& e : rows) last = std::max(last, e.time);
  // Popularity from everything but the held-out items; history is every other engaged video.
  retrieval::TrendingBuilder popular({});
  ForEachUserRun(rows, [&](UserId user, auto begin, auto end) {
    TestCase test;
    test.user = user;
    for (auto it = begin; it != end; ++it) {
      if (items.IsTest(user, it->video)) {
        ++data->future_events;
        continue;
      }
      ++data->past_events;
      data->past_engagements.push_back(*it);
      test.history.push_back(it->video);
    }
    if (items.random) {
      // Every test video of the user, asked once as of the end of the log.
      for (auto it = begin; it != end; ++it) {
        if (items.IsTest(user, it->video)) test.relevance.push_back({it->video, 1});
      }
      if (test.relevance.empty()) return;
      std::sort(test.relevance.begin(), test.relevance.end());
      test.relevance.erase(std::unique(test.relevance.begin(), test.relevance.end(),
                                       [](const auto& a, const auto& b) { return a.first == b.first; }),
                           test.relevance.end());
      test.as_of_ms = last + 1;
    } else {
      if (!items.IsTest(user, items.test[user])) return;
      test.as_of_ms = items.test_time[user];
      test.relevance = {{items.test[user], 1}};
    }
    std::sort(test.history.begin(), test.history.end());
    test.history.erase(std::unique(test.history.begin(), test.history.end()), test.history.end());
    data->split_ms = std::max(data->split_ms, test.as_of_ms);
    data->cases.push_back(std::move(test));
  });
  if (data->cases.empty()) {
    return absl::InvalidArgumentError(items.random ? "the random split held out no engagement"
                                                   : "no user has two or more engaged videos to leave one out");
  }
  retrieval::TrendingBuilder recent({data->split_ms + 1, options.recent_window_ms});
  for (const Engagement& row : rows) {
    if (items.IsTest(row.user, row.video)) continue;
    Event e;
    e.timestamp_ms = row.time;
    e.video_id = row.video;
    e.type = EventType::kClick;
    popular.Add(e);
    recent.Add(e);
  }
  data->eligible_users = data->cases.size();
  SampleCases(options, &data->cases);
  data->popular = std::move(popular).Build();
  data->recent = std::move(recent).Build();
  MarkAvailable(catalog, INT64_MAX, data);
  return absl::OkStatus();
}

class RandomSystem : public ReplaySystem {
 public:
  explicit RandomSystem(const ReplayData& data) : data_(data) {}
  std::string name() const override { return "random"; }
  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    const auto& pool = data_.available;
    const size_t want = std::min<size_t>(k, pool.size() > test.history.size() ? pool.size() - test.history.size() : 0);
    const size_t start = out->size();
    for (size_t tries = 0; out->size() - start < want && tries < 100 * want; ++tries) {
      const VideoId v = pool[rng.UniformInt(pool.size())];
      if (std::binary_search(test.history.begin(), test.history.end(), v)) continue;
      if (std::find(out->begin() + start, out->end(), v) != out->end()) continue;
      out->push_back(v);
    }
  }

 private:
  const ReplayData& data_;
};

class PopularSystem : public ReplaySystem {
 public:
  PopularSystem(const ReplayData& data, bool recent) : data_(data), recent_(recent) {}
  std::string name() const override { return recent_ ? "recent-popular" : "most-popular"; }
  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    const size_t start = out->size();
    if (recent_) data_.recent.Top(k, test.history, out);
    FillFromPopularity(data_, test, k, start, out);  // when the window is thin
  }

 private:
  const ReplayData& data_;
  bool recent_;
};

class OracleSystem : public ReplaySystem {
 public:
  OracleSystem(const ReplayData& data, data::SyntheticTruth truth) : data_(data), truth_(std::move(truth)) {
    if (data.protocol == ReplayProtocol::kTimeSplit) shared_ = Exposure(data.split_ms);
  }
  std::string name() const override { return "oracle"; }

  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    const ExposureTable local = shared_.time == test.as_of_ms ? ExposureTable() : Exposure(test.as_of_ms);
    const ExposureTable& e = shared_.time == test.as_of_ms ? shared_ : local;
    const data::BehaviourModel& m = truth_.model;
    const float* taste = truth_.taste(test.user);
    const float policy = 1.0f - m.fresh_fraction - m.explore_fraction;
    const float explore = m.explore_fraction / truth_.num_topics;
    std::vector<std::pair<float, VideoId>> scored;
    scored.reserve(data_.available.size());
    for (VideoId v : data_.available) {
      if (v >= truth_.num_videos()) continue;
      const float exposure = (policy * taste[truth_.video_topic[v]] + explore) * e.base[v] + e.fresh[v];
      if (exposure <= 0.0f) continue;
      scored.emplace_back(exposure * truth_.ClickProbability(test.user, v), v);
    }
    const size_t depth = std::min(scored.size(), k + test.history.size());
    std::partial_sort(scored.begin(), scored.begin() + depth, scored.end(),
                      [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    int added = 0;
    for (size_t i = 0; i < depth && added < k; ++i) {
      if (std::binary_search(test.history.begin(), test.history.end(), scored[i].second)) continue;
      out->push_back(scored[i].second);
      ++added;
    }
  }

 private:
  // Per video, the probability mass the logging policy puts on it at `time` (topic part
  // before the user's topic weight, and the fresh-upload part).
  struct ExposureTable {
    TimestampMs time = INT64_MIN;
    std::vector<float> base;
    std::vector<float> fresh;
  };

  ExposureTable Exposure(TimestampMs time) const {
    ExposureTable e;
    e.time = time;
    const TimestampMs day = data::ExposureDay(time);  // the topic samplers' view of the catalog
    const size_t n = truth_.num_videos();
    e.base.assign(n, 0.0f);
    e.fresh.assign(n, 0.0f);
    std::vector<double> topic_mass(truth_.num_topics, 0.0);
    const TimestampMs fresh_from = time - static_cast<TimestampMs>(truth_.model.fresh_window_days * kMsPerDay);
    uint64_t fresh_count = 0;
    for (size_t v = 0; v < n; ++v) {
      const TimestampMs age = day - truth_.video_upload_ms[v];
      if (age >= 0) {
        e.base[v] = truth_.video_popularity[v] * truth_.Freshness(age);
        topic_mass[truth_.video_topic[v]] += e.base[v];
      }
      const TimestampMs upload = truth_.video_upload_ms[v];
      if (upload >= fresh_from && upload <= time) ++fresh_count;
    }
    for (size_t v = 0; v < n; ++v) {
      const double mass = topic_mass[truth_.video_topic[v]];
      if (mass > 0) e.base[v] = static_cast<float>(e.base[v] / mass);
      if (fresh_count > 0 && truth_.video_upload_ms[v] >= fresh_from && truth_.video_upload_ms[v] <= time) {
        e.fresh[v] = truth_.model.fresh_fraction / fresh_count;
      }
    }
    return e;
  }

  const ReplayData& data_;
  data::SyntheticTruth truth_;
  ExposureTable shared_;
};

// Beyond-accuracy sums over the scored lists of one thread.
struct ListStats {
  double diversity = 0;  // sum over lists with a known-category pair
  uint64_t diverse_lists = 0;
  double novelty = 0;  // sum over items
  uint64_t items = 0, new_items = 0;

  template <typename IsNew>
  void Add(absl::Span<const VideoId> list, const ReplayData& data, IsNew is_new) {
    uint64_t pairs = 0, different = 0;
    for (size_t a = 0; a < list.size(); ++a) {
      const uint32_t ca = list[a] < data.category_of.size() ? data.category_of[list[a]] : 0;
      for (size_t b = a + 1; ca != 0 && b < list.size(); ++b) {
        const uint32_t cb = list[b] < data.category_of.size() ? data.category_of[list[b]] : 0;
        if (cb == 0) continue;
        ++pairs;
        different += ca != cb;
      }
    }
    if (pairs > 0) {
      diversity += double(different) / pairs;
      ++diverse_lists;
    }
    const double total = double(data.past_engagements.size()) + data.available.size();
    for (VideoId v : list) {
      novelty += -std::log2((data.popular.count(v) + 1.0) / total);
      new_items += is_new(v);
    }
    items += list.size();
  }
  void Merge(const ListStats& o) {
    diversity += o.diversity;
    diverse_lists += o.diverse_lists;
    novelty += o.novelty;
    items += o.items;
    new_items += o.new_items;
  }
};

}  // namespace

absl::StatusOr<ReplayProtocol> ParseReplayProtocol(absl::string_view name) {
  if (name == "time-split") return ReplayProtocol::kTimeSplit;
  if (name == "leave-last-out") return ReplayProtocol::kLeaveLastOut;
  if (name == "random") return ReplayProtocol::kRandom;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --protocol '", name, "' (time-split, leave-last-out or random)"));
}

const char* ReplayProtocolName(ReplayProtocol protocol) {
  switch (protocol) {
    case ReplayProtocol::kTimeSplit: return "time-split";
    case ReplayProtocol::kLeaveLastOut: return "leave-last-out";
    case ReplayProtocol::kRandom: return "random";
  }
  return "unknown";
}

absl::StatusOr<ReplayData> BuildReplayData(const std::string& world_dir, const Catalog& catalog,
                                           const WorldManifest& manifest,
                                           const ReplayOptions& options) {
  if (options.k < 1) return absl::InvalidArgumentError("--k must be at least 1");
  if (options.split_fraction <= 0.0 || options.split_fraction >= 1.0) {
    return absl::InvalidArgumentError("--split-fraction must be in (0, 1)");
  }
  ReplayData data;
  data.protocol = options.protocol;
  if (options.protocol == ReplayProtocol::kTimeSplit) {
    VREC_RETURN_IF_ERROR(BuildTimeSplit(world_dir, catalog, manifest, options, &data));
  } else {
    VREC_RETURN_IF_ERROR(BuildHeldOut(world_dir, catalog, options, &data));
  }
  return data;
}

std::unique_ptr<ReplaySystem> MakeRandomSystem(const ReplayData& data) {
  return std::make_unique<RandomSystem>(data);
}

void FillFromPopularity(const ReplayData& data, const TestCase& test, int k, size_t start, std::vector<VideoId>* out) {
  const size_t have = out->size() - start;
  if (have >= static_cast<size_t>(k)) return;
  const std::vector<VideoId> taken(out->begin() + start, out->end());
  data.popular.Top(k - have, test.history,
                   [&](VideoId v) { return std::find(taken.begin(), taken.end(), v) != taken.end(); }, out);
}

std::unique_ptr<ReplaySystem> MakeMostPopularSystem(const ReplayData& data) {
  return std::make_unique<PopularSystem>(data, /*recent=*/false);
}

std::unique_ptr<ReplaySystem> MakeRecentPopularSystem(const ReplayData& data) {
  return std::make_unique<PopularSystem>(data, /*recent=*/true);
}

absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeOracleSystem(const ReplayData& data, const Catalog& catalog,
                                                               data::SyntheticTruth truth) {
  if (truth.num_videos() != catalog.videos().size() || truth.num_users() != catalog.users().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "truth has ", truth.num_users(), " users and ", truth.num_videos(),
        " videos but the catalog has ", catalog.users().size(), " and ", catalog.videos().size()));
  }
  return std::unique_ptr<ReplaySystem>(new OracleSystem(data, std::move(truth)));
}

std::vector<SystemResult> EvaluateSystems(const ReplayData& data,
                                          const std::vector<const ReplaySystem*>& systems,
                                          const ReplayOptions& options) {
  std::vector<SystemResult> results;
  const int threads = std::max(1, options.threads);
  size_t video_limit = data.is_available.size();
  for (const ReplaySystem* system : systems) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<MetricsAccumulator> metrics(threads), deep(threads), new_users(threads), new_videos(threads);
    std::vector<ListStats> stats(threads);
    const int depth = std::max(options.k, options.deep_k);
    std::vector<std::vector<uint8_t>> shown(threads, std::vector<uint8_t>(video_limit, 0));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::vector<VideoId> list;
        Relevance fresh_relevance;
        for (size_t i = t; i < data.cases.size(); i += threads) {
          const TestCase& test = data.cases[i];
          Rng rng(SplitMix64(options.seed) ^ SplitMix64(test.user));
          list.clear();
          system->Recommend(test, depth, rng, &list);
          if (list.size() > static_cast<size_t>(depth)) list.resize(depth);
          deep[t].Add(ScoreRanking(list, test.relevance, options.deep_k));
          if (list.size() > static_cast<size_t>(options.k)) list.resize(options.k);
          const RankingMetrics m = ScoreRanking(list, test.relevance, options.k);
          metrics[t].Add(m);
          if (test.history.size() < options.new_user_history) new_users[t].Add(m);
          auto is_new = [&](VideoId v) {
            return v < data.upload_ms.size() && data.upload_ms[v] <= test.as_of_ms &&
                   data.upload_ms[v] > test.as_of_ms - options.new_video_window_ms;
          };
          fresh_relevance.clear();
          for (const auto& [v, grade] : test.relevance) {
            if (is_new(v)) fresh_relevance.emplace_back(v, grade);
          }
          if (!fresh_relevance.empty()) new_videos[t].Add(ScoreRanking(list, fresh_relevance, options.k));
          stats[t].Add(list, data, is_new);
          for (VideoId v : list) {
            if (v < video_limit) shown[t][v] = 1;
          }
        }
      });
    }
    for (std::thread& w : workers) w.join();
    SystemResult r;
    r.name = system->name();
    for (int t = 1; t < threads; ++t) {
      metrics[0].Merge(metrics[t]);
      deep[0].Merge(deep[t]);
      new_users[0].Merge(new_users[t]);
      new_videos[0].Merge(new_videos[t]);
      stats[0].Merge(stats[t]);
    }
    r.metrics = metrics[0].Mean();
    r.recall_deep = deep[0].Mean().recall;
    r.cases = metrics[0].count();
    r.new_users = new_users[0].Mean();
    r.new_user_cases = new_users[0].count();
    r.new_videos = new_videos[0].Mean();
    r.new_video_cases = new_videos[0].count();
    r.diversity = stats[0].diverse_lists > 0 ? stats[0].diversity / stats[0].diverse_lists : 0.0;
    r.novelty = stats[0].items > 0 ? stats[0].novelty / stats[0].items : 0.0;
    r.new_video_share = stats[0].items > 0 ? double(stats[0].new_items) / stats[0].items : 0.0;
    uint64_t distinct = 0;
    for (size_t v = 0; v < video_limit; ++v) {
      bool any = false;
      for (int t = 0; t < threads; ++t) any |= shown[t][v] != 0;
      distinct += any;
    }
    r.coverage = data.available.empty() ? 0.0 : double(distinct) / data.available.size();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.show_progress) {
      std::fprintf(stderr, "replay: %s scored %llu users in %.1f s\n", r.name.c_str(),
                   static_cast<unsigned long long>(r.cases), r.seconds);
    }
    results.push_back(r);
  }
  return results;
}

std::string FormatReplayTable(const ReplayData& data, const std::vector<SystemResult>& results,
                              const ReplayOptions& options) {
  std::string out;
  if (data.protocol == ReplayProtocol::kTimeSplit) {
    absl::StrAppendFormat(&out, "protocol time-split at %s: %llu past events, %llu future events\n",
                          FormatTimestamp(data.split_ms),
                          static_cast<unsigned long long>(data.past_events),
                          static_cast<unsigned long long>(data.future_events));
  } else {
    absl::StrAppendFormat(&out, "protocol %s: %llu training interactions, %llu held out\n",
                          ReplayProtocolName(data.protocol), static_cast<unsigned long long>(data.past_events),
                          static_cast<unsigned long long>(data.future_events));
  }
  absl::StrAppendFormat(&out, "%zu test users (of %llu eligible), %zu candidate videos, k=%d\n\n",
                        data.cases.size(), static_cast<unsigned long long>(data.eligible_users),
                        data.available.size(), options.k);
  const int k = options.k;
  absl::StrAppendFormat(&out, "%-16s %9s %9s %9s %9s %10s %9s %9s %8s\n", "system", absl::StrCat("NDCG@", k),
                        absl::StrCat("Recall@", k), absl::StrCat("HR@", k), absl::StrCat("MAP@", k),
                        absl::StrCat("Recall@", options.deep_k), "coverage", "diversity", "novelty");
  for (const SystemResult& r : results) {
    absl::StrAppendFormat(&out, "%-16s %9.4f %9.4f %9.4f %9.4f %10.4f %9.4f %9.4f %8.2f\n", r.name, r.metrics.ndcg,
                          r.metrics.recall, r.metrics.hit, r.metrics.ap, r.recall_deep, r.coverage, r.diversity,
                          r.novelty);
  }
  if (results.empty()) return out;
  absl::StrAppendFormat(&out,
                        "\nslices: new users (fewer than %u past engaged videos, %llu users); new videos (uploaded "
                        "within %.1f days before the test time; relevant new videos for %llu users)\n",
                        options.new_user_history, static_cast<unsigned long long>(results[0].new_user_cases),
                        options.new_video_window_ms / double(kMsPerDay),
                        static_cast<unsigned long long>(results[0].new_video_cases));
  absl::StrAppendFormat(&out, "%-16s %14s %14s %16s %16s %14s\n", "system", absl::StrCat("new-user NDCG@", k),
                        absl::StrCat("new-user HR@", k), absl::StrCat("new-video NDCG@", k),
                        absl::StrCat("new-video Rec@", k), "new-video share");
  for (const SystemResult& r : results) {
    absl::StrAppendFormat(&out, "%-16s %14.4f %14.4f %16.4f %16.4f %14.4f\n", r.name, r.new_users.ndcg,
                          r.new_users.hit, r.new_videos.ndcg, r.new_videos.recall, r.new_video_share);
  }
  return out;
}

std::string ReplayJson(const std::string& world_dir, const ReplayData& data,
                       const std::vector<SystemResult>& results, const ReplayOptions& options) {
  JsonWriter w;
  w.BeginObject();
  w.Key("world").String(world_dir);
  w.Key("protocol").String(ReplayProtocolName(data.protocol));
  w.Key("split_ms").Int(data.split_ms);
  w.Key("k").Int(options.k);
  w.Key("deep_k").Int(options.deep_k);
  w.Key("test_users").Uint(data.cases.size());
  w.Key("eligible_users").Uint(data.eligible_users);
  w.Key("candidate_videos").Uint(data.available.size());
  w.Key("systems").BeginArray();
  for (const SystemResult& r : results) {
    w.BeginObject();
    w.Key("name").String(r.name);
    w.Key("ndcg").Double(r.metrics.ndcg);
    w.Key("recall").Double(r.metrics.recall);
    w.Key("hr").Double(r.metrics.hit);
    w.Key("map").Double(r.metrics.ap);
    w.Key("recall_deep").Double(r.recall_deep);
    w.Key("coverage").Double(r.coverage);
    w.Key("diversity").Double(r.diversity);
    w.Key("novelty").Double(r.novelty);
    w.Key("new_users").BeginObject();
    w.Key("users").Uint(r.new_user_cases);
    w.Key("ndcg").Double(r.new_users.ndcg);
    w.Key("hr").Double(r.new_users.hit);
    w.EndObject();
    w.Key("new_videos").BeginObject();
    w.Key("users").Uint(r.new_video_cases);
    w.Key("ndcg").Double(r.new_videos.ndcg);
    w.Key("recall").Double(r.new_videos.recall);
    w.Key("share_recommended").Double(r.new_video_share);
    w.EndObject();
    w.Key("users").Uint(r.cases);
    w.Key("seconds").Double(r.seconds, 4);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Release() + "\n";
}

}  // namespace vrec::evaluation
