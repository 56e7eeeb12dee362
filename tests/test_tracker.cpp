// FaceTracker: track ids across frames, expiry, and which faces need (re-)embedding.
#include <catch2/catch.hpp>

#include "siamese/errors.h"
#include "siamese/tracker.h"

using siamese::Box;
using siamese::FaceTracker;
using siamese::TrackerOptions;

TEST_CASE("tracker keeps the id of a face that moves a little", "[tracker]") {
  FaceTracker tracker;
  auto f0 = tracker.update({Box{100, 100, 80, 80}});
  REQUIRE(f0.size() == 1);
  CHECK(f0[0].is_new);
  CHECK(f0[0].needs_embedding);
  auto f1 = tracker.update({Box{106, 103, 82, 82}});
  REQUIRE(f1.size() == 1);
  CHECK(f1[0].track_id == f0[0].track_id);
  CHECK_FALSE(f1[0].is_new);
  CHECK(f1[0].box == Box{106, 103, 82, 82});
}

TEST_CASE("tracker gives distinct, increasing ids and matches faces in any order", "[tracker]") {
  FaceTracker tracker;
  const Box left{10, 10, 60, 60}, right{300, 20, 70, 70};
  auto f0 = tracker.update({left, right});
  REQUIRE(f0.size() == 2);
  CHECK(f0[0].track_id != f0[1].track_id);
  // Same faces, reversed order: ids follow the boxes, not the positions in the list.
  auto f1 = tracker.update({right, left});
  CHECK(f1[0].track_id == f0[1].track_id);
  CHECK(f1[1].track_id == f0[0].track_id);
  // A third face gets a larger id than any before.
  auto f2 = tracker.update({left, right, Box{150, 200, 50, 50}});
  CHECK(f2[2].is_new);
  CHECK(f2[2].track_id > std::max(f0[0].track_id, f0[1].track_id));
}

TEST_CASE("tracker does not continue a track from a face elsewhere", "[tracker]") {
  FaceTracker tracker;
  auto f0 = tracker.update({Box{0, 0, 50, 50}});
  auto f1 = tracker.update({Box{200, 200, 50, 50}});
  CHECK(f1[0].track_id != f0[0].track_id);
  CHECK(f1[0].is_new);
}

TEST_CASE("tracks expire after max_missed detection rounds without a match", "[tracker]") {
  FaceTracker tracker(TrackerOptions{}.set_max_missed(2));
  const Box face{50, 50, 60, 60};
  const auto id = tracker.update({face})[0].track_id;
  tracker.update({});
  tracker.update({});
  CHECK(tracker.expired().empty());
  // Seen again within the allowance: same track.
  CHECK(tracker.update({face})[0].track_id == id);
  tracker.update({});
  tracker.update({});
  tracker.update({});
  REQUIRE(tracker.expired().size() == 1);
  CHECK(tracker.expired()[0] == id);
  CHECK(tracker.tracks().empty());
  const auto again = tracker.update({face});
  CHECK(again[0].is_new);
  CHECK(again[0].track_id > id);
}

TEST_CASE("a track found again after a missed round is marked resumed and re-embedded",
          "[tracker]") {
  FaceTracker tracker(TrackerOptions{}.set_max_missed(2).set_reverify_interval(0));
  const Box face{50, 50, 60, 60};
  const auto first = tracker.update({face});
  tracker.mark_embedded(first[0].track_id);
  const auto followed = tracker.update({face});
  CHECK_FALSE(followed[0].resumed);
  CHECK_FALSE(followed[0].needs_embedding);  // reverify interval 0: never re-checked
  tracker.update({});                        // lost for one detection round
  const auto found = tracker.update({face});
  CHECK(found[0].track_id == first[0].track_id);
  CHECK(found[0].resumed);
  CHECK(found[0].needs_embedding);
  CHECK_FALSE(tracker.update({face})[0].resumed);
}

TEST_CASE("predict() reports the tracks seen at the last detection", "[tracker]") {
  FaceTracker tracker;
  const Box a{10, 10, 60, 60}, b{200, 10, 60, 60};
  tracker.update({a, b});
  tracker.update({a});  // b missed once: alive but not visible
  const auto faces = tracker.predict();
  REQUIRE(faces.size() == 1);
  CHECK(faces[0].box == a);
  CHECK(tracker.tracks().size() == 2);
}

TEST_CASE("faces need embedding when new, after the reverify interval, or when grown",
          "[tracker]") {
  FaceTracker tracker(TrackerOptions{}.set_reverify_interval(3).set_regrow_area_ratio(1.5f));
  const Box face{100, 100, 60, 60};
  auto f = tracker.update({face});
  REQUIRE(f[0].needs_embedding);
  tracker.mark_embedded(f[0].track_id);
  CHECK_FALSE(tracker.update({face})[0].needs_embedding);  // 1 frame later
  CHECK_FALSE(tracker.predict()[0].needs_embedding);       // 2 frames later
  f = tracker.update({face});                              // 3 frames later
  CHECK(f[0].needs_embedding);
  tracker.mark_embedded(f[0].track_id);
  CHECK_FALSE(tracker.update({face})[0].needs_embedding);
  // Grown to 1.6x the area (IoU with the old box is still high enough to continue).
  const Box grown{95, 95, 76, 76};
  f = tracker.update({grown});
  CHECK(f[0].track_id == tracker.tracks()[0].id);
  CHECK(f[0].needs_embedding);
  // A face that shrank does not need it.
  tracker.mark_embedded(f[0].track_id);
  CHECK_FALSE(tracker.update({Box{100, 100, 66, 66}})[0].needs_embedding);
}

TEST_CASE("reverify interval 0 never re-embeds a followed face", "[tracker]") {
  FaceTracker tracker(TrackerOptions{}.set_reverify_interval(0));
  const Box face{100, 100, 60, 60};
  auto f = tracker.update({face});
  tracker.mark_embedded(f[0].track_id);
  for (int i = 0; i < 50; ++i) CHECK_FALSE(tracker.update({face})[0].needs_embedding);
}

TEST_CASE("reset forgets tracks but ids keep increasing", "[tracker]") {
  FaceTracker tracker;
  const auto id = tracker.update({Box{0, 0, 40, 40}})[0].track_id;
  tracker.reset();
  CHECK(tracker.tracks().empty());
  const auto f = tracker.update({Box{0, 0, 40, 40}});
  CHECK(f[0].is_new);
  CHECK(f[0].track_id > id);
}

TEST_CASE("tracker rejects invalid options", "[tracker]") {
  CHECK_THROWS_AS(FaceTracker(TrackerOptions{}.set_min_iou(0.0f)), siamese::InputError);
  CHECK_THROWS_AS(FaceTracker(TrackerOptions{}.set_min_iou(1.5f)), siamese::InputError);
  CHECK_THROWS_AS(FaceTracker(TrackerOptions{}.set_max_missed(-1)), siamese::InputError);
  CHECK_THROWS_AS(FaceTracker(TrackerOptions{}.set_regrow_area_ratio(0.5f)), siamese::InputError);
}

TEST_CASE("between detections, faces move on at their measured velocity", "[tracker]") {
  FaceTracker tracker;
  const auto id = tracker.update({Box{0, 40, 60, 60}})[0].track_id;
  tracker.predict();                                      // frame 1: no velocity yet
  CHECK(tracker.predict()[0].box == Box{0, 40, 60, 60});  // frame 2
  auto f = tracker.update({Box{15, 40, 60, 60}});         // frame 3: 5 px per frame
  REQUIRE(f[0].track_id == id);
  CHECK(tracker.predict()[0].box == Box{20, 40, 60, 60});
  CHECK(tracker.predict()[0].box == Box{25, 40, 60, 60});
  // Detected where predicted: the same track, the same velocity.
  f = tracker.update({Box{30, 40, 60, 60}});
  CHECK(f[0].track_id == id);
  CHECK(tracker.predict()[0].box == Box{35, 40, 60, 60});
}
