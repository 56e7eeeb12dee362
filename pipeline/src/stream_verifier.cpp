#include "siamese/stream_verifier.h"

#include <torch/types.h>

#include <algorithm>

#include "siamese/errors.h"
#include "siamese/face_align.h"
#include "siamese/gpu_preprocess.h"
#include "siamese/preprocess.h"

namespace siamese {

namespace {

Box clip_box(const Box& b, const Box& frame) {
  const int x0 = std::max(b.x, frame.x), y0 = std::max(b.y, frame.y);
  const int x1 = std::min(b.x + b.width, frame.x + frame.width);
  const int y1 = std::min(b.y + b.height, frame.y + frame.height);
  return Box{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

}  // namespace

StreamVerifier::StreamVerifier(std::unique_ptr<Embedder> embedder,
                               std::unique_ptr<FaceDetector> detector, StreamOptions options)
    : embedder_(std::move(embedder)), detector_(std::move(detector)) {
  if (!embedder_) throw InputError("StreamVerifier: no embedder");
  Embedder* e = embedder_.get();
  embed_ = [e](const torch::Tensor& inputs) { return e->embed_on_device(inputs); };
  set_options(options);
}

StreamVerifier::StreamVerifier(std::shared_ptr<Embedder> embedder, EmbedFunction embed,
                               std::unique_ptr<FaceDetector> detector, StreamOptions options)
    : embedder_(std::move(embedder)), embed_(std::move(embed)), detector_(std::move(detector)) {
  if (!embedder_) throw InputError("StreamVerifier: no embedder");
  if (!embed_) throw InputError("StreamVerifier: no embed function");
  set_options(options);
}

void StreamVerifier::set_gpu_preprocessor(std::shared_ptr<GpuFacePreprocessor> gpu) {
  // The GPU crop kernels frame boxes; a model that aligns has its faces warped along their
  // landmarks by the one CPU preprocessing function instead.
  gpu_ = embedder_->aligns() ? nullptr : std::move(gpu);
}

void StreamVerifier::set_landmarker(std::unique_ptr<FaceLandmarker> landmarker) {
  landmarker_ = std::move(landmarker);
}

void StreamVerifier::set_options(const StreamOptions& options) {
  if (options.detect_interval < 1) {
    throw InputError("detect-interval must be >= 1, got " +
                     std::to_string(options.detect_interval));
  }
  if (options.template_size < 1 || options.template_size > kMaxTemplateSize) {
    throw InputError("template-size must be 1.." + std::to_string(kMaxTemplateSize) + ", got " +
                     std::to_string(options.template_size));
  }
  tracker_.set_options(options.tracker);
  decisions_.set_options(options.decision);
  options_ = options;
}

void StreamVerifier::reset() {
  tracker_.reset();
  decisions_.reset();
  templates_.clear();
  frame_count_ = 0;
}

torch::Tensor StreamVerifier::track_template(int64_t track_id, const torch::Tensor& embedding) {
  torch::Tensor& kept = templates_[track_id];
  kept = kept.defined() ? torch::cat({kept, embedding.unsqueeze(0)}, 0) : embedding.unsqueeze(0);
  if (kept.size(0) > options_.template_size) {
    kept = kept.narrow(0, kept.size(0) - options_.template_size, options_.template_size);
  }
  torch::Tensor mean = kept.mean(0);
  // A unit-norm model's gallery holds unit vectors: the template is one too.
  if (embedder_->info().normalized) mean = mean / mean.norm().clamp_min(1e-12);
  return mean;
}

std::vector<FrameResult> StreamVerifier::process(const std::vector<StreamFrame>& frames,
                                                 const Matcher* matcher) {
  std::vector<FrameResult> results(frames.size());
  std::vector<std::vector<int64_t>> expired(frames.size());
  std::vector<std::vector<int64_t>> resumed(frames.size());
  // A person removed from the gallery (or a gallery that can no longer be trusted, passed as
  // an empty one) loses a verification at once, not at the track's next re-check.
  static const std::vector<std::string> kNoNames;
  const std::vector<std::string>& names = matcher != nullptr ? matcher->names() : kNoNames;
  if (names != gallery_names_) {
    if (!frames.empty()) results[0].changes = decisions_.revoke_absent(names, frames[0].time);
    gallery_names_ = names;
  }
  // (frame, face) of every face to embed, in frame order: one batch for all of them.
  std::vector<std::pair<size_t, size_t>> to_embed;

  // The frames due for detection are searched together: the CNN detector runs one forward pass
  // for all of them (the cascades one frame after another).
  std::vector<ImageView> to_detect;
  std::vector<std::vector<Box>> detections;
  for (size_t f = 0; f < frames.size(); ++f) {
    const int64_t count = frame_count_ + static_cast<int64_t>(f);
    if (!frames[f].boxes && count % options_.detect_interval == 0) {
      to_detect.push_back(frames[f].view);
    }
  }
  if (!to_detect.empty()) {
    if (!detector_) throw InputError("no face detector and no boxes given for a frame");
    detections = detector_->detect(to_detect);
  }
  size_t next_detection = 0;

  for (size_t f = 0; f < frames.size(); ++f) {
    const StreamFrame& frame = frames[f];
    std::vector<TrackedFace> tracked;
    bool detected = true;
    if (frame.boxes) {
      tracked = tracker_.update(*frame.boxes);
    } else if (frame_count_ % options_.detect_interval == 0) {
      tracked = tracker_.update(detections[next_detection++]);
    } else {
      // Followed faces move on at their velocity; keep the part inside the frame.
      tracked = tracker_.predict();
      detected = false;
      const Box frame_box = frame.view.full_box();
      std::vector<TrackedFace> inside;
      for (TrackedFace& t : tracked) {
        t.box = clip_box(t.box, frame_box);
        if (t.box.width > 0 && t.box.height > 0) inside.push_back(t);
      }
      tracked.swap(inside);
    }
    ++frame_count_;
    expired[f] = tracker_.expired();

    auto& faces = results[f].faces;
    faces.reserve(tracked.size());
    for (size_t i = 0; i < tracked.size(); ++i) {
      FaceResult face;
      face.box = tracked[i].box;
      face.track_id = tracked[i].track_id;
      face.source_index = detected ? static_cast<int>(i) : -1;
      face.points = tracked[i].points;
      face.has_points = tracked[i].has_points;
      face.resumed = tracked[i].resumed;
      if (face.resumed) resumed[f].push_back(face.track_id);
      // Faces are embedded only on boxes measured on this frame: a followed box is predicted,
      // lags a moving face, and its crop would pull the track's template off the face. A track
      // without a verified identity is embedded at every measured box (it still gathers
      // evidence); a verified one when the tracker says a re-check is due.
      face.embedded =
          detected && (tracked[i].needs_embedding || decisions_.needs_evidence(face.track_id));
      if (face.embedded) {
        tracker_.mark_embedded(face.track_id);
        to_embed.emplace_back(f, i);
      }
      faces.push_back(std::move(face));
    }
  }

  std::vector<Match> matches;
  if (!to_embed.empty()) {
    const InputSpec& spec = embedder_->input_spec();
    const auto n = static_cast<int64_t>(to_embed.size());
    torch::Tensor batch;
    std::vector<torch::Tensor> gpu_parts;  // per frame, when preprocessing on the GPU
    if (!gpu_) {
      if (!batch_.defined() || batch_.size(0) < n) {
        batch_ = make_batch_tensor(n, spec, embedder_->device().is_cuda());
      }
      batch = batch_.narrow(0, 0, n);
    }
    std::vector<Box> boxes;
    for (size_t k = 0; k < to_embed.size();) {
      const size_t f = to_embed[k].first;
      const int64_t first = static_cast<int64_t>(k);
      boxes.clear();
      for (; k < to_embed.size() && to_embed[k].first == f; ++k) {
        boxes.push_back(results[f].faces[to_embed[k].second].box);
      }
      if (gpu_) {
        gpu_parts.push_back(gpu_->preprocess(frames[f].view, boxes, Framing::kDetectorBox));
      } else {
        const std::vector<Landmarks68> landmarks =
            !embedder_->aligns() ? std::vector<Landmarks68>()
            : landmarker_        ? landmarker_->detect(frames[f].view, boxes)
                                 : embedder_->face_landmarks(frames[f].view, boxes);
        preprocess_into(frames[f].view, boxes, spec, Framing::kDetectorBox, batch, first,
                        landmarks);
        // Tracks keep the five points measured here and move them with their boxes.
        for (size_t i = 0; i < landmarks.size(); ++i) {
          const size_t slot = static_cast<size_t>(first) + i;
          FaceResult& face = results[f].faces[to_embed[slot].second];
          const FivePoints points = five_points(landmarks[i]);
          tracker_.set_points(face.track_id, points, face.box);
          face.points = points;
          face.has_points = true;
          face.landmarks.assign(landmarks[i].begin(), landmarks[i].end());
        }
      }
    }
    if (gpu_) batch = gpu_parts.size() == 1 ? gpu_parts[0] : torch::cat(gpu_parts, 0);
    torch::Tensor embeddings = embed_(batch);
    embedded_count_ += n;
    // In frame order, so a track seen on several frames of the batch averages them in turn.
    if (options_.template_size > 1) {
      std::vector<torch::Tensor> rows;
      rows.reserve(to_embed.size());
      for (size_t i = 0; i < to_embed.size(); ++i) {
        const FaceResult& face = results[to_embed[i].first].faces[to_embed[i].second];
        if (face.resumed) templates_.erase(face.track_id);  // maybe another person's face now
        rows.push_back(track_template(face.track_id, embeddings[static_cast<int64_t>(i)]));
      }
      embeddings = torch::stack(rows);
    }
    if (matcher != nullptr && matcher->embedding_count() > 0) {
      matches = matcher->match(embeddings);
    }
  }

  size_t k = 0;
  for (size_t f = 0; f < frames.size(); ++f) {
    for (int64_t id : expired[f]) {
      decisions_.forget(id);
      templates_.erase(id);
    }
    // A face found again where a track was lost may be someone else's: decided afresh, its
    // verification withdrawn (found by the hard walk: a walker took over the track of the one
    // who had just left, verified as them until the re-check).
    for (int64_t id : resumed[f]) {
      if (auto change = decisions_.withdraw(id, frames[f].time)) {
        results[f].changes.push_back(std::move(*change));
      }
    }
    for (; k < to_embed.size() && to_embed[k].first == f; ++k) {
      const FaceResult& face = results[f].faces[to_embed[k].second];
      Evidence evidence;
      if (k < matches.size()) {
        evidence.identity = matches[k].name;
        evidence.distance = matches[k].distance;
        evidence.second_distance = matches[k].second_distance;
        evidence.identity_threshold = matcher->own_threshold(matches[k].identity);
        evidence.rejection = matches[k].rejection;
      }
      if (auto change = decisions_.observe(face.track_id, evidence, frames[f].time)) {
        results[f].changes.push_back(std::move(*change));
      }
    }
    for (FaceResult& face : results[f].faces) {
      const Decision d = decisions_.decision(face.track_id);
      face.state = d.state;
      face.identity = d.identity;
      face.distance = d.distance;
      face.margin = d.margin;
    }
  }
  return results;
}

}  // namespace siamese
