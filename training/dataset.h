// A face dataset decoded once: every usable image of an identity folder preprocessed into one
// tensor [N,C,H,W], either as the whole (pre-cropped) image or as the detector's box of the
// image placed on a larger background (--detect). Unreadable files are listed and skipped.
// Thread-safety: load_dataset() is a free function; a FaceDataset is a plain value.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "siamese/detector.h"
#include "siamese/image_io.h"
#include "siamese/preprocess.h"

namespace siamese::training {

struct FaceDataset {
  torch::Tensor images;                 // [N,C,H,W] float, CPU, preprocessed
  std::vector<int> labels;              // identity index (into identities) per image
  std::vector<std::string> identities;  // identity names (subfolders)
  std::vector<std::string> paths;       // file per image
  std::vector<SkippedFile> skipped;     // unreadable or corrupt files, faces not found, ...
  std::string root;
  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

struct DatasetOptions {
  InputSpec spec;
  bool detect = false;       // detect the face on a larger background; else the whole image
  DetectorOptions detector;  // with detect: --detector, --detector-threshold, ...
  /// An identity left with fewer usable images than this is skipped with a warning.
  int min_images_per_identity = 2;
};

/// Decodes and preprocesses every image once. Throws InputError naming the folder when fewer
/// than two identities remain usable.
FaceDataset load_dataset(const ImageFolder& folder, const DatasetOptions& options);

/// Logs the skipped files of a dataset as warnings (one line each, path and reason).
void report_skipped(const FaceDataset& dataset, const std::string& what);

}  // namespace siamese::training
