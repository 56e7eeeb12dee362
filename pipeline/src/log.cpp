#include "siamese/log.h"

#include <iostream>
#include <mutex>

namespace siamese {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

LogSink& sink_slot() {
  static LogSink sink;
  return sink;
}

void default_sink(LogLevel level, const std::string& message) {
  if (level > LogLevel::kWarning) return;
  std::cerr << (level == LogLevel::kError ? "siamese: error: " : "siamese: warning: ") << message
            << "\n";
}

}  // namespace

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink_slot() = std::move(sink);
}

void log(LogLevel level, const std::string& message) {
  LogSink sink;
  {
    std::lock_guard<std::mutex> lock(sink_mutex());
    sink = sink_slot();
  }
  if (sink) {
    sink(level, message);
  } else {
    default_sink(level, message);
  }
}

}  // namespace siamese
