// Frames faceverify holds until their batch is analysed (batch-frames > 1), each with the
// video info it arrived under, its times and the upstream face metas it carries.
// Thread-safety: used by the streaming thread only.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <deque>
#include <utility>

#include "faceverify_messages.h"

namespace siamese::gst {

/// One held frame; owns a reference to its (writable) buffer.
struct HeldFrame {
  GstBuffer* buffer = nullptr;
  GstVideoInfo info{};
  FrameTimes times;
  bool use_upstream = false;
  UpstreamFaces upstream;

  HeldFrame() = default;
  HeldFrame(HeldFrame&& o) noexcept { *this = std::move(o); }
  HeldFrame& operator=(HeldFrame&& o) noexcept {
    if (this != &o) {
      reset();
      buffer = std::exchange(o.buffer, nullptr);
      info = o.info;
      times = o.times;
      use_upstream = o.use_upstream;
      upstream = std::move(o.upstream);
    }
    return *this;
  }
  ~HeldFrame() { reset(); }
  /// Gives up the buffer reference to the caller.
  GstBuffer* release() { return std::exchange(buffer, nullptr); }
  void reset() { gst_clear_buffer(&buffer); }
};

using FrameQueue = std::deque<HeldFrame>;

}  // namespace siamese::gst
