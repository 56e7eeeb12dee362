// Fine-tuning (siamese-train --init) and training on LFW-like folders: the initial weights are
// what epoch 0 validates, frozen layers (and their BatchNorm statistics) do not move, the model
// file keeps the init model's input and crop policy and records where it came from, a file
// that is not a model is refused by name; people with one image, --exclude-pairs,
// --identities-file and the validation hold-out among people with two or more images.
#include <torch/torch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "checkpoint.h"
#include "dataset.h"
#include "fine_tune.h"
#include "identity_split.h"
#include "pair_sampler.h"
#include "siamese/errors.h"
#include "siamese/face_resnet.h"
#include "siamese/model_file.h"
#include "test_support.h"
#include "trainer.h"
#include "validation.h"

namespace {

namespace fs = std::filesystem;
namespace st = siamese::training;

// identities folders p1..pN of `images` synthetic gray images each (singles: one image more
// folders q1..qM).
std::string face_folder(const std::string& tag, int identities, int images, int singles = 0) {
  const std::string root = siamese::testing::temp_dir(tag);
  auto write = [&](const std::string& name, int count, int seed) {
    const fs::path dir = fs::path(root) / name;
    fs::create_directories(dir);
    for (int k = 0; k < count; ++k) {
      cv::imwrite((dir / (name + "_000" + std::to_string(k + 1) + ".png")).string(),
                  siamese::testing::synthetic_gray(48, 56, seed * 10 + k));
    }
  };
  for (int id = 0; id < identities; ++id) write("p" + std::to_string(id + 1), images, id);
  for (int id = 0; id < singles; ++id) write("q" + std::to_string(id + 1), 1, 100 + id);
  return root;
}

// A model file of arch with random weights (seeded) and the given crop policy.
siamese::ModelInfo write_init_model(const std::string& path, const std::string& arch,
                                    siamese::CropPolicy crop) {
  siamese::ModelInfo info;
  if (arch == siamese::kDlibResNetArch) {
    info.arch = siamese::ArchOptions().set_arch(arch).set_embedding_size(128);
    info.input = siamese::dlib_resnet_input_spec();
  } else {
    info.arch = siamese::ArchOptions().set_arch(arch);
    info.input = siamese::default_input_spec(info.arch);
    info.normalized = true;
  }
  info.input.crop = crop;
  info.embedding_size = info.arch.embedding_size;
  info.threshold = 0.5f;
  info.origin = "a test's random " + arch + " network";
  info.licence = "test licence";
  torch::manual_seed(11);
  siamese::Network net = siamese::Network::create(info.arch);
  siamese::save_model(path, net, info);
  return siamese::load_model(path).info;
}

// name -> tensor of a network's parameters and buffers.
std::map<std::string, torch::Tensor> state_of(const siamese::Network& net) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : net.named_state()) out[name] = t.detach().clone();
  return out;
}

// The weights of the last epoch, from the checkpoint beside the model file.
siamese::Network checkpoint_network(const std::string& checkpoint) {
  const st::CheckpointState state = st::read_checkpoint_state(checkpoint);
  siamese::Network net = siamese::Network::create(state.arch);
  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(1e-3));
  st::load_checkpoint_weights(checkpoint, net, adam, torch::kCPU);
  return net;
}

bool in_layers(const std::string& name, const std::vector<st::NetworkLayer>& layers, int count) {
  for (int i = 0; i < count; ++i) {
    if (name.rfind(layers[static_cast<size_t>(i)].name + ".", 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("network_layers lists the layers that hold state, in forward order", "[training]") {
  const auto dlib = st::network_layers(siamese::Network::create(
      siamese::ArchOptions().set_arch(siamese::kDlibResNetArch).set_embedding_size(128)));
  REQUIRE(dlib.size() == 16);
  CHECK(dlib.front().name == "conv32_down");
  CHECK(dlib.back().name == "fc");
  const siamese::Network def = siamese::Network::create(siamese::ArchOptions());
  const auto layers = st::network_layers(def);
  REQUIRE(layers.size() == 9);  // conv, bn, 4 blocks, conv, bn, embed
  CHECK(layers[0].name == "features.0");
  CHECK(layers[2].name == "features.3");
  CHECK(st::layers_before(def, "features.6", "--freeze-until") == 5);
  try {
    st::layers_before(def, "conv9", "--freeze-until");
    FAIL("an unknown layer was accepted");
  } catch (const siamese::InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("--freeze-until: no layer 'conv9'; the layers are "
                                         "features.0, features.1, features.3"));
  }
  siamese::Network n = siamese::Network::create(siamese::ArchOptions());
  CHECK_THROWS_AS(st::freeze_layers(n, 10), siamese::InputError);
}

TEST_CASE(
    "fine-tuning starts from the init model's weights: epoch 0 validates them, and frozen "
    "layers and their BatchNorm statistics do not change",
    "[training]") {
  const std::string root = face_folder("fine-tune", 8, 4);
  const std::string init = siamese::testing::temp_dir("fine-tune-init") + "/init.pt";
  const siamese::ModelInfo init_info =
      write_init_model(init, "default", siamese::CropPolicy{1.1f, 1.2f, -0.05f});
  siamese::ImageFolder folder = siamese::scan_image_folder(root);
  st::DatasetOptions data_options;
  data_options.spec = init_info.input;
  const st::FaceDataset train = st::load_dataset(
      siamese::select_identities(folder, {"p1", "p2", "p3", "p4", "p5", "p6"}), data_options);
  const st::FaceDataset validation =
      st::load_dataset(siamese::select_identities(folder, {"p7", "p8"}), data_options);

  st::TrainerOptions o;
  o.arch = init_info.arch;
  o.spec = init_info.input;
  o.margin = 1.0;
  o.epochs = 2;
  o.batch_size = 8;
  o.lr = 5e-3;  // large enough that every trained layer moves
  o.out = root + "/tuned.pt";
  o.init = init;
  siamese::Network probe = siamese::Network::create(o.arch);
  o.freeze = st::layers_before(probe, "features.6", "--freeze-until");
  std::vector<st::EpochRecord> records;
  const st::TrainSummary s =
      st::train(o, train, validation, {}, [&](const st::EpochRecord& r) { records.push_back(r); });

  REQUIRE(records.size() == 3);
  CHECK(records[0].epoch == 0);
  // The initial weights' figures are the init model's on the same validation images.
  siamese::LoadedModel loaded = siamese::load_model(init);
  const st::Validation expected =
      st::validate(loaded.network, validation, torch::kCPU, siamese::embedding_rule(loaded.info));
  CHECK(records[0].validation.auc == Approx(expected.figures.auc).epsilon(1e-9));
  CHECK(records[0].validation.eer == Approx(expected.figures.eer).epsilon(1e-9));
  CHECK(records[0].threshold == Approx(expected.threshold).epsilon(1e-6));
  CHECK(s.initial.epoch == 0);

  // The last epoch's weights (the checkpoint): the first 5 layers exactly the init model's,
  // BatchNorm running statistics included; the trained layers moved.
  const auto before = state_of(loaded.network);
  const auto after = state_of(checkpoint_network(s.checkpoint));
  const auto layers = st::network_layers(loaded.network);
  int frozen_tensors = 0, moved_tensors = 0;
  for (const auto& [name, t] : before) {
    REQUIRE(after.count(name));
    if (in_layers(name, layers, o.freeze)) {
      ++frozen_tensors;
      INFO(name);
      CHECK(torch::equal(t, after.at(name)));
    } else if (!torch::equal(t, after.at(name))) {
      ++moved_tensors;
    }
  }
  CHECK(frozen_tensors > 10);
  CHECK(before.count("features.1.running_mean"));
  CHECK(moved_tensors > 5);
  CHECK_FALSE(torch::equal(before.at("embed.weight"), after.at("embed.weight")));
}

TEST_CASE(
    "siamese-train --init keeps the init model's input and crop policy and records its "
    "origin, and refuses a file that is not a model by name",
    "[training]") {
  const std::string root = face_folder("fine-tune-cli", 6, 3);
  const std::string dir = siamese::testing::temp_dir("fine-tune-cli-out");
  const std::string init = dir + "/init.pt";
  const siamese::CropPolicy crop{1.0f, 1.0f, 0.1f};
  const siamese::ModelInfo init_info = write_init_model(init, siamese::kDlibResNetArch, crop);
  const std::string train = std::string(SIAMESE_TRAIN_BIN) + " --threads 1 --data " + root;
  std::string out;
  REQUIRE(siamese::testing::run_shell(train + " --init " + init +
                                          " --epochs 1 --batch-size 6 --lr 1e-3 --out " + dir +
                                          "/tuned.pt",
                                      &out) == 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("epoch 0 (the --init weights)"));
  CHECK_THAT(out, Catch::Contains("frozen: 11 of 16 layers (conv32_down .. conv128_2)"));
  const siamese::ModelInfo tuned = siamese::load_model(dir + "/tuned.pt").info;
  CHECK(tuned.arch.arch == siamese::kDlibResNetArch);
  CHECK(tuned.input.width == 150);
  CHECK(tuned.input.channels == 3);
  CHECK(tuned.input.mean == init_info.input.mean);
  CHECK(tuned.input.crop == crop);  // not a calibrated policy: the init model's
  CHECK_FALSE(tuned.normalized);
  CHECK_THAT(tuned.origin,
             Catch::Contains("fine-tuned from " + init + " (fingerprint " + init_info.fingerprint +
                             ", origin: " + init_info.origin + ")"));
  CHECK(tuned.licence == init_info.licence);
  // The default freeze: conv32_down .. conv128_2 unchanged in the last epoch's weights.
  const auto before = state_of(siamese::load_model(init).network);
  const auto after = state_of(checkpoint_network(dir + "/tuned.pt.ckpt"));
  const auto layers = st::network_layers(siamese::load_model(init).network);
  bool fc_moved = false;
  for (const auto& [name, t] : before) {
    if (in_layers(name, layers, 11)) {
      INFO(name);
      CHECK(torch::equal(t, after.at(name)));
    }
    if (name == "fc.weight") fc_moved = !torch::equal(t, after.at(name));
  }
  CHECK(fc_moved);

  // Not a model file: exit 1, the file named. Usage errors: exit 2.
  const std::string junk = dir + "/junk.pt";
  std::ofstream(junk) << "not a model";
  CHECK(siamese::testing::run_shell(train + " --init " + junk + " --out " + dir + "/x.pt", &out) ==
        1);
  CHECK_THAT(out, Catch::Contains(junk + ": not a model file"));
  CHECK(siamese::testing::run_shell(train + " --init " + dir + "/missing.pt --out " + dir + "/x.pt",
                                    &out) == 1);
  CHECK_THAT(out, Catch::Contains(dir + "/missing.pt: no such model file"));
  CHECK(siamese::testing::run_shell(train + " --freeze 2 --out " + dir + "/x.pt", &out) == 2);
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --arch default --out " + dir + "/x.pt", &out) == 2);
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --freeze-until conv9 --out " + dir + "/x.pt", &out) == 2);
  CHECK_THAT(out, Catch::Contains("the layers are conv32_down, conv32_1"));
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --freeze 17 --out " + dir + "/x.pt", &out) == 2);
  // The alignment flags siamese-import takes, read by the same code.
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --align-points six --out " + dir + "/x.pt", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--align-points: 'six' is not a set of alignment points"));
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --no-align-mirror --out " + dir + "/x.pt", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--align needs --detect"));
  CHECK(siamese::testing::run_shell(
            train + " --init " + init + " --align-mirror --no-align-mirror --out " + dir + "/x.pt",
            &out) == 2);
}

TEST_CASE(
    "a genuine pair starts from a person with another image, and people with one image give "
    "impostor pairs",
    "[training]") {
  // Two images of person 0, one each of 1..8.
  st::PairSampler sampler({0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 5);
  const st::PairBatch p = sampler.pairs(4000);
  int genuine = 0, singles_first = 0;
  for (size_t i = 0; i < p.first.size(); ++i) {
    if (p.different[i] < 0.5f) {
      ++genuine;
      CHECK(p.first[i] < 2);
      CHECK(p.second[i] < 2);
    } else if (p.first[i] >= 2) {
      ++singles_first;
    }
  }
  CHECK(genuine > 1500);        // about half
  CHECK(singles_first > 1200);  // people with one image still start impostor pairs
  // Data without such people draws exactly as the seed's rule always did.
  st::PairSampler a({0, 0, 1, 1}, 9), b({0, 0, 1, 1}, 9);
  const st::PairBatch pa = a.pairs(100), pb = b.pairs(100);
  CHECK(pa.first == pb.first);
}

TEST_CASE(
    "LFW-like folders: --exclude-pairs, --identities-file, --min-images 1 and validation "
    "among people with two or more images",
    "[training]") {
  // p1..p8 with 3 images, q1..q6 with one.
  const std::string root = face_folder("lfw-train", 8, 3, 6);
  st::SplitOptions o;
  o.data = root;
  o.val_identities = 2;
  st::DataSplit split = st::split_identities(o);
  // The last two identities with two or more images (q* come after p* but have one image).
  CHECK(split.validation.identities == std::vector<std::string>{"p7", "p8"});
  CHECK(split.train.identities.size() == 12);
  o.val_identities = -1;  // default: a fifth of the 8 with two or more, at least 2
  CHECK(st::split_identities(o).validation.identities.size() == 2);
  o.val_identities = 7;  // more than may leave
  o.exclude = {"p1", "p2"};
  CHECK_THROWS_AS(st::split_identities(o), siamese::InputError);
  o.val_identities = 2;
  split = st::split_identities(o);
  CHECK(std::count(split.train.identities.begin(), split.train.identities.end(), "p1") == 0);
  CHECK(split.train.identities.size() == 10);

  const std::string dir = siamese::testing::temp_dir("lfw-train-files");
  std::ofstream(dir + "/ids.txt") << "# people\np1\n\np3\r\nq2\n";
  CHECK(st::read_identities_file(dir + "/ids.txt") == std::vector<std::string>{"p1", "p3", "q2"});
  std::ofstream(dir + "/twice.txt") << "p1\np1\n";
  CHECK_THROWS_WITH(st::read_identities_file(dir + "/twice.txt"),
                    Catch::Contains(dir + "/twice.txt: line 2: identity 'p1' is listed twice"));
  o = st::SplitOptions();
  o.data = root;
  o.val_identities = 0;
  o.identities_from_file = {"p1", "zz"};
  CHECK_THROWS_WITH(st::split_identities(o),
                    Catch::Contains("--identities-file: identity 'zz' is not a subfolder"));

  // The program: pairs.txt's people left out, people with one image kept as impostors.
  std::ofstream(dir + "/pairs.txt") << "2\t1\np1\t1\t2\np1\t1\tp2\t1\np3\t1\t2\np3\t2\tq1\t1\n";
  std::string out;
  REQUIRE(siamese::testing::run_shell(std::string(SIAMESE_TRAIN_BIN) + " --threads 1 --data " +
                                          root + " --exclude-pairs " + dir +
                                          "/pairs.txt --min-images 1 --epochs 1 " +
                                          "--val-identities 2 --out " + dir + "/m.pt",
                                      &out) == 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("4 people of " + dir + "/pairs.txt left out"));
  // 14 people - 4 left out - 2 validation = 8 (p4, p5, p6 and q2..q6).
  CHECK_THAT(out, Catch::Contains("training: 8 identities, 14 images"));
  CHECK_THAT(out, Catch::Contains("validation: 2 identities, 6 images"));
}
