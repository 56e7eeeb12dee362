// The figures of one training epoch, as the trainer reports them, the CSV holds them and the
// loss curve plots them. Thread-safety: a plain value.
#pragma once

#include "siamese/model_file.h"

namespace siamese::training {

struct EpochRecord {
  int epoch = 0;             // 1-based
  double loss = 0.0;         // mean training loss over the epoch's pairs
  double lr = 0.0;           // learning rate used in the epoch
  double seconds = 0.0;      // training time of the epoch (without validation)
  double pairs_per_s = 0.0;  // training pairs per second
  bool validated = false;    // validation figures below are set
  ValidationFigures validation;
  double threshold = 0.0;  // calibrated on the validation pairs
  bool best = false;       // this epoch's model is the one written to the model file
};

}  // namespace siamese::training
