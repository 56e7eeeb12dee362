#include "distributed.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

// LibTorch's c10d headers declare the Gloo and NCCL groups only under these macros; CMake sets
// SIAMESE_HAVE_GLOO where Gloo's headers exist (libgloo-dev) and SIAMESE_HAVE_NCCL where LibTorch
// was built with CUDA and ships ProcessGroupNCCL.
#ifdef SIAMESE_HAVE_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef SIAMESE_HAVE_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace siamese::training {
namespace {

// A whole number in [lo, hi] or InputError naming the variable or flag.
int parse_int(const std::string& text, const std::string& name, int lo, int hi) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || v < lo || v > hi) {
    throw InputError(name + "=" + text + ": expected a whole number from " + std::to_string(lo) +
                     " to " + std::to_string(hi));
  }
  return static_cast<int>(v);
}

// The first line of a LibTorch/Gloo message (the rest is a C++ stack trace).
[[maybe_unused]] std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

[[maybe_unused]] bool loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

DistributedConfig distributed_config_from_env(
    const std::function<const char*(const char*)>& getenv) {
  DistributedConfig c;
  auto value = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? v : "";
  };
  if (!value("WORLD_SIZE").empty()) {
    c.world_size = parse_int(value("WORLD_SIZE"), "WORLD_SIZE", 1, 1 << 20);
  }
  if (!value("RANK").empty()) c.rank = parse_int(value("RANK"), "RANK", 0, 1 << 20);
  if (!value("MASTER_ADDR").empty()) c.master_addr = value("MASTER_ADDR");
  if (!value("MASTER_PORT").empty()) {
    c.master_port = parse_int(value("MASTER_PORT"), "MASTER_PORT", 1, 65535);
  }
  return c;
}

void check_distributed_config(const DistributedConfig& c, const std::string& rank_name,
                              const std::string& world_name) {
  if (c.world_size < 1) {
    throw InputError(world_name + "=" + std::to_string(c.world_size) + ": must be at least 1");
  }
  if (c.rank < 0 || c.rank >= c.world_size) {
    throw InputError(rank_name + "=" + std::to_string(c.rank) + ": must be from 0 to " +
                     world_name + " - 1 (" + std::to_string(c.world_size - 1) + ")");
  }
  if (c.master_addr.empty()) throw InputError("MASTER_ADDR is empty");
  if (!(c.timeout_s > 0)) throw InputError("--dist-timeout must be positive");
}

std::pair<std::string, int> parse_master(const std::string& text, const std::string& flag) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw InputError(flag + " " + text + ": expected HOST:PORT, e.g. 10.0.0.1:29500");
  }
  return {text.substr(0, colon),
          parse_int(text.substr(colon + 1), flag + " " + text + ": port", 1, 65535)};
}

std::pair<int64_t, int64_t> shard_rows(int64_t rows, int rank, int world_size) {
  const int64_t k = std::max<int64_t>(1, std::min<int64_t>(world_size, rows / 2));
  if (rank >= k) return {rows, rows};
  const int64_t base = rows / k, extra = rows % k;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

#ifdef SIAMESE_HAVE_GLOO

bool distributed_available() { return true; }

struct Communicator::Impl {
  DistributedConfig config;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::string backend;
  torch::Device device = torch::kCPU;

  // Runs a collective; a failure becomes a DistributedError that says which one and why.
  template <typename F>
  void run(const std::string& what, F&& collective) {
    try {
      collective()->wait();
    } catch (const std::exception& e) {
      throw DistributedError("rank " + std::to_string(config.rank) + " of " +
                             std::to_string(config.world_size) + ": " + backend + " collective '" +
                             what + "' failed: a peer rank exited or stalled (--dist-timeout " +
                             std::to_string(static_cast<int>(config.timeout_s)) + " s, master " +
                             config.master() + "): " + first_line(e.what()));
    }
  }
};

std::shared_ptr<Communicator> Communicator::connect(const DistributedConfig& config) {
  check_distributed_config(config, "RANK", "WORLD_SIZE");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(config.master_port);
    options.isServer = config.rank == 0;
    options.numWorkers = static_cast<size_t>(config.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(config.master_addr, options);
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(config.rank) + " of " + std::to_string(config.world_size) +
        (config.rank == 0 ? ": cannot serve the rendezvous on " : ": cannot reach the master at ") +
        config.master() + " (MASTER_ADDR:MASTER_PORT or --master) within " +
        std::to_string(static_cast<int>(config.timeout_s)) + " s: " + first_line(e.what()));
  }
#ifdef SIAMESE_HAVE_NCCL
  if (config.device.rfind("cuda", 0) == 0) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, config.rank,
                                                              config.world_size, options);
    impl->backend = "nccl";
    impl->device = torch::Device(config.device);
    return std::shared_ptr<Communicator>(new Communicator(std::move(impl)));
  }
#endif
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // GLOO_SOCKET_IFNAME picks the network interface (as in PyTorch); a loopback master means
    // one host; otherwise the address this host's name resolves to.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    options->devices.push_back(ifname && *ifname
                                   ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                               : loopback(config.master_addr)
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, config.rank,
                                                              config.world_size, options);
    impl->backend = "gloo";
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(config.rank) + " of " + std::to_string(config.world_size) +
        ": the Gloo process group could not connect its peers (master " + config.master() +
        ", --dist-timeout " + std::to_string(static_cast<int>(config.timeout_s)) +
        " s): " + first_line(e.what()));
  }
  return std::shared_ptr<Communicator>(new Communicator(std::move(impl)));
}

void Communicator::all_reduce_sum(torch::Tensor& tensor, const std::string& what) {
  std::vector<torch::Tensor> tensors{tensor};
  impl_->run(what, [&] { return impl_->group->allreduce(tensors); });
}

void Communicator::broadcast(torch::Tensor& tensor, const std::string& what) {
  std::vector<torch::Tensor> tensors{tensor};
  impl_->run(what, [&] { return impl_->group->broadcast(tensors); });
}

torch::Tensor Communicator::all_gather_rows(const torch::Tensor& rows,
                                            const std::vector<int64_t>& counts,
                                            const std::string& what) {
  const int64_t most = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> shape = rows.sizes().vec();
  shape[0] = most;
  torch::Tensor padded = torch::zeros(shape, rows.options());
  if (rows.size(0) > 0) padded.narrow(0, 0, rows.size(0)).copy_(rows);
  std::vector<torch::Tensor> input{padded};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < world_size(); ++r) output[0].push_back(torch::empty_like(padded));
  impl_->run(what, [&] { return impl_->group->allgather(output, input); });
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world_size(); ++r) parts.push_back(output[0][r].narrow(0, 0, counts[r]));
  return torch::cat(parts);
}

void Communicator::barrier(const std::string& what) {
  impl_->run(what, [&] { return impl_->group->barrier(); });
}

#else  // no Gloo headers at build time: one process only

bool distributed_available() { return false; }

struct Communicator::Impl {
  DistributedConfig config;
  torch::Device device = torch::kCPU;
};

std::shared_ptr<Communicator> Communicator::connect(const DistributedConfig&) {
  throw DistributedError(
      "this siamese-train was built without Gloo (Debian: libgloo-dev), so WORLD_SIZE must be "
      "1");
}

void Communicator::all_reduce_sum(torch::Tensor&, const std::string&) {}
void Communicator::broadcast(torch::Tensor&, const std::string&) {}
torch::Tensor Communicator::all_gather_rows(const torch::Tensor& rows, const std::vector<int64_t>&,
                                            const std::string&) {
  return rows;
}
void Communicator::barrier(const std::string&) {}

#endif

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::~Communicator() = default;
int Communicator::rank() const { return impl_->config.rank; }
int Communicator::world_size() const { return impl_->config.world_size; }
const DistributedConfig& Communicator::config() const { return impl_->config; }
torch::Device Communicator::device() const { return impl_->device; }

}  // namespace siamese::training
