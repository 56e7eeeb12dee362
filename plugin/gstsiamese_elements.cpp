#include "gstsiamese_elements.h"

#include "gstfaceoverlay.h"
#include "gstfaceverify.h"
#include "log_bridge.h"

#ifndef SIAMESE_VERSION
#define SIAMESE_VERSION "0.0.0"
#endif

gboolean gst_siamese_register_elements(GstPlugin* plugin) {
  siamese::gst::install_log_bridge();
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(faceverify, plugin);
  ok |= GST_ELEMENT_REGISTER(faceverifyoverlay, plugin);
  return ok;
}

gboolean gst_siamese_register_static(void) {
  return gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "siamese",
                                    "Siamese face verification (faceverify, faceverifyoverlay)",
                                    gst_siamese_register_elements, SIAMESE_VERSION, "LGPL",
                                    "gst-siamese", "gst-siamese", "https://example.invalid");
}
