// The training loop of siamese-train: pairs (or triplets) by the seed's rule through ONE shared
// network (both members in one forward pass), Adam, validation after every epoch, the best
// model by validation EER written with its calibrated threshold, checkpoints for --resume, and
// the plots. Fine-tuning (--init) starts from a model file's weights, with its first layers
// frozen, and validates those weights first (epoch 0), so a run that only makes the network
// worse on held-out people writes the initial weights back.
// Thread-safety: one train() call per thread; callbacks run on the calling thread.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "augment.h"
#include "dataset.h"
#include "epoch_record.h"
#include "losses.h"
#include "siamese/model_file.h"

namespace siamese::training {

class Communicator;

constexpr double kSeedMargin = 2.0;            // the seed's ContrastiveLoss margin
constexpr double kDefaultArchMargin = 1.0;     // unit-norm embeddings: distances in [0, 2]
constexpr double kDefaultTripletMargin = 0.3;  // triplet margin for unit-norm embeddings
constexpr double kDefaultLearningRate = 5e-4;
constexpr int kDefaultTrainBatch = 64;
constexpr int kSeedEpochs = 100;
constexpr int kDefaultArchEpochs = 120;  // converges: best validation EER ~epoch 60-110
constexpr double kDefaultArchWeightDecay = 5e-4;
constexpr double kCheckpointIntervalS = 60.0;  // checkpoint at most this often (and at the end)
constexpr int kMaxValidationImages = 2000;     // all pairs of at most this many images

enum class LrSchedule { kConstant, kCosine };

/// Which pairs of a batch the contrastive loss sees: the drawn pairs only (the seed), or every
/// pair among the batch's images (all, or each image's hardest genuine and impostor).
enum class PairMining { kDrawnPairs, kBatchAll, kBatchHard };

struct TrainerOptions {
  ArchOptions arch;
  InputSpec spec;  // geometry, normalisation and crop policy recorded in the model file
  LossKind loss = LossKind::kContrastive;
  double margin = kSeedMargin;
  int epochs = kSeedEpochs;
  int batch_size = kDefaultTrainBatch;
  double lr = kDefaultLearningRate;
  LrSchedule schedule = LrSchedule::kConstant;
  PairMining mining = PairMining::kDrawnPairs;
  double weight_decay = 0.0;
  bool augment = false;
  AugmentOptions augment_options;
  bool flip_average = false;  // recorded in the model file: embed each face and its mirror
  uint64_t seed = 0;
  torch::Device device = torch::kCPU;
  std::string out;         // the model file
  std::string checkpoint;  // "" = out + ".ckpt"
  std::string resume;      // checkpoint to continue from ("" = fresh start)
  std::string plots_dir;   // "" = no plots
  std::string origin;      // recorded in the model file (program, data)
  std::string licence;     // recorded in the model file (an --init model's, carried over)
  std::string init;        // model file whose weights training starts from ("" = fresh)
  int freeze = 0;          // the first layers (fine_tune.h's network_layers) kept frozen
  double checkpoint_interval_s = kCheckpointIntervalS;
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT): stop after this epoch
  // Data-parallel training (distributed.h): null or one rank = one process. Every rank draws the
  // same batches and computes its rows of each; rank 0 alone validates and writes files.
  std::shared_ptr<Communicator> comm;
};

struct TrainSummary {
  std::vector<EpochRecord> history;
  int best_epoch = 0;   // 0 with init: the initial weights stayed best (or nothing written)
  EpochRecord initial;  // with init and validation: the initial weights' figures (epoch 0)
  ModelInfo model;      // as written to the model file
  std::string checkpoint;
  bool interrupted = false;
  double training_s = 0;       // wall time of the epochs' optimisation steps (no validation)
  double communication_s = 0;  // of which in collectives (waiting for slower ranks included)
};

/// Called during an epoch: pairs done, pairs in the epoch, running mean loss, pairs per second.
using BatchCallback = std::function<void(long done, long total, double loss, double pairs_per_s)>;
/// Called after each epoch (validation included); with init, first for epoch 0 (the initial
/// weights, validated before any training).
using EpochCallback = std::function<void(const EpochRecord&)>;

/// Trains on train, validates on validation (no identities = on the training identities, and
/// then the last epoch is kept), writes the model file and checkpoints. With init, the network
/// starts from that model file (its architecture and input spec must be options.arch and
/// options.spec) with its first `freeze` layers frozen. Throws FileError naming a file that
/// cannot be read or written or a checkpoint that cannot be resumed, InputError for bad
/// options or an init model that does not fit them; with options.comm, DistributedError when a
/// peer rank is lost. Callbacks run on rank 0 only.
TrainSummary train(const TrainerOptions& options, const FaceDataset& train,
                   const FaceDataset& validation, const BatchCallback& on_batch = {},
                   const EpochCallback& on_epoch = {});

}  // namespace siamese::training
