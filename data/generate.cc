#include "data/generate.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/random.h"
#include "common/status.h"
#include "common/progress.h"
#include "data/synthetic_truth.h"

namespace vrec::data {
namespace {

constexpr const char* kTopicNames[] = {
    "music",  "gaming",  "comedy", "sports", "news",    "education", "cooking", "travel",
    "beauty", "fashion", "tech",   "science", "pets",   "kids",      "film",    "dance",
    "fitness", "diy",    "cars",   "finance", "art",    "nature",    "vlog",    "asmr"};
constexpr int kMaxTopics = sizeof(kTopicNames) / sizeof(kTopicNames[0]);
constexpr int kTagsPerTopic = 40;

struct Locale {
  const char* country;
  const char* language;
  double weight;
};
constexpr Locale kLocales[] = {
    {"US", "en", 30}, {"IN", "hi", 15}, {"BR", "pt", 10}, {"ID", "id", 8}, {"MX", "es", 7},
    {"DE", "de", 6},  {"JP", "ja", 6},  {"GB", "en", 5},  {"FR", "fr", 5}, {"TR", "tr", 4},
    {"KR", "ko", 4}};
constexpr int kNumLocales = sizeof(kLocales) / sizeof(kLocales[0]);
constexpr const char* kLanguages[] = {"en", "hi", "pt", "id", "es", "de", "ja", "fr", "tr", "ko"};

uint8_t LanguageIndex(const char* language) {
  for (uint8_t i = 0; i < sizeof(kLanguages) / sizeof(kLanguages[0]); ++i) {
    if (std::string(kLanguages[i]) == language) return i;
  }
  return 0;
}

constexpr int kSlateSize = 10;
constexpr TimestampMs kScrollMs = 1500;         // time to look at one slot
constexpr TimestampMs kSliceMs = kMsPerHour;    // events are time-sorted per slice
constexpr TimestampMs kMaxSessionMs = 50 * 60 * kMsPerSecond;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Everything the simulation needs, built once.
struct World {
  SyntheticTruth truth;
  std::vector<User> users;
  std::vector<Video> videos;
  std::vector<float> user_activity;
  std::vector<uint8_t> user_device;
  std::vector<std::vector<VideoId>> topic_videos;  // per topic
  // Per topic, by popularity x freshness as of sampler_day; empty when nothing is uploaded.
  std::vector<AliasTable> topic_sampler;
  TimestampMs sampler_day = INT64_MIN;
  std::vector<VideoId> by_upload;                  // video ids sorted by upload time
  std::vector<TimestampMs> upload_sorted;          // their upload times
};

void BuildCatalog(const GenerateOptions& o, Rng& rng, World* w) {
  const int k = static_cast<int>(o.num_topics);
  SyntheticTruth& t = w->truth;
  t.num_topics = k;
  const TimestampMs period_ms = static_cast<TimestampMs>(o.days) * kMsPerDay;

  std::vector<double> locale_weights;
  for (const Locale& l : kLocales) locale_weights.push_back(l.weight);
  const AliasTable locale_sampler(locale_weights);
  std::vector<double> topic_weights(k);
  for (int i = 0; i < k; ++i) topic_weights[i] = 1.0 / std::sqrt(1.0 + i);
  const AliasTable topic_sampler(topic_weights);

  // Creators: a topic, a language and a popularity each.
  const uint32_t num_creators = std::max<uint32_t>(1, o.num_videos / 25);
  std::vector<uint16_t> creator_topic(num_creators);
  std::vector<uint8_t> creator_locale(num_creators);
  std::vector<float> creator_pop(num_creators);
  std::vector<double> creator_weight(num_creators);
  for (uint32_t c = 0; c < num_creators; ++c) {
    creator_topic[c] = static_cast<uint16_t>(topic_sampler.Sample(rng));
    creator_locale[c] = static_cast<uint8_t>(locale_sampler.Sample(rng));
    creator_pop[c] = static_cast<float>(rng.LogNormal(0.0, 1.0));
    creator_weight[c] = rng.LogNormal(0.0, 1.2);  // how prolific
  }
  const AliasTable creator_sampler(creator_weight);

  // Zipf ranks over a random permutation of the videos.
  std::vector<uint32_t> rank(o.num_videos);
  std::iota(rank.begin(), rank.end(), 0);
  for (uint32_t i = o.num_videos; i > 1; --i) std::swap(rank[i - 1], rank[rng.UniformInt(i)]);

  w->videos.resize(o.num_videos);
  t.video_topic.resize(o.num_videos);
  t.video_topic2.resize(o.num_videos);
  t.video_quality.resize(o.num_videos);
  t.video_popularity.resize(o.num_videos);
  t.video_language.resize(o.num_videos);
  t.video_upload_ms.resize(o.num_videos);
  for (uint32_t v = 0; v < o.num_videos; ++v) {
    const uint32_t c = creator_sampler.Sample(rng);
    const int topic = rng.Bernoulli(0.85) ? creator_topic[c] : static_cast<int>(topic_sampler.Sample(rng));
    int topic2 = static_cast<int>(rng.UniformInt(k));
    if (topic2 == topic && k > 1) topic2 = (topic2 + 1) % k;
    const double quality = rng.Normal();
    const double popularity = std::pow(1.0 + rank[v], -0.8) * std::exp(0.5 * quality) *
                              std::sqrt(creator_pop[c]);
    TimestampMs upload;
    if (rng.Bernoulli(0.75)) {
      upload = o.start_ms - 1 - static_cast<TimestampMs>(std::min(rng.Exponential(90.0), 1000.0) * kMsPerDay);
    } else {
      upload = o.start_ms + static_cast<TimestampMs>(rng.Uniform() * period_ms);
    }
    const double duration_s = std::clamp(
        rng.LogNormal(std::log(topic == 5 || topic == 14 ? 240.0 : 45.0), 1.0), 5.0, 3600.0);
    const Locale& locale = kLocales[creator_locale[c]];

    Video& video = w->videos[v];
    video.id = v;
    video.category = kTopicNames[topic];
    const int n_tags = 1 + static_cast<int>(rng.UniformInt(3));
    for (int i = 0; i < n_tags; ++i) {
      // Zipf-ish tag choice within the topic's vocabulary; the last tag may come from topic2.
      const int tag_topic = (i == n_tags - 1 && rng.Bernoulli(0.3)) ? topic2 : topic;
      const int tag = static_cast<int>(std::pow(rng.Uniform(), 2.0) * kTagsPerTopic);
      std::string name = absl::StrCat(kTopicNames[tag_topic], "_", tag);
      if (std::find(video.tags.begin(), video.tags.end(), name) == video.tags.end()) {
        video.tags.push_back(std::move(name));
      }
    }
    video.creator_id = c;
    video.duration_ms = static_cast<uint32_t>(duration_s * 1000.0);
    video.language = locale.language;
    video.upload_ms = upload;
    video.title = absl::StrCat(kTopicNames[topic], " clip ", v, " #", video.tags[0]);

    t.video_topic[v] = static_cast<uint16_t>(topic);
    t.video_topic2[v] = static_cast<uint16_t>(topic2);
    t.video_quality[v] = static_cast<float>(quality);
    t.video_popularity[v] = static_cast<float>(popularity);
    t.video_language[v] = LanguageIndex(locale.language);
    t.video_upload_ms[v] = upload;
  }

  w->users.resize(o.num_users);
  t.user_taste.assign(size_t{o.num_users} * k, 0.0f);
  t.user_language.resize(o.num_users);
  w->user_activity.resize(o.num_users);
  w->user_device.resize(o.num_users);
  std::vector<double> taste(k);
  for (uint32_t u = 0; u < o.num_users; ++u) {
    double sum = 0.0;
    for (int i = 0; i < k; ++i) sum += taste[i] = rng.Gamma(0.15 * topic_weights[i] * 2.0) + 1e-12;
    for (int i = 0; i < k; ++i) t.user_taste[size_t{u} * k + i] = static_cast<float>(taste[i] / sum);
    const Locale& locale = kLocales[locale_sampler.Sample(rng)];
    User& user = w->users[u];
    user.id = u;
    user.country = locale.country;
    user.language = locale.language;
    user.age_bucket = static_cast<uint8_t>(1 + rng.UniformInt(6));
    user.signup_ms = rng.Bernoulli(0.85)
                         ? o.start_ms - 1 - static_cast<TimestampMs>(rng.Uniform() * 730 * kMsPerDay)
                         : o.start_ms + static_cast<TimestampMs>(rng.Uniform() * period_ms);
    t.user_language[u] = LanguageIndex(locale.language);
    w->user_activity[u] = static_cast<float>(rng.LogNormal(0.0, 1.0));
    const double d = rng.Uniform();
    w->user_device[u] = static_cast<uint8_t>(d < 0.7 ? Device::kMobile
                                             : d < 0.85 ? Device::kWeb
                                             : d < 0.95 ? Device::kTv
                                                        : Device::kTablet);
  }

  w->topic_videos.assign(k, {});
  for (uint32_t v = 0; v < o.num_videos; ++v) w->topic_videos[t.video_topic[v]].push_back(v);
  w->topic_sampler.resize(k);
  w->by_upload.resize(o.num_videos);
  std::iota(w->by_upload.begin(), w->by_upload.end(), 0);
  std::sort(w->by_upload.begin(), w->by_upload.end(), [&](VideoId a, VideoId b) {
    return t.video_upload_ms[a] < t.video_upload_ms[b];
  });
  w->upload_sorted.resize(o.num_videos);
  for (uint32_t i = 0; i < o.num_videos; ++i) w->upload_sorted[i] = t.video_upload_ms[w->by_upload[i]];
}

// Rebuilds the topic samplers for the day starting at `day` (see ExposureDay).
void RebuildSamplers(World* w, TimestampMs day) {
  if (w->sampler_day == day) return;
  w->sampler_day = day;
  const SyntheticTruth& t = w->truth;
  std::vector<double> weights;
  for (size_t i = 0; i < w->topic_videos.size(); ++i) {
    weights.clear();
    double total = 0.0;
    for (VideoId v : w->topic_videos[i]) {
      const TimestampMs age = day - t.video_upload_ms[v];
      weights.push_back(age < 0 ? 0.0 : t.video_popularity[v] * t.Freshness(age));
      total += weights.back();
    }
    w->topic_sampler[i] = total > 0.0 ? AliasTable(weights) : AliasTable();
  }
}

// The logging policy: one video for user `u` at time `now`, or kInvalidId.
VideoId PickVideo(const World& w, UserId u, TimestampMs now, Rng& rng) {
  const SyntheticTruth& t = w.truth;
  const BehaviourModel& m = t.model;
  const double r = rng.Uniform();
  if (r < m.fresh_fraction) {
    const TimestampMs from = now - static_cast<TimestampMs>(m.fresh_window_days * kMsPerDay);
    const auto lo = std::lower_bound(w.upload_sorted.begin(), w.upload_sorted.end(), from);
    const auto hi = std::upper_bound(w.upload_sorted.begin(), w.upload_sorted.end(), now);
    if (hi > lo) {
      return w.by_upload[(lo - w.upload_sorted.begin()) + rng.UniformInt(hi - lo)];
    }
  }
  int topic;
  if (r < m.fresh_fraction + m.explore_fraction) {
    topic = static_cast<int>(rng.UniformInt(t.num_topics));
  } else {
    const float* taste = t.taste(u);
    double x = rng.Uniform();
    topic = t.num_topics - 1;
    for (int i = 0; i < t.num_topics; ++i) {
      x -= taste[i];
      if (x < 0) {
        topic = i;
        break;
      }
    }
  }
  const AliasTable& sampler = w.topic_sampler[topic];
  if (sampler.size() == 0) return kInvalidId;
  return w.topic_videos[topic][sampler.Sample(rng)];
}

// Simulates one session starting at `start`; appends its events to `out`.
void SimulateSession(const World& w, UserId u, TimestampMs start, RequestId* next_request,
                     Rng& rng, std::vector<Event>* out) {
  const SyntheticTruth& t = w.truth;
  Device device = static_cast<Device>(w.user_device[u]);
  if (rng.Bernoulli(0.2)) device = static_cast<Device>(1 + rng.UniformInt(kNumDevices - 1));
  TimestampMs now = start;
  do {
    const RequestId request = (*next_request)++;
    VideoId slate[kSlateSize];
    int n = 0;
    for (int tries = 0; n < kSlateSize && tries < 3 * kSlateSize; ++tries) {
      const VideoId v = PickVideo(w, u, now, rng);
      if (v == kInvalidId || std::find(slate, slate + n, v) != slate + n) continue;
      slate[n++] = v;
    }
    for (int p = 0; p < n; ++p) {
      Event e;
      e.timestamp_ms = now;
      e.request_id = request;
      e.user_id = u;
      e.video_id = slate[p];
      e.position = static_cast<uint16_t>(p);
      e.device = device;
      e.type = EventType::kImpression;
      out->push_back(e);
    }
    for (int p = 0; p < n; ++p) {
      now += kScrollMs;
      if (!rng.Bernoulli(std::pow(1.0 + p, -0.6))) continue;  // position bias: never looked
      const VideoId v = slate[p];
      Event e;
      e.request_id = request;
      e.user_id = u;
      e.video_id = v;
      e.position = static_cast<uint16_t>(p);
      e.device = device;
      const float affinity = t.Affinity(u, v);
      if (!rng.Bernoulli(t.ClickProbability(u, v))) {
        if (rng.Bernoulli(affinity < 0.2f ? 0.02 : 0.003)) {
          e.timestamp_ms = now;
          e.type = EventType::kNotInterested;
          out->push_back(e);
        }
        continue;
      }
      e.timestamp_ms = now;
      e.type = EventType::kClick;
      out->push_back(e);
      const uint32_t duration_ms = w.videos[v].duration_ms;
      const double duration_min = duration_ms / 60000.0;
      const double ratio = Sigmoid(2.0 * (affinity - 0.5) + 0.5 * t.video_quality[v] -
                                   0.35 * std::log(duration_min) + rng.Normal(0.0, 0.8));
      e.watch_time_ms = std::max<uint32_t>(500, static_cast<uint32_t>(ratio * duration_ms));
      now += e.watch_time_ms;
      e.timestamp_ms = now;
      e.type = EventType::kWatch;
      out->push_back(e);
      e.watch_time_ms = 0;
      if (ratio < 0.15) {
        e.type = EventType::kSkip;
        out->push_back(e);
        continue;
      }
      const double delight = ratio * Sigmoid(2.0 * affinity + t.video_quality[v] - 1.0);
      if (rng.Bernoulli(0.35 * delight)) {
        e.type = EventType::kLike;
        out->push_back(e);
      }
      if (rng.Bernoulli(0.06 * delight)) {
        e.type = EventType::kShare;
        out->push_back(e);
      }
    }
    now += 2 * kMsPerSecond;
  } while (now - start < kMaxSessionMs && rng.Bernoulli(0.45));
}

}  // namespace

absl::StatusOr<WorldManifest> GenerateWorld(const std::string& out_dir,
                                            const GenerateOptions& o) {
  if (o.num_users == 0 || o.num_videos == 0 || o.num_events == 0 || o.days == 0) {
    return absl::InvalidArgumentError("--users, --videos, --events and --days must be positive");
  }
  if (o.num_topics < 2 || o.num_topics > kMaxTopics) {
    return absl::InvalidArgumentError(absl::StrCat("--topics must be in [2, ", kMaxTopics, "]"));
  }
  if (o.num_users == kInvalidId || o.num_videos == kInvalidId) {
    return absl::InvalidArgumentError("too many users or videos");
  }
  VREC_RETURN_IF_ERROR(MakeDirs(out_dir));
  Rng rng(o.seed);
  auto world = std::make_unique<World>();
  World& w = *world;
  BuildCatalog(o, rng, &w);
  VREC_RETURN_IF_ERROR(WriteUsers(WorldUsersPath(out_dir), w.users));
  VREC_RETURN_IF_ERROR(WriteVideos(WorldVideosPath(out_dir), w.videos));
  VREC_RETURN_IF_ERROR(WriteSyntheticTruth(WorldTruthPath(out_dir), w.truth));

  // Sessions: users drawn by activity, hours weighted by a daily cycle peaking at 20:00 UTC.
  std::vector<double> activity(w.user_activity.begin(), w.user_activity.end());
  const AliasTable user_sampler(activity);
  const int num_slices = static_cast<int>(o.days) * 24;
  std::vector<double> cumulative(num_slices);
  double total_weight = 0.0;
  for (int s = 0; s < num_slices; ++s) {
    const int hour = s % 24;
    total_weight += 1.0 + 0.6 * std::sin(2.0 * M_PI * (hour - 14) / 24.0);
    cumulative[s] = total_weight;
  }

  const std::string events_path = WorldEventsPath(out_dir);
  std::remove(events_path.c_str());
  EventLogWriterOptions writer_options;
  writer_options.created_ms = o.start_ms;
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogWriter> writer,
                        EventLogWriter::Open(events_path, writer_options));
  Progress progress("generate", o.num_events, "events", o.show_progress);
  std::vector<Event> pending;  // generated, not yet written (may belong to later slices)
  uint64_t generated = 0;
  uint64_t written = 0;
  RequestId next_request = 1;
  TimestampMs first_ms = 0, last_ms = 0;
  auto by_time = [](const Event& a, const Event& b) { return a.timestamp_ms < b.timestamp_ms; };
  for (int s = 0; s < num_slices; ++s) {
    const TimestampMs slice_start = o.start_ms + s * kSliceMs;
    const TimestampMs slice_end = slice_start + kSliceMs;
    const uint64_t target = static_cast<uint64_t>(o.num_events * (cumulative[s] / total_weight));
    RebuildSamplers(&w, ExposureDay(slice_start));
    while (generated < target) {
      const UserId u = user_sampler.Sample(rng);
      const TimestampMs start = slice_start + static_cast<TimestampMs>(rng.UniformInt(kSliceMs));
      if (w.users[u].signup_ms > start) continue;
      const size_t before = pending.size();
      SimulateSession(w, u, start, &next_request, rng, &pending);
      generated += pending.size() - before;
    }
    // Everything before slice_end is final: later sessions start at or after it.
    std::stable_sort(pending.begin(), pending.end(), by_time);
    const auto cut = std::lower_bound(pending.begin(), pending.end(), slice_end,
                                      [](const Event& e, TimestampMs t) { return e.timestamp_ms < t; });
    const size_t n = cut - pending.begin();
    if (n > 0) {
      if (written == 0) first_ms = pending.front().timestamp_ms;
      last_ms = pending[n - 1].timestamp_ms;
      VREC_RETURN_IF_ERROR(writer->AppendBatch(absl::MakeConstSpan(pending.data(), n)));
      VREC_RETURN_IF_ERROR(writer->Flush());
      written += n;
    }
    pending.erase(pending.begin(), cut);
    progress.Update(generated);
  }
  if (!pending.empty()) {
    if (written == 0) first_ms = pending.front().timestamp_ms;
    last_ms = pending.back().timestamp_ms;
    VREC_RETURN_IF_ERROR(writer->AppendBatch(pending));
    written += pending.size();
  }
  VREC_RETURN_IF_ERROR(writer->Sync());
  VREC_RETURN_IF_ERROR(writer->Close());
  progress.Finish(written);

  WorldManifest manifest;
  manifest.kind = "synthetic";
  manifest.num_users = o.num_users;
  manifest.num_videos = o.num_videos;
  manifest.num_events = written;
  manifest.start_ms = first_ms;
  manifest.end_ms = last_ms;
  manifest.extra["seed"] = absl::StrCat(o.seed);
  manifest.extra["days"] = absl::StrCat(o.days);
  manifest.extra["topics"] = absl::StrCat(o.num_topics);
  manifest.extra["period_start_ms"] = absl::StrCat(o.start_ms);
  VREC_RETURN_IF_ERROR(WriteWorldManifest(out_dir, manifest));
  return manifest;
}

}  // namespace vrec::data
