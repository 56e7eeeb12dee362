#include "lfw_protocol.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <utility>

#include "crop_calibration.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/preprocess.h"

namespace siamese::training {

Box lfw_centre_box(int width, int height) {
  const int side =
      std::max(1, static_cast<int>(kLfwCentreBoxFraction * std::min(width, height) + 0.5));
  return Box{(width - side) / 2, (height - side) / 2, side, side};
}

LfwEvaluation evaluate_lfw(Embedder& embedder, const LfwPairs& pairs, const std::string& root,
                           const LfwEvalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const InputSpec& spec = embedder.input_spec();

  // Each distinct image once; pairs refer to it by index.
  std::map<std::pair<std::string, int>, int64_t> index_of;
  std::vector<std::string> paths;
  std::vector<int> first_line;  // the pairs file's first line naming each image
  std::vector<int64_t> a(pairs.pairs.size()), b(pairs.pairs.size());
  auto image_index = [&](const std::string& name, int number, int line) {
    const auto key = std::make_pair(name, number);
    const auto it = index_of.find(key);
    if (it != index_of.end()) return it->second;
    const int64_t i = static_cast<int64_t>(paths.size());
    index_of.emplace(key, i);
    paths.push_back(lfw_image_path(root, name, number));
    first_line.push_back(line);
    return i;
  };
  for (size_t k = 0; k < pairs.pairs.size(); ++k) {
    const LfwPair& p = pairs.pairs[k];
    a[k] = image_index(p.name1, p.number1, p.line);
    b[k] = image_index(p.name2, p.number2, p.line);
  }
  auto named_by = [&](size_t i) {
    return " (named by " + pairs.path + " line " + std::to_string(first_line[i]) + ")";
  };
  for (size_t i = 0; i < paths.size(); ++i) {  // all present before minutes of embedding
    std::error_code ec;
    if (!std::filesystem::is_regular_file(paths[i], ec)) {
      throw FileError(paths[i], "missing" + named_by(i));
    }
  }

  LfwEvaluation out;
  out.images = static_cast<int64_t>(paths.size());
  // A pair names the person each photo is centred on; another face may be larger.
  PlacedFaceDetector detector(options.detector, FacePick::kCentral);
  std::vector<torch::Tensor> parts;
  std::vector<double> box_sides;
  const int64_t n = out.images;
  const int64_t chunk = std::max(1, options.chunk);
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t m = std::min(chunk, n - start);
    torch::Tensor batch = make_batch_tensor(m, spec);
    for (int64_t j = 0; j < m; ++j) {
      const size_t i = static_cast<size_t>(start + j);
      cv::Mat image;
      try {
        image = read_image(paths[i], spec.channels == 1 ? 1 : 3);
      } catch (const FileError& e) {
        throw FileError(paths[i], std::string(e.what()) + named_by(i));
      }
      if (options.detect) {
        // As siamese-train --detect frames faces: the image on a background, the detector's box.
        cv::Mat frame;
        cv::Point offset;
        std::optional<Box> box = detector.detect(image, frame, offset);
        if (box) {
          box_sides.push_back(static_cast<double>(box->width) / std::min(image.cols, image.rows));
        } else {
          out.no_face.push_back(paths[i]);
          Box centre = lfw_centre_box(image.cols, image.rows);
          centre.x += offset.x;
          centre.y += offset.y;
          box = centre;
        }
        const ImageView frame_view = view_of(frame);
        preprocess_into(frame_view, {*box}, spec, Framing::kDetectorBox, batch, j,
                        embedder.face_landmarks(frame_view, {*box}));
      } else {
        const ImageView view = view_of(image);
        preprocess_into(view, {view.full_box()}, spec, Framing::kExact, batch, j);
      }
    }
    parts.push_back(embedder.embed(batch));
    if (options.progress) options.progress(start + m, n);
  }
  if (!box_sides.empty()) {
    std::nth_element(box_sides.begin(), box_sides.begin() + box_sides.size() / 2, box_sides.end());
    out.median_box_side = box_sides[box_sides.size() / 2];
  }
  const torch::Tensor e = torch::cat(parts).to(torch::kFloat64).contiguous();

  const torch::Tensor d =
      (e.index_select(0, torch::tensor(a)) - e.index_select(0, torch::tensor(b))).norm(2, 1);
  const auto distance = d.accessor<double, 1>();
  for (size_t k = 0; k < pairs.pairs.size(); ++k) {
    out.scores.distance.push_back(distance[static_cast<int64_t>(k)]);
    out.scores.genuine.push_back(pairs.pairs[k].matched);
    out.fold.push_back(pairs.pairs[k].fold);
  }
  out.folds = cross_fold_accuracy(out.scores, out.fold, pairs.folds);
  out.auc = roc_auc(out.scores);
  out.eer = equal_error_rate(out.scores);
  out.tar_at_far_1e2 = tar_at_far(out.scores, 1e-2);
  out.tar_at_far_1e3 = tar_at_far(out.scores, 1e-3);
  out.accuracy_at_model_threshold = accuracy_at(out.scores, embedder.info().threshold);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace siamese::training
