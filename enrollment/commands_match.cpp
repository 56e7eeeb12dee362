// siamese-enroll identify (1:N) and verify (1:1): faces of image files against the gallery,
// through the same detector, preprocessing, embedder and matcher as the faceverify element.
#include <nlohmann/json.hpp>

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <iomanip>
#include <iostream>

#include "commands.h"
#include "enroll_job.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/matcher.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {
namespace {

nlohmann::json box_json(const Box& b) { return {b.x, b.y, b.width, b.height}; }

// JSON has no infinity: a distance to nothing (empty gallery) is null.
nlohmann::json distance_json(float d) {
  return std::isfinite(d) ? nlohmann::json(d) : nlohmann::json(nullptr);
}

std::string box_text(const Box& b) {
  return "[" + std::to_string(b.x) + "," + std::to_string(b.y) + "," + std::to_string(b.width) +
         "," + std::to_string(b.height) + "]";
}

// Reads an image's faces; reports an unreadable file on stderr and returns false.
bool read_faces(FaceSource& source, const std::string& path, ImageFaces& faces) {
  try {
    faces = source.read(path);
    return true;
  } catch (const FileError& e) {
    std::cerr << "siamese-enroll: " << escape_for_display(path) << ": "
              << escape_for_display(reason_of(e, path)) << "\n";
    return false;
  }
}

torch::Tensor embed_boxes(Embedder& embedder, const ImageFaces& faces,
                          const std::vector<Box>& boxes) {
  const ImageView view = view_of(faces.image);
  const torch::Tensor batch = preprocess_batch(view, boxes, embedder.input_spec(), faces.framing,
                                               embedder.face_landmarks(view, boxes, faces.framing));
  return embedder.embed_on_device(batch);
}

// The gallery a match command reads, its threshold (the one rule, threshold_policy.h) and the
// matcher over one snapshot of it.
struct GalleryMatch {
  Gallery gallery;
  ThresholdChoice threshold;
  Matcher matcher;
};

GalleryMatch open_for_matching(const Args& args, const Embedder& embedder) {
  Gallery gallery = open_gallery(args, embedder, false);
  GallerySnapshot snapshot = gallery.snapshot();
  ThresholdChoice threshold =
      pick_threshold(args, snapshot.threshold, embedder.info(), snapshot.matrix.size());
  Matcher matcher(std::move(snapshot.matrix), embedder.device(), threshold);
  return GalleryMatch{std::move(gallery), std::move(threshold), std::move(matcher)};
}

}  // namespace

int run_identify(const Args& args) {
  const int top = args.integer("top", kDefaultTop);
  Embedder embedder = load_embedder(args);
  const GalleryMatch opened = open_for_matching(args, embedder);
  const Gallery& gallery = opened.gallery;
  const Matcher& matcher = opened.matcher;
  const float threshold = opened.threshold.value;
  const std::string& threshold_source = opened.threshold.description;
  FaceSource source = make_face_source(args, embedder.input_spec().channels);
  const bool json = args.has("json");
  if (!json) {
    std::cout << "gallery " << escape_for_display(gallery.path()) << ": " << matcher.names().size()
              << " identities, " << matcher.embedding_count() << " embeddings; threshold "
              << threshold << " (" << threshold_source << ")\n";
  }
  int failed = 0;
  for (const auto& image : args.positionals()) {
    ImageFaces faces;
    if (!read_faces(source, image, faces)) {
      ++failed;
      continue;
    }
    std::vector<Box> boxes = faces.boxes;
    if (args.has("largest-face") && boxes.size() > 1) boxes.resize(1);
    if (boxes.empty()) {
      std::cerr << "siamese-enroll: " << escape_for_display(image) << ": no face found\n";
      continue;
    }
    const auto matches = matcher.match(embed_boxes(embedder, faces, boxes), top);
    for (size_t i = 0; i < boxes.size(); ++i) {
      const Match& m = matches[i];
      if (json) {
        auto list = nlohmann::json::array();
        for (const auto& c : m.top) {
          list.push_back({{"identity", c.name}, {"distance", distance_json(c.distance)}});
        }
        nlohmann::json out = {{"image", image},         {"box", box_json(faces.recorded(boxes[i]))},
                              {"identity", nullptr},    {"distance", distance_json(m.distance)},
                              {"verified", m.verified}, {"top", list}};
        if (m.verified) out["identity"] = m.name;
        if (m.identity >= 0) out["threshold"] = m.threshold;
        if (!m.rejection.empty()) {
          out["reason"] = m.rejection;
          out["nearest"] = m.name;
          out["negative_distance"] = distance_json(m.negative_distance);
        }
        std::cout << json_line(out) << "\n";
        continue;
      }
      // Names from the gallery and file names: escaped, one line each whatever they hold.
      std::cout << escape_for_display(image) << " " << box_text(faces.recorded(boxes[i])) << ": "
                << std::fixed << std::setprecision(3);
      if (m.identity < 0) {
        std::cout << "unknown (empty gallery)\n";
      } else if (m.verified) {
        std::cout << escape_for_display(m.name) << " (distance " << m.distance
                  << " <= " << m.threshold << ")\n";
      } else if (!m.rejection.empty()) {
        std::cout << "unknown (" << m.rejection << ": nearest " << escape_for_display(m.name)
                  << " at " << m.distance << ", but a face that is not them at "
                  << m.negative_distance << ")\n";
      } else {
        std::cout << "unknown (nearest " << escape_for_display(m.name) << " at " << m.distance
                  << " > " << m.threshold << ")\n";
      }
      if (m.top.size() > 1) {
        std::cout << "  top:";
        for (const auto& c : m.top) {
          std::cout << " " << escape_for_display(c.name) << " " << c.distance;
        }
        std::cout << "\n";
      }
      std::cout << std::defaultfloat;
    }
  }
  return failed > 0 ? 1 : 0;
}

int run_verify(const Args& args) {
  const std::string claim = args.required("claim");
  Embedder embedder = load_embedder(args);
  const GalleryMatch opened = open_for_matching(args, embedder);
  const Gallery& gallery = opened.gallery;
  const Matcher& matcher = opened.matcher;
  const float threshold = opened.threshold.value;
  const std::string& threshold_source = opened.threshold.description;
  const auto& names = matcher.names();
  const auto it = std::find(names.begin(), names.end(), claim);
  if (it == names.end()) {
    throw InputError("no identity '" + claim + "' in gallery " + gallery.path());
  }
  const auto index = it - names.begin();
  FaceSource source = make_face_source(args, embedder.input_spec().channels);
  const std::string& image = args.positionals().at(0);
  ImageFaces faces;
  if (!read_faces(source, image, faces)) return 1;
  nlohmann::json out = {{"image", image},      {"claim", claim},         {"box", nullptr},
                        {"distance", nullptr}, {"threshold", threshold}, {"verified", false}};
  if (faces.boxes.empty()) {
    out["reason"] = "no face found";
  } else {
    // 1:1 at a door: the person presenting is the largest (nearest) face.
    if (faces.boxes.size() > 1) {
      std::cerr << "siamese-enroll: " << escape_for_display(image) << ": " << faces.boxes.size()
                << " faces found; verifying the largest\n";
    }
    const Box box = faces.boxes.front();
    c10::InferenceMode guard;
    const Match m =
        matcher.match_identity(embed_boxes(embedder, faces, {box}), static_cast<int>(index));
    out["box"] = box_json(faces.recorded(box));
    out["distance"] = distance_json(m.distance);
    out["threshold"] = m.threshold;
    out["verified"] = m.verified;
    if (!m.rejection.empty()) {
      out["reason"] = m.rejection;
      out["negative_distance"] = distance_json(m.negative_distance);
    }
  }
  const bool verified = out["verified"].get<bool>();
  if (args.has("json")) {
    std::cout << json_line(out) << "\n";
  } else if (faces.boxes.empty()) {
    std::cout << escape_for_display(image) << ": NOT verified as '" << escape_for_display(claim)
              << "' (no face found)\n";
  } else {
    const float t = out["threshold"].get<float>();
    const bool own = t != threshold;
    std::cout << escape_for_display(image) << ": " << (verified ? "verified" : "NOT verified")
              << " as '" << escape_for_display(claim) << "' (distance " << std::fixed
              << std::setprecision(3) << out["distance"].get<float>();
    if (out.contains("reason")) {
      std::cout << ", " << kReasonNegativeAnchor << ": a face that is not them at "
                << out["negative_distance"].get<float>() << ")\n";
    } else {
      std::cout << (verified ? " <= " : " > ") << "threshold " << t << ": "
                << (own ? "the identity's own" : threshold_source) << ")\n";
    }
  }
  return verified ? 0 : kExitNotVerified;
}

}  // namespace siamese::enroll
