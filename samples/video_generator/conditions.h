// Camera conditions for the walk video (siamese-render-walk --condition): in-plane rotation,
// defocus blur, low light, strong side light, sensor noise, JPEG artefacts, small faces and
// partial occlusion. Each is a fixed, documented change, with its random parts drawn from the
// walk's seed, so a video under a condition is reproduced byte for byte.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace siamese::samples {

enum class Condition { kRotate, kBlur, kLowLight, kSideLight, kNoise, kJpeg, kSmall, kOcclusion };

// What each condition does (also the --help text of siamese-render-walk).
constexpr double kMaxRotationDeg = 25.0;  // rotate: each walker turned by 5..25 degrees, either way
constexpr double kMinRotationDeg = 5.0;
constexpr int kDefocusRadius = 5;         // blur: the frame through a disc of this radius, px
constexpr double kLowLightGain = 0.25;    // lowlight: the frame's pixel values times this
constexpr double kSideLightBright = 1.6;  // sidelight: the face's gain at its lit edge ...
constexpr double kSideLightDark = 0.3;    // ... falling linearly to this at the other edge
constexpr double kNoiseSigma = 10.0;      // noise: Gaussian, per pixel and channel, 0..255
constexpr int kJpegQuality = 15;          // jpeg: at most this JPEG quality
constexpr int kSmallFaceMin = 40;         // small: face heights in pixels
constexpr int kSmallFaceMax = 60;

/// The conditions of a walk, in the order given.
using Conditions = std::vector<Condition>;

/// "rotate,blur" -> conditions; "none" or "" -> none; "all" -> every condition. Throws
/// std::invalid_argument naming an unknown or repeated name.
Conditions parse_conditions(const std::string& list);

/// The condition's name as --condition takes it ("lowlight").
std::string condition_name(Condition condition);

/// The names of every condition, comma-separated.
std::string condition_names();

bool has_condition(const Conditions& conditions, Condition condition);

/// A hand-sized patch or a bar over part of a face, in fractions of its box.
struct Occluder {
  std::string kind;  // "bar" (dark, across the eyes) or "hand" (a skin-toned ellipse)
  double x = 0, y = 0, width = 0, height = 0;  // the occluder's bounding box, 0..1 of the face box
};

/// How one walker looks under the conditions: drawn from the seed and the walker's index.
struct WalkerLook {
  double angle_deg = 0.0;  // rotate: counter-clockwise in the image
  int light_side = 0;      // sidelight: -1 lit from the left, +1 from the right; 0 none
  Occluder occluder;       // occlusion: kind "" when none
};

/// The look of walker number index (in order of appearance) of a walk with seed.
WalkerLook walker_look(const Conditions& conditions, uint64_t seed, size_t index);

/// The image turned by angle_deg about its centre (edges reflected), then cut to its middle
/// centre_crop of width and height: what is shown of a rotated face photo.
cv::Mat rotated_face(const cv::Mat& image, double angle_deg, double centre_crop);

/// Side light and occlusion on a face already scaled to its box (BGR, in place).
void dress_face(cv::Mat& face, const WalkerLook& look);

/// Blur, low light and noise on a composed BGR frame (in place), in that order: the optics,
/// the light, then the sensor. frame_index seeds the noise.
void degrade_frame(cv::Mat& frame, const Conditions& conditions, uint64_t seed, int frame_index);

/// The JPEG quality to encode with: quality, or at most kJpegQuality under jpeg.
int jpeg_quality(const Conditions& conditions, int quality);

}  // namespace siamese::samples
