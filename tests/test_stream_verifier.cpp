// StreamVerifier, the element's face logic without GStreamer: batching over frames, per-track
// decisions in frame order, strangers, track expiry. Untrained network, synthetic faces.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/stream_verifier.h"
#include "test_support.h"

namespace {

using siamese::Box;

/// A 300x160 gray frame holding three distinct synthetic "faces" (64x64 patches).
cv::Mat frame_with_faces() {
  cv::Mat frame(160, 300, CV_8UC1, cv::Scalar(90));
  for (int i = 0; i < 3; ++i) {
    siamese::testing::synthetic_gray(64, 64, 10 + i)
        .copyTo(frame(cv::Rect(20 + 90 * i, 40, 64, 64)));
  }
  return frame;
}
const std::vector<Box> kBoxes = {{20, 40, 64, 64}, {110, 40, 64, 64}, {200, 40, 64, 64}};

siamese::LoadedModel untrained() {
  torch::manual_seed(4);
  siamese::ModelInfo info;
  info.input = siamese::default_input_spec(info.arch);
  info.embedding_size = info.arch.embedding_size;
  info.normalized = true;  // the default architecture's embeddings have unit norm
  return siamese::LoadedModel{info, siamese::Network::create(info.arch), ""};
}

/// Faces 0 and 1 enrolled as "a" and "b" from the same pixels; face 2 is a stranger.
struct Fixture {
  cv::Mat frame = frame_with_faces();
  siamese::ImageView view = siamese::view_of(frame);
  std::unique_ptr<siamese::Matcher> matcher;
  float threshold = 0.0f;
  Fixture() {
    siamese::Embedder embedder(untrained(), torch::kCPU);
    const torch::Tensor e = embedder.embed_faces(view, kBoxes, siamese::Framing::kDetectorBox);
    const float nearest_other =
        std::min({(e[0] - e[1]).norm().item<float>(), (e[0] - e[2]).norm().item<float>(),
                  (e[1] - e[2]).norm().item<float>()});
    threshold = 0.5f * nearest_other;
    siamese::GalleryMatrix g;
    g.names = {"a", "b"};
    g.embeddings = e.narrow(0, 0, 2).clone();
    g.owners = torch::tensor({0, 1}, torch::kInt64);
    matcher = std::make_unique<siamese::Matcher>(g, torch::kCPU, threshold);
  }
  /// template_size > 1 also re-embeds every face on every frame (reverify-interval 1).
  std::unique_ptr<siamese::StreamVerifier> verifier(int confirm_n, int confirm_m,
                                                    int template_size = 1) {
    siamese::StreamOptions o;
    o.template_size = template_size;
    if (template_size > 1) o.tracker.set_reverify_interval(1);
    o.decision.set_threshold(threshold)
        .set_margin(0.1f * threshold)
        .set_confirm(confirm_n, confirm_m);
    return std::make_unique<siamese::StreamVerifier>(
        std::make_unique<siamese::Embedder>(untrained(), torch::kCPU, 4), nullptr, o);
  }
  siamese::StreamFrame input(int64_t time, std::vector<Box> boxes = kBoxes) const {
    return siamese::StreamFrame{view, time, std::move(boxes)};
  }
};

}  // namespace

TEST_CASE("stream verifier: a batch of frames gives what frames one by one give",
          "[core][stream]") {
  Fixture f;
  auto batched = f.verifier(2, 3);
  auto single = f.verifier(2, 3);
  std::vector<siamese::StreamFrame> frames;
  for (int t = 0; t < 4; ++t) frames.push_back(f.input(t));
  const auto all = batched->process(frames, f.matcher.get());  // 12 faces, chunks of 4
  REQUIRE(all.size() == 4);
  for (int t = 0; t < 4; ++t) {
    CAPTURE(t);
    const auto one = single->process({f.input(t)}, f.matcher.get());
    REQUIRE(one[0].faces.size() == 3);
    REQUIRE(all[t].faces.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(all[t].faces[i].track_id == one[0].faces[i].track_id);
      CHECK(all[t].faces[i].identity == one[0].faces[i].identity);
      CHECK(all[t].faces[i].state == one[0].faces[i].state);
      // Other chunkings change embeddings by ~1e-7; near distance 0 the square root turns that
      // into ~3e-5, so 1e-4 (as the element's tests use).
      CHECK(all[t].faces[i].distance == Approx(one[0].faces[i].distance).margin(1e-4));
    }
    CHECK(all[t].changes.size() == one[0].changes.size());
  }
  // Decisions as of each frame: pending first, verified on the second, the stranger unknown
  // once the window of three is full.
  CHECK(all[0].faces[0].state == siamese::DecisionState::kPending);
  CHECK(all[1].faces[0].identity == "a");
  CHECK(all[1].faces[1].identity == "b");
  CHECK(all[1].faces[2].state == siamese::DecisionState::kPending);
  CHECK(all[2].faces[2].state == siamese::DecisionState::kUnknown);
  CHECK(all[2].faces[2].identity.empty());
  CHECK(all[1].changes.size() == 2);
  CHECK(all[2].changes.size() == 1);
}

TEST_CASE("stream verifier: a face that left and came back is a new, undecided track",
          "[core][stream]") {
  Fixture f;
  auto v = f.verifier(1, 1);
  const auto first = v->process({f.input(0, {kBoxes[0]})}, f.matcher.get());
  REQUIRE(first[0].faces.size() == 1);
  CHECK(first[0].faces[0].identity == "a");
  const int64_t id = first[0].faces[0].track_id;
  // Gone for more detection rounds than the tracker keeps a track (default 2).
  v->process({f.input(1, {}), f.input(2, {}), f.input(3, {})}, f.matcher.get());
  const auto again = v->process({f.input(4, {kBoxes[0]})}, f.matcher.get());
  REQUIRE(again[0].faces.size() == 1);
  CHECK(again[0].faces[0].track_id > id);
  CHECK(again[0].faces[0].embedded);
  REQUIRE(again[0].changes.size() == 1);
  CHECK(again[0].changes[0].first_seen == 4);
}

TEST_CASE("stream verifier: a face found where a track was lost is decided afresh",
          "[core][stream]") {
  // The hard walk's hand-over: one walker leaves, the next steps into the same place within the
  // tracker's allowance and continued the track, shown verified as the first until a re-check.
  Fixture f;
  auto v = f.verifier(2, 3);
  const auto a = v->process({f.input(0, {kBoxes[0]}), f.input(1, {kBoxes[0]})}, f.matcher.get());
  REQUIRE(a[1].faces.size() == 1);
  REQUIRE(a[1].faces[0].identity == "a");
  const int64_t id = a[1].faces[0].track_id;
  v->process({f.input(2, {})}, f.matcher.get());  // lost for one detection round
  // The stranger (face 2's pixels) now stands where "a" stood.
  cv::Mat swapped = f.frame.clone();
  f.frame(cv::Rect(kBoxes[2].x, kBoxes[2].y, 64, 64))
      .copyTo(swapped(cv::Rect(kBoxes[0].x, kBoxes[0].y, 64, 64)));
  const siamese::ImageView swapped_view = siamese::view_of(swapped);
  const siamese::StreamFrame stranger{swapped_view, 3, std::vector<Box>{kBoxes[0]}};
  const auto b = v->process({stranger}, f.matcher.get());
  REQUIRE(b[0].faces.size() == 1);
  const siamese::FaceResult& face = b[0].faces[0];
  CHECK(face.track_id == id);
  CHECK(face.resumed);
  CHECK(face.embedded);
  CHECK_FALSE(face.verified());
  CHECK(face.identity.empty());
  REQUIRE_FALSE(b[0].changes.empty());
  CHECK(b[0].changes[0].reason == siamese::kReasonResumed);
  CHECK(b[0].changes[0].state == siamese::DecisionState::kPending);
  // The same person found again is verified again on new evidence only.
  v->process({f.input(4, {})}, f.matcher.get());
  const auto c = v->process({f.input(5, {kBoxes[0]}), f.input(6, {kBoxes[0]})}, f.matcher.get());
  CHECK(c[0].faces[0].state == siamese::DecisionState::kPending);
  CHECK(c[1].faces[0].identity == "a");
}

TEST_CASE("stream verifier: only measured boxes are embedded, unverified tracks at each one",
          "[core][stream]") {
  Fixture f;
  auto v = f.verifier(2, 3);  // detect-interval 3 (the default), reverify-interval 15
  REQUIRE(v->options().detect_interval == 3);
  // A frame between detections: no boxes given, the tracker predicts them.
  auto predicted = [&](int64_t time) { return siamese::StreamFrame{f.view, time, std::nullopt}; };
  auto embedded = [&](const siamese::StreamFrame& frame) {
    const auto r = v->process({frame}, f.matcher.get());
    std::vector<bool> flags;
    for (const auto& face : r[0].faces) flags.push_back(face.embedded);
    return flags;
  };
  const std::vector<bool> all(3, true), none(3, false), stranger_only = {false, false, true};
  CHECK(embedded(f.input(0)) == all);
  CHECK(embedded(predicted(1)) == none);  // pending, but predicted boxes are not embedded
  CHECK(embedded(predicted(2)) == none);
  CHECK(embedded(f.input(3)) == all);  // two votes: "a" and "b" verified
  CHECK(embedded(predicted(4)) == none);
  CHECK(embedded(predicted(5)) == none);
  CHECK(embedded(f.input(6)) == stranger_only);  // window full: the stranger is unknown
  const auto r = v->process({predicted(7), predicted(8), f.input(9)}, f.matcher.get());
  CHECK(r[2].faces[2].state == siamese::DecisionState::kUnknown);
  CHECK(r[2].faces[2].embedded);        // unknown still gathers evidence at each measured box
  CHECK_FALSE(r[2].faces[0].embedded);  // verified: re-checked only every 15 frames
  CHECK(r[2].faces[0].identity == "a");
}

TEST_CASE("stream verifier: without a gallery every face is unknown", "[core][stream]") {
  Fixture f;
  auto v = f.verifier(1, 1);
  const auto r = v->process({f.input(0)}, nullptr);
  REQUIRE(r[0].faces.size() == 3);
  for (const auto& face : r[0].faces) {
    CHECK(face.identity.empty());
    CHECK(face.state == siamese::DecisionState::kUnknown);
  }
  CHECK(v->embedded_count() == 3);
}

TEST_CASE("stream verifier: frames without boxes need a detector", "[core][stream]") {
  Fixture f;
  auto v = f.verifier(1, 1);
  siamese::StreamFrame frame{f.view, 0, std::nullopt};
  CHECK_THROWS_AS(v->process({frame}, nullptr), siamese::InputError);
}

TEST_CASE("stream verifier: a track is matched by the mean of its latest embeddings",
          "[core][stream]") {
  Fixture f;
  // The same track (box 0) shows face "a", then the stranger's pixels, then "a" again.
  cv::Mat swapped = f.frame.clone();
  f.frame(cv::Rect(200, 40, 64, 64)).copyTo(swapped(cv::Rect(20, 40, 64, 64)));
  const std::vector<Box> box0 = {kBoxes[0]};
  const siamese::StreamFrame seen[] = {
      f.input(0, box0), siamese::StreamFrame{siamese::view_of(swapped), 1, box0}, f.input(2, box0)};
  siamese::Embedder embedder(untrained(), torch::kCPU);
  const torch::Tensor a = embedder.embed_faces(f.view, box0, siamese::Framing::kDetectorBox)[0];
  const torch::Tensor x =
      embedder.embed_faces(siamese::view_of(swapped), box0, siamese::Framing::kDetectorBox)[0];
  REQUIRE(embedder.info().normalized);
  auto nearest = [&](const torch::Tensor& e) {
    return f.matcher->match(e.unsqueeze(0))[0].distance;
  };
  auto unit_mean = [](std::vector<torch::Tensor> rows) {
    const torch::Tensor m = torch::stack(rows).mean(0);
    return m / m.norm();
  };
  SECTION("template-size 2 averages the last two embeddings") {
    auto v = f.verifier(1, 1, 2);
    std::vector<float> d;
    for (const auto& frame : seen) {
      d.push_back(v->process({frame}, f.matcher.get())[0].faces.at(0).distance);
    }
    CHECK(d[0] == Approx(nearest(a)).margin(1e-4));
    CHECK(d[1] == Approx(nearest(unit_mean({a, x}))).margin(1e-4));
    CHECK(d[2] == Approx(nearest(unit_mean({x, a}))).margin(1e-4));
  }
  SECTION("in one batch of frames the track averages them in frame order") {
    auto v = f.verifier(1, 1, 2);
    const auto r = v->process({seen[0], seen[1], seen[2]}, f.matcher.get());
    CHECK(r[1].faces.at(0).distance == Approx(nearest(unit_mean({a, x}))).margin(1e-4));
    CHECK(r[2].faces.at(0).distance == Approx(nearest(unit_mean({x, a}))).margin(1e-4));
  }
  SECTION("a template outside 1..64 is refused, naming it") {
    siamese::StreamOptions o;
    o.template_size = 0;
    CHECK_THROWS_WITH(f.verifier(1, 1)->set_options(o), Catch::Contains("template-size"));
  }
}
