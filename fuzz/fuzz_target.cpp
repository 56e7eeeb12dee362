// libFuzzer entry point of one target, chosen at build time (SIAMESE_FUZZ_TARGET, e.g.
// "gallery"): every input goes through the same reader as tests/test_fuzz_regressions.cpp.
// A refusal with a typed error returns normally; anything else escapes and is reported.
#include <gst/gst.h>
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>

#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gst_init(nullptr, nullptr);  // not argv: libFuzzer's flags are not GStreamer's
  torch::set_num_threads(1);   // one core per fuzzer: runs are short, threads only add noise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const siamese::fuzz::Scratch scratch;
  static const siamese::fuzz::Target& target = siamese::fuzz::target_named(SIAMESE_FUZZ_TARGET);
  target.feed(scratch, data, size);
  return 0;
}
