// The trainer: losses against hand-computed values, the seed's pair sampling, identity splits,
// bad data, crop calibration on AT&T, a short training run that generalises to unseen people,
// --resume, and siamese-train / siamese-eval as a user runs them.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "augment.h"
#include "checkpoint.h"
#include "crop_calibration.h"
#include "dataset.h"
#include "identity_split.h"
#include "losses.h"
#include "pair_sampler.h"
#include "plots.h"
#include "siamese/errors.h"
#include "siamese/model_file.h"
#include "test_support.h"
#include "trainer.h"
#include "validation.h"

using namespace siamese;
using namespace siamese::training;
namespace fs = std::filesystem;

namespace {

torch::Tensor rows(std::initializer_list<std::array<float, 2>> values) {
  std::vector<float> flat;
  for (const auto& v : values) flat.insert(flat.end(), v.begin(), v.end());
  return torch::tensor(flat).reshape({static_cast<int64_t>(values.size()), 2});
}

// A folder of identities with synthetic gray images (n_images each).
std::string synthetic_folder(const std::string& tag, int identities, int n_images) {
  const std::string root = testing::temp_dir(tag);
  for (int id = 0; id < identities; ++id) {
    const fs::path dir = fs::path(root) / ("p" + std::to_string(id + 1));
    fs::create_directories(dir);
    for (int k = 0; k < n_images; ++k) {
      cv::imwrite((dir / (std::to_string(k + 1) + ".png")).string(),
                  testing::synthetic_gray(40 + id, 48, id * 10 + k));
    }
  }
  return root;
}

TrainerOptions small_options(const std::string& out) {
  TrainerOptions o;
  o.arch = ArchOptions().set_arch("default");
  o.spec = default_input_spec(o.arch);
  o.margin = kDefaultArchMargin;
  o.epochs = 3;
  o.batch_size = 32;
  o.out = out;
  o.seed = 7;
  return o;
}

FaceDataset att_dataset(const std::string& root, const std::string& list, const InputSpec& spec) {
  ImageFolder folder = scan_image_folder(root);
  folder = select_identities(folder, parse_identity_list(list, folder.identities, "test"));
  DatasetOptions options;
  options.spec = spec;
  return load_dataset(folder, options);
}

}  // namespace

TEST_CASE("contrastive loss equals the seed's formula on hand-computed pairs", "[training]") {
  // d = 1 same -> 1; d = 1 different, margin 2 -> (2-1)^2 = 1; d = 5 different -> 0;
  // d = 0.5 different -> 1.5^2 = 2.25. Mean 4.25 / 4.
  const torch::Tensor a = rows({{1, 0}, {0, 1}, {3, 4}, {0.5f, 0}});
  const torch::Tensor b = torch::zeros({4, 2});
  const torch::Tensor y = torch::tensor({0.0f, 1.0f, 1.0f, 1.0f});
  CHECK(contrastive_loss(a, b, y, 2.0).item<double>() == Approx(1.0625).epsilon(1e-5));
  // Margin 1: the d = 1 impostor no longer counts; (1 - 0.5)^2 = 0.25 -> (1 + 0.25) / 4.
  CHECK(contrastive_loss(a, b, y, 1.0).item<double>() == Approx(0.3125).epsilon(1e-5));
  // The distance is torch's pairwise distance: ||a - b + 1e-6||.
  CHECK(pair_distance(torch::zeros({1, 2}), torch::zeros({1, 2})).item<double>() ==
        Approx(std::sqrt(2.0) * 1e-6).epsilon(1e-3));
}

TEST_CASE("triplet loss equals its formula on hand-computed triplets", "[training]") {
  // d(a,p) = 1, d(a,n) = 2, margin 0.5 -> 0;  d(a,p) = 2, d(a,n) = 1 -> 1.5. Mean 0.75.
  const torch::Tensor anchor = torch::zeros({2, 2});
  const torch::Tensor positive = rows({{1, 0}, {2, 0}});
  const torch::Tensor negative = rows({{0, 2}, {1, 0}});
  CHECK(triplet_loss(anchor, positive, negative, 0.5).item<double>() == Approx(0.75).epsilon(1e-5));
}

TEST_CASE("batch contrastive loss averages genuine and impostor pairs separately", "[training]") {
  // Points 0 and 1 share an identity (distance 1); point 2 is 3 away from 0 and sqrt(10) from 1.
  torch::Tensor e = rows({{0, 0}, {1, 0}, {0, 3}}).requires_grad_(true);
  const torch::Tensor labels = torch::tensor({5, 5, 9}, torch::kInt64);
  const double margin = 3.5;
  const double expected = 1.0 + 0.5 * (std::pow(3.5 - 3.0, 2) + std::pow(3.5 - std::sqrt(10.0), 2));
  const torch::Tensor loss = batch_contrastive_loss(e, labels, margin, false);
  CHECK(loss.item<double>() == Approx(expected).epsilon(1e-5));
  // Batch-hard: each image's farthest genuine (1, 1 and none: 0) plus its nearest impostor.
  const double hard =
      2.0 / 3.0 + (std::pow(0.5, 2) + std::pow(3.5 - std::sqrt(10.0), 2) + std::pow(0.5, 2)) / 3.0;
  CHECK(batch_contrastive_loss(e, labels, margin, true).item<double>() ==
        Approx(hard).epsilon(1e-5));
  // Identical embeddings (distance 0) must not give NaN gradients.
  torch::Tensor same = torch::zeros({3, 2}).requires_grad_(true);
  batch_contrastive_loss(same, labels, 1.0, false).backward();
  CHECK_FALSE(torch::isnan(same.grad()).any().item<bool>());
}

TEST_CASE("pair sampling is balanced, labelled right and repeatable with a seed", "[training]") {
  std::vector<int> labels;
  for (int id = 0; id < 12; ++id) {
    for (int k = 0; k < 3 + id % 4; ++k) labels.push_back(id * 3);  // uneven identity sizes
  }
  PairSampler sampler(labels, 42);
  const PairBatch p = sampler.pairs(20000);
  REQUIRE(p.first.size() == 20000);
  int64_t genuine = 0;
  for (size_t i = 0; i < p.first.size(); ++i) {
    const bool same = labels[p.first[i]] == labels[p.second[i]];
    CHECK((p.different[i] == 0.0f) == same);
    genuine += same;
  }
  CHECK(genuine / 20000.0 == Approx(0.5).margin(0.02));

  PairSampler again(labels, 42), other(labels, 43);
  const PairBatch q = again.pairs(200), r = other.pairs(200);
  CHECK(std::equal(q.first.begin(), q.first.end(), p.first.begin()));
  CHECK(std::equal(q.second.begin(), q.second.end(), p.second.begin()));
  CHECK(q.first != r.first);

  // The generator state restores: the next draws continue identically.
  PairSampler saved(labels, 5);
  saved.pairs(37);
  const std::string state = saved.state();
  const PairBatch next = saved.pairs(50);
  PairSampler restored(labels, 999);
  restored.set_state(state);
  CHECK(restored.pairs(50).first == next.first);

  const TripletBatch t = sampler.triplets(2000);
  for (size_t i = 0; i < t.anchor.size(); ++i) {
    CHECK(labels[t.anchor[i]] == labels[t.positive[i]]);
    CHECK(t.anchor[i] != t.positive[i]);
    CHECK(labels[t.anchor[i]] != labels[t.negative[i]]);
  }
  CHECK_THROWS_AS(PairSampler(std::vector<int>{1, 1, 1}, 0), InputError);
}

TEST_CASE("identity lists expand ranges and name what is missing", "[training]") {
  const std::vector<std::string> ids = {"s1", "s2", "s3", "s10", "s11", "bob-smith"};
  CHECK(parse_identity_list("s1-s3", ids, "--identities") ==
        std::vector<std::string>{"s1", "s2", "s3"});
  CHECK(parse_identity_list("s10, s2,bob-smith", ids, "--identities") ==
        std::vector<std::string>{"s10", "s2", "bob-smith"});
  try {
    parse_identity_list("s1-s5", ids, "--identities");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("--identities") && Catch::Contains("s4"));
  }
  CHECK_THROWS_AS(parse_identity_list("s2,s2", ids, "--identities"), InputError);
}

TEST_CASE("validation identities are disjoint from training identities", "[training]") {
  const std::string root = synthetic_folder("split", 10, 3);
  SplitOptions o;
  o.data = root;
  o.val_identities = 3;
  DataSplit s = split_identities(o);
  CHECK(s.train.identities.size() == 7);
  CHECK(s.validation.identities == std::vector<std::string>{"p8", "p9", "p10"});
  std::set<std::string> train_files;
  for (const auto& img : s.train.images) train_files.insert(img.path);
  for (const auto& img : s.validation.images) CHECK(train_files.count(img.path) == 0);

  // The default holds a fifth out (at least two).
  o.val_identities = -1;
  s = split_identities(o);
  CHECK(s.validation.identities.size() == 2);
  CHECK(s.train.identities.size() == 8);

  // An explicit list: the rest trains; overlapping with --identities is refused.
  o.val_identities_list = "p1-p3";
  s = split_identities(o);
  CHECK(s.train.identities.front() == "p4");
  CHECK(s.train.identities.size() == 7);
  o.identities = "p3-p10";
  try {
    split_identities(o);
    FAIL("overlap accepted");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("p3") && Catch::Contains("disjoint"));
  }
}

TEST_CASE("bad data: messages name the path, corrupt files are listed and skipped", "[training]") {
  SECTION("a missing folder") {
    SplitOptions o;
    o.data = testing::temp_dir("missing") + "/no-such-folder";
    try {
      split_identities(o);
      FAIL("no error");
    } catch (const FileError& e) {
      CHECK_THAT(e.what(), Catch::Contains("no-such-folder"));
    }
  }
  SECTION("fewer than two identities") {
    const std::string root = synthetic_folder("one-identity", 1, 4);
    SplitOptions o;
    o.data = root;
    try {
      split_identities(o);
      FAIL("no error");
    } catch (const InputError& e) {
      CHECK_THAT(e.what(), Catch::Contains(root));
    }
  }
  SECTION("corrupt files and an identity with one image") {
    const std::string root = synthetic_folder("corrupt", 3, 3);
    std::ofstream(root + "/p2/2.png") << "this is not a PNG file";
    fs::create_directories(root + "/p4");
    cv::imwrite(root + "/p4/1.png", testing::synthetic_gray(40, 48, 77));
    DatasetOptions d;
    d.spec = default_input_spec(ArchOptions());
    const FaceDataset data = load_dataset(scan_image_folder(root), d);
    CHECK(data.size() == 8);  // 3 + 2 + 3; p4 (one image) skipped
    CHECK(data.identities == std::vector<std::string>{"p1", "p2", "p3"});
    CHECK(data.images.size(0) == 8);
    bool corrupt_listed = false, single_listed = false;
    for (const auto& s : data.skipped) {
      corrupt_listed |= s.path == root + "/p2/2.png";
      single_listed |= s.path == (fs::path(root) / "p4").string();
    }
    CHECK(corrupt_listed);
    CHECK(single_listed);
  }
}

TEST_CASE("zero-strength augmentation leaves a batch unchanged, jitter keeps its shape",
          "[training]") {
  const InputSpec spec = default_input_spec(ArchOptions());
  const torch::Tensor x = torch::rand({4, 1, spec.height, spec.width});
  std::mt19937 rng(1);
  AugmentOptions none;
  none.flip = false;
  none.max_shift = none.max_scale = none.max_rotate_deg = 0;
  none.max_brightness = none.max_contrast = none.erase_probability = 0;
  CHECK(torch::allclose(augment_batch(x, spec, none, rng), x, 1e-5, 1e-5));
  const torch::Tensor y = augment_batch(x, spec, AugmentOptions(), rng);
  CHECK(y.sizes() == x.sizes());
  CHECK_FALSE(torch::allclose(y, x, 1e-3, 1e-3));
}

TEST_CASE("colour jitter works in pixel units in every channel, whatever its normalisation",
          "[training]") {
  InputSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 8;
  spec.mean = {0.2f, 0.5f, 0.8f};
  spec.std = {0.1f, 0.25f, 0.4f};
  torch::Tensor gray = torch::empty({2, 3, 8, 8});  // pixel value 0.5 everywhere
  for (int c = 0; c < 3; ++c) gray.select(1, c).fill_((0.5f - spec.mean[c]) / spec.std[c]);
  AugmentOptions jitter;
  jitter.flip = false;
  jitter.max_shift = jitter.max_scale = jitter.max_rotate_deg = 0;
  jitter.erase_probability = 0;
  std::mt19937 rng(3);
  SECTION("contrast turns around mid-gray in each channel") {
    jitter.max_brightness = 0;
    jitter.max_contrast = 0.5;
    CHECK(torch::allclose(augment_batch(gray, spec, jitter, rng), gray, 1e-5, 1e-5));
  }
  SECTION("a brightness step is the same in pixel units in each channel") {
    jitter.max_contrast = 0;
    jitter.max_brightness = 0.2;
    const torch::Tensor y = augment_batch(gray, spec, jitter, rng);
    const auto mean = torch::tensor(spec.mean).view({1, 3, 1, 1});
    const auto sd = torch::tensor(spec.std).view({1, 3, 1, 1});
    const torch::Tensor pixels = y * sd + mean;  // back to pixel units
    const torch::Tensor step = pixels - 0.5;
    CHECK(step.abs().max().item<float>() > 1e-3f);  // it did move
    CHECK(torch::allclose(step, step.select(1, 0).unsqueeze(1).expand_as(step), 1e-5, 1e-5));
  }
}

TEST_CASE("crop calibration on AT&T maps the detector box onto the whole image", "[training]") {
  SIAMESE_REQUIRE_ATT(att);
  ImageFolder folder = scan_image_folder(att);
  const CropCalibration c = calibrate_crop(folder, 60);
  CHECK_FALSE(c.fallback);
  CHECK(c.faces_found >= 54);  // the Haar cascade finds (nearly) every AT&T face on a background
  // The Haar box is about as wide as the 92x112 crops and shorter than them.
  CHECK(c.policy.scale_width == Approx(1.0).margin(0.15));
  CHECK(c.policy.scale_height > 1.05f);
  // Applied to fresh detections, the policy reproduces the images' framing (the detector's box
  // wanders by a few pixels from image to image, so the overlap is high, not perfect).
  PlacedFaceDetector detector;
  std::vector<float> ious;
  for (int s = 1; s <= 40; s += 3) {
    const cv::Mat image = read_image(att + "/s" + std::to_string(s) + "/3.pgm", 1);
    cv::Mat frame;
    cv::Point at;
    const auto box = detector.detect(image, frame, at);
    if (!box) continue;
    const Box framed = framed_region(*box, c.policy, Framing::kDetectorBox);
    ious.push_back(box_iou(framed, Box{at.x, at.y, image.cols, image.rows}));
  }
  std::sort(ious.begin(), ious.end());
  std::ostringstream list;
  for (float v : ious) list << v << " ";
  INFO("IoU of framed detections with the images: " << list.str());
  REQUIRE(ious.size() >= 12);
  CHECK(ious[ious.size() / 2] > 0.8f);  // median
  CHECK(ious[1] > 0.6f);                // all but the worst
}

TEST_CASE("a photo's face is its largest, or for LFW the one at its centre", "[training]") {
  SIAMESE_REQUIRE_ATT(att);
  // A large face at the left edge and a smaller one at the centre of a grey photo.
  cv::Mat photo(300, 620, CV_8UC1, cv::Scalar(128));
  cv::Mat large, central;
  cv::resize(read_image(att + "/s5/1.pgm", 1), large, cv::Size(), 2.0, 2.0);
  cv::resize(read_image(att + "/s9/1.pgm", 1), central, cv::Size(), 1.5, 1.5);
  large.copyTo(photo(cv::Rect(0, 40, large.cols, large.rows)));
  const cv::Rect middle((photo.cols - central.cols) / 2, (photo.rows - central.rows) / 2,
                        central.cols, central.rows);
  central.copyTo(photo(middle));
  const auto centre_x = [](const Box& b, const cv::Point& at) {
    return b.x - at.x + b.width / 2.0;
  };
  cv::Mat frame;
  cv::Point at;
  const auto largest = PlacedFaceDetector().detect(photo, frame, at);
  REQUIRE(largest);
  CHECK(centre_x(*largest, at) < 200);  // the one at the edge
  const auto centred = PlacedFaceDetector({}, FacePick::kCentral).detect(photo, frame, at);
  REQUIRE(centred);
  CHECK(std::abs(centre_x(*centred, at) - photo.cols / 2.0) < 40);
  CHECK(centred->width < largest->width);
}

TEST_CASE("plots and the history CSV are written", "[training]") {
  const std::string dir = testing::temp_dir("plots");
  const InputSpec spec = default_input_spec(ArchOptions());
  const torch::Tensor images = torch::rand({4, 1, spec.height, spec.width});
  save_pair_grid(dir + "/pairs.png", images, {{0, 1}, {2, 3}}, {false, true}, spec);
  PairScores scores;
  for (int i = 0; i < 40; ++i) {
    scores.distance.push_back(i % 4 == 0 ? 0.2 + 0.01 * i : 0.5 + 0.01 * i);
    scores.genuine.push_back(i % 4 == 0);
  }
  save_roc_curve(dir + "/roc.png", scores, "roc");
  save_distance_histograms(dir + "/distances.png", scores, 0.45, "distances");
  std::vector<EpochRecord> history(3);
  for (int i = 0; i < 3; ++i) {
    history[i].epoch = i + 1;
    history[i].loss = 1.0 / (i + 1);
    history[i].validated = true;
  }
  save_loss_curve(dir + "/loss.png", history);
  write_history_csv(dir + "/history.csv", history);
  for (const char* f : {"pairs.png", "roc.png", "distances.png", "loss.png"}) {
    CHECK_FALSE(cv::imread(dir + "/" + f).empty());
  }
  std::ifstream csv(dir + "/history.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK_THAT(header, Catch::StartsWith("epoch,loss"));
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  CHECK(lines == 3);
  CHECK_THROWS_AS(write_history_csv(dir + "/no/such/dir/h.csv", history), FileError);
}

TEST_CASE("a short training run on AT&T generalises to unseen people", "[training]") {
  SIAMESE_REQUIRE_ATT(att);
  const std::string dir = testing::temp_dir("short-train");
  TrainerOptions o = small_options(dir + "/model.pt");
  o.epochs = 25;
  o.schedule = LrSchedule::kCosine;
  o.augment = true;
  o.lr = 2e-3;
  o.mining = PairMining::kBatchHard;  // the default architecture's recipe
  o.flip_average = true;
  o.plots_dir = dir + "/plots";
  const FaceDataset train_data = att_dataset(att, "s11-s22", o.spec);
  const FaceDataset val_data = att_dataset(att, "s23-s26", o.spec);
  const TrainSummary s = train(o, train_data, val_data);
  REQUIRE(s.history.size() == 25);
  CHECK(s.history.back().loss < s.history.front().loss);
  REQUIRE(s.best_epoch >= 1);

  // The written model carries the calibrated threshold and the validation figures.
  const LoadedModel m = load_model(o.out);
  CHECK(m.info.threshold == Approx(s.model.threshold));
  CHECK(m.info.threshold > 0.0f);
  CHECK(m.info.validation.pairs == 40 * 39 / 2);
  CHECK(m.info.validation.identities == 4);
  // The 1e-4 point is read on validation impostors plus every (training, validation) pair:
  // 40 validation faces of 4 people (600 impostor pairs) and 120 training faces.
  CHECK(m.info.validation.impostor_pairs == 600 + 120 * 40);
  CHECK(m.info.validation.threshold_at_far_1e4 > 0.0);
  CHECK(m.info.validation.threshold_at_far_1e4 <= m.info.validation.threshold_at_far_1e2);
  CHECK(m.info.validation.tar_at_far_1e4 <= m.info.validation.tar_at_far_1e2);
  CHECK(m.info.normalized);
  CHECK(m.info.flip_average);
  CHECK(m.info.input.width == o.spec.width);
  CHECK_THAT(m.info.origin, Catch::Contains("epoch " + std::to_string(s.best_epoch)));
  for (const char* f : {"pairs.png", "loss.png", "roc.png", "distances.png", "history.csv"}) {
    CHECK(fs::exists(o.plots_dir + "/" + f));
  }

  // Unseen people (s1..s8): the ranking beats chance by a clear margin.
  LoadedModel model = load_model(o.out);
  const FaceDataset test = att_dataset(att, "s1-s8", model.info.input);
  const Validation v = score_embeddings(
      embed_all(model.network, test.images, torch::kCPU, embedding_rule(model.info)), test.labels,
      model.info.threshold);
  // An untrained default network already ranks aligned AT&T faces well (AUC ~0.98: its 4x4
  // head keeps the pixels' layout), so training must beat the untrained network, not chance:
  // measured AUC 0.996 vs 0.986, EER 3.9% vs 5.3% (seed 7).
  torch::manual_seed(o.seed);
  Network untrained = Network::create(o.arch);
  const Validation u =
      score_embeddings(embed_all(untrained, test.images, torch::kCPU, embedding_rule(model.info)),
                       test.labels, model.info.threshold);
  INFO("held-out AUC " << v.figures.auc << " (untrained " << u.figures.auc << "), EER "
                       << v.figures.eer << " (untrained " << u.figures.eer << ")");
  CHECK(v.figures.auc > 0.97);
  // The AUC's shortfall from 1 weighs every pair (the EER is one point on 360 genuine pairs,
  // and moved by about two of them between CPUs): training must cut it well down, and lower
  // the EER.
  CHECK(1.0 - v.figures.auc < 0.7 * (1.0 - u.figures.auc));
  CHECK(v.figures.eer < u.figures.eer);

  // siamese-eval on the same people agrees and prints one JSON object.
  std::string out;
  const int rc =
      siamese::testing::run_shell(std::string(SIAMESE_EVAL_BIN) + " --model " + o.out + " --data " +
                                      att + " --identities s1-s8 --device cpu --json",
                                  &out);
  INFO(out);
  REQUIRE(rc == 0);
  const auto json = nlohmann::json::parse(out.substr(out.find('{')));
  for (const char* key : {"auc", "eer", "tar_at_far_1e-2", "accuracy", "threshold", "pairs"}) {
    CHECK(json.contains(key));
  }
  CHECK(json["pairs"].get<int>() == 80 * 79 / 2);
  CHECK(json["identities"].get<int>() == 8);
  CHECK_FALSE(json.contains("impostor_tail"));  // the model file keeps that, not the report
  CHECK(json["auc"].get<double>() == Approx(v.figures.auc).margin(1e-6));
}

TEST_CASE("resuming with --resume continues a run exactly where its checkpoint stopped",
          "[training]") {
  const std::string root = synthetic_folder("resume", 4, 4);
  const std::string dir = testing::temp_dir("resume");
  TrainerOptions o = small_options(dir + "/straight.pt");
  DatasetOptions d;
  d.spec = o.spec;
  const FaceDataset data = load_dataset(scan_image_folder(root), d);
  o.epochs = 3;
  const TrainSummary straight = train(o, data, FaceDataset());

  // Stopped after epoch 1 (as by Ctrl-C): the checkpoint holds epoch 1 ...
  TrainerOptions first = small_options(dir + "/resumed.pt");
  first.epochs = 3;
  std::atomic<bool> stop{false};
  first.stop = &stop;
  int epochs_seen = 0;
  const TrainSummary cut = train(first, data, FaceDataset(), {}, [&](const EpochRecord&) {
    if (++epochs_seen == 1) stop = true;
  });
  CHECK(cut.interrupted);
  REQUIRE(fs::exists(cut.checkpoint));
  CHECK(read_checkpoint_state(cut.checkpoint).epoch == 1);

  // ... and --resume does epochs 2 and 3 as the uninterrupted run did.
  TrainerOptions second = small_options(dir + "/resumed.pt");
  second.epochs = 3;
  second.resume = cut.checkpoint;
  const TrainSummary resumed = train(second, data, FaceDataset());
  REQUIRE(resumed.history.size() == 3);
  for (int e = 0; e < 3; ++e) {
    CHECK(resumed.history[e].loss == Approx(straight.history[e].loss).epsilon(1e-4));
  }

  // A checkpoint of another architecture, or a file that is no checkpoint, is refused by name.
  TrainerOptions seed = second;
  seed.arch = ArchOptions().set_arch("seed").set_embedding_size(5);
  seed.epochs = 4;
  CHECK_THROWS_AS(train(seed, data, FaceDataset()), InputError);
  std::ofstream(dir + "/junk.ckpt") << "junk";
  try {
    read_checkpoint_state(dir + "/junk.ckpt");
    FAIL("junk accepted");
  } catch (const FileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("junk.ckpt"));
  }
}

TEST_CASE("spread_rows keeps every row up to the cap, else an even spread of them", "[training]") {
  const torch::Tensor rows = torch::arange(10, torch::kFloat32).unsqueeze(1);
  CHECK(torch::equal(spread_rows(rows, 10), rows));
  CHECK(torch::equal(spread_rows(rows, 20), rows));
  const torch::Tensor four = spread_rows(rows, 4);
  REQUIRE(four.sizes() == torch::IntArrayRef({4, 1}));
  CHECK(torch::equal(four.squeeze(1), torch::tensor({0.0f, 2.0f, 5.0f, 7.0f})));
}

TEST_CASE("seed network: the small-batch (GEMV) path equals the batched one", "[training]") {
  // SeedNet runs batches of 1-2 in eval mode through matrix-vector products (faster with
  // OpenBLAS); the embeddings must match the GEMM path that training and big batches take.
  torch::manual_seed(3);
  Network net = Network::create(ArchOptions().set_arch("seed").set_embedding_size(5));
  net.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({8, 1, 100, 100});
  const torch::Tensor batched = net.forward(x);  // 8 faces: GEMM
  for (int64_t n : {1, 2, 3}) {
    const torch::Tensor small = net.forward(x.narrow(0, 0, n));
    CHECK(small.allclose(batched.narrow(0, 0, n), 1e-4, 1e-5));
  }
}

TEST_CASE("siamese-train: usage errors exit 2, a missing data folder is named", "[training]") {
  std::string out;
  const std::string dir = testing::temp_dir("cli");
  const std::string missing = dir + "/no-faces-here";
  int rc = siamese::testing::run_shell(std::string(SIAMESE_TRAIN_BIN) + " --data " + missing +
                                           " --out " + dir + "/m.pt --device cpu",
                                       &out);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("siamese-train: error:") && Catch::Contains(missing));
  CHECK_FALSE(fs::exists(dir + "/m.pt"));

  rc = siamese::testing::run_shell(
      std::string(SIAMESE_TRAIN_BIN) + " --data " + dir + " --out m.pt --epochs zero", &out);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains("--epochs"));
  rc = siamese::testing::run_shell(std::string(SIAMESE_TRAIN_BIN) + " --out x.pt", &out);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains("--data"));
  rc = siamese::testing::run_shell(std::string(SIAMESE_TRAIN_BIN) + " --help", &out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("--val-identities"));
}
