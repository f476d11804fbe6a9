#include "training/retrieval_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/container/flat_hash_map.h"
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
  UserId user_id;
  // Bit j: the history entry in slot j is an engagement the sequential tower may learn to
  // predict from the older slots (not a skip, and not a validation item until the refit).
  uint32_t next_mask = 0;
  uint32_t held_mask = 0;  // the engaged slots that hold validation items, for the refit
  uint64_t position = 0;   // in the log: train and validation examples merge back in this order
};

struct TrainingData {
  std::vector<Example> train;
  std::vector<Example> validation;
  std::vector<featurestore::VideoInputs> candidates;  // every video that could be recommended at validation time
  std::vector<VideoId> candidate_ids;
  // Every video uploaded before end_ms: the refit's candidates (validation adds the newest).
  std::vector<featurestore::VideoInputs> final_candidates;
  std::vector<VideoId> final_candidate_ids;
  TimestampMs start_ms = 0, validation_ms = 0, end_ms = 0;
};

uint32_t SmallestPowerOfTwoAtLeast(uint64_t n) {
  uint32_t p = 1024;
  while (p < n && p < (1u << 22)) p <<= 1;
  return p;
}

void Snapshot(const Catalog& catalog, const featurestore::FeatureReplay& replay, TimestampMs now,
              const featurestore::TransformOptions& t, std::vector<featurestore::VideoInputs>* candidates,
              std::vector<VideoId>* ids) {
  const featurestore::FeatureContext context{now, Device::kUnknown};
  for (const Video& v : catalog.videos()) {
    if (v.upload_ms >= now) continue;
    candidates->push_back(featurestore::TransformVideo(replay.video(v.id), context, t));
    ids->push_back(v.id);
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
        Snapshot(catalog, replay, data.validation_ms, t, &data.candidates, &data.candidate_ids);
        snapshotted = true;
      }
      if (held_out.IsTest(e.user_id, e.video_id)) continue;  // the replay's test item: never seen in training
      const featurestore::VideoFeatures& video = replay.video(e.video_id);
      if (RelevanceGrade(e.type, e.watch_time_ms, video.duration_ms) >= o.min_grade &&
          seen_positive.insert((uint64_t{e.user_id} << 32) | e.video_id).second) {
        const featurestore::FeatureContext context{e.timestamp_ms, e.device};
        const featurestore::UserFeatures& user = replay.user(e.user_id);
        Example ex{featurestore::TransformUser(user, context, t), featurestore::TransformVideo(video, context, t),
                   e.video_id, e.user_id};
        ex.position = read + static_cast<uint64_t>(&e - block.data());
        featurestore::ForEachHistorySlot(user, [&](int slot, const featurestore::HistoryEntry& h) {
          if (!featurestore::IsEngagedEntry(h)) return;
          const bool held = held_out_items && held_out.IsValidation(e.user_id, h.video_id);
          (held ? ex.held_mask : ex.next_mask) |= uint32_t{1} << slot;
        });
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
  const TimestampMs last = replay.last_event_ms() + 1;
  if (!snapshotted) Snapshot(catalog, replay, std::min(data.validation_ms, last), t, &data.candidates, &data.candidate_ids);
  Snapshot(catalog, replay, std::min(data.end_ms, last), t, &data.final_candidates, &data.final_candidate_ids);
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

// Mean cross-entropy of hidden [N, d] against every row of `outputs` [C, d], targets in [0, C)
// or -100 (ignored). The logits are computed a few rows at a time so that no buffer passes
// glibc's mmap threshold (32 MB): a larger one is mapped and unmapped every step, and its page
// faults cost more than the matrix products.
// `column_bias` (when defined, [C]) is subtracted from every row's logits.
torch::Tensor ChunkedSoftmaxLoss(const torch::Tensor& hidden, const torch::Tensor& outputs,
                                 const torch::Tensor& targets, const torch::Tensor& column_bias = torch::Tensor()) {
  const int64_t n = hidden.size(0);
  const int64_t rows = std::max<int64_t>(1, (int64_t{24} << 20) / (4 * std::max<int64_t>(1, outputs.size(0))));
  const torch::Tensor counted = targets.ne(-100).sum().clamp_min(1).to(torch::kFloat32);
  const auto sum = torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum);
  torch::Tensor total = torch::zeros({}, torch::kFloat32);
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t len = std::min(rows, n - start);
    torch::Tensor logits = hidden.narrow(0, start, len).matmul(outputs.t());
    if (column_bias.defined()) logits = logits - column_bias.unsqueeze(0);
    total = total + torch::nn::functional::cross_entropy(logits, targets.narrow(0, start, len), sum);
  }
  return total / counted;
}

// Epochs since validation recall last rose significantly: by more than the standard error of
// a recall measured on n examples, over its value at the previous such rise (so a slow steady
// climb still counts once it adds up).
int EpochsWithoutGain(const std::vector<double>& recall, size_t n) {
  if (recall.empty()) return 0;
  size_t last_gain = 0;
  for (size_t i = 1; i < recall.size(); ++i) {
    const double reference = recall[last_gain];
    const double se = std::sqrt(std::max(reference * (1 - reference), 1e-12) / std::max<size_t>(1, n));
    if (recall[i] > reference + se) last_gain = i;
  }
  return static_cast<int>(recall.size() - 1 - last_gain);
}

std::string CheckpointPath(const std::string& bundle, retrieval::UserTower tower, int epoch, bool refit = false) {
  return absl::StrCat(bundle, "/checkpoints/", retrieval::UserTowerName(tower), refit ? "-refit" : "", "-epoch-",
                      epoch, ".pt");
}

// One user tower's training run: per-epoch loss and validation recall, a checkpoint per epoch.
// A refit run has no validation and exports its last epoch.
struct TowerRun {
  retrieval::TwoTowerConfig config;
  int epochs = 0;
  int batch_size = 0;
  bool full_softmax = false;
  std::vector<double> recall, loss;
  int best_epoch = 0;  // 1-based: the exported epoch (best validation recall with keep_best, else the last)
  double seconds = 0, examples_per_second = 0;
  double best_recall() const { return recall[best_epoch - 1]; }
};

// The pooled tower: in-batch sampled softmax over cosine scores with a temperature, Adam on the
// dense layers and Adagrad on the sparse tables. The sequential tower: Adam on the layers and
// lazy Adam on the item table (training/sparse_optim.h), and a full softmax over every candidate video while the catalog has at most full_softmax_max of them
// (beyond that, the same in-batch sampled softmax on plain dot products).
// refit_epochs > 0: a refit of that many epochs on `data` (which then has no validation part),
// from `warm_start`'s weights when it is given, else from a fresh initialisation.
absl::StatusOr<TowerRun> TrainTower(retrieval::UserTower tower, const TrainingData& data,
                                    const std::vector<size_t>& validation_sample, const RetrievalTrainOptions& o,
                                    const std::string& bundle, int refit_epochs = 0,
                                    const std::string& warm_start = "") {
  const bool sequential = tower == retrieval::UserTower::kSequential;
  const bool refit = refit_epochs > 0;
  TowerRun run;
  run.config = o.model;
  run.config.user_tower = tower;
  run.epochs = refit ? refit_epochs : sequential ? o.sequential.epochs : o.epochs;
  run.batch_size = std::min<int>(sequential ? o.sequential.batch_size : o.batch_size, data.train.size());
  run.full_softmax = sequential && data.candidates.size() <= o.sequential.full_softmax_max;
  const int batch_size = run.batch_size;
  const double inverse_temperature = 1.0 / o.temperature;  // pooled tower
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::TwoTowerModel> model,
                        warm_start.empty() ? retrieval::TwoTowerModel::Create(run.config, o.seed)
                                           : retrieval::TwoTowerModel::Load(warm_start, run.config));
  const std::string job =
      absl::StrCat("train-retrieval (", retrieval::UserTowerName(tower), refit ? ", refit on all the data)" : ")");
  try {
    torch::manual_seed(o.seed);
    retrieval::internal::TwoTowerNet& net = model->net().net;
    net->train();
    torch::optim::Adam dense(net->DenseParameters(),
                             torch::optim::AdamOptions(sequential ? o.sequential.learning_rate : o.learning_rate));
    // Sparse tables (every tower has some): Adagrad (pooled), lazy Adam at the dense rate
    // (sequential).
    std::unique_ptr<torch::optim::Adagrad> sparse;
    std::unique_ptr<SparseAdam> lazy;
    if (sequential) {
      lazy = std::make_unique<SparseAdam>(net->SparseParameters(), o.sequential.learning_rate);
    } else {
      sparse = std::make_unique<torch::optim::Adagrad>(net->SparseParameters(),
                                                       torch::optim::AdagradOptions(o.sparse_learning_rate));
    }

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
    // Full softmax: the output columns are the candidates' rows of the item table; column_of
    // maps a row to its column (-100, ignored by the loss, for a row that is no candidate).
    std::vector<int64_t> rows;
    std::vector<int64_t> column_of;
    if (run.full_softmax) {
      column_of.assign(run.config.transform.video_buckets, -100);
      for (const featurestore::VideoInputs& v : data.candidates) {
        if (column_of[v.video] < 0) {
          column_of[v.video] = static_cast<int64_t>(rows.size());
          rows.push_back(v.video);
        }
      }
    }
    const torch::Tensor row_index = torch::tensor(rows, torch::kInt64);
    const torch::Tensor column_lookup = torch::tensor(column_of, torch::kInt64);
    // Sampled softmax for the sequential tower: log of each row's share of the targets.
    std::vector<float> row_log_q;
    if (sequential && !run.full_softmax) {
      std::vector<double> count(run.config.transform.video_buckets, 0.0);
      double total = 0;
      for (const Example& ex : data.train) {
        count[ex.video.video] += 1;
        total += 1;
      }
      row_log_q.resize(count.size());
      for (size_t r = 0; r < count.size(); ++r) row_log_q[r] = std::log(std::max(count[r], 0.5) / total);
    }
    const torch::Tensor log_q_of_row = torch::tensor(row_log_q, torch::kFloat32);

    Rng rng(o.seed);
    // The pooled tower learns from every example. The sequential tower learns from every
    // position of a history at once, so it takes every kUserHistory-th example of each user
    // (newest first): together their histories cover each engagement about once per epoch.
    std::vector<size_t> order;
    if (sequential) {
      absl::flat_hash_map<UserId, uint32_t> later;
      for (size_t i = data.train.size(); i-- > 0;) {
        if (later[data.train[i].user_id]++ % featurestore::kUserHistory == 0) order.push_back(i);
      }
    } else {
      order.resize(data.train.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    }
    const size_t steps_per_epoch = order.size() / batch_size;
    StepProgress progress(job.c_str(), run.epochs, steps_per_epoch, batch_size, o.show_progress);
    std::vector<featurestore::UserInputs> users(batch_size);
    std::vector<featurestore::VideoInputs> videos(batch_size);
    std::vector<VideoId> batch_ids(batch_size);
    std::vector<int64_t> next_rows(size_t{batch_size} * featurestore::kUserHistory);  // 0: no target
    std::vector<float> correction(batch_size);
    std::vector<featurestore::VideoInputs> negatives(o.uniform_negatives);
    std::vector<VideoId> negative_ids(o.uniform_negatives);
    const float uniform_correction =
        o.uniform_negatives > 0 ? std::log(static_cast<float>(o.uniform_negatives) / data.candidates.size()) : 0.0f;
    for (int epoch = 1; epoch <= run.epochs; ++epoch) {
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.UniformInt(i)]);
      double loss_sum = 0.0;
      for (size_t step = 0; step < steps_per_epoch; ++step) {
        for (int i = 0; i < batch_size; ++i) {
          const Example& ex = data.train[order[step * batch_size + i]];
          users[i] = ex.user;
          if (sequential) {
            // Position 0 predicts the example's video; position p >= 1 (which has seen slots
            // p and older) predicts slot p - 1.
            int64_t* next = &next_rows[size_t{i} * featurestore::kUserHistory];
            next[0] = ex.video.video;
            for (int p = 1; p < featurestore::kUserHistory; ++p) {
              next[p] = ex.user.history[p] > 0 && (ex.next_mask >> (p - 1) & 1) ? ex.user.history[p - 1] : 0;
            }
          } else {
            videos[i] = ex.video;
            batch_ids[i] = ex.video_id;
            // Expected count of this video among the batch's negatives: B * q.
            correction[i] = o.logq_correction ? log_q(ex.video_id) + std::log(static_cast<float>(batch_size)) : 0.0f;
          }
        }
        torch::Tensor loss;
        if (sequential) {
          const retrieval::internal::UserBatch batch = retrieval::internal::ToUserBatch(users);
          const auto [states, keep] = net->EncodeSequence(batch.history);  // [B, L, d]
          const int64_t length = states.size(1);
          const torch::Tensor next =
              torch::from_blob(next_rows.data(), {batch_size, featurestore::kUserHistory}, torch::kInt64)
                  .narrow(1, 0, length)
                  .reshape({-1});
          const torch::Tensor valid = next.gt(0).nonzero().squeeze(1);
          const torch::Tensor hidden = states.reshape({-1, states.size(2)}).index_select(0, valid);  // [N, d]
          const torch::Tensor target_rows = next.index_select(0, valid);
          if (run.full_softmax) {
            loss = ChunkedSoftmaxLoss(hidden, net->items(row_index),
                                      column_lookup.index_select(0, target_rows));
          } else {
            // In-batch sampled softmax over the batch's distinct targets (a video several
            // positions predict is one column: no accidental hits), logQ-corrected for the n
            // draws, chunked like the full softmax (n is about batch x history, thousands).
            const int64_t n = target_rows.size(0);
            const auto [columns, column_of_target] = torch::_unique(target_rows, /*sorted=*/true, /*return_inverse=*/true);
            loss = ChunkedSoftmaxLoss(hidden, net->items(columns), column_of_target,
                                      log_q_of_row.index_select(0, columns) + std::log(static_cast<double>(n)));
          }
        } else {
          const torch::Tensor u = net->EmbedUsers(retrieval::internal::ToUserBatch(users));
          const torch::Tensor v = net->EmbedVideos(retrieval::internal::ToVideoBatch(videos));
          torch::Tensor logits = u.matmul(v.t()) * inverse_temperature -
                                 torch::from_blob(correction.data(), {batch_size}, torch::kFloat32).unsqueeze(0);
          // Accidental hits: the positive video elsewhere in the batch is not a negative.
          const torch::Tensor ids = torch::from_blob(batch_ids.data(), {batch_size}, torch::kInt32).to(torch::kInt64);
          const torch::Tensor same =
              ids.unsqueeze(1).eq(ids.unsqueeze(0)) & torch::eye(batch_size, torch::kBool).logical_not();
          logits = logits.masked_fill(same, -1e9);
          if (o.uniform_negatives > 0) {
            for (int j = 0; j < o.uniform_negatives; ++j) {
              const size_t c = rng.UniformInt(data.candidates.size());
              negatives[j] = data.candidates[c];
              negative_ids[j] = data.candidate_ids[c];
            }
            const torch::Tensor n = net->EmbedVideos(retrieval::internal::ToVideoBatch(negatives));
            torch::Tensor extra = u.matmul(n.t()) * inverse_temperature - uniform_correction;
            const torch::Tensor neg_ids =
                torch::from_blob(negative_ids.data(), {o.uniform_negatives}, torch::kInt32).to(torch::kInt64);
            extra = extra.masked_fill(ids.unsqueeze(1).eq(neg_ids.unsqueeze(0)), -1e9);
            logits = torch::cat({logits, extra}, 1);
          }
          loss = torch::nn::functional::cross_entropy(logits, torch::arange(batch_size, torch::kInt64));
        }
        loss_sum += lazy ? OptimizerStep(loss, dense, *lazy) : OptimizerStep(loss, dense, *sparse);
        progress.Step(epoch, step, loss_sum / (step + 1));
      }
      const double recall = refit ? 0.0 : ValidationRecall(net, data, validation_sample, o.validation_k);
      run.recall.push_back(recall);
      run.loss.push_back(loss_sum / std::max<size_t>(1, steps_per_epoch));
      if (o.show_progress && refit) {
        std::fprintf(stderr, "%s: epoch %d: loss %.4f\n", job.c_str(), epoch, run.loss.back());
      } else if (o.show_progress) {
        std::fprintf(stderr, "%s: epoch %d: loss %.4f, validation Recall@%d %.4f over %zu examples\n", job.c_str(),
                     epoch, run.loss.back(), o.validation_k, recall, validation_sample.size());
      }
      VREC_RETURN_IF_ERROR(model->Save(CheckpointPath(bundle, tower, epoch, refit)));
      if (!refit && o.patience > 0 && EpochsWithoutGain(run.recall, validation_sample.size()) >= o.patience) {
        if (o.show_progress) {
          std::fprintf(stderr, "%s: stopping after epoch %d: no significant validation gain for %d epochs\n",
                       job.c_str(), epoch, o.patience);
        }
        break;
      }
    }
    run.seconds = progress.seconds();
    run.examples_per_second = progress.examples_per_second(run.seconds);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training the ", retrieval::UserTowerName(tower),
                                            " tower failed: ", e.what_without_backtrace()));
  }
  run.best_epoch = static_cast<int>(run.recall.size());
  if (o.keep_best && !refit) {
    run.best_epoch = static_cast<int>(std::max_element(run.recall.begin(), run.recall.end()) - run.recall.begin()) + 1;
  }
  return run;
}

}  // namespace

absl::StatusOr<RetrievalTrainSummary> TrainRetrieval(const std::string& world_dir, const std::string& models_dir,
                                                     const RetrievalTrainOptions& options) {
  RetrievalTrainOptions o = options;
  if (o.epochs < 1 || o.batch_size < 2 || o.temperature <= 0 || o.validation_k < 1 || o.threads < 1 ||
      o.uniform_negatives < 0 || o.until_fraction <= 0 || o.until_fraction > 1 || o.validation_fraction <= 0 ||
      o.validation_fraction >= 1 || o.sequential.epochs < 1 || o.sequential.batch_size < 2 ||
      o.sequential.learning_rate <= 0) {
    return absl::InvalidArgumentError(
        "need epochs >= 1, batch size >= 2, temperature > 0, k >= 1, threads >= 1, uniform negatives >= 0, "
        "until fraction in (0, 1], validation fraction in (0, 1), and for the sequential tower epochs >= 1, batch "
        "size >= 2 and a positive learning rate");
  }
  if (o.refit != "scratch" && o.refit != "tail" && o.refit != "none") {
    return absl::InvalidArgumentError(absl::StrCat("--refit must be scratch, tail or none, not \"", o.refit, "\""));
  }
  std::vector<retrieval::UserTower> towers;
  if (o.user_tower == "auto") {
    towers = {retrieval::UserTower::kPooled, retrieval::UserTower::kSequential};
  } else {
    VREC_ASSIGN_OR_RETURN(const retrieval::UserTower tower, retrieval::ParseUserTower(o.user_tower));
    towers = {tower};
  }
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world_dir));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  if (o.model.transform.video_buckets == 0) {
    o.model.transform.video_buckets = SmallestPowerOfTwoAtLeast(2 * uint64_t{catalog.video_id_limit()});
  }
  for (const retrieval::UserTower tower : towers) {
    retrieval::TwoTowerConfig config = o.model;
    config.user_tower = tower;
    VREC_RETURN_IF_ERROR(config.Validate());
  }
  VREC_ASSIGN_OR_RETURN(TrainingData data, BuildExamples(world_dir, catalog, manifest, o, o.model.transform));
  if (o.max_examples > 0 && data.train.size() > o.max_examples) {
    data.train.erase(data.train.begin(), data.train.end() - o.max_examples);  // keep the most recent
  }
  if (data.train.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "only ", data.train.size(), " positive examples (positives are engagements of grade >= ", o.min_grade,
        "; try --min-grade 1)"));
  }

  VREC_ASSIGN_OR_RETURN(const int64_t version, bundle::NextBundleVersion(models_dir));
  const std::string bundle = bundle::BundleDir(models_dir, version);
  VREC_RETURN_IF_ERROR(MakeDirs(bundle + "/checkpoints"));
  torch::set_num_threads(o.threads);

  // The same validation examples for every tower.
  Rng rng(o.seed);
  std::vector<size_t> sample(data.validation.size());
  for (size_t i = 0; i < sample.size(); ++i) sample[i] = i;
  for (size_t i = sample.size(); i > 1; --i) std::swap(sample[i - 1], sample[rng.UniformInt(i)]);
  if (sample.size() > o.max_validation) sample.resize(o.max_validation);

  std::vector<TowerRun> runs;
  for (const retrieval::UserTower tower : towers) {
    VREC_ASSIGN_OR_RETURN(TowerRun run, TrainTower(tower, data, sample, o, bundle));
    runs.push_back(std::move(run));
  }
  // The tower with the better validation recall (the pooled one on a tie).
  const TowerRun* chosen = &runs[0];
  for (const TowerRun& run : runs) {
    if (run.best_recall() > chosen->best_recall()) chosen = &run;
  }

  RetrievalTrainSummary summary;
  summary.bundle_dir = bundle;
  summary.version = version;
  summary.train_examples = data.train.size();
  summary.validation_examples = data.validation.size();
  // The validated model (the chosen tower's best epoch) has never seen the validation part: the
  // fusion learns on that part with it. The served model is refit on everything for as many
  // epochs (the validation only picked the tower and the epoch count).
  std::error_code copy_error;
  std::filesystem::copy_file(CheckpointPath(bundle, chosen->config.user_tower, chosen->best_epoch),
                             bundle::BundleHeldOutModelPath(bundle), std::filesystem::copy_options::overwrite_existing,
                             copy_error);
  std::string exported = bundle::BundleHeldOutModelPath(bundle);
  if (!copy_error && o.refit != "none" && !data.validation.empty()) {
    TrainingData all;
    all.train.reserve(data.train.size() + data.validation.size());
    std::merge(std::make_move_iterator(data.train.begin()), std::make_move_iterator(data.train.end()),
               std::make_move_iterator(data.validation.begin()), std::make_move_iterator(data.validation.end()),
               std::back_inserter(all.train),
               [](const Example& a, const Example& b) { return a.position < b.position; });
    data.train = {};
    data.validation = {};
    for (Example& ex : all.train) ex.next_mask |= ex.held_mask;
    all.candidates = std::move(data.final_candidates);
    all.candidate_ids = std::move(data.final_candidate_ids);
    // scratch: the chosen epoch count from a fresh start; tail: one more epoch from the
    // validated weights.
    const bool tail = o.refit == "tail";
    VREC_ASSIGN_OR_RETURN(const TowerRun refit,
                          TrainTower(chosen->config.user_tower, all, {}, o, bundle, tail ? 1 : chosen->best_epoch,
                                     tail ? bundle::BundleHeldOutModelPath(bundle) : ""));
    summary.train_seconds += refit.seconds;
    summary.refit_epochs = refit.epochs;
    exported = CheckpointPath(bundle, chosen->config.user_tower, refit.epochs, /*refit=*/true);
  }
  summary.train_start_ms = data.start_ms;
  summary.train_end_ms = data.end_ms;
  summary.user_tower = retrieval::UserTowerName(chosen->config.user_tower);
  summary.validation_recall = chosen->recall;
  summary.epoch_loss = chosen->loss;
  summary.exported_epoch = chosen->best_epoch;
  for (const TowerRun& run : runs) {
    summary.train_seconds += run.seconds;
    (run.config.user_tower == retrieval::UserTower::kSequential ? summary.sequential_recall : summary.pooled_recall) =
        run.best_recall();
  }
  summary.examples_per_second = chosen->examples_per_second;
  if (!copy_error) {
    std::filesystem::copy_file(exported, bundle::BundleModelPath(bundle),
                               std::filesystem::copy_options::overwrite_existing, copy_error);
  }
  if (copy_error) {
    return absl::InternalError(
        absl::StrCat("cannot export the model to ", bundle::BundleModelPath(bundle), ": ", copy_error.message()));
  }
  if (o.show_progress) {
    std::fprintf(stderr, "train-retrieval: exporting the %s tower, epoch %d (validation Recall@%d %.4f)%s\n",
                 summary.user_tower.c_str(), chosen->best_epoch, o.validation_k, chosen->best_recall(),
                 summary.refit_epochs > 0 ? ", refit on all the data" : "");
  }

  bundle::BundleManifest m;
  m.kind = "two_tower";
  m.version = version;
  m.created_ms = SystemClock::Get()->NowMs();
  m.world = world_dir;
  m.protocol = o.protocol;
  m.two_tower = chosen->config;
  m.history_length = o.update.history_length;
  bundle::RetrievalTraining& t = m.train;
  t.start_ms = data.start_ms;
  t.end_ms = data.end_ms;
  t.validation_from_ms = data.validation_ms;
  // From the summary: the refit has moved the examples out of `data`.
  t.examples = static_cast<int64_t>(summary.train_examples);
  t.validation_examples = static_cast<int64_t>(std::min<uint64_t>(summary.validation_examples, o.max_validation));
  t.epochs = chosen->epochs;
  t.batch_size = chosen->batch_size;
  t.temperature = chosen->config.user_tower == retrieval::UserTower::kSequential ? 1.0 : o.temperature;
  t.full_softmax = chosen->full_softmax;
  t.pooled_recall = summary.pooled_recall;
  t.sequential_recall = summary.sequential_recall;
  t.logq_correction = o.logq_correction;
  t.uniform_negatives = o.uniform_negatives;
  t.min_grade = o.min_grade;
  t.seed = o.seed;
  t.examples_per_second = summary.examples_per_second;
  t.exported_epoch = summary.exported_epoch;
  t.refit_epochs = summary.refit_epochs;
  t.refit = summary.refit_epochs > 0 ? o.refit : "none";
  t.validation_k = o.validation_k;
  t.validation_recall = chosen->best_recall();
  m.complete = false;
  VREC_RETURN_IF_ERROR(WriteBundleManifest(bundle, m));
  return summary;
}

}  // namespace vrec::training
