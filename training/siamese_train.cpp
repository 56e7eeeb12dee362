// siamese-train: trains the Siamese embedding network on an identity-per-folder image tree and
// writes the model file (weights, input facts, crop policy, calibrated threshold).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <tuple>

#include "checkpoint.h"
#include "crop_calibration.h"
#include "distributed.h"
#include "fine_tune.h"
#include "identity_split.h"
#include "lfw_pairs.h"
#include "malloc_tuning.h"
#include "siamese/cli_core_flags.h"
#include "siamese/device.h"
#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/log.h"
#include "siamese/model_file.h"
#include "siamese/progress_bar.h"
#include "trainer.h"

namespace {

namespace cli = siamese::cli;
namespace st = siamese::training;

constexpr const char* kProgram = "siamese-train";

constexpr const char* kUsage = R"(usage: siamese-train --data DIR --out MODEL [options]

Trains the Siamese (shared-weight) face-embedding network with contrastive loss on DIR, which
holds one subfolder of images (PGM, PNG, JPEG, ...) per identity, and writes MODEL: the weights
with their input facts, crop policy and the distance threshold calibrated on validation
identities (never seen in training).

data:
  --data DIR                training images, one subfolder per identity
  --identities LIST         use only these identities of DIR, e.g. "s11-s40" or "s1,s2,s7"
  --identities-file FILE    use only the identities named in FILE, one per line
  --exclude-pairs FILE      leave out every person named in an LFW pairs file (pairs.txt), so
                            the model can be tested on its pairs (siamese-eval --pairs)
  --min-images N            skip identities with fewer usable images (default 2; 1 keeps
                            people with one image: they give impostor pairs, and a genuine
                            pair is drawn from a person with two or more)
  --val-data DIR            validation identities from another folder
  --val-identities N        hold the last N identities (of those with two or more images) out
                            for validation (default: a fifth of those, at least 2; 0 = none:
                            calibrate on training)
  --val-identities-list L   validation identities of DIR (or of --val-data), e.g. "s31-s40"
  --detect                  train on face-detector crops (each image placed on a larger
                            background) instead of whole pre-cropped images
  --align none|landmarks68  with --detect: cut each face out along face-api's 68 landmarks
                            instead of framing the detector's box; recorded in the model's crop
                            policy, so enrollment, eval and the element align alike (default:
                            the --init model's, else none)
  --align-points dlib33|five  with landmarks68: fit the 33 points dlib's chips fit, or the eye
                            centres, nose tip and mouth corners (default: the --init model's,
                            else dlib33)
  --align-mirror, --no-align-mirror  with landmarks68: run the landmark chain on the mirrored
                            face too and average the points (default: the --init model's, else
                            on)
  --align-padding P         the template's margin on each side, in face widths of dlib's mean
                            face (default 0.25, dlib's 150x150 chip, for dlib-resnet; 0.35 for
                            seed and default, about their detector crops' framing)
  --detector KIND           with --detect: the face detector, haar (default), lbp, cnn or
                            hog. cnn: face-api's TinyFaceDetector (needs
                            tests/fetch_weights.sh); hog: dlib's HOG detector (needs
                            libdlib-dev at build time). Both search photos as they are and
                            place only head crops on a background
  --detector-threshold T    cnn: the score a face needs, in [0.01, 0.99] (default 0.5)
  --detector-input-size N   cnn: its input side, a multiple of 32 (default 416; 320, 224 faster)
model and loss:
  --out MODEL               the model file to write (the best epoch by validation EER)
  --arch seed|default       seed: the seed's network (1x100x100 -> 5); default: a compact
                            residual CNN, 1x64x64 -> 128, unit-norm embedding (default)
  --loss contrastive|triplet  (default contrastive, as the seed)
  --margin M                loss margin (default: 2.0 for seed, 1.0 for default; triplet 1.0/0.3)
  --mining none|all|hard    which pairs of a batch the contrastive loss sees: none = only the
                            drawn pairs (the seed); all = every pair among the batch's images;
                            hard = each image's farthest genuine and nearest impostor in the
                            batch (default: hard for default, else none)
optimisation:
  --epochs N                (default: 100 for seed, 120 for default)
  --batch-size N            pairs per step (default 64)
  --lr X                    Adam learning rate (default 0.0005)
  --weight-decay X          Adam's L2 weight decay (default: 0 for seed, 0.0005 for default)
  --schedule constant|cosine  learning-rate schedule (default: constant for seed, cosine
                            for default)
  --augment, --no-augment   random flip, shift, scale, rotation, brightness, erasing (default:
                            on for default, off for seed as the seed trains)
  --flip-average, --no-flip-average
                            the model embeds each face and its mirror image and keeps the
                            mean, in validation and wherever it is used (default: on for
                            default, off for seed as the seed computes)
  --seed N                  seed of weights, pair draws and augmentation (default 0)
  --resume CKPT             continue from a checkpoint (written beside MODEL as MODEL.ckpt;
                            give the same --init and --freeze again)
fine-tuning:
  --init MODEL              start from MODEL's weights (a siamese-train or siamese-import model
                            file of any architecture: seed, default, dlib-resnet); its
                            architecture, input (size, channels, normalisation) and crop
                            policy are kept, and its flip-average unless given. The initial
                            weights are validated first (epoch 0): an epoch must beat them on
                            the validation identities to replace them in MODEL. Defaults
                            change: --lr 1e-5 for dlib-resnet, 5e-5 for the others;
                            --epochs 5; --weight-decay 0; and the early layers are frozen
  --freeze N                keep the first N layers frozen (0 = train them all)
  --freeze-until LAYER      keep the layers before LAYER frozen (default with --init:
                            conv256_down for dlib-resnet, features.6 for default, fc.0 for
                            seed: the last stage and the head train). Frozen layers get no
                            gradient and their BatchNorm/scale layers stay in eval mode
machine and output:
  --device auto|cpu|cuda[:N]  (default auto)
  --threads N               CPU threads of LibTorch (default: LibTorch's choice)
  --plots DIR               write pairs.png, loss.png, roc.png, distances.png, history.csv
  --help                    this text
several processes or machines (data-parallel, c10d Gloo; like torchrun, from the environment
RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, or these flags, which win over it):
  --rank N                  this process's rank, 0 .. world size - 1 (rank 0 validates and
                            writes MODEL and the checkpoint)
  --world-size N            processes in the job (default 1: one process, as without it)
  --master HOST:PORT        rank 0's rendezvous address (default 127.0.0.1:29500)
  --dist-timeout S          seconds a collective waits for a lost or stalled rank before every
                            other rank exits with an error (default 60)

Ctrl-C stops after the current epoch and writes the checkpoint for --resume (twice: at once).
Exit status: 0 done, 1 error (data, files, device), 2 usage error, 130 interrupted.
)";

std::atomic<bool> g_stop{false};

// The first Ctrl-C asks for a stop after the current epoch (checkpoint written); a second one
// ends the program at once.
void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);
}

const cli::Program kProgramSpec{
    kProgram,
    kUsage,
    {{"",
      std::vector<cli::Flag>{cli::Flag::text("data"),
                             cli::Flag::text("out"),
                             cli::Flag::text("identities"),
                             cli::Flag::text("identities-file"),
                             cli::Flag::text("exclude-pairs"),
                             cli::Flag::integer("min-images", 1, 1000000),
                             cli::Flag::text("init"),
                             cli::Flag::integer("freeze", 0, 1000000),
                             cli::Flag::text("freeze-until"),
                             cli::Flag::text("val-data"),
                             cli::Flag::integer("val-identities", 0, 1000000),
                             cli::Flag::text("val-identities-list"),
                             cli::Flag::on_off("detect"),
                             cli::Flag::choice("arch", {"seed", "default"}),
                             cli::Flag::choice("loss", {"contrastive", "triplet"}),
                             cli::Flag::number("margin", 1e-6, 1e6),
                             cli::Flag::integer("epochs", 1, 1000000),
                             cli::flags::batch_size(),
                             cli::Flag::number("lr", 1e-9, 10.0),
                             cli::Flag::number("weight-decay", 0.0, 1.0),
                             cli::Flag::choice("schedule", {"constant", "cosine"}),
                             cli::Flag::choice("mining", {"none", "all", "hard"}),
                             cli::Flag::on_off("augment"),
                             cli::Flag::on_off("no-augment"),
                             cli::Flag::on_off("flip-average"),
                             cli::Flag::on_off("no-flip-average"),
                             cli::Flag::integer("seed", 0, 2147483647L),
                             cli::Flag::text("resume"),
                             cli::Flag::integer("rank", 0, 1 << 20),
                             cli::Flag::integer("world-size", 1, 1 << 20),
                             cli::Flag::text("master"),
                             cli::Flag::number("dist-timeout", 0.001, 86400.0),
                             cli::flags::device(),
                             cli::flags::threads(),
                             cli::Flag::text("plots"),
                             cli::Flag::number("align-padding", 0.0, siamese::kMaxAlignPadding)} +
          cli::flags::face_detector() + cli::flags::alignment(),
      0, 0, ""}}};

using cli::fixed;

std::string figures_text(const siamese::ValidationFigures& f, double threshold) {
  return "AUC " + fixed(f.auc, 4) + "  EER " + fixed(100 * f.eer, 2) + "%  TAR@FAR=1% " +
         fixed(f.tar_at_far_1e2, 3) + "  threshold " + fixed(threshold, 3);
}

int run(const cli::Args& args) {
  st::TrainerOptions o;
  st::SplitOptions split_options;
  split_options.data = args.required("data");
  o.out = args.required("out");
  split_options.identities = args.text("identities");
  split_options.val_data = args.text("val-data");
  split_options.val_identities_list = args.text("val-identities-list");
  split_options.val_identities = static_cast<int>(args.integer("val-identities", -1));
  if (args.has("val-identities") && (args.has("val-data") || args.has("val-identities-list"))) {
    throw cli::UsageError(
        "--val-identities N cannot be combined with --val-data or "
        "--val-identities-list");
  }
  if (args.has("identities-file")) {
    split_options.identities_from_file = st::read_identities_file(args.text("identities-file"));
  }
  std::string excluded_note;
  if (args.has("exclude-pairs")) {
    const st::LfwPairs pairs = st::read_lfw_pairs(args.text("exclude-pairs"));
    split_options.exclude = st::lfw_people(pairs);
    excluded_note = std::to_string(split_options.exclude.size()) + " people of " +
                    args.text("exclude-pairs") + " left out";
  }
  const int min_images = static_cast<int>(args.integer("min-images", 2));

  // --init: the architecture, input and crop policy of a model file, its weights to start from.
  siamese::ModelInfo init_info;
  const bool fine_tune = args.has("init");
  if (fine_tune) {
    o.init = args.text("init");
    init_info = siamese::load_model(o.init).info;  // FileError naming the file if it is none
    if (args.has("arch") && args.text("arch") != init_info.arch.arch) {
      throw cli::UsageError("--arch " + args.text("arch") + " contradicts --init " + o.init +
                            " (arch " + init_info.arch.arch + ")");
    }
  } else if (args.has("freeze") || args.has("freeze-until")) {
    throw cli::UsageError("--freeze and --freeze-until need --init (a model to fine-tune)");
  }
  const std::string arch = fine_tune ? init_info.arch.arch : args.text("arch", "default");
  const bool seed_arch = arch == "seed";
  o.arch = fine_tune ? init_info.arch : o.arch.set_arch(arch);
  if (seed_arch && !fine_tune) o.arch.set_embedding_size(5);
  try {
    o.loss = st::parse_loss_kind(args.text("loss", "contrastive"));
  } catch (const siamese::InputError& e) {
    throw cli::UsageError(e.what());
  }
  const bool triplet = o.loss == st::LossKind::kTriplet;
  const double margin_default = triplet ? (seed_arch ? 1.0 : st::kDefaultTripletMargin)
                                        : (seed_arch ? st::kSeedMargin : st::kDefaultArchMargin);
  o.margin = args.number("margin", margin_default);
  o.epochs = static_cast<int>(args.integer("epochs", fine_tune   ? st::kFineTuneEpochs
                                                     : seed_arch ? st::kSeedEpochs
                                                                 : st::kDefaultArchEpochs));
  o.batch_size = static_cast<int>(args.integer("batch-size", st::kDefaultTrainBatch));
  o.lr =
      args.number("lr", fine_tune ? st::fine_tune_learning_rate(arch) : st::kDefaultLearningRate);
  o.weight_decay = args.has("weight-decay")
                       ? args.number("weight-decay", 0.0)
                       : (seed_arch || fine_tune ? 0.0 : st::kDefaultArchWeightDecay);
  o.schedule = args.text("schedule", seed_arch ? "constant" : "cosine") == "cosine"
                   ? st::LrSchedule::kCosine
                   : st::LrSchedule::kConstant;
  args.exclusive("augment", "no-augment");
  o.augment = args.has("augment") || (!seed_arch && !args.has("no-augment"));
  args.exclusive("flip-average", "no-flip-average");
  o.flip_average = args.has("flip-average") ||
                   (fine_tune ? init_info.flip_average && !args.has("no-flip-average")
                              : !seed_arch && !args.has("no-flip-average"));
  const std::string mining = args.text("mining", seed_arch || triplet ? "none" : "hard");
  o.mining = mining == "all"    ? st::PairMining::kBatchAll
             : mining == "hard" ? st::PairMining::kBatchHard
                                : st::PairMining::kDrawnPairs;
  if (triplet && o.mining != st::PairMining::kDrawnPairs) {
    throw cli::UsageError("--mining " + mining + " works with the contrastive loss only");
  }
  o.seed = static_cast<uint64_t>(args.integer("seed", 0));
  o.resume = args.text("resume");
  o.plots_dir = args.text("plots");
  const bool detect = args.has("detect");
  o.device = cli::device_of(args);
  cli::apply_threads(args);

  // Data-parallel: the environment as torchrun sets it, then the flags (which win).
  st::DistributedConfig dist;
  try {
    dist = st::distributed_config_from_env([](const char* name) { return std::getenv(name); });
    const bool rank_flag = args.has("rank"), world_flag = args.has("world-size");
    dist.rank = static_cast<int>(args.integer("rank", dist.rank));
    dist.world_size = static_cast<int>(args.integer("world-size", dist.world_size));
    if (args.has("master")) {
      std::tie(dist.master_addr, dist.master_port) =
          st::parse_master(args.text("master"), "--master");
    }
    dist.timeout_s = args.number("dist-timeout", st::kDefaultDistTimeoutS);
    dist.device = o.device.str();
    st::check_distributed_config(dist, rank_flag ? "--rank" : "RANK",
                                 world_flag ? "--world-size" : "WORLD_SIZE");
  } catch (const siamese::InputError& e) {
    throw cli::UsageError(e.what());
  }
  if (dist.distributed()) {
    o.comm = st::Communicator::connect(dist);
    std::cout << "distributed: rank " << dist.rank << " of " << dist.world_size << ", master "
              << dist.master() << ", timeout " << dist.timeout_s << " s" << std::endl;
  }
  const bool lead = dist.rank == 0;  // the others print no progress and write no files

  if (fine_tune) {
    args.exclusive("freeze", "freeze-until");
    siamese::Network probe = siamese::Network::create(o.arch);
    try {
      o.freeze =
          args.has("freeze")
              ? static_cast<int>(args.integer("freeze", 0))
              : st::layers_before(probe, args.text("freeze-until", st::default_freeze_until(arch)),
                                  "--freeze-until");
      st::freeze_layers(probe, o.freeze);  // checks the count
    } catch (const siamese::InputError& e) {
      throw cli::UsageError(e.what());
    }
    const auto layers = st::network_layers(probe);
    std::cout << "init: " << o.init << " (arch " << arch << ", fingerprint "
              << init_info.fingerprint << "); frozen: " << o.freeze << " of " << layers.size()
              << " layers"
              << (o.freeze > 0 ? " (" + layers.front().name + " .. " +
                                     layers[static_cast<size_t>(o.freeze - 1)].name + ")"
                               : std::string())
              << "\n";
    o.licence = init_info.licence;
  }

  // Data: identities split into training and validation, each image decoded once.
  const st::DataSplit split = st::split_identities(split_options);
  if (!excluded_note.empty()) std::cout << "identities: " << excluded_note << "\n";
  o.spec = fine_tune ? init_info.input : siamese::default_input_spec(o.arch);
  if (!o.resume.empty()) {
    o.spec = st::read_checkpoint_state(o.resume).spec;
  } else if (fine_tune) {
    std::cout << "input: the init model's, " << o.spec.channels << "x" << o.spec.height << "x"
              << o.spec.width << ", crop policy " << o.spec.crop.scale_width << ","
              << o.spec.crop.scale_height << "," << o.spec.crop.shift_y
              << (detect ? " (detector crops, --detect)" : " (whole images)") << "\n";
  } else if (detect) {
    std::cout << "framing: detector boxes (--detect), crop policy identity\n";
  } else {
    const st::CropCalibration c = st::calibrate_crop(split.train);
    o.spec.crop = c.policy;
    std::cout << "crop policy: detector box x " << fixed(c.policy.scale_width, 3) << " wide, x "
              << fixed(c.policy.scale_height, 3) << " high, centre shifted "
              << fixed(c.policy.shift_y, 3) << " box heights; measured on " << c.faces_found << "/"
              << c.images_tried << " images placed on a background"
              << (c.fallback ? " (too few faces found: using the AT&T head-crop policy)" : "")
              << "\n";
  }
  if (cli::apply_alignment_flags(args, o.spec.crop) || args.has("align-padding")) {
    if (!detect) {
      throw cli::UsageError("--align needs --detect: faces are aligned in detector crops");
    }
    try {
      const double padding =
          o.arch.arch == "dlib-resnet" ? siamese::kDlibAlignPadding : siamese::kNativeAlignPadding;
      o.spec.crop.align_padding = static_cast<float>(args.number("align-padding", padding));
      siamese::check_input_spec(o.spec);
    } catch (const siamese::InputError& e) {
      throw cli::UsageError(e.what());
    }
    std::cout << "alignment: " << siamese::align_name(o.spec.crop.align);
    if (o.spec.crop.align != siamese::Align::kNone) {
      std::cout << " (" << siamese::align_points_name(o.spec.crop.align_points)
                << (o.spec.crop.align_mirror ? ", mirrored landmark chain" : "") << ")";
    }
    std::cout << ", template padding " << o.spec.crop.align_padding << "\n";
  }
  st::DatasetOptions data_options;
  data_options.spec = o.spec;
  data_options.detect = detect;
  data_options.detector = cli::detector_options_of(args, o.device);
  data_options.min_images_per_identity = min_images;
  const st::FaceDataset train = st::load_dataset(split.train, data_options);
  st::report_skipped(train, "training data " + split.train.root);
  st::FaceDataset validation;
  if (!split.validation.identities.empty()) {
    st::DatasetOptions validation_options = data_options;
    validation_options.min_images_per_identity = 2;  // the others give no genuine pair
    validation = st::load_dataset(split.validation, validation_options);
    st::report_skipped(validation, "validation data " + split.validation.root);
  } else {
    siamese::log(siamese::LogLevel::kWarning,
                 "no validation identities: the threshold is calibrated on the training "
                 "identities and will be optimistic");
  }
  std::cout << "training: " << train.identities.size() << " identities, " << train.size()
            << " images from " << split.train.root << "\n"
            << "validation: " << validation.identities.size() << " identities, "
            << validation.size() << " images (" << split.note << ")\n";
  std::cout << "model: arch " << arch << ", " << st::loss_kind_name(o.loss) << " loss margin "
            << o.margin << ", mining " << mining << ", " << o.epochs << " epochs, batch "
            << o.batch_size << ", lr " << o.lr
            << (o.weight_decay > 0 ? " wd " + std::to_string(o.weight_decay) : "")
            << (o.schedule == st::LrSchedule::kCosine ? " cosine" : " constant") << ", augment "
            << (o.augment ? "on" : "off") << ", flip-average " << (o.flip_average ? "on" : "off")
            << ", seed " << o.seed << ", device " << o.device.str() << "\n";
  std::ostringstream origin;
  origin << kProgram << " --arch " << arch << " on " << split.train.root << " ("
         << train.identities.size() << " identities, " << train.size() << " images"
         << (detect ? ", detector crops" : "")
         << (excluded_note.empty() ? "" : ", " + excluded_note) << ")";
  if (fine_tune) {
    origin << "; fine-tuned from " << o.init << " (fingerprint " << init_info.fingerprint
           << ", origin: " << init_info.origin << "), " << o.freeze << " layers frozen, lr "
           << o.lr;
  }
  o.origin = origin.str();
  o.stop = &g_stop;
  std::signal(SIGINT, on_sigint);

  cli::ProgressBar bar;
  bool stop_shown = false;
  auto on_batch = [&](long done, long, double loss, double) {
    if (g_stop.load() && !stop_shown) {
      stop_shown = true;
      bar.finish();
      std::cout << "stopping after this epoch (Ctrl-C again to quit at once)" << std::endl;
    }
    bar.update(done, "loss " + fixed(loss, 4));
  };
  auto on_epoch = [&](const st::EpochRecord& r) {
    bar.finish();
    if (r.epoch == 0) {
      std::cout << "epoch 0 (the --init weights)  val " << figures_text(r.validation, r.threshold)
                << std::endl;
      bar.start("epoch 1/" + std::to_string(o.epochs), static_cast<long>(train.size()), "pairs");
      return;
    }
    std::cout << "epoch " << r.epoch << "/" << o.epochs << "  loss " << fixed(r.loss, 4) << "  "
              << fixed(r.seconds, 1) << " s  " << fixed(r.pairs_per_s, 0) << " pairs/s";
    if (r.validated) std::cout << "  val " << figures_text(r.validation, r.threshold);
    std::cout << (r.best ? "  *" : "") << std::endl;
    bar.start("epoch " + std::to_string(r.epoch + 1) + "/" + std::to_string(o.epochs),
              static_cast<long>(train.size()), "pairs");
  };
  if (lead) {
    bar.start("epoch " + std::to_string(1) + "/" + std::to_string(o.epochs),
              static_cast<long>(train.size()), "pairs");
  }
  const st::TrainSummary s = st::train(o, train, validation, on_batch, on_epoch);
  bar.finish();
  if (!lead) {
    std::cout << "rank " << dist.rank << ": done" << (s.interrupted ? " (interrupted)" : "")
              << std::endl;
    return s.interrupted ? 130 : 0;
  }
  if (dist.distributed()) {
    std::cout << "distributed: " << fixed(s.communication_s, 2) << " s of "
              << fixed(s.training_s, 2) << " s of training steps in collectives ("
              << fixed(100 * s.communication_s / std::max(1e-9, s.training_s), 1)
              << "%, waiting for slower ranks included)\n";
  }
  if (!s.model.fingerprint.empty()) {
    std::cout << "wrote " << o.out << " (epoch " << s.best_epoch
              << (fine_tune && s.best_epoch == 0 ? ": no epoch beat the --init weights" : "")
              << ", " << (validation.size() > 0 ? "validation " : "training identities ")
              << figures_text(s.model.validation, s.model.threshold) << ", fingerprint "
              << s.model.fingerprint << ")\n";
  }
  std::cout << "checkpoint: " << s.checkpoint << "\n";
  if (!o.plots_dir.empty()) std::cout << "plots: " << o.plots_dir << "\n";
  if (s.interrupted) {
    std::cout << "interrupted: continue with --resume " << s.checkpoint << "\n";
    return 130;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  siamese::training::keep_freed_memory_for_reuse();
  return cli::run_main(kProgramSpec, argc, argv, run);
}
