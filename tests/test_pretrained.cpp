// Pretrained weights: the tfjs reader (bounds, dequantisation, errors naming file and tensor),
// the dlib-resnet architecture, the pinned sha256 of the cache, and the imported network
// against face-api's own JavaScript (tests/fixtures/face_api_embeddings.json, within 1e-4).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/face_resnet.h"
#include "siamese/image_io.h"
#include "siamese/model_file.h"
#include "siamese/pretrained.h"
#include "siamese/tfjs_import.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

template <typename T>
void append(std::vector<unsigned char>& bytes, T value) {
  const auto* p = reinterpret_cast<const unsigned char*>(&value);
  bytes.insert(bytes.end(), p, p + sizeof value);
}

// A message check that says what was expected.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const siamese::FileError& e) {
    return std::string("FileError[") + e.path() + "] " + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "no error";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A small manifest: a uint8 tensor, a float16 one and a float32 one spanning two shards.
struct SmallWeights {
  std::string dir, manifest;
  json j;
  std::vector<unsigned char> shard1, shard2;

  explicit SmallWeights(const std::string& tag) : dir(siamese::testing::temp_dir(tag)) {
    manifest = dir + "/w-weights_manifest.json";
    j = json::array({{{"paths", {"w1.bin", "w2.bin"}},
                      {"weights",
                       {{{"name", "a/q8"},
                         {"shape", {2, 2}},
                         {"dtype", "float32"},
                         {"quantization", {{"dtype", "uint8"}, {"scale", 0.5}, {"min", -1.0}}}},
                        {{"name", "b/q16"},
                         {"shape", {3}},
                         {"dtype", "float32"},
                         {"quantization", {{"dtype", "uint16"}, {"scale", 0.25}, {"min", 2.0}}}},
                        {{"name", "c/half"},
                         {"shape", {3}},
                         {"dtype", "float32"},
                         {"quantization", {{"dtype", "float16"}}}},
                        {{"name", "d/f32"}, {"shape", {2}}, {"dtype", "float32"}}}}}});
    std::vector<unsigned char> all{0, 1, 2, 255};  // a: 4 x uint8
    append<std::uint16_t>(all, 0);                 // b: 3 x uint16
    append<std::uint16_t>(all, 4);
    append<std::uint16_t>(all, 65535);
    append<std::uint16_t>(all, 0x3c00);  // c: 1.0
    append<std::uint16_t>(all, 0xc000);  //    -2.0
    append<std::uint16_t>(all, 0x0001);  //    2^-24
    append<float>(all, 3.25f);           // d
    append<float>(all, -7.5f);
    shard1.assign(all.begin(), all.begin() + 17);  // d/f32's first float straddles the shards
    shard2.assign(all.begin() + 17, all.end());
    write();
  }
  void write() const {
    write_text(manifest, j.dump());
    write_bytes(dir + "/w1.bin", shard1);
    write_bytes(dir + "/w2.bin", shard2);
  }
};

// face-api's weights in its own layout (HWIO filters, [256,128] fc), from a network's params.
siamese::TfjsWeights to_tfjs(siamese::DlibResNetImpl& net) {
  siamese::TfjsWeights w;
  w.manifest_path = "in-memory-manifest.json";
  for (const auto& p : net.named_parameters()) {
    std::string name = p.key();
    for (char& c : name) {
      if (c == '.') c = '/';
    }
    torch::Tensor v = p.value().detach().clone();
    auto ends = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (name == "fc/weight") {
      name = "fc";
      v = v.t().contiguous();
    } else if (ends("/conv/weight")) {
      name = name.substr(0, name.size() - 6) + "filters";
      v = v.permute({2, 3, 1, 0}).contiguous();
    } else if (ends("/scale")) {
      name += "/weights";
    } else if (ends("/shift")) {
      name = name.substr(0, name.size() - 5) + "scale/biases";
    }
    siamese::TfjsTensor t;
    t.name = name;
    t.shape = std::vector<int64_t>(v.sizes().begin(), v.sizes().end());
    t.stored_dtype = "float32";
    t.values = v;
    w.tensors.push_back(t);
  }
  return w;
}

void randomise(siamese::DlibResNetImpl& net, int seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& p : net.parameters()) p.uniform_(-0.1, 0.1);
}

// The reference inputs of tests/reference/face_api_embeddings.js, byte for byte (HWC RGB).
constexpr int kSide = 150;

std::vector<unsigned char> synthetic_face(int seed) {
  const cv::Mat rgb = siamese::testing::drawn_reference_face(seed);
  return std::vector<unsigned char>(rgb.datastart, rgb.dataend);
}

std::vector<unsigned char> att_face(const std::string& path) {
  const cv::Mat img = siamese::read_image(path, 1);
  const int side = std::min(img.cols, img.rows);
  const int x0 = (img.cols - side) / 2, y0 = (img.rows - side) / 2;
  std::vector<unsigned char> px(kSide * kSide * 3);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const unsigned char v = img.at<unsigned char>(y0 + y * side / kSide, x0 + x * side / kSide);
      for (int c = 0; c < 3; ++c) px[(y * kSide + x) * 3 + c] = v;
    }
  }
  return px;
}

std::uint32_t fnv1a32(const std::vector<unsigned char>& bytes) {
  std::uint32_t h = 0x811c9dc5u;
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 0x01000193u;
  }
  return h;
}

struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  explicit EnvGuard(std::string n) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
  }
  ~EnvGuard() {
    if (old) {
      setenv(name.c_str(), old->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
};

}  // namespace

TEST_CASE("tfjs weights are dequantised as tf.io.decodeWeights does", "[core][pretrained]") {
  SmallWeights w("tfjs-ok");
  const siamese::TfjsWeights weights = siamese::read_tfjs_weights(w.manifest);
  REQUIRE(weights.tensors.size() == 4);
  CHECK(weights.shard_bytes == 24);
  const auto* a = weights.find("a/q8");
  REQUIRE(a);
  CHECK(a->stored_dtype == "uint8");
  CHECK(a->values.sizes() == torch::IntArrayRef({2, 2}));
  CHECK(torch::equal(a->values.flatten(), torch::tensor({-1.0f, -0.5f, 0.0f, 126.5f})));
  CHECK(torch::equal(weights.find("b/q16")->values, torch::tensor({2.0f, 3.0f, 16385.75f})));
  CHECK(torch::equal(weights.find("c/half")->values,
                     torch::tensor({1.0f, -2.0f, std::ldexp(1.0f, -24)})));
  const auto* d = weights.find("d/f32");
  CHECK(torch::equal(d->values, torch::tensor({3.25f, -7.5f})));
  CHECK(d->shard == w.dir + "/w1.bin");  // where its bytes start
  CHECK(weights.find("missing") == nullptr);
}

TEST_CASE("corrupt, truncated and mismatched tfjs files name the file and the tensor",
          "[core][pretrained]") {
  SmallWeights w("tfjs-bad");
  SECTION("a truncated shard names the shard and the tensor that runs past its end") {
    w.shard2.pop_back();
    w.write();
    const std::string e = error_of([&] { siamese::read_tfjs_weights(w.manifest); });
    INFO(e);
    CHECK(contains(e, "FileError[" + w.dir + "/w2.bin]"));
    CHECK(contains(e, "'d/f32'"));
    CHECK(contains(e, "truncated"));
  }
  SECTION("bytes left over name the shard and the last tensor") {
    w.shard2.push_back(0);
    w.write();
    const std::string e = error_of([&] { siamese::read_tfjs_weights(w.manifest); });
    INFO(e);
    CHECK(contains(e, "FileError[" + w.dir + "/w2.bin]"));
    CHECK(contains(e, "1 bytes are left after the last tensor 'd/f32'"));
  }
  SECTION("a missing shard is named") {
    fs::remove(w.dir + "/w2.bin");
    const std::string e = error_of([&] { siamese::read_tfjs_weights(w.manifest); });
    CHECK(contains(e, "FileError[" + w.dir + "/w2.bin] "));
    CHECK(contains(e, "no such weights shard"));
  }
  SECTION("a manifest that is not JSON, or not a list of groups") {
    write_text(w.manifest, "[{\"paths\": [");
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "FileError[" + w.manifest + "] " + w.manifest +
                       ": weights manifest is not "
                       "valid JSON"));
    write_text(w.manifest, "{}");
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "not a non-empty array"));
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.dir + "/none.json"); }),
                   "no such weights manifest"));
  }
  SECTION("shapes out of bounds are refused before any allocation") {
    w.j[0]["weights"][1]["shape"] = {-3};
    w.write();
    std::string e = error_of([&] { siamese::read_tfjs_weights(w.manifest); });
    CHECK(contains(e, "FileError[" + w.manifest + "]"));
    CHECK(contains(e, "tensor 'b/q16' has a shape entry that is not a non-negative integer"));
    w.j[0]["weights"][1]["shape"] = {1LL << 40, 1LL << 40};  // 2^80 elements
    w.write();
    e = error_of([&] { siamese::read_tfjs_weights(w.manifest); });
    CHECK(contains(e, "tensor 'b/q16' has a shape larger than"));
    w.j[0]["weights"][1]["shape"] = {1, 1, 1, 1, 1, 1, 1};
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensor 'b/q16' has rank 7"));
    w.j[0]["weights"][1]["shape"] = {1 << 20, 1 << 10};  // 1 GiB of uint16: over the budget
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensors up to 'b/q16' need more than"));
  }
  SECTION("unknown dtypes and incomplete quantizations name the tensor") {
    w.j[0]["weights"][2]["quantization"]["dtype"] = "int4";
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensor 'c/half' has quantization dtype 'int4'"));
    w.j[0]["weights"][2]["quantization"] = {{"dtype", "uint8"}};
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensor 'c/half' is quantized to uint8 without scale and min"));
    w.j[0]["weights"][2].erase("quantization");
    w.j[0]["weights"][2]["dtype"] = "string";
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensor 'c/half' has dtype 'string'"));
  }
  SECTION("shard names stay beside the manifest") {
    w.j[0]["paths"][1] = "../w2.bin";
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "names a shard that is not a plain file name"));
    w.j[0]["paths"][1] = "/etc/passwd";
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "names a shard that is not a plain file name"));
  }
  SECTION("a name twice and counts over the limits") {
    w.j[0]["weights"][3]["name"] = "a/q8";
    w.write();
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest); }),
                   "tensor 'a/q8' appears twice"));
    siamese::TfjsLimits limits;
    limits.max_tensors = 3;
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest, limits); }),
                   "more than 3 tensors"));
    limits = {};
    limits.max_manifest_bytes = 100;
    CHECK(contains(error_of([&] { siamese::read_tfjs_weights(w.manifest, limits); }),
                   "larger than the 100 allowed"));
  }
}

TEST_CASE("dlib-resnet is face-api's network: 117 tensors, 5,614,592 parameters, 128-D",
          "[core][pretrained]") {
  siamese::Network net = siamese::Network::create(siamese::face_api_model_info().arch);
  CHECK(net.named_state().size() == 117);
  CHECK(siamese::count_parameters(net) == 5614592);
  net.train(false);
  c10::InferenceMode guard;
  const torch::Tensor out = net.forward(torch::rand({2, 3, 150, 150}));
  CHECK(out.sizes() == torch::IntArrayRef({2, 128}));
  CHECK_THROWS_AS(siamese::Network::create(
                      siamese::ArchOptions().set_arch("dlib-resnet").set_embedding_size(64)),
                  siamese::InputError);
  CHECK(siamese::default_input_spec(siamese::ArchOptions().set_arch("dlib-resnet")).channels == 3);
  // 7x7 stem at 72x72 (48,771,072), 32-channel blocks at 35 (3 x 45,158,400), 64 at 17
  // (31,961,088 + 3 x 42,614,784), 128 at 8 (28,311,552 + 2 x 37,748,736), 256 at 3 and 4
  // (15,925,248 + 2 x 37,748,736), the last down block at 1 (2,359,296), fc (65,536).
  CHECK(siamese::dlib_resnet_flops() == 541708288);
}

TEST_CASE("dlib-resnet folds its affine layers without changing embeddings", "[core][pretrained]") {
  siamese::DlibResNet net;
  randomise(*net, 3);
  net->train(false);
  c10::InferenceMode guard;
  const torch::Tensor x = torch::rand({3, 3, 150, 150});
  const torch::Tensor plain = net->forward(x);
  const float size = plain.abs().max().item<float>();
  REQUIRE(size > 0.0f);
  net->fold_affine();
  CHECK((net->forward(x) - plain).abs().max().item<float>() <= 1e-4f * size);
  net->train(true);  // drops the folded copies
  net->train(false);
  CHECK(torch::equal(net->forward(x), plain));
}

TEST_CASE("face-api weights are checked name by name and shape by shape", "[core][pretrained]") {
  siamese::DlibResNet source;
  randomise(*source, 1);
  siamese::TfjsWeights weights = to_tfjs(*source);
  REQUIRE(weights.tensors.size() == 117);

  siamese::DlibResNet target;
  siamese::load_face_api_weights(*target, weights);
  for (const auto& p : source->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), target->named_parameters()[p.key()]));
  }

  auto named = [&](const std::string& name) {
    for (auto it = weights.tensors.begin(); it != weights.tensors.end(); ++it) {
      if (it->name == name) return it;
    }
    FAIL("no tensor " << name);
    return weights.tensors.end();
  };
  SECTION("a missing tensor") {
    weights.tensors.erase(named("conv32_1/conv1/scale/biases"));
    const std::string e = error_of([&] { siamese::load_face_api_weights(*target, weights); });
    CHECK(contains(e, "FileError[in-memory-manifest.json]"));
    CHECK(contains(e, "tensor 'conv32_1/conv1/scale/biases' is missing"));
  }
  SECTION("a tensor of the wrong shape, reported in the file's layout") {
    auto& t = *named("conv32_1/conv1/conv/filters");
    t.shape = {3, 3, 32, 16};
    t.values = torch::zeros({3, 3, 32, 16});
    const std::string e = error_of([&] { siamese::load_face_api_weights(*target, weights); });
    CHECK(contains(e,
                   "tensor 'conv32_1/conv1/conv/filters' has shape [3,3,32,16], "
                   "dlib-resnet expects [3,3,32,32]"));
    t.shape = {32};
    t.values = torch::zeros({32});
    CHECK(contains(error_of([&] { siamese::load_face_api_weights(*target, weights); }),
                   "has shape [32], dlib-resnet expects [3,3,32,32]"));
  }
  SECTION("a tensor the architecture does not have") {
    siamese::TfjsTensor extra = weights.tensors.back();
    extra.name = "fc_extra";
    weights.tensors.push_back(extra);
    CHECK(contains(error_of([&] { siamese::load_face_api_weights(*target, weights); }),
                   "tensor 'fc_extra' is not part of dlib-resnet"));
  }
}

TEST_CASE("sha256 of bytes and files", "[core][pretrained]") {
  CHECK(siamese::sha256_hex("", 0) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(siamese::sha256_hex("abc", 3) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(siamese::sha256_hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  const std::string file = siamese::testing::temp_dir("sha") + "/a.bin";
  write_text(file, million);
  CHECK(siamese::sha256_file(file) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK_THROWS_AS(siamese::sha256_file(file + ".none"), siamese::FileError);
}

TEST_CASE("the pinned sha256 list in the repository is the one compiled in", "[core][pretrained]") {
  const std::string sums = std::string(SIAMESE_SOURCE_DIR) + "/pipeline/weights/face-api-" +
                           siamese::kFaceApiVersion + ".sha256";
  std::ifstream in(sums);
  REQUIRE(in);
  std::vector<std::pair<std::string, std::string>> listed;
  std::string sum, file;
  while (in >> sum >> file) listed.emplace_back(file, sum);
  const auto& compiled = siamese::face_api_pinned_files();
  REQUIRE(listed.size() == compiled.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    CHECK(listed[i].first == compiled[i].path);
    CHECK(listed[i].second == compiled[i].sha256);
  }
}

TEST_CASE("the weights cache is found through SIAMESE_WEIGHTS_DIR or XDG_CACHE_HOME",
          "[core][pretrained]") {
  EnvGuard a("SIAMESE_WEIGHTS_DIR"), b("XDG_CACHE_HOME"), c("HOME");
  setenv("SIAMESE_WEIGHTS_DIR", "/w", 1);
  CHECK(siamese::face_api_cache_dir() == "/w");
  unsetenv("SIAMESE_WEIGHTS_DIR");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  CHECK(siamese::face_api_cache_dir() == "/xdg/gst-siamese/face-api-1.7.15");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  CHECK(siamese::face_api_cache_dir() == "/home/u/.cache/gst-siamese/face-api-1.7.15");
}

TEST_CASE("a missing or altered weights file says how to fetch it", "[core][pretrained]") {
  const std::string dir = siamese::testing::temp_dir("pinned");
  fs::create_directories(dir + "/model");
  std::string e = error_of([&] { siamese::import_face_api(dir); });
  INFO(e);
  CHECK(contains(e, "FileError[" + dir + "/" + siamese::kFaceApiManifest + "]"));
  CHECK(contains(e, "tests/fetch_weights.sh"));
  write_text(dir + "/" + siamese::kFaceApiManifest, "[]");
  e = error_of([&] { siamese::import_face_api(dir); });
  CHECK(contains(e, "sha256"));
  CHECK(contains(e, "differs from the pinned"));
  CHECK(contains(e, "tests/fetch_weights.sh"));
  CHECK_THROWS_AS(siamese::verify_pinned_file(dir, "model/other.bin"), siamese::InputError);
}

TEST_CASE("the imported network gives face-api's JavaScript embeddings within 1e-4",
          "[core][pretrained]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kFaceApiManifest);
  std::ifstream in(std::string(SIAMESE_SOURCE_DIR) + "/tests/fixtures/face_api_embeddings.json");
  REQUIRE(in);
  const json fixture = json::parse(in);
  const std::string att = siamese::testing::att_faces_dir();

  const siamese::InputSpec spec = siamese::face_api_model_info().input;
  std::vector<torch::Tensor> faces;
  std::vector<torch::Tensor> expected;
  std::vector<std::string> names;
  for (size_t i = 0; i < fixture["inputs"].size(); ++i) {
    const json& input = fixture["inputs"][i];
    std::vector<unsigned char> px;
    if (input["kind"] == "synthetic") {
      px = synthetic_face(input["seed"].get<int>());
    } else {
      if (att.empty()) {
        WARN("AT&T faces not found: " << input["name"] << " not compared");
        continue;
      }
      px = att_face(att + "/" + input["file"].get<std::string>());
    }
    INFO(input["name"]);
    REQUIRE(fnv1a32(px) == input["fnv1a32"].get<std::uint32_t>());  // the same pixels
    // Through the one preprocessing function: a 150x150 RGB frame, taken whole (no resize).
    const siamese::ImageView view =
        siamese::ImageView::packed(px.data(), kSide, kSide, kSide * 3, siamese::PixelFormat::kRGB);
    faces.push_back(siamese::preprocess(view, view.full_box(), spec, siamese::Framing::kExact));
    expected.push_back(torch::tensor(fixture["embeddings"][i].get<std::vector<float>>()));
    names.push_back(input["name"]);
  }
  REQUIRE(faces.size() >= 3);
  const torch::Tensor batch = torch::stack(faces);
  const torch::Tensor want = torch::stack(expected);

  siamese::Network network = siamese::import_face_api(dir);
  c10::InferenceMode guard;
  const torch::Tensor plain = network.forward(batch);
  for (size_t i = 0; i < names.size(); ++i) {
    const float diff = (plain[i] - want[i]).abs().max().item<float>();
    INFO(names[i] << ": max |C++ - JavaScript| = " << diff);
    CHECK(diff < 1e-4f);
  }
  // One at a time gives the same as in a batch.
  CHECK((network.forward(batch.narrow(0, 0, 1)) - plain.narrow(0, 0, 1)).abs().max().item<float>() <
        1e-5f);
  // As the programs and the element run it: through save_model/load_model and an Embedder
  // (affine layers folded).
  const std::string path = siamese::testing::temp_dir("dlib-model") + "/dlib.pt";
  siamese::save_model(path, network, siamese::face_api_model_info());
  siamese::LoadedModel loaded = siamese::load_model(path);
  siamese::Embedder embedder(std::move(loaded), torch::kCPU, 4);
  const torch::Tensor served = embedder.embed(batch);
  CHECK((served - want).abs().max().item<float>() < 1e-4f);
}

TEST_CASE("an imported model file is loaded like any other", "[core][pretrained]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kFaceApiManifest);
  siamese::Network network = siamese::import_face_api(dir);
  const std::string path = siamese::testing::temp_dir("dlib-load") + "/dlib.pt";
  siamese::save_model(path, network, siamese::face_api_model_info());
  const siamese::LoadedModel m = siamese::load_model(path);
  CHECK(m.info.arch.arch == "dlib-resnet");
  CHECK(m.info.input.channels == 3);
  CHECK(m.info.input.width == 150);
  CHECK(m.info.input.height == 150);
  CHECK(m.info.input.mean[0] == Approx(122.782 / 255));
  CHECK(m.info.input.crop == siamese::CropPolicy{1.0f, 1.0f, 0.1f});
  CHECK(m.info.embedding_size == 128);
  CHECK_FALSE(m.info.normalized);
  CHECK(m.info.threshold == Approx(0.6));
  CHECK(contains(m.info.origin, "@vladmandic/face-api 1.7.15"));
  CHECK(contains(m.info.origin, "Davis King"));
  CHECK(contains(m.info.licence, "public domain"));
  CHECK(m.info.fingerprint == siamese::fingerprint_of(network));

  // A changed weight is caught by the fingerprint.
  siamese::Network other = siamese::import_face_api(dir);
  {
    torch::NoGradGuard no_grad;
    other.parameters()[0].view(-1)[0].add_(1e-3);
  }
  CHECK(siamese::fingerprint_of(other) != m.info.fingerprint);
}

#ifdef SIAMESE_IMPORT_BIN
TEST_CASE("siamese-import writes a model file and refuses altered weights", "[core][pretrained]") {
  SIAMESE_REQUIRE_FACE_API_FILES(dir, siamese::kFaceApiManifest);
  const std::string tmp = siamese::testing::temp_dir("import-cli");
  const std::string bin = SIAMESE_IMPORT_BIN;
  auto run = [&](const std::string& args) {
    const std::string cmd = bin + " " + args + " > " + tmp + "/out.txt 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  auto output = [&] {
    std::ifstream f(tmp + "/out.txt");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  REQUIRE(run("face-api '" + dir + "' --out " + tmp + "/dlib.pt") == 0);
  INFO(output());
  // Aligned on the 68 landmarks by default (it measured better on LFW), framed with --align none.
  CHECK(contains(output(),
                 "arch dlib-resnet, input 3x150x150, crop 1,1,0.1, align landmarks68, "
                 "align-points dlib33, align-mirror on, flip-average on, 128-D, "
                 "5614592 parameters"));
  CHECK(siamese::load_model(tmp + "/dlib.pt").info.arch.arch == "dlib-resnet");
  // Each face and its mirror by default (it measured better on LFW), one view with the flag.
  CHECK(siamese::load_model(tmp + "/dlib.pt").info.flip_average);
  REQUIRE(run("face-api '" + dir + "' --no-flip-average --out " + tmp + "/one-view.pt") == 0);
  CHECK(contains(output(), "flip-average off"));
  CHECK_FALSE(siamese::load_model(tmp + "/one-view.pt").info.flip_average);
  // The mirrored landmark chain likewise, recorded in the crop policy.
  CHECK(siamese::load_model(tmp + "/dlib.pt").info.input.crop.align_mirror);
  REQUIRE(run("face-api '" + dir + "' --no-align-mirror --out " + tmp + "/direct.pt") == 0);
  CHECK(contains(output(), "align landmarks68, align-points dlib33, align-mirror off"));
  CHECK_FALSE(siamese::load_model(tmp + "/direct.pt").info.input.crop.align_mirror);
  // Fitted on dlib's 33 chip points by default, on the five with the flag.
  CHECK(siamese::load_model(tmp + "/dlib.pt").info.input.crop.align_points ==
        siamese::AlignPoints::kDlib33);
  REQUIRE(run("face-api '" + dir + "' --align-points five --out " + tmp + "/five.pt") == 0);
  CHECK(contains(output(), "align-points five"));
  CHECK(siamese::load_model(tmp + "/five.pt").info.input.crop.align_points ==
        siamese::AlignPoints::kFive);
  CHECK(run("face-api '" + dir + "' --align-points 68 --out " + tmp + "/x.pt") == 2);
  CHECK(contains(output(), "--align-points: '68' is not a set of alignment points"));
  CHECK(run("face-api '" + dir + "' --flip-average --no-flip-average --out " + tmp + "/x.pt") == 2);
  CHECK(siamese::load_model(tmp + "/dlib.pt").info.input.crop.align ==
        siamese::Align::kLandmarks68);
  REQUIRE(run("face-api '" + dir + "' --align none --out " + tmp + "/plain.pt") == 0);
  CHECK(contains(output(), "crop 1,1,0.1, align none, flip-average on, 128-D"));
  CHECK(siamese::load_model(tmp + "/plain.pt").info.input.crop.align == siamese::Align::kNone);
  REQUIRE(run("face-api '" + dir + "' --crop 1.2,1.3,-0.05 --out " + tmp + "/framed.pt") == 0);
  siamese::CropPolicy framed{1.2f, 1.3f, -0.05f};
  framed.align = siamese::Align::kLandmarks68;
  CHECK(siamese::load_model(tmp + "/framed.pt").info.input.crop == framed);
  CHECK(run("face-api '" + dir + "' --crop 9,1,0 --out " + tmp + "/bad.pt") == 2);
  CHECK(contains(output(), "--crop: input.crop.scale_width = 9 is not in [0.25, 4]"));
  CHECK(run("face-api '" + dir + "' --crop 1,1 --out " + tmp + "/bad.pt") == 2);
  CHECK(contains(output(), "--crop: expected W,H,SHIFT"));

  CHECK(run("face-api") == 2);  // --out is required
  CHECK(run("onnx --out x.pt") == 2);
  CHECK(contains(output(), "unknown source 'onnx'"));

  // A copy of the cache with one byte of the shard changed.
  const std::string altered = tmp + "/altered";
  fs::create_directories(altered + "/model");
  for (const char* f :
       {"model/face_recognition_model-weights_manifest.json", "model/face_recognition_model.bin"}) {
    fs::copy_file(dir + "/" + f, altered + "/" + f);
  }
  std::vector<unsigned char> bin_bytes = read_bytes(altered + "/model/face_recognition_model.bin");
  bin_bytes[1000] ^= 1;
  write_bytes(altered + "/model/face_recognition_model.bin", bin_bytes);
  CHECK(run("face-api " + altered + " --out " + tmp + "/bad.pt") == 1);
  CHECK(contains(output(), "face_recognition_model.bin: sha256"));
  CHECK(contains(output(), "tests/fetch_weights.sh"));
  CHECK_FALSE(fs::exists(tmp + "/bad.pt"));

  // The recognition network intact but no landmark network: the default (aligned) names the
  // missing files and writes nothing; --align none needs only the recognition network.
  const std::string bare = tmp + "/bare";
  fs::create_directories(bare + "/model");
  for (const char* f :
       {"model/face_recognition_model-weights_manifest.json", "model/face_recognition_model.bin"}) {
    fs::copy_file(dir + "/" + f, bare + "/" + f);
  }
  CHECK(run("face-api " + bare + " --out " + tmp + "/bare.pt") == 1);
  CHECK(contains(output(), "face_landmark_68_model"));
  CHECK(contains(output(), "tests/fetch_weights.sh"));
  CHECK_FALSE(fs::exists(tmp + "/bare.pt"));
  CHECK(run("face-api " + bare + " --align none --out " + tmp + "/bare.pt") == 0);
}
#endif
