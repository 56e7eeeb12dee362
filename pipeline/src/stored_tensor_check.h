// Internal: whether every tensor a model file stores fits in the bytes the file holds for it.
// LibTorch 1.13 sizes a loaded storage from the count the pickle declares, not from the record
// that holds its bytes: a corrupt or hostile file can declare more than it stores, and reading the
// weights (a fingerprint, a forward pass) then reads past the buffer. Run this before loading.
// Thread-safety: pure function of the file.
#pragma once

#include <string>

namespace siamese::detail {

/// Throws FileError naming path and the record when a tensor of the data or constants archive
/// addresses bytes its record does not hold. Other read errors propagate as thrown by LibTorch.
void check_stored_tensors_fit(const std::string& path);

}  // namespace siamese::detail
