#include "siamese/cli_core_flags.h"

#include "siamese/device.h"
#include "siamese/errors.h"

namespace siamese::cli {

torch::Device device_of(const Args& args) {
  try {
    return resolve_device(args.text("device", "auto"));
  } catch (const DeviceError&) {
    throw;
  } catch (const InputError& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
}

void apply_threads(const Args& args) {
  set_cpu_threads(static_cast<int>(args.integer("threads", 0)));
}

bool apply_alignment_flags(const Args& args, CropPolicy& crop) {
  args.exclusive("align-mirror", "no-align-mirror");
  try {
    if (args.has("align")) crop.align = parse_align(args.text("align"), "--align");
    if (args.has("align-points")) {
      crop.align_points = parse_align_points(args.text("align-points"), "--align-points");
    }
  } catch (const InputError& e) {
    throw UsageError(e.what());
  }
  if (args.has("align-mirror")) crop.align_mirror = true;
  if (args.has("no-align-mirror")) crop.align_mirror = false;
  return args.has("align") || args.has("align-points") || args.has("align-mirror") ||
         args.has("no-align-mirror");
}

DetectorOptions detector_options_of(const Args& args, torch::Device device) {
  DetectorOptions options;
  options.set_kind(args.text("detector", "haar"))
      .set_threshold(args.number("detector-threshold", kDefaultDetectorThreshold))
      .set_input_size(
          static_cast<int>(args.integer("detector-input-size", kDefaultDetectorInputSize)))
      .set_device(device);
  if (args.declares("detector-file")) options.set_cascade_file(args.text("detector-file"));
  if (args.declares("min-face-size")) {
    options.set_min_face_size(static_cast<int>(args.integer("min-face-size", kDefaultMinFaceSize)));
  }
  try {  // the input size must also be a multiple of 32
    check_tiny_face_detector_options(TinyFaceDetectorOptions()
                                         .set_input_size(options.input_size)
                                         .set_score_threshold(options.threshold));
  } catch (const InputError& e) {
    throw UsageError(std::string("--") + e.what());
  }
  return options;
}

}  // namespace siamese::cli
