#include "siamese/model_file.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <system_error>

#include "siamese/atomic_file.h"
#include "siamese/errors.h"
#include "siamese/face_resnet.h"
#include "siamese/log.h"
#include "stored_tensor_check.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kMetaKey = "siamese_meta";
constexpr const char* kScriptFactsName = "siamese.json";

}  // namespace

json validation_json(const ValidationFigures& v) {
  return json{{"auc", v.auc},
              {"eer", v.eer},
              {"tar_at_far_1e-2", v.tar_at_far_1e2},
              {"threshold_at_far_1e-2", v.threshold_at_far_1e2},
              {"tar_at_far_1e-4", v.tar_at_far_1e4},
              {"threshold_at_far_1e-4", v.threshold_at_far_1e4},
              {"impostor_pairs", v.impostor_pairs},
              {"impostor_tail", v.impostor_tail},
              {"accuracy", v.accuracy},
              {"identities", v.identities},
              {"pairs", v.pairs}};
}

namespace {

// The input facts as the model file writes them.
json input_json(const InputSpec& in) {
  return json{{"channels", in.channels},
              {"height", in.height},
              {"width", in.width},
              {"scale", in.scale},
              {"mean", in.mean},
              {"std", in.std},
              {"crop",
               {{"scale_width", in.crop.scale_width},
                {"scale_height", in.crop.scale_height},
                {"shift_y", in.crop.shift_y},
                {"align", align_name(in.crop.align)},
                {"align_padding", in.crop.align_padding},
                {"align_shift_y", in.crop.align_shift_y},
                {"align_mirror", in.crop.align_mirror},
                {"align_points", align_points_name(in.crop.align_points)}}}};
}

json to_json(const ModelInfo& info) {
  return json{
      {"format_version", info.format_version},
      {"arch",
       {{"name", info.arch.arch},
        {"embedding_size", info.arch.embedding_size},
        {"base_channels", info.arch.base_channels}}},
      {"input", input_json(info.input)},
      {"resize", "bilinear, antialiased (PIL-compatible)"},
      {"embedding_size", info.embedding_size},
      {"normalized", info.normalized},
      {"flip_average", info.flip_average},
      {"metric", info.metric},
      {"threshold", info.threshold},
      {"validation", validation_json(info.validation)},
      {"fingerprint", info.fingerprint},
      {"origin", info.origin},
      {"licence", info.licence},
  };
}

// A fact, or fallback when absent; a fact of the wrong type is an InputError naming it.
template <typename T>
T value_or(const json& j, const char* key, T fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw InputError(std::string("model fact \"") + key + "\" has the wrong type (" +
                     it->type_name() + ")");
  }
}

// The facts' ranges (a tampered file must not allocate gigabytes or compute NaN): InputError
// naming the first fact out of range.
void check_fact_ranges(const ModelInfo& info) {
  const auto count_in = [](const char* fact, int value, int lo, int hi) {
    if (value < lo || value > hi) {
      throw InputError(std::string("model fact ") + fact + " = " + std::to_string(value) +
                       " is not in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
  };
  count_in("arch.base_channels", info.arch.base_channels, 1, kMaxBaseChannels);
  count_in("arch.embedding_size", info.arch.embedding_size, 0, kMaxEmbeddingSize);
  count_in("embedding_size", info.embedding_size, 0, kMaxEmbeddingSize);
  try {
    check_input_spec(info.input);
  } catch (const InputError& e) {
    throw InputError(std::string("model fact ") + e.what());
  }
  // Thresholds may be negative: the calibration sweep starts one below the smallest distance
  // ("accept nobody", as the Python reference), which a tiny validation set can pick.
  const auto finite = [](const char* fact, double value) {
    if (!std::isfinite(value)) {
      throw InputError(std::string("model fact ") + fact + " = " + std::to_string(value) +
                       " is not a finite number");
    }
  };
  finite("threshold", info.threshold);
  finite("validation.threshold_at_far_1e-2", info.validation.threshold_at_far_1e2);
  finite("validation.threshold_at_far_1e-4", info.validation.threshold_at_far_1e4);
}

// from_json with every fact checked; errors name the file.
ModelInfo from_json(const json& j, const std::string& path);
ModelInfo read_facts(const json& j, const std::string& path) {
  try {
    ModelInfo info = from_json(j, path);
    check_fact_ranges(info);
    return info;
  } catch (const InputError& e) {
    throw FileError(path, e.what());
  }
}

// The impostor tail as stored; a tampered one (too long, unsorted, not finite, negative) is
// refused: the default gallery threshold is read from it.
std::vector<float> read_impostor_tail(const json& validation, const std::string& path) {
  const auto it = validation.find("impostor_tail");
  if (it == validation.end() || it->is_null()) return {};
  if (!it->is_array() || it->size() > static_cast<size_t>(kImpostorTailSize)) {
    throw FileError(path, "model fact validation.impostor_tail must be a list of at most " +
                              std::to_string(kImpostorTailSize) + " distances");
  }
  std::vector<float> tail = it->get<std::vector<float>>();
  for (size_t i = 0; i < tail.size(); ++i) {
    if (!std::isfinite(tail[i]) || tail[i] < 0.0f || (i > 0 && tail[i] < tail[i - 1])) {
      throw FileError(path,
                      "model fact validation.impostor_tail must hold ascending finite "
                      "distances >= 0");
    }
  }
  return tail;
}

// Reads our own metadata and also the facts of a TorchScript export (seed_baseline.py writes
// "arch" as a string and scale/mean/std at the top level).
ModelInfo from_json(const json& j, const std::string& path) {
  ModelInfo info;
  info.format_version = value_or<int>(j, "format_version", kModelFormatVersion);
  if (j.contains("arch") && j["arch"].is_object()) {
    const json& a = j["arch"];
    info.arch.arch = value_or<std::string>(a, "name", "default");
    info.arch.embedding_size = value_or<int>(a, "embedding_size", 0);
    info.arch.base_channels = value_or<int>(a, "base_channels", 16);
  }
  if (!j.contains("input") || !j["input"].is_object()) {
    throw FileError(path, "model facts lack the \"input\" object (channels, height, width)");
  }
  const json& in = j["input"];
  info.input.channels = value_or<int>(in, "channels", 1);
  info.input.height = value_or<int>(in, "height", 0);
  info.input.width = value_or<int>(in, "width", 0);
  const json& norm = in.contains("scale") ? in : j;
  info.input.scale = value_or<float>(norm, "scale", 1.0f / 255.0f);
  info.input.mean =
      value_or<std::vector<float>>(norm, "mean", std::vector<float>(info.input.channels, 0.0f));
  info.input.std =
      value_or<std::vector<float>>(norm, "std", std::vector<float>(info.input.channels, 1.0f));
  const json crop = in.contains("crop") ? in["crop"] : j.value("crop", json::object());
  info.input.crop.scale_width = value_or<float>(crop, "scale_width", 1.0f);
  info.input.crop.scale_height = value_or<float>(crop, "scale_height", 1.0f);
  info.input.crop.shift_y = value_or<float>(crop, "shift_y", 0.0f);
  // Files from before alignment (issue 13) have none: they are read as "none".
  info.input.crop.align =
      parse_align(value_or<std::string>(crop, "align", "none"), "model fact input.crop.align");
  info.input.crop.align_padding = value_or<float>(crop, "align_padding", 0.25f);
  info.input.crop.align_shift_y = value_or<float>(crop, "align_shift_y", 0.0f);
  // Files from before the mirrored landmark chain were measured without it: read as off.
  info.input.crop.align_mirror = value_or<bool>(crop, "align_mirror", false);
  // Files from before the dlib33 fit aligned on the five points: read as five.
  info.input.crop.align_points = parse_align_points(
      value_or<std::string>(crop, "align_points", "five"), "model fact input.crop.align_points");
  info.embedding_size = value_or<int>(j, "embedding_size", 0);
  info.normalized = value_or<bool>(j, "normalized", false);
  info.flip_average = value_or<bool>(j, "flip_average", false);
  info.metric = value_or<std::string>(j, "metric", kDefaultMetric);
  info.threshold = value_or<float>(j, "threshold", -1.0f);
  if (j.contains("validation")) {
    const json& v = j["validation"];
    info.validation.auc = value_or<double>(v, "auc", 0.0);
    info.validation.eer = value_or<double>(v, "eer", 1.0);
    info.validation.tar_at_far_1e2 = value_or<double>(v, "tar_at_far_1e-2", 0.0);
    info.validation.threshold_at_far_1e2 = value_or<double>(v, "threshold_at_far_1e-2", -1.0);
    info.validation.tar_at_far_1e4 = value_or<double>(v, "tar_at_far_1e-4", 0.0);
    info.validation.threshold_at_far_1e4 = value_or<double>(v, "threshold_at_far_1e-4", -1.0);
    info.validation.impostor_pairs = value_or<int64_t>(v, "impostor_pairs", 0);
    info.validation.impostor_tail = read_impostor_tail(v, path);
    info.validation.accuracy = value_or<double>(v, "accuracy", 0.0);
    info.validation.identities = value_or<int>(v, "identities", 0);
    info.validation.pairs = value_or<int64_t>(v, "pairs", 0);
  }
  info.fingerprint = value_or<std::string>(j, "fingerprint", "");
  info.origin = value_or<std::string>(j, "origin", value_or<std::string>(j, "source", ""));
  info.licence = value_or<std::string>(j, "licence", "");
  if (info.metric != kDefaultMetric) {
    throw FileError(path, "metric '" + info.metric + "' is not supported (only euclidean)");
  }
  return info;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

bool starts_like_zip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

// Checks the weights actually produce embeddings of the announced size.
void check_forward(Network& net, ModelInfo& info, const std::string& path) {
  c10::InferenceMode guard;
  torch::Tensor probe = torch::zeros({1, info.input.channels, info.input.height, info.input.width});
  torch::Tensor out;
  try {
    out = net.forward(probe);
  } catch (const std::exception& e) {
    throw FileError(path, "the network does not accept its declared input " +
                              std::to_string(info.input.channels) + "x" +
                              std::to_string(info.input.height) + "x" +
                              std::to_string(info.input.width) + ": " + first_line(e.what()));
  }
  if (out.dim() != 2 || out.size(0) != 1) {
    throw FileError(path, "the network's output is not one embedding vector per input");
  }
  if (info.embedding_size == 0) info.embedding_size = static_cast<int>(out.size(1));
  if (out.size(1) != info.embedding_size) {
    throw FileError(path, "the network gives embeddings of size " + std::to_string(out.size(1)) +
                              ", the facts say " + std::to_string(info.embedding_size));
  }
}

LoadedModel load_native(const std::string& path, torch::serialize::InputArchive& archive,
                        const c10::IValue& meta) {
  json j;
  try {
    j = json::parse(meta.toStringRef());
  } catch (const std::exception& e) {
    throw FileError(path, std::string("model metadata is not valid JSON: ") + e.what());
  }
  ModelInfo info = read_facts(j, path);
  if (info.format_version > kModelFormatVersion || info.format_version < 1) {
    throw FileError(path, "model format version " + std::to_string(info.format_version) +
                              " is not supported (this build reads version " +
                              std::to_string(kModelFormatVersion) + ")");
  }
  Network net;
  try {
    net = Network::create(info.arch);
  } catch (const InputError& e) {
    throw FileError(path, std::string("model fact arch: ") + e.what());
  }
  // LibTorch's load() takes each stored tensor as it is, whatever its shape: compare them with
  // the architecture's, or a file could pair small weights with facts that allocate a huge net.
  std::map<std::string, std::pair<std::vector<int64_t>, torch::ScalarType>> expected;
  for (const auto& [name, tensor] : net.named_state()) {
    expected[name] = {tensor.sizes().vec(), tensor.scalar_type()};
  }
  try {
    net.module()->load(archive);
  } catch (const std::exception& e) {
    throw FileError(
        path, "weights do not fit architecture '" + info.arch.arch + "': " + first_line(e.what()));
  }
  for (const auto& [name, tensor] : net.named_state()) {
    const auto it = expected.find(name);
    if (it == expected.end()) continue;
    const auto& [want_sizes, want_type] = it->second;
    if (tensor.sizes() != torch::IntArrayRef(want_sizes) || tensor.scalar_type() != want_type) {
      std::ostringstream why;
      why << "weights '" << name << "' are " << tensor.scalar_type() << " " << tensor.sizes()
          << ", architecture '" << info.arch.arch << "' (base_channels " << info.arch.base_channels
          << ", embedding_size " << info.arch.embedding_size << ") needs " << want_type << " "
          << torch::IntArrayRef(want_sizes);
      throw FileError(path, why.str());
    }
  }
  const std::string actual = fingerprint_of(net);
  if (!info.fingerprint.empty() && actual != info.fingerprint) {
    throw FileError(path, "weights fingerprint " + actual + " differs from the recorded " +
                              info.fingerprint + " (corrupt file)");
  }
  info.fingerprint = actual;
  net.train(false);
  check_forward(net, info, path);
  return LoadedModel{std::move(info), std::move(net), path};
}

std::string read_sidecar(const std::string& path) {
  for (const fs::path& candidate :
       {fs::path(path + ".json"), fs::path(path).replace_extension(".json")}) {
    std::ifstream f(candidate);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
  }
  return {};
}

LoadedModel load_script(const std::string& path) {
  std::unordered_map<std::string, std::string> extra{{kScriptFactsName, ""}};
  torch::jit::Module module = torch::jit::load(path, torch::kCPU, extra);
  std::string facts_text = extra[kScriptFactsName];
  if (facts_text.empty()) facts_text = read_sidecar(path);
  if (facts_text.empty()) {
    throw FileError(path, "TorchScript module without preprocessing facts: add \"" +
                              std::string(kScriptFactsName) + "\" as an extra file or a sidecar " +
                              path + ".json");
  }
  json j;
  try {
    j = json::parse(facts_text);
  } catch (const std::exception& e) {
    throw FileError(path, std::string("preprocessing facts are not valid JSON: ") + e.what());
  }
  ModelInfo info = read_facts(j, path);
  info.format_version = kModelFormatVersion;
  info.arch = ArchOptions().set_arch("torchscript").set_embedding_size(info.embedding_size);
  if (j.contains("arch") && j["arch"].is_string())
    info.origin += " (arch " + j["arch"].get<std::string>() + ")";
  Network net = Network::from_script(std::move(module));
  net.train(false);
  check_forward(net, info, path);
  info.arch.embedding_size = info.embedding_size;
  info.fingerprint = fingerprint_of(net);
  if (info.threshold <= 0.0f) {
    log(LogLevel::kWarning, path +
                                ": no calibrated threshold in the model facts; using 1.0 "
                                "(set the threshold explicitly)");
    info.threshold = 1.0f;
  }
  return LoadedModel{std::move(info), std::move(net), path};
}

}  // namespace

InputSpec default_input_spec(const ArchOptions& arch) {
  if (arch.arch == kDlibResNetArch) return dlib_resnet_input_spec();
  InputSpec spec;
  if (arch.arch == "seed") {
    spec.width = spec.height = 100;
    spec.mean = {0.0f};
    spec.std = {1.0f};
  } else {
    spec.width = spec.height = 64;
    spec.mean = {0.5f};
    spec.std = {0.5f};
  }
  spec.channels = 1;
  spec.scale = 1.0f / 255.0f;
  return spec;
}

ModelInfo fresh_model_info(const ArchOptions& arch) {
  ModelInfo info;
  info.arch = arch;
  info.input = default_input_spec(arch);
  info.embedding_size = arch.embedding_size;
  info.normalized = arch.arch == "default";
  return info;
}

std::string preprocessing_facts(const ModelInfo& info) {
  json input = input_json(info.input);
  if (info.input.crop.align == Align::kNone) {
    // Without alignment its details change nothing: they must not tell two equal crops apart.
    for (const char* key : {"align_padding", "align_shift_y", "align_mirror", "align_points"}) {
      input["crop"].erase(key);
    }
  }
  return json{
      {"input", input}, {"flip_average", info.flip_average}, {"normalized", info.normalized}}
      .dump();
}

std::string fingerprint_of(const Network& network) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  };
  for (const auto& [name, tensor] : network.named_state()) {
    mix(name.data(), name.size());
    const auto sizes = tensor.sizes();
    mix(sizes.data(), sizes.size() * sizeof(int64_t));
    const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    mix(t.data_ptr(), t.numel() * t.element_size());
  }
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

// Invalid UTF-8 (a --data path in origin, say) is replaced, never a reason to fail.
std::string facts_text(const ModelInfo& info) {
  return to_json(info).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string describe_model(const ModelInfo& info) { return facts_text(info); }

void save_model(const std::string& path, Network& network, ModelInfo info) {
  if (network.is_script()) {
    throw InputError("save_model: TorchScript networks are saved with torch.jit.save, not here");
  }
  info.format_version = kModelFormatVersion;
  info.fingerprint = fingerprint_of(network);
  torch::serialize::OutputArchive archive;
  network.module()->save(archive);
  archive.write(kMetaKey, c10::IValue(facts_text(info)));
  save_archive(path, archive, "model");
}

void save_archive(const std::string& path, torch::serialize::OutputArchive& archive,
                  const std::string& what) {
  try {
    AtomicFile file(path);  // a fresh, unpredictable temporary name: never a planted link
    archive.save_to([&file](const void* data, size_t n) {
      file.write(data, n);
      return n;
    });
    file.commit();
  } catch (const FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw FileError(path, "cannot write " + what + ": " + first_line(e.what()));
  }
}

LoadedModel load_model(const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw FileError("(empty path)", "no model file given");
  if (!fs::exists(path, ec)) throw FileError(path, "no such model file");
  if (!fs::is_regular_file(path, ec)) throw FileError(path, "not a regular file");
  if (!std::ifstream(path)) throw FileError(path, "cannot open model file for reading");
  if (!starts_like_zip(path)) {
    throw FileError(path, "not a model file (neither a siamese-train model nor TorchScript)");
  }
  try {
    // Before LibTorch adopts the weights: a file may declare more bytes than it stores (found by
    // fuzzing: fingerprint_of read past the buffer).
    detail::check_stored_tensors_fit(path);
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue meta;
    if (archive.try_read(kMetaKey, meta)) return load_native(path, archive, meta);
    return load_script(path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw FileError(path,
                    "cannot read model (truncated or corrupt file?): " + first_line(e.what()));
  }
}

}  // namespace siamese
