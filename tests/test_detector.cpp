// The OpenCV cascade detector on AT&T faces placed on larger frames.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include "siamese/detector.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "test_support.h"

using namespace siamese;

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
    const cv::Mat face = read_image(att + "/s" + std::to_string(s) + "/1.pgm", 1);
    cv::Mat big;
    cv::resize(face, big, cv::Size(), 1.5, 1.5);
    const cv::Mat frame = testing::place_on_background(big, 385, 289, 97, 61);
    const Box truth{97, 61, big.cols, big.rows};
    for (int code :
         {-1, static_cast<int>(cv::COLOR_BGR2GRAY), static_cast<int>(cv::COLOR_BGR2BGRA)}) {
      cv::Mat converted = frame;
      if (code >= 0) cv::cvtColor(frame, converted, code);
      const auto boxes = haar.detect(view_of(converted));
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
