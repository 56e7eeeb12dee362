#include "log_bridge.h"

#include <gst/gst.h>

#include <mutex>

#include "siamese/log.h"

GST_DEBUG_CATEGORY_STATIC(siamese_core_debug);

namespace siamese::gst {

void install_log_bridge() {
  static std::once_flag once;
  std::call_once(once, [] {
    GST_DEBUG_CATEGORY_INIT(siamese_core_debug, "siamese-core", 0,
                            "siamese core library (model, detector, embedder, gallery)");
    set_log_sink([](LogLevel level, const std::string& message) {
      GstDebugLevel gst_level = GST_LEVEL_DEBUG;
      switch (level) {
        case LogLevel::kError:
          gst_level = GST_LEVEL_ERROR;
          break;
        case LogLevel::kWarning:
          gst_level = GST_LEVEL_WARNING;
          break;
        case LogLevel::kInfo:
          gst_level = GST_LEVEL_INFO;
          break;
        case LogLevel::kDebug:
          gst_level = GST_LEVEL_DEBUG;
          break;
      }
      GST_CAT_LEVEL_LOG(siamese_core_debug, gst_level, nullptr, "%s", message.c_str());
    });
  });
}

}  // namespace siamese::gst
