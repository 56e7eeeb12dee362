// The face detectors (OpenCV cascades, dlib's HOG) on AT&T faces placed on larger frames.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include "siamese/detector.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "test_support.h"

using namespace siamese;

namespace {

/// AT&T's sS/1.pgm enlarged 1.5 times on a 385x289 frame, its corner at (97, 61): one person
/// as a camera shows them. truth (optional) receives where the head crop lies.
cv::Mat att_face_on_frame(const std::string& att, int s, Box* truth = nullptr) {
  const cv::Mat face = read_image(att + "/s" + std::to_string(s) + "/1.pgm", 1);
  cv::Mat big;
  cv::resize(face, big, cv::Size(), 1.5, 1.5);
  if (truth) *truth = Box{97, 61, big.cols, big.rows};
  return testing::place_on_background(big, 385, 289, 97, 61);
}

/// The pixel layouts the detectors are tried in: the BGR frame as it is (-1), gray and BGRA.
constexpr int kPixelLayouts[] = {-1, cv::COLOR_BGR2GRAY, cv::COLOR_BGR2BGRA};

cv::Mat in_layout(const cv::Mat& bgr, int code) {
  if (code < 0) return bgr;
  cv::Mat converted;
  cv::cvtColor(bgr, converted, code);
  return converted;
}

}  // namespace

TEST_CASE("a missing or bogus cascade file is named in the error", "[core][detector]") {
  CHECK_THROWS_WITH(FaceDetector(DetectorOptions().set_cascade_file("/nonexistent/c.xml")),
                    Catch::Contains("/nonexistent/c.xml"));
  const std::string dir = testing::temp_dir("detector");
  const std::string bogus = dir + "/bogus.xml";
  FILE* f = std::fopen(bogus.c_str(), "w");
  std::fputs("<opencv_storage></opencv_storage>", f);
  std::fclose(f);
  CHECK_THROWS_WITH(FaceDetector(DetectorOptions().set_cascade_file(bogus)),
                    Catch::Contains(bogus));
  CHECK_THROWS_AS(FaceDetector(DetectorOptions().set_kind("dnn")), InputError);
}

TEST_CASE("Haar finds AT&T faces on a larger frame, in several formats", "[core][detector]") {
  SIAMESE_REQUIRE_ATT(att);
  FaceDetector haar(DetectorOptions().set_min_face_size(50));
  int found = 0, total = 0;
  for (int s : {1, 2, 3, 4, 5}) {
    Box truth;
    const cv::Mat frame = att_face_on_frame(att, s, &truth);
    for (int code : kPixelLayouts) {
      const auto boxes = haar.detect(view_of(in_layout(frame, code)));
      ++total;
      if (boxes.empty()) continue;
      // The face box lies inside the head crop and covers a good part of it.
      const Box& b = boxes.front();
      const bool inside = b.x >= truth.x - 20 && b.y >= truth.y - 20 &&
                          b.x + b.width <= truth.x + truth.width + 20 &&
                          b.y + b.height <= truth.y + truth.height + 20;
      if (inside && b.width > truth.width / 3) ++found;
    }
  }
  CHECK(found == total);
}

TEST_CASE("a box around a smaller box is dropped, neighbours and equals are kept",
          "[core][detector]") {
  const Box face{100, 100, 60, 60};
  const Box head_and_shoulders{70, 80, 130, 130};  // holds all of face
  const Box neighbour{180, 100, 60, 60};           // overlaps face's wrapper, not face
  const Box partial{130, 100, 60, 60};             // half of face: two faces side by side
  const std::vector<Box> kept = drop_enclosing_boxes({face, head_and_shoulders});
  REQUIRE(kept.size() == 1);
  CHECK((kept[0] == face));
  CHECK(drop_enclosing_boxes({neighbour, face}).size() == 2);
  CHECK(drop_enclosing_boxes({face, partial}).size() == 2);
  CHECK(drop_enclosing_boxes({face, face}).size() == 2);
  CHECK(drop_enclosing_boxes({}).empty());
}

TEST_CASE("an empty frame has no faces", "[core][detector]") {
  FaceDetector lbp(DetectorOptions().set_kind("lbp"));
  cv::Mat blank(240, 320, CV_8UC1, cv::Scalar(128));
  CHECK(lbp.detect(view_of(blank)).empty());
}

// dlib's HOG detector (kind "hog"): built where CMake finds libdlib-dev (tests/setup.sh installs
// it); elsewhere it must be refused with a message naming the package.
#define SIAMESE_REQUIRE_HOG()                                                         \
  do {                                                                                \
    if (!HogFaceDetector::available()) {                                              \
      WARN("skipped: this build has no dlib (libdlib-dev), so no detector kind hog"); \
      return;                                                                         \
    }                                                                                 \
  } while (0)

TEST_CASE("hog without dlib is refused naming libdlib-dev, and with it a blank frame has no faces",
          "[core][detector][hog]") {
  if (!HogFaceDetector::available()) {
    CHECK_THROWS_WITH(FaceDetector(DetectorOptions().set_kind("hog")),
                      Catch::Contains("libdlib-dev"));
    return;
  }
  FaceDetector hog(DetectorOptions().set_kind("hog"));
  CHECK(hog.finds_unplaced_faces());
  cv::Mat blank(240, 320, CV_8UC1, cv::Scalar(128));
  CHECK(hog.detect(view_of(blank)).empty());
  CHECK_THROWS_WITH(default_cascade_file("hog"), Catch::Contains("not a cascade"));
}

TEST_CASE("a HOG box is framed as the cascades frame faces", "[core][detector][hog]") {
  // A 100 px HOG box at (200, 100): side 111.9, centre (253.7, 142.2).
  const Box b = hog_cascade_framed_box(FaceDetection{200, 100, 100, 100, 1.0});
  CHECK(b.width == 112);
  CHECK(b.height == 112);
  CHECK(b.x == 198);  // 253.7 - 55.95
  CHECK(b.y == 86);   // 142.2 - 55.95
}

TEST_CASE("hog finds AT&T faces on a larger frame in every pixel layout, framed as Haar's",
          "[core][detector][hog]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_HOG();
  FaceDetector hog(DetectorOptions().set_kind("hog").set_min_face_size(50));
  FaceDetector haar(DetectorOptions().set_min_face_size(50));
  int found = 0, total = 0;
  for (int s : {1, 2, 3, 4, 5}) {
    const cv::Mat frame = att_face_on_frame(att, s);
    const auto haar_boxes = haar.detect(view_of(frame));
    REQUIRE(haar_boxes.size() == 1);
    for (int code : kPixelLayouts) {
      CAPTURE(s, code);
      const auto boxes = hog.detect(view_of(in_layout(frame, code)));
      ++total;
      if (boxes.size() != 1) continue;
      CAPTURE(boxes[0].x, boxes[0].y, boxes[0].width, haar_boxes[0].x, haar_boxes[0].y,
              haar_boxes[0].width);
      // Cascade-framed: the crop policies measured on Haar boxes fit it.
      if (box_iou(boxes[0], haar_boxes[0]) >= 0.6f) ++found;
    }
  }
  CHECK(found == total);
}

TEST_CASE("hog honours min-face-size at both ends of its upsampling", "[core][detector][hog]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_HOG();
  const cv::Mat face = read_image(att + "/s1/1.pgm", 1);
  const cv::Mat frame = testing::place_on_background(face, 320, 240, 110, 60);
  // The face is about 70 px cascade-framed: found from 40 px (the frame enlarged 2.2 times) and
  // from 60, not when at least 100 are asked for (the frame shrunk below the window).
  for (int min_size : {40, 60}) {
    CAPTURE(min_size);
    const auto boxes = FaceDetector(DetectorOptions().set_kind("hog").set_min_face_size(min_size))
                           .detect(view_of(frame));
    REQUIRE(boxes.size() == 1);
    CHECK(boxes[0].width >= min_size);
  }
  CHECK(FaceDetector(DetectorOptions().set_kind("hog").set_min_face_size(100))
            .detect(view_of(frame))
            .empty());
}

TEST_CASE("hog finds a tight head crop as it is, without placing it", "[core][detector][hog]") {
  SIAMESE_REQUIRE_ATT(att);
  SIAMESE_REQUIRE_HOG();
  FaceDetector hog(DetectorOptions().set_kind("hog").set_min_face_size(40));
  const cv::Mat face = read_image(att + "/s2/1.pgm", 1);
  CHECK(hog.detect(view_of(face)).size() == 1);  // no margin needed
  cv::Mat placed;
  cv::Point at;
  const auto boxes = detect_placed(hog, face, placed, &at);
  REQUIRE(boxes.size() == 1);
  // In placed's pixels, on the image.
  const int cx = boxes[0].x + boxes[0].width / 2, cy = boxes[0].y + boxes[0].height / 2;
  CHECK(cx >= at.x);
  CHECK(cx < at.x + face.cols);
  CHECK(cy >= at.y);
  CHECK(cy < at.y + face.rows);
}
