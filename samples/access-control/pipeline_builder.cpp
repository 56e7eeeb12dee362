#include "pipeline_builder.h"

#include <stdexcept>

namespace siamese::samples {

namespace {

constexpr const char* kFileSourceName = "access_file";
constexpr const char* kVerifierFactory = "faceverify";

std::string sink_description(const AccessOptions& o) {
  if (o.display) return "faceverifyoverlay ! videoconvert ! autovideosink";
  return std::string("fakesink sync=") + (o.realtime ? "true" : "false");
}

// Sets a property from its command-line text, checked against the element's param spec.
void set_property_text(GstElement* element, const std::string& name, const std::string& text) {
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), name.c_str());
  if (spec == nullptr) {
    throw std::runtime_error(std::string(GST_ELEMENT_NAME(element)) + " has no property '" + name +
                             "' (is the plugin up to date?)");
  }
  GValue value = G_VALUE_INIT;
  g_value_init(&value, spec->value_type);
  bool ok = true;
  if (spec->value_type == G_TYPE_STRING) {
    g_value_set_string(&value, text.c_str());  // paths as given, no unquoting
  } else {
    ok = gst_value_deserialize(&value, text.c_str()) && !g_param_value_validate(spec, &value);
  }
  if (ok) g_object_set_property(G_OBJECT(element), name.c_str(), &value);
  g_value_unset(&value);
  if (!ok)
    throw UsageError("--" + name + ": '" + text + "' is not a valid value (see " +
                     "gst-inspect-1.0 faceverify)");
}

std::vector<GstElement*> find_verifiers(GstElement* pipeline) {
  std::vector<GstElement*> found;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* element = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* factory = gst_element_get_factory(element);
    if (factory != nullptr && g_strcmp0(GST_OBJECT_NAME(factory), kVerifierFactory) == 0) {
      found.push_back(element);  // the pipeline keeps it alive
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

}  // namespace

std::string pipeline_description(const AccessOptions& o) {
  if (!o.pipeline_desc.empty()) return o.pipeline_desc;
  const std::string source = o.source_file.empty()
                                 ? o.source + " ! queue max-size-buffers=2 leaky=downstream"
                                 : std::string("filesrc name=") + kFileSourceName + " ! decodebin";
  const std::string sink = sink_description(o);
  return source + " ! videoconvert ! faceverify name=faceverify0 ! " +
         (o.web.enabled() ? with_snapshot_branch(sink, "faceverify0") : sink);
}

BuiltPipeline build_pipeline(const AccessOptions& o) {
  if (GstElementFactory* f = gst_element_factory_find(kVerifierFactory)) {
    gst_object_unref(f);
  } else {
    throw std::runtime_error(
        "the faceverify element is not installed; build the project and "
        "set GST_PLUGIN_PATH to its build/gst-plugins folder");
  }
  const std::string desc = pipeline_description(o);
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(desc.c_str(), &error);
  if (error != nullptr) {
    const std::string message = error->message;
    g_error_free(error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    throw std::runtime_error("cannot build the pipeline '" + desc + "': " + message);
  }
  BuiltPipeline built{pipeline, {}};
  try {
    if (!o.source_file.empty()) {
      GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), kFileSourceName);
      g_object_set(src, "location", o.source_file.c_str(), nullptr);
      gst_object_unref(src);
    }
    built.verifiers = find_verifiers(pipeline);
    if (built.verifiers.empty()) throw UsageError("--pipeline-desc has no faceverify element");
    for (GstElement* v : built.verifiers) {
      for (const auto& [name, value] : o.properties) set_property_text(v, name, value);
    }
  } catch (...) {
    gst_object_unref(pipeline);
    throw;
  }
  return built;
}

}  // namespace siamese::samples
