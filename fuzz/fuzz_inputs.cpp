#include "fuzz_inputs.h"

#include <c10/util/Exception.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <stdexcept>

#include "bus_lines.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/image_io.h"
#include "siamese/matcher.h"
#include "siamese/model.h"
#include "siamese/model_file.h"
#include "siamese/tfjs_import.h"

namespace siamese::fuzz {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxForwardValues = 3 * 256 * 256;  // larger stated inputs: facts only
constexpr const char* kShardMarker = "\n#shard\n";    // tfjs input: manifest, marker, shard
constexpr const char* kShardName = "group1-shard1of1.bin";

// A broken promise of a reader (not a refusal): the fuzzer reports it as a crash.
[[noreturn]] void finding(const std::string& what) { throw std::logic_error("finding: " + what); }

Outcome refused(const std::exception& e) { return Outcome{false, e.what()}; }

void remove_files(const Scratch& scratch, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* name : names) fs::remove(scratch.file(name), ec);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in) throw std::runtime_error(path + ": cannot read back");
  return out.str();
}

void sql(sqlite3* db, const char* text) {
  char* err = nullptr;
  if (sqlite3_exec(db, text, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(std::string(text) + ": " + message);
  }
}

// The architecture of the seeds' tiny native model: 2 base channels, 4-D embeddings.
ArchOptions tiny_arch() { return ArchOptions().set_base_channels(2).set_embedding_size(4); }

// A tiny native model of tiny_arch().
ModelInfo write_tiny_model(const std::string& path, bool flip_average) {
  torch::manual_seed(3);
  const ArchOptions arch = tiny_arch();
  Network network = Network::create(arch);
  ModelInfo info = fresh_model_info(arch);
  info.flip_average = flip_average;
  info.threshold = 0.8f;
  info.origin = "fuzz seed (untrained)";
  save_model(path, network, info);
  return load_model(path).info;
}

}  // namespace

Scratch::Scratch() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/siamese-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(pattern + ": cannot create a temporary folder");
  }
  dir_ = pattern;
}

Scratch::~Scratch() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string Scratch::write(const std::string& name, const uint8_t* data, size_t size) const {
  const std::string path = file(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error(path + ": cannot write");
  return path;
}

Outcome feed_model_file(const Scratch& scratch, const uint8_t* data, size_t size) {
  remove_files(scratch, {"model.pt.json"});  // no TorchScript sidecar: the input is all there is
  const std::string path = scratch.write("model.pt", data, size);
  try {
    LoadedModel model = load_model(path);
    const ModelInfo& info = model.info;
    (void)describe_model(info);
    const InputSpec& in = info.input;
    if (in.width <= 0 || in.height <= 0 || (in.channels != 1 && in.channels != 3)) {
      finding("load_model accepted input " + std::to_string(in.channels) + "x" +
              std::to_string(in.height) + "x" + std::to_string(in.width));
    }
    if (info.embedding_size <= 0) finding("load_model accepted embedding_size <= 0");
    if (int64_t{in.channels} * in.height * in.width <= kMaxForwardValues) {
      c10::InferenceMode guard;
      model.network.train(false);
      const torch::Tensor e = infer_embeddings(
          model.network, torch::zeros({1, in.channels, in.height, in.width}), embedding_rule(info));
      if (e.dim() != 2 || e.size(0) != 1 || e.size(1) != info.embedding_size) {
        finding("the network gives embeddings of shape " + c10::str(e.sizes()) +
                " but the facts say " + std::to_string(info.embedding_size));
      }
    }
    return Outcome{true, ""};
  } catch (const Error& e) {
    return refused(e);
  } catch (const c10::Error& e) {
    return refused(e);
  }
}

Outcome feed_gallery(const Scratch& scratch, const uint8_t* data, size_t size) {
  remove_files(scratch, {"gallery.db-wal", "gallery.db-shm", "gallery.db-journal"});
  const std::string path = scratch.write("gallery.db", data, size);
  try {
    // The seeds' model facts (the preprocessing they record), bound below to the stored
    // fingerprint, size and metric.
    ModelInfo bound = fresh_model_info(tiny_arch());
    {
      const Gallery g = Gallery::open_unbound(path, /*writable=*/false);
      (void)g.identities();
      (void)g.samples();
      (void)g.metric();
      (void)g.created();
      (void)g.threshold();
      (void)g.change_counter();
      // identities()' counts and load_matrix() may disagree in a file whose index and table
      // disagree (SQLite does not check that on open); the matrix must still be coherent.
      const GalleryMatrix m = g.load_matrix();
      if (m.size() > 0) {
        if (m.embeddings.dim() != 2 || m.embeddings.size(1) != g.embedding_size() ||
            m.owners.dim() != 1 || m.owners.size(0) != m.size()) {
          finding("load_matrix shapes: embeddings " + c10::str(m.embeddings.sizes()) + ", owners " +
                  c10::str(m.owners.sizes()) + ", embedding_size " +
                  std::to_string(g.embedding_size()));
        }
        const int64_t lo = m.owners.min().item<int64_t>(), hi = m.owners.max().item<int64_t>();
        if (lo < 0 || hi >= static_cast<int64_t>(m.names.size())) {
          finding("load_matrix owner " + std::to_string(lo < 0 ? lo : hi) + " outside " +
                  std::to_string(m.names.size()) + " names");
        }
      }
      (void)preprocessing_mismatch(g.preprocessing(), bound);  // stored JSON, whatever it is
      bound.embedding_size = g.embedding_size();
      bound.arch.embedding_size = bound.embedding_size;
      bound.fingerprint = g.model_fingerprint();
      bound.metric = g.metric();
    }
    // As the element and `siamese-enroll identify` open it: bound to its model, then matched.
    const Gallery g = Gallery::open(path, bound, /*create=*/false);
    GalleryMatrix m = g.load_matrix();
    if (m.size() > 0 && bound.embedding_size > 0 && bound.embedding_size <= 4096) {
      const Matcher matcher(std::move(m), torch::kCPU, g.threshold().value_or(1.0f));
      (void)matcher.match(torch::zeros({1, bound.embedding_size}), 3);
    }
    return Outcome{true, ""};
  } catch (const Error& e) {
    return refused(e);
  }
}

Outcome feed_image(const Scratch& scratch, const uint8_t* data, size_t size) {
  const std::string path = scratch.write("image", data, size);
  try {
    for (const int channels : {1, 3}) {
      const cv::Mat image = read_image(path, channels);
      if (image.channels() != channels) {
        finding("read_image(" + std::to_string(channels) + ") gave " +
                std::to_string(image.channels()) + " channels");
      }
      (void)view_of(image);
    }
    return Outcome{true, ""};
  } catch (const Error& e) {
    return refused(e);
  }
}

Outcome feed_bus_json(const Scratch&, const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  Outcome outcome;
  for (std::string line; std::getline(in, line);) {
    const samples::BusLine parsed = samples::parse_bus_line(line);
    if (parsed.kind != samples::BusLine::Kind::kMessage) continue;
    const std::string text = samples::bus_json_text(parsed.json);
    bool object = false;
    try {
      object = nlohmann::json::parse(text).is_object();
    } catch (const nlohmann::json::exception& e) {
      finding("siamese-bus-json printed a line that is not JSON (" + std::string(e.what()) + ")");
    }
    if (!object) finding("siamese-bus-json printed a JSON line that is not an object");
    outcome.accepted = true;
  }
  return outcome;
}

Outcome feed_tfjs_manifest(const Scratch& scratch, const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const size_t marker = bytes.find(kShardMarker);
  const std::string manifest = bytes.substr(0, marker);
  remove_files(scratch, {kShardName});
  if (marker != std::string::npos) {
    const std::string shard = bytes.substr(marker + std::strlen(kShardMarker));
    scratch.write(kShardName, reinterpret_cast<const uint8_t*>(shard.data()), shard.size());
  }
  const std::string path =
      scratch.write("model-weights_manifest.json",
                    reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
  try {
    const TfjsWeights weights = read_tfjs_weights(path);
    for (const TfjsTensor& t : weights.tensors) {
      if (!t.values.defined() || t.values.sizes().vec() != t.shape ||
          t.values.scalar_type() != torch::kFloat32) {
        finding("tensor " + t.name + " does not have the manifest's shape");
      }
      if (weights.find(t.name) == nullptr) finding("find() misses tensor " + t.name);
    }
    return Outcome{true, ""};
  } catch (const Error& e) {
    return refused(e);
  }
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"model_file", feed_model_file},
      {"gallery", feed_gallery},
      {"image", feed_image},
      {"bus_json", feed_bus_json},
      {"tfjs_manifest", feed_tfjs_manifest},
  };
  return all;
}

const Target& target_named(const std::string& name) {
  std::string names;
  for (const Target& t : targets()) {
    if (name == t.name) return t;
    names += std::string(names.empty() ? "" : ", ") + t.name;
  }
  throw std::invalid_argument("unknown fuzz target '" + name + "' (one of " + names + ")");
}

std::vector<std::pair<std::string, std::string>> seed_inputs(const std::string& target,
                                                             const Scratch& scratch) {
  std::vector<std::pair<std::string, std::string>> seeds;
  if (target == "model_file") {
    for (const bool flip : {false, true}) {
      const std::string path = scratch.file("seed-model.pt");
      write_tiny_model(path, flip);
      seeds.emplace_back(flip ? "default-flip.pt" : "default.pt", read_bytes(path));
    }
  } else if (target == "gallery") {
    const std::string model = scratch.file("seed-model.pt");
    const ModelInfo info = write_tiny_model(model, false);
    const std::string path = scratch.file("seed-gallery.db");
    {
      Gallery g = Gallery::open(path, info, /*create=*/true);
      const std::vector<std::vector<float>> e = {
          {1, 0, 0, 0}, {0.8f, 0.6f, 0, 0}, {0, 1, 0, 0}, {0, 0, 0.6f, 0.8f}};
      g.enroll_batch({{"alice",
                       {{"a/1.pgm", e[0], Box{1, 2, 30, 40}, Framing::kDetectorBox},
                        {"a/2.pgm", e[1], Box{}, Framing::kExact}}},
                      {"bob", {{"b/1.pgm", e[2], Box{}, Framing::kExact}}},
                      {"carol", {{"c/1.pgm", e[3], Box{5, 5, 20, 20}, Framing::kDetectorBox}}}},
                     false);
      g.set_threshold(0.7f);
    }
    seeds.emplace_back("wal.db", read_bytes(path));
    // The same content in rollback-journal mode on 512-byte pages: a smaller file to mutate.
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      throw std::runtime_error(path + ": cannot reopen");
    }
    try {
      sql(db, "PRAGMA journal_mode = DELETE");
      sql(db, "PRAGMA page_size = 512");
      sql(db, "VACUUM");
    } catch (...) {
      sqlite3_close(db);
      throw;
    }
    sqlite3_close(db);
    seeds.emplace_back("small-pages.db", read_bytes(path));
  } else if (target == "image") {
    cv::Mat gray(12, 10, CV_8UC1), bgr(9, 11, CV_8UC3), gray16(6, 7, CV_16UC1);
    cv::randu(gray, 0, 255);
    cv::randu(bgr, 0, 255);
    cv::randu(gray16, 0, 65535);
    const std::vector<std::pair<std::string, const cv::Mat*>> images = {
        {"gray.png", &gray}, {"bgr.png", &bgr}, {"gray16.png", &gray16},
        {"gray.jpg", &gray}, {"bgr.jpg", &bgr}, {"gray.pgm", &gray},
        {"bgr.ppm", &bgr},   {"bgr.bmp", &bgr}, {"gray.tiff", &gray}};
    for (const auto& [name, image] : images) {
      std::vector<uchar> bytes;
      const std::string ext = name.substr(name.find('.'));
      try {
        if (!cv::imencode(ext, *image, bytes)) continue;
      } catch (const cv::Exception&) {
        continue;  // this OpenCV has no encoder for the format
      }
      seeds.emplace_back(name, std::string(bytes.begin(), bytes.end()));
    }
  } else if (target == "bus_json") {
    seeds.emplace_back(
        "gst-launch-m.txt",
        "Setting pipeline to PAUSED ...\n"
        "Got message #71 from element \"faceverify0\" (element): faceverify, "
        "timestamp=(guint64)400000000, stream-time=(guint64)400000000, "
        "running-time=(guint64)400000000, duration=(guint64)18446744073709551615, "
        "faces=(structure){ \"face\\,\\ x\\=\\(int\\)522\\,\\ y\\=\\(int\\)50\\,\\ "
        "width\\=\\(int\\)108\\,\\ height\\=\\(int\\)108\\,\\ identity\\=\\(string\\)\\\"s3\\\"\\,"
        "\\ distance\\=\\(double\\)0.25\\,\\ verified\\=\\(boolean\\)true\\,\\ "
        "state\\=\\(string\\)verified\\,\\ track-id\\=\\(gint64\\)1\\;\" };\n"
        "Got message #72 from element \"faceverify0\" (element): faceverify, "
        "timestamp=(guint64)440000000, duration=(guint64)40000000, faces=(int){  }, "
        "ratio=(fraction)3/2, flags=(GstBufferFlags)discont, when=(float)inf;\n"
        "Got message #73 from element \"faceverify0\" (element): faceverify-decision, "
        "track-id=(gint64)2, identity=(string)\"\", state=(string)unknown, "
        "verified=(boolean)false, distance=(double)inf, margin=(double)0, votes=(int)0, "
        "first-seen=(guint64)400000000, running-time=(guint64)480000000;\n"
        "Got message #74 from element \"queue0\" (state-changed): no message details\n"
        "Execution ended after 0:01:02.500000000\n");
  } else if (target == "tfjs_manifest") {
    // float32 [2,3], uint8 [4] (scale and min) and float16 [2]: 24 + 4 + 4 bytes in one shard.
    std::string shard(32, '\0');
    const float f[6] = {0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -0.125f};
    std::memcpy(&shard[0], f, sizeof f);
    const unsigned char q[4] = {0, 1, 128, 255};
    std::memcpy(&shard[24], q, sizeof q);
    const uint16_t h[2] = {0x3c00, 0xc000};  // 1.0, -2.0
    std::memcpy(&shard[28], h, sizeof h);
    seeds.emplace_back("manifest-and-shard.txt",
                       std::string(R"([{"paths": ["group1-shard1of1.bin"], "weights": [
  {"name": "conv/filters", "shape": [2, 3], "dtype": "float32"},
  {"name": "conv/bias", "shape": [4], "dtype": "float32",
   "quantization": {"dtype": "uint8", "scale": 0.01, "min": -1.0}},
  {"name": "fc/weights", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}}
]}])") + kShardMarker + shard);
  } else {
    (void)target_named(target);  // throws for an unknown name
  }
  return seeds;
}

}  // namespace siamese::fuzz
