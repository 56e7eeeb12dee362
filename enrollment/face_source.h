// Image file -> the faces to embed, through the same detector and the same preprocessing the
// faceverify element uses: Haar/LBP cascade boxes framed with Framing::kDetectorBox, or with
// --no-detect the whole image as an already-cropped face (Framing::kExact).
// Thread-safety: one FaceSource per thread (it owns a cascade classifier).
#pragma once

#include <torch/types.h>

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

#include "siamese/detector.h"
#include "siamese/preprocess.h"

namespace siamese::enroll {

struct FaceSourceOptions {
  bool detect = true;        // false = --no-detect
  DetectorOptions detector;  // --detector, --detector-file, --min-face-size
};

/// A decoded image and its faces.
struct ImageFaces {
  cv::Mat image;           // gray (1-channel models) or BGR: the file, or the file placed on
                           // a background (detection), as read_image decodes it
  std::vector<Box> boxes;  // in `image`, largest first; the whole image with --no-detect
  Framing framing = Framing::kExact;
  Box source;  // where the file's own pixels lie in `image`

  /// A box as recorded in the gallery and printed: in the file's coordinates when it lies
  /// inside the file, else in those of the placed picture (it reaches past the file's edges).
  Box recorded(const Box& box) const;
};

class FaceSource {
 public:
  /// channels: the model's input channels (1 = gray). Loads the cascade when detecting
  /// (FileError naming a missing or invalid cascade file).
  FaceSource(FaceSourceOptions options, int channels);

  /// Decodes path and finds its faces. Detection searches the picture placed on a background
  /// (detect_placed), as siamese-train --detect does, and then `image` is that picture.
  /// Throws FileError when the file cannot be decoded.
  ImageFaces read(const std::string& path);
  /// Decodes path and returns the recorded region (box 0x0 = whole image) for --rebuild, with
  /// the pixels read() framed it from.
  ImageFaces read_region(const std::string& path, const Box& box, Framing framing) const;

  bool detects() const { return options_.detect; }

 private:
  FaceSourceOptions options_;
  int channels_;
  std::optional<FaceDetector> detector_;
};

/// The one face to enroll: the only face, or the largest when largest_face; nullopt with the
/// reason ("no face found", "3 faces found (use --largest-face)") otherwise.
std::optional<Box> single_face(const ImageFaces& faces, bool largest_face, std::string& reason);

/// A model input [C,H,W] (normalised float) back to 8-bit pixels, gray or BGR: what the model saw.
cv::Mat input_to_image(const torch::Tensor& input, const InputSpec& spec);

}  // namespace siamese::enroll
