#include "checkpoint.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "siamese/errors.h"
#include "siamese/model_file.h"

namespace siamese::training {
namespace {

using nlohmann::json;
constexpr const char* kFormat = "siamese-train checkpoint";
constexpr int kVersion = 1;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

json to_json(const CheckpointState& s) {
  json history = json::array();
  for (const auto& r : s.history) {
    history.push_back({{"epoch", r.epoch},
                       {"loss", r.loss},
                       {"lr", r.lr},
                       {"seconds", r.seconds},
                       {"pairs_per_s", r.pairs_per_s},
                       {"validated", r.validated},
                       {"auc", r.validation.auc},
                       {"eer", r.validation.eer},
                       {"tar", r.validation.tar_at_far_1e2},
                       {"accuracy", r.validation.accuracy},
                       {"identities", r.validation.identities},
                       {"pairs", r.validation.pairs},
                       {"threshold", r.threshold},
                       {"best", r.best}});
  }
  const InputSpec& in = s.spec;
  return json{{"format", kFormat},
              {"version", kVersion},
              {"arch",
               {{"name", s.arch.arch},
                {"embedding_size", s.arch.embedding_size},
                {"base_channels", s.arch.base_channels}}},
              {"input",
               {{"width", in.width},
                {"height", in.height},
                {"channels", in.channels},
                {"scale", in.scale},
                {"mean", in.mean},
                {"std", in.std},
                {"crop", {in.crop.scale_width, in.crop.scale_height, in.crop.shift_y}}}},
              {"loss", s.loss},
              {"margin", s.margin},
              {"epoch", s.epoch},
              {"sampler_state", s.sampler_state},
              {"best_eer", s.best_eer},
              {"best_auc", s.best_auc},
              {"best_epoch", s.best_epoch},
              {"best_fingerprint", s.best_fingerprint},
              {"history", history}};
}

CheckpointState from_json(const json& j) {
  CheckpointState s;
  s.arch.arch = j.at("arch").at("name").get<std::string>();
  s.arch.embedding_size = j.at("arch").at("embedding_size").get<int>();
  s.arch.base_channels = j.at("arch").at("base_channels").get<int>();
  const json& in = j.at("input");
  s.spec.width = in.at("width").get<int>();
  s.spec.height = in.at("height").get<int>();
  s.spec.channels = in.at("channels").get<int>();
  s.spec.scale = in.at("scale").get<float>();
  s.spec.mean = in.at("mean").get<std::vector<float>>();
  s.spec.std = in.at("std").get<std::vector<float>>();
  const auto crop = in.at("crop").get<std::vector<float>>();
  if (crop.size() != 3) throw std::runtime_error("crop policy needs three numbers");
  s.spec.crop.scale_width = crop[0];
  s.spec.crop.scale_height = crop[1];
  s.spec.crop.shift_y = crop[2];
  s.loss = j.at("loss").get<std::string>();
  s.margin = j.at("margin").get<double>();
  s.epoch = j.at("epoch").get<int>();
  s.sampler_state = j.at("sampler_state").get<std::string>();
  s.best_eer = j.at("best_eer").get<double>();
  s.best_auc = j.at("best_auc").get<double>();
  s.best_epoch = j.at("best_epoch").get<int>();
  s.best_fingerprint = j.at("best_fingerprint").get<std::string>();
  for (const json& h : j.at("history")) {
    EpochRecord r;
    r.epoch = h.at("epoch").get<int>();
    r.loss = h.at("loss").get<double>();
    r.lr = h.at("lr").get<double>();
    r.seconds = h.at("seconds").get<double>();
    r.pairs_per_s = h.at("pairs_per_s").get<double>();
    r.validated = h.at("validated").get<bool>();
    r.validation.auc = h.at("auc").get<double>();
    r.validation.eer = h.at("eer").get<double>();
    r.validation.tar_at_far_1e2 = h.at("tar").get<double>();
    r.validation.accuracy = h.at("accuracy").get<double>();
    r.validation.identities = h.at("identities").get<int>();
    r.validation.pairs = h.at("pairs").get<int64_t>();
    r.threshold = h.at("threshold").get<double>();
    r.best = h.at("best").get<bool>();
    s.history.push_back(r);
  }
  return s;
}

void open_archive(const std::string& path, torch::serialize::InputArchive& archive,
                  c10::optional<torch::Device> device) {
  if (!std::filesystem::is_regular_file(path)) {
    throw FileError(path, "no such checkpoint file");
  }
  try {
    archive.load_from(path, device);
  } catch (const std::exception& e) {
    throw FileError(path,
                    "not a readable siamese-train checkpoint (truncated or another kind "
                    "of file): " +
                        first_line(e.what()));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer,
                     const CheckpointState& state) {
  torch::serialize::OutputArchive archive;
  archive.write("meta",
                c10::IValue(to_json(state).dump(-1, ' ', false, json::error_handler_t::replace)));
  torch::serialize::OutputArchive model;
  network.module()->save(model);
  archive.write("model", model);
  torch::serialize::OutputArchive optim;
  optimizer.save(optim);
  archive.write("optimizer", optim);
  save_archive(path, archive, "the checkpoint");
}

CheckpointState read_checkpoint_state(const std::string& path) {
  torch::serialize::InputArchive archive;
  open_archive(path, archive, torch::Device(torch::kCPU));
  c10::IValue meta;
  if (!archive.try_read("meta", meta) || !meta.isString()) {
    throw FileError(path, "not a siamese-train checkpoint (no trainer state)");
  }
  try {
    const json j = json::parse(meta.toStringRef());
    if (j.value("format", "") != kFormat) throw std::runtime_error("unknown format");
    if (j.value("version", 0) != kVersion) {
      throw std::runtime_error("checkpoint version " + std::to_string(j.value("version", 0)) +
                               " (this build reads " + std::to_string(kVersion) + ")");
    }
    return from_json(j);
  } catch (const std::exception& e) {
    throw FileError(path, std::string("not a usable siamese-train checkpoint: ") + e.what());
  }
}

void load_checkpoint_weights(const std::string& path, Network& network,
                             torch::optim::Optimizer& optimizer, torch::Device device) {
  torch::serialize::InputArchive archive;
  open_archive(path, archive, device);
  try {
    torch::serialize::InputArchive model, optim;
    archive.read("model", model);
    network.module()->load(model);
    archive.read("optimizer", optim);
    optimizer.load(optim);
  } catch (const std::exception& e) {
    throw FileError(path, "checkpoint weights do not fit the network: " + first_line(e.what()));
  }
}

}  // namespace siamese::training
