// Sends the core's log (siamese::log) to the GStreamer debug category "siamese-core", so
// GST_DEBUG=faceverify:5,siamese-core:5 shows both layers. Thread-safety: call once at plugin
// initialisation (idempotent); the sink itself may be called from any thread.
#pragma once

namespace siamese::gst {

/// Creates the "siamese-core" debug category and installs the sink (safe to call again).
void install_log_bridge();

}  // namespace siamese::gst
