// Light augmentation of preprocessed face batches, done on tensors (no re-decoding): random
// horizontal flip, small shift/scale/rotation (one affine resampling per batch, borders
// repeated), brightness/contrast jitter and random erasing (a noise rectangle, as an occlusion).
// Thread-safety: pure apart from the caller's rng.
#pragma once

#include <torch/types.h>

#include <random>

#include "siamese/preprocess.h"

namespace siamese::training {

struct AugmentOptions {
  bool flip = true;         // horizontal flip with probability 0.5
  double max_shift = 0.06;  // fraction of the width/height, each direction
  double max_scale = 0.06;  // zoom 1 +- this
  double max_rotate_deg = 6.0;
  double max_brightness = 0.08;    // in pixel-range units (0..1 before normalisation)
  double max_contrast = 0.15;      // contrast factor 1 +- this
  double erase_probability = 0.5;  // chance of one erased rectangle per face
  double erase_min = 0.125;        // its sides: this to erase_max of the face's sides
  double erase_max = 0.375;
};

/// batch [B,C,H,W] normalised as spec says -> a jittered copy of the same shape and device.
torch::Tensor augment_batch(const torch::Tensor& batch, const InputSpec& spec,
                            const AugmentOptions& options, std::mt19937& rng);

}  // namespace siamese::training
