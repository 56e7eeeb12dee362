#include <catch2/catch.hpp>

#include <vector>

#include "siamese/errors.h"
#include "siamese/image_view.h"

using namespace siamese;

TEST_CASE("pixel format names round trip", "[core]") {
  for (const char* name :
       {"GRAY8", "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "I420", "NV12"}) {
    CHECK(std::string(pixel_format_name(parse_pixel_format(name))) == name);
  }
  CHECK_THROWS_AS(parse_pixel_format("YUY2"), InputError);
}

TEST_CASE("box IoU", "[core]") {
  CHECK(box_iou({0, 0, 10, 10}, {0, 0, 10, 10}) == Approx(1.0));
  CHECK(box_iou({0, 0, 10, 10}, {20, 20, 10, 10}) == Approx(0.0));
  CHECK(box_iou({0, 0, 10, 10}, {5, 0, 10, 10}) == Approx(50.0 / 150.0));
}

TEST_CASE("an image view with a too small stride is rejected", "[core]") {
  std::vector<std::uint8_t> pixels(100 * 3 * 10);
  CHECK_NOTHROW(ImageView::packed(pixels.data(), 100, 10, 300, PixelFormat::kRGB).validate());
  CHECK_THROWS_WITH(ImageView::packed(pixels.data(), 100, 10, 299, PixelFormat::kRGB).validate(),
                    Catch::Contains("stride 299"));
  CHECK_THROWS_AS(ImageView::packed(nullptr, 100, 10, 300, PixelFormat::kRGB).validate(),
                  InputError);
}
