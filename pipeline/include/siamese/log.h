// Logging of the core through a settable sink (the whisper.cpp pattern): programs print to
// stderr, the plugin bridges to the GStreamer debug category "siamese-core".
// Thread-safety: set_log_sink() and log() may be called from any thread.
#pragma once

#include <functional>
#include <sstream>
#include <string>

namespace siamese {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Replaces the process-wide sink; an empty function restores the default (stderr, warnings up).
void set_log_sink(LogSink sink);

/// Sends one message to the sink.
void log(LogLevel level, const std::string& message);

}  // namespace siamese
