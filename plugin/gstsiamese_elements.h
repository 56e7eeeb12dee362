// Registration of the plugin's elements, shared by the plugin module (GST_PLUGIN_DEFINE) and
// the tests, which register the elements in-process without the plugin registry.
// Thread-safety: call from one thread (GStreamer's plugin loading).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/// Registers faceverify and faceverifyoverlay in plugin and bridges the core's log to GStreamer.
gboolean gst_siamese_register_elements(GstPlugin* plugin);

/// Registers the "siamese" plugin statically (for tests and applications linking it in).
gboolean gst_siamese_register_static(void);

G_END_DECLS
