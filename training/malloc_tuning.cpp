#include "malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace siamese::training {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // No mmap'd blocks: everything comes from (and returns to) the heap, which threads other than
  // the main one reach through glibc's fallback to the main arena for blocks over 64 MB.
  mallopt(M_MMAP_MAX, 0);
  // Never give the top of the heap back, and grow it in 64 MB steps.
  mallopt(M_TRIM_THRESHOLD, -1);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace siamese::training
