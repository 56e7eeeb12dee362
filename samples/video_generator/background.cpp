#include "background.h"

#include <opencv2/imgproc.hpp>

namespace siamese::samples {

cv::Mat make_background(int width, int height, uint64_t seed) {
  cv::RNG rng(seed * 2654435761ULL + 7);
  cv::Mat bg(height, width, CV_8UC3);
  const int floor_y = height * 4 / 5;
  const cv::Vec3d wall(150 + rng.uniform(-20, 20), 160 + rng.uniform(-20, 20),
                       170 + rng.uniform(-20, 20));
  const cv::Vec3d floor(90 + rng.uniform(-15, 15), 100 + rng.uniform(-15, 15),
                        110 + rng.uniform(-15, 15));
  for (int y = 0; y < height; ++y) {  // a lit wall: brighter towards the top, then the floor
    const bool on_floor = y >= floor_y;
    const double shade = on_floor ? 1.0 - 0.3 * (y - floor_y) / std::max(1, height - floor_y)
                                  : 1.05 - 0.15 * y / std::max(1, floor_y);
    const cv::Vec3d c = (on_floor ? floor : wall) * shade;
    bg.row(y).setTo(cv::Scalar(c[0], c[1], c[2]));
  }
  // Posters, a door and a skirting board: flat shapes with edges but nothing face-like.
  for (int i = 0; i < 5; ++i) {
    const int w = rng.uniform(width / 12, width / 5);
    const int h = rng.uniform(height / 10, height / 4);
    const cv::Point tl(rng.uniform(0, width - w), rng.uniform(0, std::max(1, floor_y - h)));
    const cv::Scalar c(rng.uniform(40, 220), rng.uniform(40, 220), rng.uniform(40, 220));
    cv::rectangle(bg, cv::Rect(tl, cv::Size(w, h)), c, cv::FILLED);
    cv::rectangle(bg, cv::Rect(tl, cv::Size(w, h)), c * 0.6, 2);
  }
  const int door_w = width / 7;
  const int door_x = rng.uniform(0, width - door_w);
  cv::rectangle(bg, cv::Rect(door_x, floor_y - height / 2, door_w, height / 2),
                cv::Scalar(60, 80, 110), cv::FILLED);
  cv::line(bg, {0, floor_y}, {width, floor_y}, cv::Scalar(50, 55, 60), 3);
  // Fine texture: blurred noise, so flat areas are not perfectly flat for the encoder.
  cv::Mat noise(height, width, CV_16SC3);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(6));
  cv::GaussianBlur(noise, noise, cv::Size(7, 7), 2.0);
  cv::Mat wide;
  bg.convertTo(wide, CV_16SC3);
  wide += noise;
  wide.convertTo(bg, CV_8UC3);  // saturates to 0..255
  return bg;
}

}  // namespace siamese::samples
