// The plugin module libgstsiamese.so: faceverify and faceverifyoverlay.
#include <gst/gst.h>

#include "gstsiamese_elements.h"

#ifndef PACKAGE
#define PACKAGE "gst-siamese"
#endif

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, siamese,
                  "Siamese face verification (faceverify, faceverifyoverlay)",
                  gst_siamese_register_elements, SIAMESE_VERSION, "LGPL", "gst-siamese",
                  "https://example.invalid")
