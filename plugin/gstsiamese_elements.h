// Registration of the plugin's elements, shared by the plugin module (GST_PLUGIN_DEFINE) and
// the tests, which register the elements in-process without the plugin registry.
// Thread-safety: call from one thread (GStreamer's plugin loading).
#pragma once

#include <gst/gst.h>

// The plugin's metadata, in one place for GST_PLUGIN_DEFINE and gst_plugin_register_static.
// SIAMESE_VERSION and SIAMESE_PACKAGE_ORIGIN come from CMake (-DSIAMESE_PACKAGE_ORIGIN=URL, as
// GStreamer's own -Dpackage-origin).
#define SIAMESE_PLUGIN_DESCRIPTION "Siamese face verification (faceverify, faceverifyoverlay)"
#define SIAMESE_PLUGIN_LICENSE "LGPL"
#define SIAMESE_PLUGIN_PACKAGE "gst-siamese"
#ifndef SIAMESE_VERSION
#define SIAMESE_VERSION "0.0.0"
#endif
#ifndef SIAMESE_PACKAGE_ORIGIN
#define SIAMESE_PACKAGE_ORIGIN "Unknown package origin"
#endif

G_BEGIN_DECLS

/// Registers faceverify and faceverifyoverlay in plugin and bridges the core's log to GStreamer.
gboolean gst_siamese_register_elements(GstPlugin* plugin);

/// Registers the "siamese" plugin statically (for tests and applications linking it in).
gboolean gst_siamese_register_static(void);

G_END_DECLS
