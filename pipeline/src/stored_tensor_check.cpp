#include "stored_tensor_check.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "siamese/errors.h"

namespace siamese::detail {
namespace {

// Each record the unpickler asked for, by the address of the bytes handed to it.
struct RecordSizes {
  std::map<const void*, std::pair<std::string, size_t>> by_address;
};

// Classes named by the pickle become empty types whose one slot keeps the pickled state: the
// check needs the tensors, not the modules' code.
class OpaqueClasses {
 public:
  c10::StrongTypePtr resolve(const c10::QualifiedName& name) {
    auto it = types_.find(name.qualifiedName());
    if (it == types_.end()) {
      auto type = c10::ClassType::create(name, unit_);
      type->addAttribute("state", c10::AnyType::get());
      it = types_.emplace(name.qualifiedName(), type).first;
    }
    return c10::StrongTypePtr(unit_, it->second);
  }

 private:
  std::shared_ptr<torch::jit::CompilationUnit> unit_ =
      std::make_shared<torch::jit::CompilationUnit>();
  std::unordered_map<std::string, c10::ClassTypePtr> types_;
};

c10::IValue unpickle(caffe2::serialize::PyTorchStreamReader& reader, const std::string& archive,
                     RecordSizes& sizes) {
  auto [pickle, pickle_size] = reader.getRecord(archive + ".pkl");
  size_t consumed = 0;
  auto read = [&](char* buffer, size_t n) {
    const size_t take = std::min(n, pickle_size - consumed);
    std::memcpy(buffer, static_cast<const char*>(pickle.get()) + consumed, take);
    consumed += take;
    return take;
  };
  auto read_record = [&](const std::string& key) {
    const std::string name = archive + "/" + key;
    auto [data, size] = reader.getRecord(name);
    sizes.by_address[data.get()] = {name, size};
    return std::move(data);
  };
  OpaqueClasses classes;
  auto resolve = [&classes](const c10::QualifiedName& name) { return classes.resolve(name); };
  auto keep_state = [](const c10::StrongTypePtr& type, c10::IValue state) {
    auto object = c10::ivalue::Object::create(type, 1);
    object->setSlot(0, std::move(state));
    return object;
  };
  torch::jit::Unpickler unpickler(read, resolve, keep_state, read_record, c10::Device(c10::kCPU));
  unpickler.set_version(reader.version());
  return unpickler.parse_ivalue();
}

// Every tensor inside value, without recursion (a pickle can nest deeply).
std::vector<at::Tensor> tensors_in(const c10::IValue& value) {
  std::vector<at::Tensor> found;
  std::vector<c10::IValue> pending{value};
  while (!pending.empty()) {
    const c10::IValue v = std::move(pending.back());
    pending.pop_back();
    if (v.isTensor()) {
      found.push_back(v.toTensor());
    } else if (v.isTuple()) {
      for (const auto& e : v.toTupleRef().elements()) pending.push_back(e);
    } else if (v.isList()) {
      for (const auto& e : v.toListRef()) pending.push_back(e);
    } else if (v.isGenericDict()) {
      for (const auto& kv : v.toGenericDict()) {
        pending.push_back(kv.key());
        pending.push_back(kv.value());
      }
    } else if (v.isObject()) {
      for (const auto& slot : v.toObjectRef().slots()) pending.push_back(slot);
    }
  }
  return found;
}

// The last byte a tensor addresses, +1, or -1 for a layout no storage can hold.
int64_t bytes_addressed(const at::Tensor& t) {
  if (t.numel() == 0) return 0;
  if (t.storage_offset() < 0) return -1;
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) return -1;
    last += (t.size(d) - 1) * t.stride(d);
  }
  return (last + 1) * static_cast<int64_t>(t.element_size());
}

}  // namespace

void check_stored_tensors_fit(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  for (const std::string archive : {"data", "constants"}) {
    if (!reader.hasRecord(archive + ".pkl")) continue;
    RecordSizes sizes;
    const c10::IValue root = unpickle(reader, archive, sizes);
    for (const at::Tensor& t : tensors_in(root)) {
      if (!t.defined() || t.numel() == 0) continue;
      const int64_t needed = bytes_addressed(t);
      const void* data = t.has_storage() ? t.storage().data() : nullptr;
      const auto record = sizes.by_address.find(data);
      const size_t held = record == sizes.by_address.end() ? 0 : record->second.second;
      if (needed < 0 || static_cast<uint64_t>(needed) > held) {
        const std::string where =
            record == sizes.by_address.end() ? archive + " (no record)" : record->second.first;
        throw FileError(path, "a stored tensor needs " + std::to_string(needed) +
                                  " bytes, its record " + where + " holds " + std::to_string(held) +
                                  " (corrupt file)");
      }
    }
  }
}

}  // namespace siamese::detail
