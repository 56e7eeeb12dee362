// Builds the access-control pipeline: a camera, a file or a user's whole description, with
// faceverify configured from the command line (values checked against the element's own
// property specs). Thread-safety: call from the main thread before the pipeline plays.
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include "options.h"

namespace siamese::samples {

struct BuiltPipeline {
  GstElement* pipeline = nullptr;      // owned: unref when done
  std::vector<GstElement*> verifiers;  // the faceverify elements (borrowed from pipeline)
};

/// The gst-launch description used for --source / --source-file (for messages and tests).
std::string pipeline_description(const AccessOptions& options);

/// Parses the description, sets the file location and the faceverify properties.
/// Throws UsageError for bad property values or a pipeline without faceverify, and
/// std::runtime_error when the description does not parse or the plugin is missing.
BuiltPipeline build_pipeline(const AccessOptions& options);

}  // namespace siamese::samples
