#include "gstsiamese_elements.h"

#include "gstfaceverify.h"
#include "gstfaceverifyoverlay.h"
#include "log_bridge.h"

gboolean gst_siamese_register_elements(GstPlugin* plugin) {
  siamese::gst::install_log_bridge();
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(faceverify, plugin);
  ok |= GST_ELEMENT_REGISTER(faceverifyoverlay, plugin);
  return ok;
}

gboolean gst_siamese_register_static(void) {
  return gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "siamese",
                                    SIAMESE_PLUGIN_DESCRIPTION, gst_siamese_register_elements,
                                    SIAMESE_VERSION, SIAMESE_PLUGIN_LICENSE, SIAMESE_PLUGIN_PACKAGE,
                                    SIAMESE_PLUGIN_PACKAGE, SIAMESE_PACKAGE_ORIGIN);
}
