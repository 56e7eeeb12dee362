// The plugin module libgstsiamese.so: faceverify and faceverifyoverlay.
#include <gst/gst.h>

#include "gstsiamese_elements.h"

#define PACKAGE SIAMESE_PLUGIN_PACKAGE  // GST_PLUGIN_DEFINE's source field

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, siamese, SIAMESE_PLUGIN_DESCRIPTION,
                  gst_siamese_register_elements, SIAMESE_VERSION, SIAMESE_PLUGIN_LICENSE,
                  SIAMESE_PLUGIN_PACKAGE, SIAMESE_PACKAGE_ORIGIN)
