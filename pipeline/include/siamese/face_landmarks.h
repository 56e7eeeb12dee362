// The 68-point facial landmark networks of @vladmandic/face-api 1.7.15 (FaceLandmark68Net and
// FaceLandmark68TinyNet: densely connected depthwise-separable blocks on a 112x112 RGB face, a
// 136-value head of relative x, y), rebuilt in LibTorch from the pinned tfjs weights, and a
// batched landmarker over the face boxes of a frame that frames each box as face-api does.
// Thread-safety: one FaceLandmarker per thread (it owns its network copy); free functions are pure.
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "siamese/face_points.h"
#include "siamese/image_view.h"
#include "siamese/network_forward.h"
#include "siamese/tfjs_import.h"

namespace siamese {

constexpr int kLandmarkInputSize = 112;  // face-api's landmark input side, pixels
constexpr const char* kLandmarkManifest = "model/face_landmark_68_model-weights_manifest.json";
constexpr const char* kLandmarkTinyManifest =
    "model/face_landmark_68_tiny_model-weights_manifest.json";

/// A depthwise-separable convolution as tfjs's separableConv2d with 'same' padding: 3x3
/// depthwise (stride 1 or 2), 1x1 pointwise, + bias. Registration names (as face-api's tensors):
/// depthwise_filter, pointwise_filter, bias.
class SeparableConvImpl : public torch::nn::Module {
 public:
  SeparableConvImpl(int in_channels, int out_channels, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor depthwise_, pointwise_, bias_;
  int64_t stride_;
};
TORCH_MODULE(SeparableConv);

/// face-api's dense block: conv0 (a plain 3x3 conv in the first block, else separable; stride 2)
/// then convs 1..n-1 (separable, stride 1), each fed the ReLU of the sum of all before it.
class LandmarkDenseBlockImpl : public torch::nn::Module {
 public:
  LandmarkDenseBlockImpl(int in_channels, int out_channels, int convs, bool first);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d plain_{nullptr};  // first block's conv0
  std::vector<SeparableConv> separable_;
};
TORCH_MODULE(LandmarkDenseBlock);

/// The network: full = 4 dense blocks of 4 convs (32, 64, 128, 256 channels), tiny = 3 blocks
/// of 3 (32, 64, 128); average pool to 1x1; fc to 136. Input [N,3,112,112] RGB 0..255 (the
/// mean and /255 are applied inside) -> [N,136]: x0, y0, x1, ... relative to the 112 square.
class FaceLandmarkNetImpl : public torch::nn::Module {
 public:
  explicit FaceLandmarkNetImpl(bool tiny = false);
  torch::Tensor forward(torch::Tensor x);
  bool tiny() const { return tiny_; }

 private:
  bool tiny_;
  std::vector<LandmarkDenseBlock> blocks_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(FaceLandmarkNet);

/// Copies face-api's tensors (tfjs names and layouts) into net, after checking that every
/// parameter has exactly one tensor of the right shape and no tensor is left over. Throws
/// FileError naming the manifest and the tensor otherwise.
void load_face_api_landmark_weights(FaceLandmarkNetImpl& net, const TfjsWeights& weights);

/// face-api's landmark network read from dir (the cache folder's layout: model/...), checked
/// against the pinned sha256 first when verify. Throws FileError naming the file and how to
/// fetch it (tests/fetch_weights.sh) when it is missing, altered or corrupt.
FaceLandmarkNet import_face_api_landmarks(const std::string& dir, bool tiny = false,
                                          bool verify = true);

/// The network input of one face as face-api frames it: the box (rounded down, clipped to the
/// frame) zero-padded to a centred square and resized bilinearly (tfjs resizeBilinear, corners
/// not aligned) to 112x112; written into out [3,112,112] float RGB 0..255. Throws InputError
/// for a box that misses the frame.
void landmark_input_into(const ImageView& view, const Box& box, float* out);

/// The points of the left-right mirror image of a frame frame_width pixels wide (x -> width - x,
/// each point renumbered as its mirror partner: the left eye's corners become the right eye's).
Landmarks68 mirror_landmarks(const Landmarks68& points, int frame_width);

/// Maps the network's 136 relative values for a face in box back to frame pixels, as face-api's
/// postProcess and shift do.
Landmarks68 landmarks_from_output(const float* values, const Box& box, const ImageView& view);

/// The box face-api's landmark network expects around a face of a detector's box: the Haar
/// cascade's brows-to-chin square grown by scale, centre moved by shift_y * height.
struct LandmarkFraming {
  float scale = 1.0f;
  float shift_y = 0.0f;
};

struct LandmarkerOptions {
  bool tiny = false;        // the tiny network (faster, less exact)
  int batch_size = 32;      // faces per forward pass
  LandmarkFraming framing;  // applied to each box before the network sees it
  /// A second pass on the box fitted to the first pass's points (as face-api's detectors frame
  /// faces): the points depend less on how the detector framed the face.
  bool refine = true;
  /// Also runs the passes on each face mirrored left-right and keeps the mean of both views'
  /// points: the network's errors on a face and on its mirror image partly cancel (LFW View 2
  /// with the aligned dlib network, README). FaceAligner sets it from the model's crop policy
  /// (align_mirror).
  bool mirror = true;
};

class FaceLandmarker {
 public:
  /// Loads the network from dir (face_api_cache_dir() by default) and moves it to device.
  /// Throws FileError naming the file when the weights are missing or altered.
  FaceLandmarker(const std::string& dir, torch::Device device, LandmarkerOptions options = {});
  /// A landmarker without a network of its own: its passes go through `network` (another
  /// landmarker's forward(), e.g. shared by streams). Throws InputError for bad options.
  FaceLandmarker(NetworkForward network, torch::Device device, LandmarkerOptions options = {});

  /// The 68 points of each box's face, in frame pixels, one per box, in order.
  std::vector<Landmarks68> detect(const ImageView& view, const std::vector<Box>& boxes);

  /// inputs [N,3,112,112] RGB 0..255 (any device) -> [N,136] relative values on the CPU
  /// (through `network` when given).
  torch::Tensor forward(const torch::Tensor& inputs);

  const LandmarkerOptions& options() const { return options_; }
  torch::Device device() const { return device_; }

 private:
  /// One forward pass: the points of the faces in direct, then of those in mirrored (each seen
  /// mirrored left-right, its points mapped back onto the frame).
  std::vector<Landmarks68> run(const ImageView& view, const std::vector<Box>& direct,
                               const std::vector<Box>& mirrored);

  void check_options() const;

  FaceLandmarkNet net_{nullptr};  // null when the passes go through network_
  NetworkForward network_;
  torch::Device device_;
  LandmarkerOptions options_;
};

/// The square box face-api's detectors give around these points (their bounding box, grown):
/// what the refining pass feeds the network.
Box landmark_box(const Landmarks68& points);

}  // namespace siamese
