// The shared flags read into the core's options: --device, --threads, the detector flags
// (--detector, --detector-file, --min-face-size, --detector-threshold, --detector-input-size) and
// the alignment flags (--align, --align-points, --align-mirror, --no-align-mirror).
// Links LibTorch (siamese_cli_core); the flag layer itself (cli.h) does not.
// Thread-safety: plain functions; apply_threads sets LibTorch's process-wide thread count.
#pragma once

#include <torch/types.h>

#include "siamese/cli.h"
#include "siamese/detector.h"
#include "siamese/preprocess.h"

namespace siamese::cli {

/// The device --device names (default auto); UsageError naming --device for a malformed name,
/// DeviceError (exit 1) for a well-formed one that cannot be used.
torch::Device device_of(const Args& args);

/// Sets LibTorch's CPU threads to --threads when given (0 or absent = LibTorch's choice).
void apply_threads(const Args& args);

/// The detector the declared detector flags choose (cascades, or the CNN on device); flags the
/// command does not declare keep the core's defaults. UsageError naming a bad value.
DetectorOptions detector_options_of(const Args& args, torch::Device device);

/// Sets the alignment facts the flags of flags::alignment() give (--align, --align-points,
/// --align-mirror or --no-align-mirror) in crop; those not given keep crop's values. UsageError
/// naming a bad value or both mirror flags. Returns whether any was given.
bool apply_alignment_flags(const Args& args, CropPolicy& crop);

}  // namespace siamese::cli
