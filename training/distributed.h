// Data-parallel training across processes and machines (siamese-train with WORLD_SIZE > 1): the
// torchrun-style configuration (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and a Communicator
// over LibTorch's c10d (ProcessGroupGloo on CPU; NCCL where LibTorch was built with it).
// Thread-safety: a Communicator is used by one thread; every rank calls the same collectives in
// the same order.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "siamese/errors.h"

namespace siamese::training {

constexpr int kDefaultMasterPort = 29500;      // torchrun's
constexpr double kDefaultDistTimeoutS = 60.0;  // --dist-timeout: a lost peer is reported after

/// A collective that failed (a rank gone or stalled past the timeout) or a rendezvous that could
/// not be made; the message names the collective, the rank and the master address.
class DistributedError : public Error {
 public:
  using Error::Error;
};

struct DistributedConfig {
  int rank = 0;
  int world_size = 1;  // 1 = one process, no communication at all
  std::string master_addr = "127.0.0.1";
  int master_port = kDefaultMasterPort;
  double timeout_s = kDefaultDistTimeoutS;
  std::string device = "cpu";  // the training device: "cuda..." selects NCCL where built

  bool distributed() const { return world_size > 1; }
  std::string master() const { return master_addr + ":" + std::to_string(master_port); }
};

/// Reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT through getenv (unset: defaults). Throws
/// InputError naming the variable when one is not a number in range (RANK < WORLD_SIZE).
DistributedConfig distributed_config_from_env(
    const std::function<const char*(const char*)>& getenv);

/// Throws InputError naming what (e.g. "--rank" or "RANK") when config does not hold together.
void check_distributed_config(const DistributedConfig& config, const std::string& rank_name,
                              const std::string& world_name);

/// "HOST:PORT" (--master) -> address and port; throws InputError naming the flag.
std::pair<std::string, int> parse_master(const std::string& text, const std::string& flag);

/// Whether this build can train with more than one rank (Gloo headers found at build time).
bool distributed_available();

/// One rank's membership of the process group. Collectives block until every rank has joined
/// them, or throw DistributedError after the timeout (or at once when a peer's socket closes).
class Communicator {
 public:
  /// Joins the group: rank 0 serves the rendezvous store on master_port, the others connect to
  /// it. Throws DistributedError naming the master address when it cannot be reached in time.
  static std::shared_ptr<Communicator> connect(const DistributedConfig& config);
  ~Communicator();

  int rank() const;
  int world_size() const;
  const DistributedConfig& config() const;
  /// Where collectives' tensors must be: the CPU for Gloo, the training GPU for NCCL.
  torch::Device device() const;

  /// In place: every rank's tensor replaced by the element-wise sum over ranks. what names the
  /// collective in errors ("the gradients of step 12").
  void all_reduce_sum(torch::Tensor& tensor, const std::string& what);
  /// In place: rank 0's tensor copied into every rank's (same shape and dtype on each).
  void broadcast(torch::Tensor& tensor, const std::string& what);
  /// Each rank's rows [counts[rank], ...] (same trailing shape and dtype on every rank) -> all
  /// of them concatenated in rank order, on every rank; counts holds every rank's row count.
  torch::Tensor all_gather_rows(const torch::Tensor& rows, const std::vector<int64_t>& counts,
                                const std::string& what);
  /// Returns when every rank has reached it.
  void barrier(const std::string& what);

 private:
  struct Impl;
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Rows [begin, end) of a batch of rows rows that rank computes: contiguous, in rank order, at
/// least two rows per rank that gets any (BatchNorm in training needs two), the rest empty.
std::pair<int64_t, int64_t> shard_rows(int64_t rows, int rank, int world_size);

}  // namespace siamese::training
