#include "dataset.h"

#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "crop_calibration.h"
#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/log.h"

namespace siamese::training {

FaceDataset load_dataset(const ImageFolder& folder, const DatasetOptions& options) {
  const InputSpec& spec = options.spec;
  FaceDataset data;
  data.root = folder.root;
  data.identities = folder.identities;
  for (const auto& s : folder.skipped) data.skipped.push_back(s);

  PlacedFaceDetector detector(options.detector);
  FaceAligner aligner(spec.crop, torch::kCPU);  // landmarks, for a model that aligns
  std::vector<torch::Tensor> faces;
  faces.reserve(folder.images.size());
  std::vector<int> labels;
  std::vector<std::string> paths;
  for (const auto& item : folder.images) {
    try {
      const cv::Mat image = read_image(item.path, spec.channels == 1 ? 1 : 3);
      torch::Tensor face;
      if (options.detect) {
        // As in a camera frame: the face on a background, cropped at the detector's box.
        cv::Mat frame;
        cv::Point offset;
        const auto box = detector.detect(image, frame, offset);
        if (!box) {
          data.skipped.push_back({item.path, "no face found by the detector"});
          continue;
        }
        const ImageView frame_view = view_of(frame);
        face = preprocess_batch(frame_view, {*box}, spec, Framing::kDetectorBox,
                                aligner.landmarks(frame_view, {*box}))[0];
      } else {
        const ImageView view = view_of(image);
        face = preprocess(view, view.full_box(), spec, Framing::kExact);
      }
      faces.push_back(face);
      labels.push_back(item.identity);
      paths.push_back(item.path);
    } catch (const FileError& e) {
      data.skipped.push_back({item.path, e.what()});
    } catch (const InputError& e) {
      data.skipped.push_back({item.path, e.what()});
    }
  }

  // Identities with too few usable images cannot give genuine pairs: skip them, say so.
  std::map<int, int> counts;
  for (int l : labels) ++counts[l];
  std::vector<int> keep_label(folder.identities.size(), -1);
  std::vector<std::string> kept_names;
  for (size_t id = 0; id < folder.identities.size(); ++id) {
    const int n = counts.count(static_cast<int>(id)) ? counts[static_cast<int>(id)] : 0;
    if (n >= options.min_images_per_identity) {
      keep_label[id] = static_cast<int>(kept_names.size());
      kept_names.push_back(folder.identities[id]);
    } else {
      const std::string dir = (std::filesystem::path(folder.root) / folder.identities[id]).string();
      data.skipped.push_back(
          {dir, "identity has " + std::to_string(n) + " usable image(s); at least " +
                    std::to_string(options.min_images_per_identity) + " are needed"});
    }
  }
  std::vector<int64_t> rows;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (keep_label[labels[i]] < 0) continue;
    rows.push_back(static_cast<int64_t>(i));
    data.labels.push_back(keep_label[labels[i]]);
    data.paths.push_back(paths[i]);
  }
  data.identities = kept_names;
  if (kept_names.size() < 2) {
    throw InputError(folder.root + ": needs at least two identities (subfolders) with at least " +
                     std::to_string(options.min_images_per_identity) +
                     " readable images each, found " + std::to_string(kept_names.size()));
  }
  data.images = make_batch_tensor(static_cast<int64_t>(rows.size()), spec);
  for (size_t k = 0; k < rows.size(); ++k)
    data.images[static_cast<int64_t>(k)].copy_(faces[rows[k]]);
  return data;
}

void report_skipped(const FaceDataset& dataset, const std::string& what) {
  if (dataset.skipped.empty()) return;
  log(LogLevel::kWarning,
      what + ": skipped " + std::to_string(dataset.skipped.size()) + " file(s) or folder(s):");
  for (const auto& s : dataset.skipped) {
    // FileError messages already start with the path.
    const bool named = s.reason.rfind(s.path, 0) == 0;
    log(LogLevel::kWarning, "  " + (named ? s.reason : s.path + ": " + s.reason));
  }
}

}  // namespace siamese::training
