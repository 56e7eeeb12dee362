#include "siamese/tfjs_import.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>

#include "siamese/errors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tfjs shards are little-endian; this reader assumes a little-endian host"
#endif

namespace siamese {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

// The bytes a stored element takes, or 0 for a dtype this reader does not know.
int element_bytes(const std::string& stored) {
  if (stored == "float32") return 4;
  if (stored == "uint16" || stored == "float16") return 2;
  if (stored == "uint8") return 1;
  return 0;
}

// IEEE 754 half -> float, exact (subnormals, infinities and NaN included).
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// A shard name from the manifest must be a plain file name beside the manifest.
bool safe_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

json parse_manifest(const std::string& path, const TfjsLimits& limits) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw FileError(path, "no such weights manifest");
  const auto size = fs::file_size(path, ec);
  if (ec) throw FileError(path, "cannot read the weights manifest: " + ec.message());
  if (static_cast<int64_t>(size) > limits.max_manifest_bytes) {
    throw FileError(path, "weights manifest of " + std::to_string(size) +
                              " bytes is larger than the " +
                              std::to_string(limits.max_manifest_bytes) + " allowed");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open the weights manifest");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    throw FileError(path, std::string("weights manifest is not valid JSON: ") + e.what());
  }
}

struct Spec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count = 0;
  std::string stored;  // dtype of the bytes
  double scale = 1.0, min = 0.0;
};

// One entry of "weights", checked: a name, a bounded shape, float32 with a known quantization.
Spec read_spec(const json& w, size_t index, const std::string& path, const TfjsLimits& limits) {
  Spec s;
  const std::string where = "weights entry " + std::to_string(index);
  if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) {
    throw FileError(path, where + " has no name");
  }
  s.name = w["name"].get<std::string>();
  const std::string tensor = "tensor " + in_quotes(s.name);
  if (!w.contains("shape") || !w["shape"].is_array()) {
    throw FileError(path, tensor + " has no shape");
  }
  if (w["shape"].size() > static_cast<size_t>(limits.max_rank)) {
    throw FileError(path, tensor + " has rank " + std::to_string(w["shape"].size()) +
                              ", more than " + std::to_string(limits.max_rank));
  }
  s.count = 1;
  for (const json& d : w["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      throw FileError(path, tensor + " has a shape entry that is not a non-negative integer");
    }
    const int64_t n = d.get<int64_t>();
    // Bounded by the byte budget before multiplying, so the product cannot overflow.
    if (n > limits.max_total_bytes || (n > 0 && s.count > limits.max_total_bytes / n)) {
      throw FileError(path, tensor + " has a shape larger than the " +
                                std::to_string(limits.max_total_bytes) + " bytes allowed");
    }
    s.count *= n;
    s.shape.push_back(n);
  }
  const std::string dtype = w.contains("dtype") && w["dtype"].is_string()
                                ? w["dtype"].get<std::string>()
                                : std::string("(none)");
  if (dtype != "float32") {
    throw FileError(path, tensor + " has dtype " + in_quotes(dtype) +
                              "; only float32 weights (quantized or not) are read");
  }
  s.stored = "float32";
  if (w.contains("quantization")) {
    const json& q = w["quantization"];
    if (!q.is_object() || !q.contains("dtype") || !q["dtype"].is_string()) {
      throw FileError(path, tensor + " has a quantization without a dtype");
    }
    s.stored = q["dtype"].get<std::string>();
    if (s.stored == "uint8" || s.stored == "uint16") {
      if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") ||
          !q["min"].is_number()) {
        throw FileError(path, tensor + " is quantized to " + s.stored + " without scale and min");
      }
      s.scale = q["scale"].get<double>();
      s.min = q["min"].get<double>();
      if (!std::isfinite(s.scale) || !std::isfinite(s.min)) {
        throw FileError(path, tensor + " has a non-finite quantization scale or min");
      }
    } else if (s.stored != "float16") {
      throw FileError(path, tensor + " has quantization dtype " + in_quotes(s.stored) +
                                " (expected uint8, uint16 or float16)");
    }
  }
  return s;
}

void dequantise(const Spec& s, const unsigned char* bytes, float* out) {
  if (s.stored == "float32") {
    std::memcpy(out, bytes, static_cast<size_t>(s.count) * 4);
  } else if (s.stored == "uint8") {
    // As tf.io.decodeWeights: the product and sum in double precision, then stored as float32.
    for (int64_t i = 0; i < s.count; ++i) out[i] = static_cast<float>(bytes[i] * s.scale + s.min);
  } else if (s.stored == "uint16") {
    for (int64_t i = 0; i < s.count; ++i) {
      std::uint16_t q;
      std::memcpy(&q, bytes + 2 * i, 2);
      out[i] = static_cast<float>(q * s.scale + s.min);
    }
  } else {  // float16
    for (int64_t i = 0; i < s.count; ++i) {
      std::uint16_t h;
      std::memcpy(&h, bytes + 2 * i, 2);
      out[i] = half_to_float(h);
    }
  }
}

struct Shard {
  std::string path;
  int64_t begin = 0, end = 0;  // byte range inside the group's concatenation
};

}  // namespace

const TfjsTensor* TfjsWeights::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TfjsWeights read_tfjs_weights(const std::string& manifest_path, const TfjsLimits& limits) {
  const json manifest = parse_manifest(manifest_path, limits);
  const std::string& path = manifest_path;
  if (!manifest.is_array() || manifest.empty()) {
    throw FileError(path, "weights manifest is not a non-empty array of weight groups");
  }
  if (manifest.size() > static_cast<size_t>(limits.max_groups)) {
    throw FileError(path, "weights manifest has " + std::to_string(manifest.size()) +
                              " groups, more than " + std::to_string(limits.max_groups));
  }
  const fs::path folder = fs::path(manifest_path).parent_path();
  TfjsWeights out;
  out.manifest_path = manifest_path;
  std::set<std::string> names;
  int shards_seen = 0;
  size_t tensors_seen = 0;
  for (size_t g = 0; g < manifest.size(); ++g) {
    const json& group = manifest[g];
    const std::string where = "weight group " + std::to_string(g);
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      throw FileError(path, where + " lacks its \"paths\" or \"weights\" array");
    }
    tensors_seen += group["weights"].size();
    if (tensors_seen > static_cast<size_t>(limits.max_tensors)) {
      throw FileError(path, "weights manifest lists more than " +
                                std::to_string(limits.max_tensors) + " tensors");
    }
    std::vector<Spec> specs;
    int64_t needed = 0;
    for (size_t i = 0; i < group["weights"].size(); ++i) {
      specs.push_back(read_spec(group["weights"][i], i, path, limits));
      const Spec& s = specs.back();
      needed += s.count * element_bytes(s.stored);
      if (needed > limits.max_total_bytes) {
        throw FileError(path, "tensors up to " + in_quotes(s.name) + " need more than the " +
                                  std::to_string(limits.max_total_bytes) + " bytes allowed");
      }
    }

    // The group's shards, sized and bounded before reading.
    std::vector<Shard> shards;
    int64_t total = 0;
    for (const json& p : group["paths"]) {
      if (++shards_seen > limits.max_shards) {
        throw FileError(path, "weights manifest names more than " +
                                  std::to_string(limits.max_shards) + " shard files");
      }
      if (!p.is_string() || !safe_file_name(p.get<std::string>())) {
        throw FileError(path, where + " names a shard that is not a plain file name: " + p.dump());
      }
      const std::string shard = (folder / p.get<std::string>()).string();
      std::error_code ec;
      if (!fs::is_regular_file(shard, ec)) {
        throw FileError(shard, "no such weights shard (named by " + path + ")");
      }
      const auto size = static_cast<int64_t>(fs::file_size(shard, ec));
      if (ec) throw FileError(shard, "cannot read weights shard: " + ec.message());
      if (out.shard_bytes + total + size > limits.max_total_bytes) {
        throw FileError(shard, "weights shards are larger than the " +
                                   std::to_string(limits.max_total_bytes) + " bytes allowed");
      }
      shards.push_back({shard, total, total + size});
      total += size;
    }
    if (shards.empty() && needed > 0) throw FileError(path, where + " names no shard file");
    auto shard_at = [&](int64_t offset) -> std::string {
      for (const Shard& s : shards) {
        if (offset < s.end) return s.path;
      }
      return shards.empty() ? path : shards.back().path;
    };
    // Name the tensor a size mismatch hits before reading a byte.
    int64_t offset = 0;
    for (const Spec& s : specs) {
      const int64_t bytes = s.count * element_bytes(s.stored);
      if (offset + bytes > total) {
        throw FileError(shard_at(total),  // the bytes missing belong at the group's end
                        "tensor " + in_quotes(s.name) + " needs " + std::to_string(bytes) +
                            " bytes at offset " + std::to_string(offset) + " but the shards of " +
                            path + " hold " + std::to_string(total) + " (truncated shard?)");
      }
      offset += bytes;
    }
    if (offset != total) {
      throw FileError(shard_at(total),
                      std::to_string(total - offset) + " bytes are left after the last tensor " +
                          (specs.empty() ? std::string("(none)") : in_quotes(specs.back().name)) +
                          " of " + path + " (shard and manifest do not match)");
    }

    std::vector<unsigned char> buffer(static_cast<size_t>(total));
    for (const Shard& s : shards) {
      std::ifstream in(s.path, std::ios::binary);
      in.read(reinterpret_cast<char*>(buffer.data() + s.begin), s.end - s.begin);
      if (!in || in.gcount() != s.end - s.begin) {
        throw FileError(s.path, "cannot read " + std::to_string(s.end - s.begin) +
                                    " bytes of weights shard (changed while reading?)");
      }
    }
    offset = 0;
    for (const Spec& s : specs) {
      TfjsTensor t;
      t.name = s.name;
      t.shape = s.shape;
      t.stored_dtype = s.stored;
      t.shard = shard_at(offset);
      t.values = torch::empty(s.shape, torch::kFloat32);
      dequantise(s, buffer.data() + offset, t.values.data_ptr<float>());
      offset += s.count * element_bytes(s.stored);
      if (!names.insert(t.name).second) {
        throw FileError(path, "tensor " + in_quotes(t.name) + " appears twice");
      }
      out.tensors.push_back(std::move(t));
    }
    out.shard_bytes += total;
  }
  return out;
}

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << "]";
  return s.str();
}

}  // namespace

void copy_tfjs_tensor(const TfjsWeights& weights, const std::string& name,
                      const std::vector<int64_t>& to_torch, torch::Tensor param,
                      const std::string& network, const std::string& purpose,
                      std::set<std::string>& used) {
  const TfjsTensor* t = weights.find(name);
  if (!t) {
    throw FileError(weights.manifest_path, "tensor '" + name + "' is missing (" + network +
                                               " needs it for " + purpose + ")");
  }
  used.insert(t->name);
  // The shape the file must give: param's, in the file's layout.
  std::vector<int64_t> expected(param.sizes().begin(), param.sizes().end());
  if (!to_torch.empty()) {
    std::vector<int64_t> in_file(expected.size());
    for (size_t i = 0; i < expected.size(); ++i) in_file[to_torch[i]] = expected[i];
    expected = in_file;
  }
  if (t->shape != expected) {
    throw FileError(weights.manifest_path, "tensor '" + t->name + "' has shape " +
                                               shape_text(t->shape) + ", " + network + " expects " +
                                               shape_text(expected));
  }
  torch::NoGradGuard no_grad;
  param.copy_(to_torch.empty() ? t->values : t->values.permute(to_torch));
}

void check_every_tfjs_tensor_used(const TfjsWeights& weights, const std::set<std::string>& used,
                                  const std::string& network) {
  for (const auto& t : weights.tensors) {
    if (!used.count(t.name)) {
      throw FileError(weights.manifest_path, "tensor '" + t.name + "' is not part of " + network);
    }
  }
}

}  // namespace siamese
