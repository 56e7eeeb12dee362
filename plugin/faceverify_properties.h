// The faceverify properties: their param specs (units, ranges and defaults from
// faceverify_settings.h), the GEnum types of detector and message, and the copy between
// GValues and Settings. Thread-safety: the element calls these under its object lock.
#pragma once

#include <glib-object.h>

#include <string>

#include "faceverify_settings.h"

namespace siamese::gst {

/// Installs every faceverify property on the element class.
void install_properties(GObjectClass* gobject_class);

/// Stores a property value; false for an unknown id. A refused value (invalid confirm-frames)
/// keeps the old one and leaves the reason in *refused.
bool set_setting(Settings& s, guint prop_id, const GValue* value, std::string* refused);

/// Reads a property value into value; false for an unknown id.
bool get_setting(const Settings& s, guint prop_id, GValue* value);

}  // namespace siamese::gst
