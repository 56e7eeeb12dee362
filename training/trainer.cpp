#include "trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "checkpoint.h"
#include "distributed.h"
#include "fine_tune.h"
#include "pair_sampler.h"
#include "plots.h"
#include "siamese/errors.h"
#include "siamese/log.h"
#include "validation.h"

namespace siamese::training {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kCosineFloor = 0.02;  // the cosine schedule ends at 2% of the initial rate
constexpr int kGridPairs = 8;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double learning_rate(const TrainerOptions& o, int epoch) {
  if (o.schedule == LrSchedule::kConstant || o.epochs <= 1) return o.lr;
  const double progress = static_cast<double>(epoch - 1) / (o.epochs - 1);
  return o.lr * (kCosineFloor + (1 - kCosineFloor) * 0.5 * (1 + std::cos(M_PI * progress)));
}

void set_learning_rate(torch::optim::Adam& adam, double lr) {
  for (auto& group : adam.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
}

torch::Tensor index_tensor(const std::vector<int64_t>& v, torch::Device device) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

void check_options(const TrainerOptions& o) {
  if (o.epochs < 1) throw InputError("--epochs must be at least 1");
  if (o.batch_size < 1) throw InputError("--batch-size must be at least 1");
  if (!(o.lr > 0)) throw InputError("--lr must be positive");
  if (!(o.margin > 0)) throw InputError("--margin must be positive");
  if (o.out.empty()) throw InputError("--out: a model file is needed");
}

bool same_input(const InputSpec& a, const InputSpec& b) {
  return a.width == b.width && a.height == b.height && a.channels == b.channels &&
         a.scale == b.scale && a.mean == b.mean && a.std == b.std && a.crop == b.crop;
}

// The init model must be what the caller prepared the data for: its architecture, its input.
void check_init_fits(const TrainerOptions& o, const ModelInfo& init) {
  if (init.arch.arch != o.arch.arch || init.arch.embedding_size != o.arch.embedding_size ||
      (o.arch.arch == "default" && init.arch.base_channels != o.arch.base_channels)) {
    throw InputError("--init " + o.init + ": the model is arch '" + init.arch.arch + "' (" +
                     std::to_string(init.arch.embedding_size) + "-D), not the '" + o.arch.arch +
                     "' (" + std::to_string(o.arch.embedding_size) + "-D) being trained");
  }
  if (!same_input(init.input, o.spec)) {
    throw InputError("--init " + o.init +
                     ": the training images were prepared for another input (size, channels, "
                     "normalisation or crop policy) than the model's");
  }
}

// Every image, or an even spread of kMaxValidationImages of them (all pairs grow as N^2).
FaceDataset capped(const FaceDataset& data) {
  if (data.size() <= kMaxValidationImages) return data;
  FaceDataset out = data;
  std::vector<int64_t> rows;
  out.labels.clear();
  out.paths.clear();
  for (int64_t k = 0; k < kMaxValidationImages; ++k) {
    const int64_t i = k * data.size() / kMaxValidationImages;
    rows.push_back(i);
    out.labels.push_back(data.labels[i]);
    out.paths.push_back(data.paths[i]);
  }
  out.images = data.images.index_select(0, torch::tensor(rows));
  return out;
}

std::string plot_path(const TrainerOptions& o, const std::string& name) {
  return (std::filesystem::path(o.plots_dir) / name).string();
}

std::string percent(double v) {
  std::ostringstream s;
  s.precision(3);
  s << 100.0 * v << "%";
  return s.str();
}

// The plots of the model being written: ROC and distance histograms of its validation pairs.
void plot_validation(const TrainerOptions& o, const Validation& v, int epoch,
                     const std::string& what) {
  std::ostringstream title;
  title.precision(4);
  title << what << ", epoch " << epoch << ": AUC " << v.figures.auc << ", EER "
        << percent(v.figures.eer);
  save_roc_curve(plot_path(o, "roc.png"), v.scores, "ROC, " + title.str());
  save_distance_histograms(plot_path(o, "distances.png"), v.scores, v.threshold,
                           "distances, " + title.str());
}

// Every floating tensor of tensors, flattened into one buffer per collective (one round trip, not
// one per layer), then written back: summed over ranks, or rank 0's.
void sync_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, bool sum,
                  const std::string& what) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : tensors) {
    if (t.is_floating_point()) {
      flat_parts.push_back(t.reshape(-1).to(torch::kFloat32));
    } else {
      torch::Tensor copy = t.contiguous().to(comm.device());
      comm.broadcast(copy, what);
      t.copy_(copy);
    }
  }
  if (flat_parts.empty()) return;
  torch::Tensor flat = torch::cat(flat_parts).to(comm.device());
  if (sum) {
    comm.all_reduce_sum(flat, what);
  } else {
    comm.broadcast(flat, what);
  }
  flat = flat.to(tensors.front().device());
  int64_t offset = 0;
  for (const auto& t : tensors) {
    if (!t.is_floating_point()) continue;
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

std::vector<torch::Tensor> weights_and_buffers(Network& net) {
  std::vector<torch::Tensor> all = net.parameters();
  for (const auto& b : net.module()->buffers()) all.push_back(b);
  return all;
}

}  // namespace

TrainSummary train(const TrainerOptions& options, const FaceDataset& train_data,
                   const FaceDataset& validation_data, const BatchCallback& on_batch,
                   const EpochCallback& on_epoch) {
  check_options(options);
  Communicator* const comm =
      options.comm && options.comm->world_size() > 1 ? options.comm.get() : nullptr;
  const bool lead = !comm || comm->rank() == 0;  // validates, reports and writes files
  const torch::Device device = options.device;
  const bool has_validation = validation_data.size() > 0;
  TrainSummary summary;
  summary.checkpoint = options.checkpoint.empty() ? options.out + ".ckpt" : options.checkpoint;
  if (lead && !options.plots_dir.empty()) std::filesystem::create_directories(options.plots_dir);

  // State: fresh, or from the checkpoint (whose architecture and input win).
  CheckpointState state;
  state.arch = options.arch;
  state.spec = options.spec;
  state.loss = loss_kind_name(options.loss);
  state.margin = options.margin;
  if (!options.resume.empty()) {
    const CheckpointState saved = read_checkpoint_state(options.resume);
    if (saved.arch.arch != options.arch.arch) {
      throw InputError("--resume " + options.resume + ": the checkpoint trains arch '" +
                       saved.arch.arch + "', not '" + options.arch.arch + "' (use --arch " +
                       saved.arch.arch + ")");
    }
    if (saved.loss != state.loss) {
      throw InputError("--resume " + options.resume + ": the checkpoint trains with the " +
                       saved.loss + " loss, not " + state.loss);
    }
    if (saved.epoch >= options.epochs) {
      throw InputError("--resume " + options.resume + ": the checkpoint has already done " +
                       std::to_string(saved.epoch) + " epochs; ask for more with --epochs");
    }
    state = saved;
  }

  torch::manual_seed(options.seed);
  Network net = Network::create(state.arch);
  const bool from_init = !options.init.empty() && options.resume.empty();
  if (from_init) {
    LoadedModel init = load_model(options.init);
    if (init.network.is_script()) {
      throw InputError("--init " + options.init + ": a TorchScript module cannot be fine-tuned");
    }
    check_init_fits(options, init.info);
    net = init.network;
  }
  net.to(device);
  // Frozen layers get no gradient, so Adam (which skips parameters without one) never moves
  // them, and --resume restores an optimizer of the same parameter list.
  const FrozenLayers frozen = freeze_layers(net, options.freeze);
  torch::optim::Adam adam(net.parameters(),
                          torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
  PairSampler sampler(train_data.labels, options.seed);
  if (!options.resume.empty()) {
    load_checkpoint_weights(options.resume, net, adam, device);
    sampler.set_state(state.sampler_state);
    // The best-so-far counts only when the model file still holds that model.
    bool kept = false;
    if (lead && !state.best_fingerprint.empty() && std::filesystem::exists(options.out)) {
      try {
        kept = load_model(options.out).info.fingerprint == state.best_fingerprint;
      } catch (const Error&) {
      }
    }
    if (!kept) {
      state.best_eer = 2.0;
      state.best_auc = 0.0;
      state.best_epoch = 0;
    }
    log(LogLevel::kInfo,
        "resuming " + options.resume + " after epoch " + std::to_string(state.epoch));
  }
  summary.history = state.history;
  summary.best_epoch = state.best_epoch;
  if (comm) {
    // Every rank starts from rank 0's weights and statistics (fresh, --init or --resume alike).
    sync_tensors(*comm, weights_and_buffers(net), false, "broadcast of rank 0's initial weights");
  }

  const FaceDataset validation = capped(has_validation ? validation_data : train_data);
  const torch::Tensor images = train_data.images.to(device);
  const torch::Tensor labels =
      torch::tensor(std::vector<int64_t>(train_data.labels.begin(), train_data.labels.end()))
          .to(device);
  const int64_t n = train_data.size();
  const InputSpec& spec = state.spec;

  if (lead && !options.plots_dir.empty()) {
    PairSampler shown(train_data.labels, options.seed + 1);  // leaves training draws alone
    const PairBatch p = shown.pairs(kGridPairs);
    // The grid's own images (first members, then second members), augmented as in training.
    std::vector<int64_t> rows(p.first);
    rows.insert(rows.end(), p.second.begin(), p.second.end());
    torch::Tensor shown_images = train_data.images.index_select(0, torch::tensor(rows));
    if (options.augment) {
      std::mt19937 rng(static_cast<std::mt19937::result_type>(options.seed + 2));
      shown_images = augment_batch(shown_images, spec, options.augment_options, rng);
    }
    std::vector<std::pair<int64_t, int64_t>> pairs;
    std::vector<bool> different;
    for (int64_t i = 0; i < static_cast<int64_t>(p.first.size()); ++i) {
      pairs.emplace_back(i, i + static_cast<int64_t>(p.first.size()));
      different.push_back(p.different[i] > 0.5f);
    }
    save_pair_grid(plot_path(options, "pairs.png"), shown_images, pairs, different, spec);
  }

  ModelInfo info = fresh_model_info(state.arch);
  info.input = spec;  // a fine-tuned model keeps its initial model's geometry
  info.flip_average = options.flip_average;
  info.licence = options.licence;
  const EmbeddingRule rule = embedding_rule(info);

  auto write_model = [&](const Validation& v, int epoch) {
    info.embedding_size = v.embedding_size;
    info.threshold = static_cast<float>(v.threshold);
    info.validation = v.figures;
    if (has_validation) {
      // The 1e-4 false-accept point (1:N galleries) needs more impostors than validation has.
      Validation with_cross = v;
      add_cross_impostors(
          with_cross, embed_all(net, spread_rows(train_data.images, kMaxCrossImages), device, rule),
          v.embeddings);
      info.validation.tar_at_far_1e4 = with_cross.figures.tar_at_far_1e4;
      info.validation.threshold_at_far_1e4 = with_cross.figures.threshold_at_far_1e4;
      info.validation.impostor_pairs = with_cross.figures.impostor_pairs;
      info.validation.impostor_tail = with_cross.figures.impostor_tail;
    }
    std::ostringstream origin;
    origin << options.origin << (options.origin.empty() ? "" : "; ") << "epoch " << epoch
           << (epoch == 0 ? " (the initial weights)" : "") << " of " << options.epochs << ", "
           << state.loss << " loss margin " << state.margin
           << (options.mining == PairMining::kBatchHard  ? " (batch-hard pairs)"
               : options.mining == PairMining::kBatchAll ? " (all pairs of a batch)"
                                                         : "")
           << ", seed " << options.seed;
    info.origin = origin.str();
    save_model(options.out, net, info);
    info = load_model(options.out).info;  // as a user will read it (fingerprint included)
    summary.model = info;
  };

  // Ranks other than 0 wait here while rank 0 validates and writes (within --dist-timeout).
  const auto wait_for_lead = [&](const std::string& what) {
    if (comm) comm->barrier(what);
  };
  if (from_init && has_validation && lead) {
    // Epoch 0: the initial weights, validated like an epoch; an epoch must beat them to be kept.
    const Validation v = validate(net, validation, device, rule);
    EpochRecord record;
    record.epoch = 0;
    record.validated = true;
    record.validation = v.figures;
    record.threshold = v.threshold;
    record.best = true;
    state.best_eer = v.figures.eer;
    state.best_auc = v.figures.auc;
    state.best_epoch = 0;
    write_model(v, 0);
    state.best_fingerprint = summary.model.fingerprint;
    summary.initial = record;
    if (on_epoch) on_epoch(record);
  }
  if (from_init && has_validation) wait_for_lead("rank 0's validation of the --init weights");

  // With ranks, each computes the embeddings of its rows of the batch (shard_rows), and all of
  // them are gathered, so every rank evaluates the whole batch's loss (any mining) with its own
  // rows differentiable; the gradients' sum over ranks is then the one-process gradient.
  const int embedding_size = state.arch.embedding_size;
  long step = 0;
  const auto forward = [&](const torch::Tensor& x) -> torch::Tensor {
    if (!comm) return net.forward(x);
    const int64_t rows = x.size(0);
    std::vector<int64_t> counts;
    for (int r = 0; r < comm->world_size(); ++r) {
      const auto shard = shard_rows(rows, r, comm->world_size());
      counts.push_back(shard.second - shard.first);
    }
    const auto [begin, end] = shard_rows(rows, comm->rank(), comm->world_size());
    const torch::Tensor mine =
        end > begin ? net.forward(x.narrow(0, begin, end - begin))
                    : torch::empty({0, embedding_size}, x.options().dtype(torch::kFloat32));
    const auto t = Clock::now();
    const torch::Tensor all = comm->all_gather_rows(mine.detach().to(comm->device()), counts,
                                                    "embeddings of step " + std::to_string(step))
                                  .to(device);
    summary.communication_s += seconds_since(t);
    if (end == begin) return all;
    return torch::cat({all.narrow(0, 0, begin), mine, all.narrow(0, end, rows - end)});
  };
  // The gradients summed over ranks (a rank without rows adds zeros), one buffer per step.
  std::vector<torch::Tensor> trained;
  for (const auto& p : net.parameters()) {
    if (p.requires_grad()) trained.push_back(p);
  }
  const auto reduce_gradients = [&] {
    std::vector<torch::Tensor> grads;
    for (auto& p : trained) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    const auto t = Clock::now();
    sync_tensors(*comm, grads, true, "all-reduce of the gradients of step " + std::to_string(step));
    summary.communication_s += seconds_since(t);
  };

  auto last_checkpoint = Clock::now();
  int epoch = state.epoch;
  while (epoch < options.epochs) {
    ++epoch;
    const double lr = learning_rate(options, epoch);
    set_learning_rate(adam, lr);
    net.train(true);
    keep_frozen_in_eval(frozen);  // their BatchNorm statistics stay as they are
    const auto t0 = Clock::now();
    double loss_sum = 0.0;
    long done = 0;
    // One optimiser step on a batch of m pairs or triplets, and its progress report.
    const auto optimise = [&](const torch::Tensor& loss, int64_t m) {
      adam.zero_grad();
      if (loss.requires_grad()) loss.backward();  // a rank without rows has nothing to do
      if (comm) reduce_gradients();
      adam.step();
      ++step;
      loss_sum += loss.item<double>() * static_cast<double>(m);
      done += static_cast<long>(m);
      if (lead && on_batch)
        on_batch(done, static_cast<long>(n), loss_sum / done, done / seconds_since(t0));
    };
    if (options.loss == LossKind::kContrastive) {
      const PairBatch pairs = sampler.pairs(n);
      for (int64_t b = 0; b < n; b += options.batch_size) {
        const int64_t m = std::min<int64_t>(options.batch_size, n - b);
        const std::vector<int64_t> i0(pairs.first.begin() + b, pairs.first.begin() + b + m);
        const std::vector<int64_t> i1(pairs.second.begin() + b, pairs.second.begin() + b + m);
        const std::vector<float> y(pairs.different.begin() + b, pairs.different.begin() + b + m);
        const torch::Tensor rows = torch::cat({index_tensor(i0, device), index_tensor(i1, device)});
        torch::Tensor x = images.index_select(0, rows);
        // Every rank augments the whole batch, so the shared rng stays in step across ranks.
        if (options.augment) x = augment_batch(x, spec, options.augment_options, sampler.rng());
        const torch::Tensor out = forward(x);
        const torch::Tensor loss =
            options.mining == PairMining::kDrawnPairs
                ? contrastive_loss(out.narrow(0, 0, m), out.narrow(0, m, m),
                                   torch::tensor(y).to(device), state.margin)
                : batch_contrastive_loss(out, labels.index_select(0, rows), state.margin,
                                         options.mining == PairMining::kBatchHard);
        optimise(loss, m);
      }
    } else {
      const TripletBatch t = sampler.triplets(n);
      for (int64_t b = 0; b < n; b += options.batch_size) {
        const int64_t m = std::min<int64_t>(options.batch_size, n - b);
        auto slice = [&](const std::vector<int64_t>& v) {
          return images.index_select(
              0, index_tensor(std::vector<int64_t>(v.begin() + b, v.begin() + b + m), device));
        };
        torch::Tensor x = torch::cat({slice(t.anchor), slice(t.positive), slice(t.negative)});
        if (options.augment) x = augment_batch(x, spec, options.augment_options, sampler.rng());
        const torch::Tensor out = forward(x);
        const torch::Tensor loss = triplet_loss(out.narrow(0, 0, m), out.narrow(0, m, m),
                                                out.narrow(0, 2 * m, m), state.margin);
        optimise(loss, m);
      }
    }
    EpochRecord record;
    record.epoch = epoch;
    record.loss = loss_sum / std::max(1L, done);
    record.lr = lr;
    record.seconds = seconds_since(t0);
    record.pairs_per_s = done / record.seconds;
    summary.training_s += record.seconds;
    if (comm) {
      // BatchNorm normalised each rank's rows with their own statistics; the running
      // statistics that validation and the model file use are the mean over ranks.
      std::vector<torch::Tensor> statistics;
      for (const auto& b : net.module()->named_buffers()) {
        if (b.value().is_floating_point()) statistics.push_back(b.value());
      }
      if (!statistics.empty()) {
        sync_tensors(*comm, statistics, true,
                     "BatchNorm statistics of epoch " + std::to_string(epoch));
        torch::NoGradGuard no_grad;
        for (auto& b : statistics) b.div_(comm->world_size());
      }
    }
    if (!std::isfinite(record.loss)) {
      throw InputError("training diverged at epoch " + std::to_string(epoch) +
                       " (loss is not finite); try a smaller --lr");
    }

    if (has_validation && lead) {
      const Validation v = validate(net, validation, device, rule);
      record.validated = true;
      record.validation = v.figures;
      record.threshold = v.threshold;
      const bool better = v.figures.eer < state.best_eer ||
                          (v.figures.eer == state.best_eer && v.figures.auc > state.best_auc);
      if (better) {
        state.best_eer = v.figures.eer;
        state.best_auc = v.figures.auc;
        state.best_epoch = epoch;
        record.best = true;
        write_model(v, epoch);
        state.best_fingerprint = summary.model.fingerprint;
        if (!options.plots_dir.empty()) plot_validation(options, v, epoch, "validation");
      }
    }
    summary.history.push_back(record);
    state.history = summary.history;
    state.epoch = epoch;
    if (lead && !options.plots_dir.empty()) {
      save_loss_curve(plot_path(options, "loss.png"), summary.history);
      write_history_csv(plot_path(options, "history.csv"), summary.history);
    }
    if (lead && on_epoch) on_epoch(record);
    // A stop request takes effect between epochs, so the checkpoint is an exact epoch boundary.
    summary.interrupted = options.stop && options.stop->load() && epoch < options.epochs;
    if (comm) {
      // A stop on any rank stops them all at the same epoch.
      torch::Tensor stop = torch::tensor({summary.interrupted ? 1.0f : 0.0f}).to(comm->device());
      comm->all_reduce_sum(stop, "stop request of epoch " + std::to_string(epoch));
      summary.interrupted = stop.cpu().item<float>() > 0;
    }
    if (lead && (epoch == options.epochs || summary.interrupted ||
                 seconds_since(last_checkpoint) >= options.checkpoint_interval_s)) {
      state.sampler_state = sampler.state();
      save_checkpoint(summary.checkpoint, net, adam, state);
      last_checkpoint = Clock::now();
    }
    wait_for_lead("rank 0's validation and checkpoint of epoch " + std::to_string(epoch));
    if (summary.interrupted) break;
  }

  if (!has_validation && epoch > 0 && lead) {
    // No held-out identities: calibrate on the training identities (optimistic) and keep the
    // last epoch.
    const Validation v = validate(net, validation, device, rule);
    write_model(v, epoch);
    state.best_epoch = epoch;
    if (!options.plots_dir.empty()) plot_validation(options, v, epoch, "training identities");
    if (!summary.history.empty()) summary.history.back().best = true;
  }
  wait_for_lead("rank 0's final model file");
  summary.best_epoch = state.best_epoch;
  if (lead && !state.best_fingerprint.empty() && summary.model.fingerprint.empty() &&
      std::filesystem::exists(options.out)) {
    summary.model = load_model(options.out).info;
  }
  return summary;
}

}  // namespace siamese::training
