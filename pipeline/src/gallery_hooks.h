// Test seam of the gallery (not installed, not public API): a hook called inside a write
// transaction after each embedding row is written, so a test can fail or crash there and show
// that the gallery is left exactly as it was. Thread-safety: the hook slot is atomic.
#pragma once

#include <cstdint>

namespace siamese::internal {

/// Called with the number of rows written so far in the running transaction; may throw.
using GalleryRowHook = void (*)(int64_t rows_written);

/// Installs (or with nullptr removes) the process-wide row hook; returns the previous one.
GalleryRowHook set_gallery_row_hook(GalleryRowHook hook);
/// The installed row hook (nullptr when none): the stores call it after each row.
GalleryRowHook gallery_row_hook();

}  // namespace siamese::internal
