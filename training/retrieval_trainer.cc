#include "training/retrieval_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/leave_last_out.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/transforms.h"
#include "bundle/bundle.h"
#include "retrieval/internal/two_tower_net.h"
#include "training/sparse_optim.h"

namespace vrec::training {
namespace {

struct Example {
  featurestore::UserInputs user;
  featurestore::VideoInputs video;
  VideoId video_id;
};

struct TrainingData {
  std::vector<Example> train;
  std::vector<Example> validation;
  std::vector<featurestore::VideoInputs> candidates;  // every video that could be recommended at validation time
  std::vector<VideoId> candidate_ids;
  TimestampMs start_ms = 0, validation_ms = 0, end_ms = 0;
};

uint32_t SmallestPowerOfTwoAtLeast(uint64_t n) {
  uint32_t p = 1024;
  while (p < n && p < (1u << 22)) p <<= 1;
  return p;
}

void Snapshot(const Catalog& catalog, const featurestore::FeatureReplay& replay, TimestampMs now,
              const featurestore::TransformOptions& t, TrainingData* data) {
  const featurestore::FeatureContext context{now, Device::kUnknown};
  for (const Video& v : catalog.videos()) {
    if (v.upload_ms >= now) continue;
    data->candidates.push_back(featurestore::TransformVideo(replay.video(v.id), context, t));
    data->candidate_ids.push_back(v.id);
  }
}

absl::StatusOr<TrainingData> BuildExamples(const std::string& world_dir, const Catalog& catalog,
                                           const WorldManifest& manifest, const RetrievalTrainOptions& o,
                                           const featurestore::TransformOptions& t) {
  TrainingData data;
  data.start_ms = manifest.start_ms;
  HeldOutItems held_out;
  const bool held_out_items = o.protocol != "time-split";
  if (held_out_items) {
    VREC_ASSIGN_OR_RETURN(const std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world_dir)));
    VREC_ASSIGN_OR_RETURN(held_out, SplitHeldOut(o.protocol, rows));
    data.end_ms = manifest.end_ms + 1;
    data.validation_ms = data.end_ms;
  } else {
    data.end_ms = o.until_ms > 0 ? o.until_ms
                                 : manifest.start_ms + static_cast<TimestampMs>(o.until_fraction *
                                                                                (manifest.end_ms - manifest.start_ms));
    data.validation_ms = data.end_ms - static_cast<TimestampMs>(o.validation_fraction * (data.end_ms - data.start_ms));
  }
  featurestore::FeatureReplay replay(catalog, o.update);
  absl::flat_hash_set<uint64_t> seen_positive;
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader, EventLogReader::Open(WorldEventsPath(world_dir)));
  Progress progress("examples", manifest.num_events, "events", o.show_progress);
  uint64_t read = 0;
  bool snapshotted = false;
  while (true) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    if (block.empty()) break;
    for (const Event& e : block) {
      if (e.timestamp_ms >= data.end_ms) break;
      if (!snapshotted && !held_out_items && e.timestamp_ms >= data.validation_ms) {
        Snapshot(catalog, replay, data.validation_ms, t, &data);
        snapshotted = true;
      }
      if (held_out.IsTest(e.user_id, e.video_id)) continue;  // the replay's test item: never seen in training
      const featurestore::VideoFeatures& video = replay.video(e.video_id);
      if (RelevanceGrade(e.type, e.watch_time_ms, video.duration_ms) >= o.min_grade &&
          seen_positive.insert((uint64_t{e.user_id} << 32) | e.video_id).second) {
        const featurestore::FeatureContext context{e.timestamp_ms, e.device};
        Example ex{featurestore::TransformUser(replay.user(e.user_id), context, t),
                   featurestore::TransformVideo(video, context, t), e.video_id};
        const bool validation =
            held_out_items ? held_out.IsValidation(e.user_id, e.video_id) : e.timestamp_ms >= data.validation_ms;
        (validation ? data.validation : data.train).push_back(std::move(ex));
      }
      replay.Apply(e);
    }
    read += block.size();
    progress.Update(read);
    if (!block.empty() && block.back().timestamp_ms >= data.end_ms) break;
  }
  progress.Finish(read);
  if (!snapshotted) Snapshot(catalog, replay, std::min(data.validation_ms, replay.last_event_ms() + 1), t, &data);
  // Validation items must be among the candidates (videos that existed then).
  std::vector<VideoId> sorted_ids = data.candidate_ids;
  std::sort(sorted_ids.begin(), sorted_ids.end());
  data.validation.erase(std::remove_if(data.validation.begin(), data.validation.end(),
                                       [&](const Example& ex) {
                                         return !std::binary_search(sorted_ids.begin(), sorted_ids.end(), ex.video_id);
                                       }),
                        data.validation.end());
  return data;
}

// Exact Recall@K of the validation examples against every candidate.
double ValidationRecall(retrieval::internal::TwoTowerNet& net, const TrainingData& data,
                        const std::vector<size_t>& sample, int k) {
  torch::InferenceMode guard;
  net->eval();
  std::vector<torch::Tensor> chunks;
  for (size_t i = 0; i < data.candidates.size(); i += 8192) {
    const size_t n = std::min<size_t>(8192, data.candidates.size() - i);
    chunks.push_back(
        net->EmbedVideos(retrieval::internal::ToVideoBatch(absl::MakeConstSpan(data.candidates.data() + i, n))));
  }
  const torch::Tensor items = torch::cat(chunks, 0);  // [C, dim]
  // Candidate index of each video id.
  std::vector<std::pair<VideoId, int64_t>> index;
  for (size_t i = 0; i < data.candidate_ids.size(); ++i) index.emplace_back(data.candidate_ids[i], i);
  std::sort(index.begin(), index.end());
  const int64_t top = std::min<int64_t>(k, items.size(0));
  uint64_t hits = 0;
  const size_t chunk = std::max<size_t>(16, (size_t{64} << 20) / std::max<int64_t>(1, items.size(0)));
  std::vector<featurestore::UserInputs> users;
  for (size_t s = 0; s < sample.size(); s += chunk) {
    users.clear();
    const size_t n = std::min(chunk, sample.size() - s);
    for (size_t i = 0; i < n; ++i) users.push_back(data.validation[sample[s + i]].user);
    const torch::Tensor u = net->EmbedUsers(retrieval::internal::ToUserBatch(users));
    const torch::Tensor best = std::get<1>(u.matmul(items.t()).topk(top, 1)).contiguous();
    const int64_t* b = best.data_ptr<int64_t>();
    for (size_t i = 0; i < n; ++i) {
      const VideoId target = data.validation[sample[s + i]].video_id;
      const auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(target, int64_t{0}));
      const int64_t want = it->second;
      hits += std::find(b + i * top, b + (i + 1) * top, want) != b + (i + 1) * top;
    }
  }
  net->train();
  return sample.empty() ? 0.0 : double(hits) / sample.size();
}

}  // namespace

absl::StatusOr<RetrievalTrainSummary> TrainRetrieval(const std::string& world_dir, const std::string& models_dir,
                                                     const RetrievalTrainOptions& options) {
  RetrievalTrainOptions o = options;
  if (o.epochs < 1 || o.batch_size < 2 || o.temperature <= 0 || o.validation_k < 1 || o.threads < 1 ||
      o.uniform_negatives < 0 || o.until_fraction <= 0 || o.until_fraction > 1 || o.validation_fraction <= 0 ||
      o.validation_fraction >= 1) {
    return absl::InvalidArgumentError(
        "need epochs >= 1, batch size >= 2, temperature > 0, k >= 1, threads >= 1, uniform negatives >= 0, "
        "until fraction in (0, 1] and validation fraction in (0, 1)");
  }
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world_dir));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  if (o.model.transform.video_buckets == 0) {
    o.model.transform.video_buckets = SmallestPowerOfTwoAtLeast(2 * uint64_t{catalog.video_id_limit()});
  }
  VREC_RETURN_IF_ERROR(o.model.Validate());
  VREC_ASSIGN_OR_RETURN(TrainingData data, BuildExamples(world_dir, catalog, manifest, o, o.model.transform));
  if (o.max_examples > 0 && data.train.size() > o.max_examples) {
    data.train.erase(data.train.begin(), data.train.end() - o.max_examples);  // keep the most recent
  }
  if (data.train.size() < static_cast<size_t>(o.batch_size)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "only ", data.train.size(), " positive examples for batch size ", o.batch_size,
        " (positives are engagements of grade >= ", o.min_grade, "; try --min-grade 1 or a smaller --batch-size)"));
  }

  VREC_ASSIGN_OR_RETURN(const int64_t version, bundle::NextBundleVersion(models_dir));
  const std::string bundle = bundle::BundleDir(models_dir, version);
  VREC_RETURN_IF_ERROR(MakeDirs(bundle + "/checkpoints"));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::TwoTowerModel> model,
                        retrieval::TwoTowerModel::Create(o.model, o.seed));

  RetrievalTrainSummary summary;
  summary.bundle_dir = bundle;
  summary.version = version;
  summary.train_examples = data.train.size();
  summary.validation_examples = data.validation.size();
  summary.train_start_ms = data.start_ms;
  summary.train_end_ms = data.end_ms;
  try {
    torch::set_num_threads(o.threads);
    torch::manual_seed(o.seed);
    retrieval::internal::TwoTowerNet& net = model->net().net;
    net->train();
    torch::optim::Adam dense(net->DenseParameters(), torch::optim::AdamOptions(o.learning_rate));
    torch::optim::Adagrad sparse(net->SparseParameters(), torch::optim::AdagradOptions(o.sparse_learning_rate));

    // Sampling probability of each video as an in-batch negative: its share of the positives.
    std::vector<std::pair<VideoId, float>> frequency;
    {
      std::vector<VideoId> ids;
      for (const Example& ex : data.train) ids.push_back(ex.video_id);
      std::sort(ids.begin(), ids.end());
      for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j < ids.size() && ids[j] == ids[i]) ++j;
        frequency.emplace_back(ids[i], static_cast<float>(j - i) / ids.size());
        i = j;
      }
    }
    auto log_q = [&](VideoId v) {
      return std::log(std::lower_bound(frequency.begin(), frequency.end(), std::make_pair(v, 0.0f))->second);
    };

    Rng rng(o.seed);
    std::vector<size_t> sample(data.validation.size());
    for (size_t i = 0; i < sample.size(); ++i) sample[i] = i;
    for (size_t i = sample.size(); i > 1; --i) std::swap(sample[i - 1], sample[rng.UniformInt(i)]);
    if (sample.size() > o.max_validation) sample.resize(o.max_validation);

    std::vector<size_t> order(data.train.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const size_t steps_per_epoch = data.train.size() / o.batch_size;
    StepProgress progress("train-retrieval", o.epochs, steps_per_epoch, o.batch_size, o.show_progress);
    std::vector<featurestore::UserInputs> users(o.batch_size);
    std::vector<featurestore::VideoInputs> videos(o.batch_size);
    std::vector<VideoId> batch_ids(o.batch_size);
    std::vector<float> correction(o.batch_size);
    std::vector<featurestore::VideoInputs> negatives(o.uniform_negatives);
    std::vector<VideoId> negative_ids(o.uniform_negatives);
    const float uniform_correction =
        o.uniform_negatives > 0 ? std::log(static_cast<float>(o.uniform_negatives) / data.candidates.size()) : 0.0f;
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.UniformInt(i)]);
      double loss_sum = 0.0;
      for (size_t step = 0; step < steps_per_epoch; ++step) {
        for (int i = 0; i < o.batch_size; ++i) {
          const Example& ex = data.train[order[step * o.batch_size + i]];
          users[i] = ex.user;
          videos[i] = ex.video;
          batch_ids[i] = ex.video_id;
          // Expected count of this video among the batch's negatives: B * q.
          correction[i] = o.logq_correction ? log_q(ex.video_id) + std::log(static_cast<float>(o.batch_size)) : 0.0f;
        }
        const torch::Tensor u = net->EmbedUsers(retrieval::internal::ToUserBatch(users));
        const torch::Tensor v = net->EmbedVideos(retrieval::internal::ToVideoBatch(videos));
        torch::Tensor logits = u.matmul(v.t()) / o.temperature -
                               torch::from_blob(correction.data(), {o.batch_size}, torch::kFloat32).unsqueeze(0);
        // Accidental hits: the positive video elsewhere in the batch is not a negative.
        const torch::Tensor ids = torch::from_blob(batch_ids.data(), {o.batch_size}, torch::kInt32).to(torch::kInt64);
        const torch::Tensor same = ids.unsqueeze(1).eq(ids.unsqueeze(0)) &
                                   torch::eye(o.batch_size, torch::kBool).logical_not();
        logits = logits.masked_fill(same, -1e9);
        if (o.uniform_negatives > 0) {
          for (int j = 0; j < o.uniform_negatives; ++j) {
            const size_t c = rng.UniformInt(data.candidates.size());
            negatives[j] = data.candidates[c];
            negative_ids[j] = data.candidate_ids[c];
          }
          const torch::Tensor n = net->EmbedVideos(retrieval::internal::ToVideoBatch(negatives));
          torch::Tensor extra = u.matmul(n.t()) / o.temperature - uniform_correction;
          const torch::Tensor neg_ids =
              torch::from_blob(negative_ids.data(), {o.uniform_negatives}, torch::kInt32).to(torch::kInt64);
          extra = extra.masked_fill(ids.unsqueeze(1).eq(neg_ids.unsqueeze(0)), -1e9);
          logits = torch::cat({logits, extra}, 1);
        }
        const torch::Tensor loss =
            torch::nn::functional::cross_entropy(logits, torch::arange(o.batch_size, torch::kInt64));
        loss_sum += OptimizerStep(loss, dense, sparse);
        progress.Step(epoch, step, loss_sum / (step + 1));
      }
      const double recall = ValidationRecall(net, data, sample, o.validation_k);
      summary.validation_recall.push_back(recall);
      summary.epoch_loss.push_back(loss_sum / std::max<size_t>(1, steps_per_epoch));
      if (o.show_progress) {
        std::fprintf(stderr, "train-retrieval: epoch %d: loss %.4f, validation Recall@%d %.4f over %zu examples\n", epoch,
                     summary.epoch_loss.back(), o.validation_k, recall, sample.size());
      }
      VREC_RETURN_IF_ERROR(model->Save(absl::StrCat(bundle, "/checkpoints/epoch-", epoch, ".pt")));
    }
    summary.train_seconds = progress.seconds();
    summary.examples_per_second = progress.examples_per_second(summary.train_seconds);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training failed: ", e.what_without_backtrace()));
  }
  // The exported model: the last epoch, or with keep_best the epoch of best validation recall
  // (its checkpoint).
  summary.exported_epoch = static_cast<int>(summary.validation_recall.size());
  if (o.keep_best) {
    summary.exported_epoch = static_cast<int>(
        std::max_element(summary.validation_recall.begin(), summary.validation_recall.end()) -
        summary.validation_recall.begin()) + 1;
  }
  std::error_code copy_error;
  std::filesystem::copy_file(absl::StrCat(bundle, "/checkpoints/epoch-", summary.exported_epoch, ".pt"),
                             bundle::BundleModelPath(bundle), std::filesystem::copy_options::overwrite_existing,
                             copy_error);
  if (copy_error) {
    return absl::InternalError(
        absl::StrCat("cannot export the model to ", bundle::BundleModelPath(bundle), ": ", copy_error.message()));
  }
  if (o.show_progress && summary.exported_epoch != o.epochs) {
    std::fprintf(stderr, "train-retrieval: exporting epoch %d (best validation recall)\n", summary.exported_epoch);
  }

  bundle::BundleManifest m;
  m.kind = "two_tower";
  m.version = version;
  m.created_ms = SystemClock::Get()->NowMs();
  m.world = world_dir;
  m.protocol = o.protocol;
  m.two_tower = o.model;
  m.history_length = o.update.history_length;
  bundle::RetrievalTraining& t = m.train;
  t.start_ms = data.start_ms;
  t.end_ms = data.end_ms;
  t.validation_from_ms = data.validation_ms;
  t.examples = static_cast<int64_t>(data.train.size());
  t.validation_examples = static_cast<int64_t>(std::min<size_t>(data.validation.size(), o.max_validation));
  t.epochs = o.epochs;
  t.batch_size = o.batch_size;
  t.temperature = o.temperature;
  t.logq_correction = o.logq_correction;
  t.uniform_negatives = o.uniform_negatives;
  t.min_grade = o.min_grade;
  t.seed = o.seed;
  t.examples_per_second = summary.examples_per_second;
  t.exported_epoch = summary.exported_epoch;
  t.validation_k = o.validation_k;
  t.validation_recall = summary.validation_recall[summary.exported_epoch - 1];
  m.complete = false;
  VREC_RETURN_IF_ERROR(WriteBundleManifest(bundle, m));
  return summary;
}

}  // namespace vrec::training
