// Face alignment: from a face's landmarks (dlib's 33 chip points, or eye centres, nose tip and
// mouth corners), the least-squares similarity (Umeyama) onto a model's canonical template,
// dlib's mean face framed as its get_face_chip_details frames it (150x150, padding 0.25, for the
// imported dlib network).
// preprocess() warps faces with it when the model's crop policy aligns; FaceAligner runs the
// landmark network for those models. Thread-safety: free functions are pure; one FaceAligner
// per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "siamese/face_landmarks.h"
#include "siamese/preprocess.h"
#include "siamese/pretrained.h"

namespace siamese {

/// Template margins (CropPolicy::align_padding): dlib's for its 150x150 chips, and the one
/// siamese-train --align gives seed and default by default, about the framing of their
/// detector crops (eye distance ~0.31 of the crop, as a Haar box grown x1.3 gives it).
constexpr float kDlibAlignPadding = 0.25f;
constexpr float kNativeAlignPadding = 0.35f;

/// A similarity transform: x' = a x - b y + tx, y' = b x + a y + ty (rotation, uniform scale,
/// shift; no reflection).
struct Similarity {
  double a = 1.0, b = 0.0, tx = 0.0, ty = 0.0;
  Point2f apply(const Point2f& p) const;
  Similarity inverse() const;
  double scale() const;
  double angle_degrees() const;
};

/// Least squares (Umeyama 1991, rotation without reflection): the similarity T minimising
/// sum |T(from[i]) - to[i]|^2. Throws InputError for fewer than 2 pairs, unequal counts, or
/// from-points that all coincide.
Similarity fit_similarity(const std::vector<Point2f>& from, const std::vector<Point2f>& to);

/// Eye centres (means of points 36-41 and 42-47), nose tip (30), mouth corners (48, 54).
FivePoints five_points(const Landmarks68& points);

/// The points of landmarks that alignment fits, in a fixed order: the five points, or dlib's 33
/// (27-54 and 60-64: nose, eyes, upper lip).
std::vector<Point2f> alignment_points(const Landmarks68& landmarks, AlignPoints which);

/// dlib's published mean face (get_face_chip_details: points 17-67 in [0,1] of the chip without
/// padding). Its table has no jaw: points 0-16 are (0, 0) and no point set uses them.
Landmarks68 dlib_mean_face();

/// dlib's mean face in model-input pixels for spec's crop policy:
/// x = (align_padding + mean_x) / (1 + 2 align_padding) * width, y likewise plus
/// align_shift_y * height.
Landmarks68 template_face(const InputSpec& spec);

/// The template: alignment_points(template_face(spec), spec.crop.align_points).
std::vector<Point2f> align_template(const InputSpec& spec);

/// The map from model-input pixels to frame pixels that puts face's alignment points on the
/// template. Throws InputError when one of those points is not a finite number.
Similarity input_to_frame(const Landmarks68& face, const InputSpec& spec);

/// Runs face-api's 68-point network for a model whose crop policy aligns; nothing otherwise.
class FaceAligner {
 public:
  /// Loads the landmark network (from dir) only when crop.align is on; its mirrored chain
  /// follows crop.align_mirror, whatever options says. Throws FileError naming the weights file
  /// and tests/fetch_weights.sh when they are missing.
  FaceAligner(const CropPolicy& crop, torch::Device device,
              const std::string& dir = face_api_cache_dir(), LandmarkerOptions options = {});

  bool enabled() const { return landmarker_ != nullptr; }
  /// The 68 points per box (in order), or an empty vector when alignment is off.
  std::vector<Landmarks68> landmarks(const ImageView& view, const std::vector<Box>& boxes);
  /// The landmark network (null when alignment is off): to share it between streams.
  FaceLandmarker* landmarker() const { return landmarker_.get(); }

 private:
  std::unique_ptr<FaceLandmarker> landmarker_;
};

}  // namespace siamese
