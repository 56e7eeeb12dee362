// Keeps freed heap memory in the process for reuse. LibTorch's CPU allocator takes every tensor
// from malloc, and glibc serves large blocks with mmap and returns them with munmap, so each
// training step page-faults hundreds of megabytes of fresh zero pages (the seed network: 3
// epochs spent 14.5 s of 21.6 s in the kernel; with this, 4.2 s of 11 s, 50 -> 120 pairs/s).
// Thread-safety: call once at program start, before other threads exist.
#pragma once

namespace siamese::training {

/// Serves large blocks from the heap and never trims it (glibc mallopt; no-op elsewhere).
/// For programs that allocate and free big tensors in a loop; the resident size stays at its peak.
void keep_freed_memory_for_reuse();

}  // namespace siamese::training
