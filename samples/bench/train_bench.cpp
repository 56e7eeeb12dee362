// train_bench: the C++ side of samples/bench/train_bench.sh. One measurement per call, printed
// as one JSON line, so the script can interleave it with the Python reference:
//   train_bench train --arch seed|default --epochs N --threads T   training pairs/s on AT&T
//       s11..s40 (300 pairs per epoch, batch 64, as seed_baseline.py train --protocol P2)
//   train_bench infer --arch seed|default --batch B --threads T    embeddings/s of one branch
//       (eval, inference mode) on the 100 images of s1..s10, as seed_baseline.py infer
// Data: --data DIR, else $SIAMESE_DATA, else ../shared/data/att_faces beside the source tree.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "bench_stats.h"
#include "dataset.h"
#include "identity_split.h"
#include "malloc_tuning.h"
#include "siamese/cli_core_flags.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "trainer.h"

namespace {

namespace cli = siamese::cli;
namespace st = siamese::training;

const cli::Program kProgramSpec{
    "train_bench",
    R"(usage: train_bench train|infer [options]

One measurement per call, printed as one JSON line (samples/bench/train_bench.sh interleaves it
with the Python reference):
  train   training pairs/s on AT&T s11..s40 (300 pairs per epoch, batch 64)
  infer   embeddings/s of one branch (eval, inference mode) on the 100 images of s1..s10

  --arch seed|default   the network (default seed)
  --epochs N            train: epochs (default 5; the first is left out of the median)
  --batch B             infer: faces per forward pass (default 1)
  --seconds S           infer: how long to measure (default 3)
  --threads N           CPU threads of LibTorch (default: LibTorch's choice)
  --data DIR            the AT&T faces (default $SIAMESE_DATA, else ../shared/data/att_faces)
)",
    {{"",
      {cli::Flag::choice("arch", {"seed", "default"}), cli::Flag::integer("epochs", 1, 10000),
       cli::Flag::integer("batch", 1, siamese::kMaxBatchSize),
       cli::Flag::number("seconds", 0.0, 600.0), cli::flags::threads(), cli::Flag::text("data")},
      1,
      1,
      "train|infer [options]"}}};
using Clock = std::chrono::steady_clock;

using siamese::bench::median;

st::FaceDataset att(const std::string& root, const std::string& list,
                    const siamese::InputSpec& spec) {
  siamese::ImageFolder folder = siamese::scan_image_folder(root);
  folder =
      siamese::select_identities(folder, st::parse_identity_list(list, folder.identities, "ids"));
  st::DatasetOptions options;
  options.spec = spec;
  return st::load_dataset(folder, options);
}

int run(const cli::Args& args) {
  const std::string mode = args.positionals().front();
  std::string data = args.text("data");
  if (data.empty()) {
    const char* env = std::getenv("SIAMESE_DATA");
    data = env && *env ? env : std::string(SIAMESE_SOURCE_DIR) + "/../shared/data/att_faces";
  }
  const std::string arch = args.text("arch", "seed");
  const int threads = static_cast<int>(args.integer("threads", 0));
  cli::apply_threads(args);
  siamese::ArchOptions a = siamese::ArchOptions().set_arch(arch);
  if (arch == "seed") a.set_embedding_size(5);
  const siamese::InputSpec spec = siamese::default_input_spec(a);
  nlohmann::json out = {{"side", "cpp"}, {"mode", mode}, {"arch", arch}, {"threads", threads}};

  if (mode == "train") {
    const st::FaceDataset train = att(data, "s11-s40", spec);
    st::TrainerOptions o;
    o.arch = a;
    o.spec = spec;
    o.epochs = static_cast<int>(args.integer("epochs", 5));
    o.margin = arch == "seed" ? st::kSeedMargin : st::kDefaultArchMargin;
    o.augment = false;  // the reference does not augment: same work per pair
    o.out = (std::filesystem::temp_directory_path() / ("train_bench_" + arch + ".pt")).string();
    o.checkpoint_interval_s = 1e9;
    // One tiny validation set (2 identities) so the model file is written as in real training;
    // pairs/s counts only the training steps.
    const st::FaceDataset val = att(data, "s1-s2", spec);
    const st::TrainSummary s = st::train(o, train, val);
    std::vector<double> rates;
    for (const auto& r : s.history) rates.push_back(r.pairs_per_s);
    // The first epoch warms allocators up, as in the reference's steady-state figure.
    if (rates.size() > 1) rates.erase(rates.begin());
    out["pairs_per_s"] = median(rates);
    out["epochs"] = o.epochs;
    std::filesystem::remove(o.out);
    std::filesystem::remove(s.checkpoint);
  } else if (mode == "infer") {
    const int batch = static_cast<int>(args.integer("batch", 1));
    const double seconds = args.number("seconds", 3.0);
    const st::FaceDataset faces = att(data, "s1-s10", spec);
    siamese::Network net = siamese::Network::create(a);
    siamese::ModelInfo info;
    info.arch = a;
    info.input = spec;
    siamese::Embedder embedder(siamese::LoadedModel{info, net, ""}, torch::kCPU, batch);
    torch::Tensor x = faces.images.narrow(0, 0, std::min<int64_t>(batch, faces.size()));
    if (x.size(0) < batch)
      x = x.repeat({(batch + x.size(0) - 1) / x.size(0), 1, 1, 1}).narrow(0, 0, batch);
    x = x.contiguous();
    for (int i = 0; i < 5; ++i) embedder.embed(x);  // warm-up, as the reference's
    std::vector<double> rates;
    const auto begin = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - begin).count() < seconds) {
      const int calls = std::max(1, 20 / batch);
      const auto t0 = Clock::now();
      for (int i = 0; i < calls; ++i) embedder.embed(x);
      rates.push_back(calls * batch / std::chrono::duration<double>(Clock::now() - t0).count());
    }
    out["batch"] = batch;
    out["emb_per_s"] = median(rates);
    out["runs"] = rates.size();
  } else {
    throw cli::UsageError("mode must be train or infer, not '" + mode + "'");
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  siamese::training::keep_freed_memory_for_reuse();
  return cli::run_main(kProgramSpec, argc, argv, run);
}
