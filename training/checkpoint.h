// Training checkpoints for --resume: the network's weights and buffers, the Adam state and the
// trainer's own state (epoch, sampler generator, best-so-far, history) in one torch::save
// archive, written atomically. Thread-safety: free functions.
#pragma once

#include <torch/serialize.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "epoch_record.h"
#include "siamese/model.h"
#include "siamese/preprocess.h"

namespace siamese::training {

/// What the trainer needs besides weights to continue where it stopped.
struct CheckpointState {
  ArchOptions arch;
  InputSpec spec;
  std::string loss;  // loss_kind_name()
  double margin = 0.0;
  int epoch = 0;              // completed epochs
  std::string sampler_state;  // PairSampler::state()
  double best_eer = 2.0;      // > 1 = none yet
  double best_auc = 0.0;
  int best_epoch = 0;
  std::string best_fingerprint;  // of the model file written for best_epoch
  std::vector<EpochRecord> history;
};

/// Writes network, optimizer and state to path (through a temporary file, then renamed).
/// Throws FileError naming the path.
void save_checkpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer,
                     const CheckpointState& state);

/// Reads only the trainer state (to build the network first). Throws FileError naming the path
/// when it is missing, truncated or not a siamese-train checkpoint.
CheckpointState read_checkpoint_state(const std::string& path);

/// Loads weights into network and the Adam state into optimizer (tensors onto device).
/// Throws FileError naming the path when they do not fit.
void load_checkpoint_weights(const std::string& path, Network& network,
                             torch::optim::Optimizer& optimizer, torch::Device device);

}  // namespace siamese::training
