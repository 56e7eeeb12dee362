#include "conditions.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

namespace siamese::samples {

namespace {

struct Named {
  Condition condition;
  const char* name;
};

constexpr Named kNames[] = {
    {Condition::kRotate, "rotate"},     {Condition::kBlur, "blur"},
    {Condition::kLowLight, "lowlight"}, {Condition::kSideLight, "sidelight"},
    {Condition::kNoise, "noise"},       {Condition::kJpeg, "jpeg"},
    {Condition::kSmall, "small"},       {Condition::kOcclusion, "occlusion"}};

// Uniform in [0, 1) from the generator's raw output: identical on every standard library.
double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) / 9007199254740992.0;
}

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * uniform01(rng);
}

}  // namespace

Conditions parse_conditions(const std::string& list) {
  Conditions out;
  if (list.empty() || list == "none") return out;
  if (list == "all") {
    for (const Named& n : kNames) out.push_back(n.condition);
    return out;
  }
  std::stringstream s(list);
  std::string item;
  while (std::getline(s, item, ',')) {
    const Named* found = nullptr;
    for (const Named& n : kNames) {
      if (item == n.name) found = &n;
    }
    if (found == nullptr) {
      throw std::invalid_argument("unknown condition '" + item + "' (" + condition_names() +
                                  ", all or none)");
    }
    if (has_condition(out, found->condition)) {
      throw std::invalid_argument("condition '" + item + "' is given twice");
    }
    out.push_back(found->condition);
  }
  if (out.empty()) throw std::invalid_argument("no condition in '" + list + "'");
  return out;
}

std::string condition_name(Condition condition) {
  for (const Named& n : kNames) {
    if (n.condition == condition) return n.name;
  }
  return "?";
}

std::string condition_names() {
  std::string out;
  for (const Named& n : kNames) out += (out.empty() ? "" : ",") + std::string(n.name);
  return out;
}

bool has_condition(const Conditions& conditions, Condition condition) {
  return std::find(conditions.begin(), conditions.end(), condition) != conditions.end();
}

WalkerLook walker_look(const Conditions& conditions, uint64_t seed, size_t index) {
  // Every draw is made whatever the conditions, so a walker looks the same under "rotate" and
  // under "rotate,occlusion"; the walk plan's own generator is not touched.
  std::mt19937_64 rng(seed * 0xD1B54A32D192ED03ULL + index * 0x9E3779B97F4A7C15ULL + 777);
  const double angle = uniform(rng, kMinRotationDeg, kMaxRotationDeg);
  const bool clockwise = uniform01(rng) < 0.5;
  const bool from_left = uniform01(rng) < 0.5;
  const bool bar = uniform01(rng) < 0.5;
  const double bar_y = uniform(rng, 0.36, 0.40);   // across the eyes of AT&T and LFW faces
  const double hand_x = uniform(rng, 0.05, 0.50);  // a hand over the cheek, mouth or nose
  const double hand_y = uniform(rng, 0.35, 0.50);
  WalkerLook look;
  if (has_condition(conditions, Condition::kRotate)) look.angle_deg = clockwise ? -angle : angle;
  if (has_condition(conditions, Condition::kSideLight)) look.light_side = from_left ? -1 : 1;
  if (has_condition(conditions, Condition::kOcclusion)) {
    look.occluder =
        bar ? Occluder{"bar", 0.0, bar_y, 1.0, 0.17} : Occluder{"hand", hand_x, hand_y, 0.45, 0.50};
  }
  return look;
}

cv::Mat rotated_face(const cv::Mat& image, double angle_deg, double centre_crop) {
  cv::Mat turned;
  const cv::Point2f centre((image.cols - 1) / 2.0F, (image.rows - 1) / 2.0F);
  cv::warpAffine(image, turned, cv::getRotationMatrix2D(centre, angle_deg, 1.0), image.size(),
                 cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  const int w = std::max(1, static_cast<int>(std::lround(image.cols * centre_crop)));
  const int h = std::max(1, static_cast<int>(std::lround(image.rows * centre_crop)));
  return turned(cv::Rect((image.cols - w) / 2, (image.rows - h) / 2, w, h)).clone();
}

void dress_face(cv::Mat& face, const WalkerLook& look) {
  CV_Assert(face.type() == CV_8UC3);
  if (look.light_side != 0) {
    std::vector<float> gain(static_cast<size_t>(face.cols));
    for (int c = 0; c < face.cols; ++c) {
      const double u = (c + 0.5) / face.cols;
      const double from_lit = look.light_side < 0 ? u : 1.0 - u;  // 0 at the lit edge
      gain[static_cast<size_t>(c)] =
          static_cast<float>(kSideLightBright + (kSideLightDark - kSideLightBright) * from_lit);
    }
    for (int r = 0; r < face.rows; ++r) {
      auto* p = face.ptr<cv::Vec3b>(r);
      for (int c = 0; c < face.cols; ++c) {
        for (int k = 0; k < 3; ++k) {
          p[c][k] = cv::saturate_cast<uchar>(p[c][k] * gain[static_cast<size_t>(c)]);
        }
      }
    }
  }
  const Occluder& o = look.occluder;
  if (o.kind.empty()) return;
  const cv::Rect box(static_cast<int>(std::lround(o.x * face.cols)),
                     static_cast<int>(std::lround(o.y * face.rows)),
                     std::max(1, static_cast<int>(std::lround(o.width * face.cols))),
                     std::max(1, static_cast<int>(std::lround(o.height * face.rows))));
  if (o.kind == "bar") {
    cv::rectangle(face, box & cv::Rect(0, 0, face.cols, face.rows), cv::Scalar(35, 35, 38),
                  cv::FILLED);
  } else {
    const cv::Point centre(box.x + box.width / 2, box.y + box.height / 2);
    cv::ellipse(face, centre, cv::Size(box.width / 2, box.height / 2), 0, 0, 360,
                cv::Scalar(110, 145, 195), cv::FILLED);
  }
}

void degrade_frame(cv::Mat& frame, const Conditions& conditions, uint64_t seed, int frame_index) {
  if (has_condition(conditions, Condition::kBlur)) {
    const int r = kDefocusRadius;
    cv::Mat disc = cv::Mat::zeros(2 * r + 1, 2 * r + 1, CV_32F);
    cv::circle(disc, cv::Point(r, r), r, cv::Scalar(1.0), cv::FILLED);
    disc /= cv::sum(disc)[0];
    cv::filter2D(frame, frame, -1, disc, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  }
  if (has_condition(conditions, Condition::kLowLight)) {
    frame.convertTo(frame, -1, kLowLightGain, 0.0);
  }
  if (has_condition(conditions, Condition::kNoise)) {
    cv::RNG rng(seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(frame_index) * 0x9E3779B1ULL +
                99);
    cv::Mat noise(frame.size(), CV_16SC3), wide;
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(kNoiseSigma));
    frame.convertTo(wide, CV_16SC3);
    wide += noise;
    wide.convertTo(frame, CV_8UC3);  // saturates to 0..255
  }
}

int jpeg_quality(const Conditions& conditions, int quality) {
  return has_condition(conditions, Condition::kJpeg) ? std::min(quality, kJpegQuality) : quality;
}

}  // namespace siamese::samples
