// The ONE face-preprocessing path: (frame view, face box) -> model input tensor. The trainer,
// siamese-enroll and the faceverify element all call it, so train and serve see the same
// pixels. Thread-safety: pure functions of their arguments.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "siamese/face_points.h"
#include "siamese/image_view.h"

namespace siamese {

/// Whether faces are cut out along their landmarks: none (the detector box, framed by the crop
/// policy) or landmarks68 (face-api's 68-point network; eye centres, nose tip and mouth corners
/// mapped by a least-squares similarity onto the model's template, see face_align.h).
enum class Align { kNone, kLandmarks68 };

/// "none" or "landmarks68".
const char* align_name(Align align);
/// Parses "none" / "landmarks68"; throws InputError naming what (e.g. "--align") otherwise.
Align parse_align(const std::string& name, const std::string& what);

/// Which landmarks the alignment fits onto the template: five (eye centres, nose tip, mouth
/// corners) or dlib33 (the 33 points dlib's get_face_chip_details fits: nose, eyes and upper
/// lip, leaving out the jaw, brows and lower lip that move with expression; more points average
/// out the landmark network's noise).
enum class AlignPoints { kFive, kDlib33 };

/// "five" or "dlib33".
const char* align_points_name(AlignPoints points);
/// Parses "five" / "dlib33"; throws InputError naming what (e.g. "--align-points") otherwise.
AlignPoints parse_align_points(const std::string& name, const std::string& what);

/// How a detector box (OpenCV's brows-to-chin square) is grown to the framing the model was
/// trained on. The centre moves by shift_y * box height (negative = up); the size is multiplied.
/// With align on, the face is cut out along its landmarks instead: the template is dlib's mean
/// face (its align_points) with align_padding of margin on each side (dlib's
/// get_face_chip_details padding: 0.25 for its 150x150 chips), moved down by align_shift_y of
/// the crop's height. align_mirror: the landmarks are the mean of the face's and its mirror
/// image's (FaceLandmarker's mirrored chain).
struct CropPolicy {
  float scale_width = 1.0f;
  float scale_height = 1.0f;
  float shift_y = 0.0f;
  Align align = Align::kNone;
  float align_padding = 0.25f;
  float align_shift_y = 0.0f;
  bool align_mirror = true;
  AlignPoints align_points = AlignPoints::kDlib33;
  bool operator==(const CropPolicy& o) const {
    return scale_width == o.scale_width && scale_height == o.scale_height && shift_y == o.shift_y &&
           align == o.align && align_padding == o.align_padding &&
           align_shift_y == o.align_shift_y && align_mirror == o.align_mirror &&
           align_points == o.align_points;
  }
};

/// The model's input: geometry, colour and normalisation ((pixel * scale - mean) / std).
struct InputSpec {
  int width = 100;
  int height = 100;
  int channels = 1;  // 1 = gray (luma), 3 = RGB
  float scale = 1.0f / 255.0f;
  std::vector<float> mean{0.0f};
  std::vector<float> std{1.0f};
  CropPolicy crop;
};

/// The bounds of a usable InputSpec. Model facts outside them are refused when the model file
/// is read (a tampered file must not make a forward pass allocate gigabytes, divide by a zero
/// std, or blow every crop up until all faces look alike).
constexpr int kMaxInputSide = 512;           // pixels of the model input's width and height
constexpr float kMaxInputScale = 1.0f;       // pixel multiplier: 1/255 typically, 1 at most
constexpr float kMaxAbsInputMean = 1000.0f;  // |mean| per channel
constexpr float kMinInputStd = 1e-3f;        // std per channel, in [kMinInputStd, kMaxInputStd]
constexpr float kMaxInputStd = 1000.0f;
constexpr float kMinCropScale = 0.25f;  // CropPolicy scale_width / scale_height bounds
constexpr float kMaxCropScale = 4.0f;
constexpr float kMaxCropShift = 1.0f;     // |shift_y|, in box heights
constexpr float kMaxAlignPadding = 2.0f;  // align_padding in [0, 2]; |align_shift_y| <= 1
/// A face box may be at most this many times the frame's width and height (larger ones, from
/// a tampered gallery or an upstream meta, are refused before anything is padded).
constexpr int kMaxBoxToFrame = 2;

/// Throws InputError naming the first fact of spec out of its bounds, e.g.
/// "input.std[0] = 0 is not in [0.001, 1000]"; channels must be 1 or 3, with one mean and std each.
void check_input_spec(const InputSpec& spec);

/// What a box passed to preprocess() means.
enum class Framing {
  kDetectorBox,  // a face detector's box: grown by InputSpec::crop first
  kExact,        // the region to use as it is (a pre-cropped image: the whole image)
};

/// The region preprocess() actually reads for a box (after the crop policy; may leave the frame).
Box framed_region(const Box& box, const CropPolicy& crop, Framing framing);

/// One face -> float tensor [channels, height, width] on the CPU. Outside the frame the border
/// pixels are repeated. Throws InputError for an empty box, a box over kMaxBoxToFrame times the
/// frame, or an invalid view.
torch::Tensor preprocess(const ImageView& view, const Box& box, const InputSpec& spec,
                         Framing framing);

/// Batch form: writes face i into out[first + i]; out is a contiguous float CPU tensor
/// [N, channels, height, width] (e.g. from make_batch_tensor) so no per-face allocation remains.
/// A detector box of a model whose crop policy aligns needs its landmarks: throws InputError
/// (use the form with points).
void preprocess_into(const ImageView& view, const std::vector<Box>& boxes, const InputSpec& spec,
                     Framing framing, torch::Tensor& out, int64_t first = 0);

/// The same with each face's 68 landmarks (landmarks.size() == boxes.size(), or empty for a
/// model that does not align): with spec.crop.align on and kDetectorBox framing, face i is the
/// similarity warp of its crop.align_points onto the template (face_align.h); otherwise as above.
void preprocess_into(const ImageView& view, const std::vector<Box>& boxes, const InputSpec& spec,
                     Framing framing, torch::Tensor& out, int64_t first,
                     const std::vector<Landmarks68>& landmarks);

/// Batch form returning a new tensor [boxes.size(), channels, height, width].
torch::Tensor preprocess_batch(const ImageView& view, const std::vector<Box>& boxes,
                               const InputSpec& spec, Framing framing);
/// The same with each face's landmarks (see preprocess_into with landmarks).
torch::Tensor preprocess_batch(const ImageView& view, const std::vector<Box>& boxes,
                               const InputSpec& spec, Framing framing,
                               const std::vector<Landmarks68>& landmarks);

/// An uninitialised float CPU tensor for n faces of this spec (pinned when pin is true).
torch::Tensor make_batch_tensor(int64_t n, const InputSpec& spec, bool pin = false);

}  // namespace siamese
