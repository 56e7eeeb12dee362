#include "siamese/pretrained.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "siamese/errors.h"
#include "siamese/face_resnet.h"
#include "siamese/tfjs_import.h"

namespace siamese {
namespace {

namespace fs = std::filesystem;

// FIPS 180-4 SHA-256, enough for checking a few downloaded files (no new dependency).
class Sha256 {
 public:
  void update(const unsigned char* data, size_t n) {
    length_ += n;
    while (n > 0) {
      const size_t take = std::min(n, sizeof block_ - used_);
      std::memcpy(block_ + used_, data, take);
      used_ += take;
      data += take;
      n -= take;
      if (used_ == sizeof block_) {
        compress(block_);
        used_ = 0;
      }
    }
  }

  std::string hex() {
    const std::uint64_t bits = length_ * 8;
    const unsigned char one = 0x80, zero = 0;
    update(&one, 1);
    while (used_ != 56) update(&zero, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::uint32_t word : h_) {
      for (int shift = 28; shift >= 0; shift -= 4) out += digits[(word >> shift) & 0xf];
    }
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress(const unsigned char* p) {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) |
             (std::uint32_t{p[4 * i + 2]} << 8) | std::uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                  h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const std::uint32_t t2 =
          (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<std::uint32_t, 8> h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64] = {};
  size_t used_ = 0;
  std::uint64_t length_ = 0;
};

std::string how_to_fetch(const std::string& dir) {
  return "fetch the pinned package with " + std::string(kFetchWeightsCommand) + " (npm pack " +
         kFaceApiPackage + "@" + kFaceApiVersion + " into " + dir +
         "; SIAMESE_WEIGHTS_DIR chooses the folder)";
}

}  // namespace

const std::vector<PinnedFile>& face_api_pinned_files() {
  // Keep in step with pipeline/weights/face-api-1.7.15.sha256 (a test compares them).
  static const std::vector<PinnedFile> files = {
      {"model/face_recognition_model-weights_manifest.json",
       "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"},
      {"model/face_recognition_model.bin",
       "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"},
      {"model/tiny_face_detector_model-weights_manifest.json",
       "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5"},
      {"model/tiny_face_detector_model.bin",
       "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871"},
      {"model/face_landmark_68_model-weights_manifest.json",
       "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9"},
      {"model/face_landmark_68_model.bin",
       "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"},
      {"model/face_landmark_68_tiny_model-weights_manifest.json",
       "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4"},
      {"model/face_landmark_68_tiny_model.bin",
       "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc"},
      {"dist/face-api.js", "0160f7af3a8c78cece45c7ecc765383bad74becfd438bb787cdd627b2d6f2cf6"},
      {"LICENSE", "9a3442b79acaf4fbc7c2e07b7e2d8f84af9bb3871bf08a69d80304ab00640e9a"},
      {"package.json", "cc3af8cb544d375cb37d57c220bbb9deaad222d573ed1c39497bdffb5832beb7"},
  };
  return files;
}

std::string face_api_cache_dir() {
  if (const char* dir = std::getenv("SIAMESE_WEIGHTS_DIR"); dir && *dir) return dir;
  fs::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    cache = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    cache = fs::path(home) / ".cache";
  } else {
    cache = ".cache";
  }
  return (cache / "gst-siamese" / (std::string("face-api-") + kFaceApiVersion)).string();
}

std::string sha256_hex(const void* data, size_t size) {
  Sha256 h;
  h.update(static_cast<const unsigned char*>(data), size);
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open for reading");
  Sha256 h;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(reinterpret_cast<const unsigned char*>(buffer.data()),
             static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw FileError(path, "read error");
  return h.hex();
}

void verify_pinned_file(const std::string& dir, const std::string& relative) {
  const PinnedFile* pinned = nullptr;
  for (const auto& f : face_api_pinned_files()) {
    if (relative == f.path) pinned = &f;
  }
  if (!pinned) throw InputError("'" + relative + "' is not a pinned file of the package");
  const std::string path = (fs::path(dir) / relative).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw FileError(path, std::string("missing: ") + how_to_fetch(dir));
  }
  const std::string actual = sha256_file(path);
  if (actual != pinned->sha256) {
    throw FileError(path, "sha256 " + actual + " differs from the pinned " + pinned->sha256 +
                              " (altered or another version): " + how_to_fetch(dir));
  }
}

ModelInfo face_api_model_info() {
  ModelInfo info;
  info.arch = ArchOptions().set_arch(kDlibResNetArch).set_embedding_size(kDlibResNetEmbeddingSize);
  info.input = dlib_resnet_input_spec();
  // dlib's face chips sit lower on the face than the Haar detector's brows-to-chin box: moving
  // the box down by a tenth of its height took LFW detector crops (30 people with 13-25 photos,
  // 96,141 pairs; not the people siamese-eval is reported on) from AUC 0.984 / EER 5.7% to
  // 0.9925 / 2.3%. Larger boxes hurt (x1.2: 0.970; x1.4: 0.930), smaller ones too (x0.8: 0.981).
  info.input.crop = CropPolicy{1.0f, 1.0f, 0.1f};
  info.embedding_size = kDlibResNetEmbeddingSize;
  info.normalized = false;
  info.flip_average = false;
  info.threshold = kDlibResNetThreshold;
  info.origin = std::string(kFaceApiPackage) + " " + kFaceApiVersion +
                ", dlib face recognition ResNet by Davis King";
  info.licence = "weights: public domain (Davis King, dlib-models README); packaging: " +
                 std::string(kFaceApiPackage) + " " + kFaceApiVersion +
                 ", MIT licence (Vladimir Mandic)";
  return info;
}

Network import_face_api(const std::string& dir, bool verify) {
  const std::string manifest = (fs::path(dir) / kFaceApiManifest).string();
  std::error_code ec;
  if (!fs::is_regular_file(manifest, ec)) {
    throw FileError(manifest, std::string("missing: ") + how_to_fetch(dir));
  }
  if (verify) {
    verify_pinned_file(dir, kFaceApiManifest);
    verify_pinned_file(dir, "model/face_recognition_model.bin");
  }
  const TfjsWeights weights = read_tfjs_weights(manifest);
  Network network = Network::create(face_api_model_info().arch);
  auto net = std::dynamic_pointer_cast<DlibResNetImpl>(network.module());
  load_face_api_weights(*net, weights);
  network.train(false);
  return network;
}

}  // namespace siamese
