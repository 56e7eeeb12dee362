#include "siamese/face_align.h"

#include <cmath>

#include "siamese/errors.h"

namespace siamese {

Point2f Similarity::apply(const Point2f& p) const {
  return Point2f{static_cast<float>(a * p.x - b * p.y + tx),
                 static_cast<float>(b * p.x + a * p.y + ty)};
}

Similarity Similarity::inverse() const {
  const double n = a * a + b * b;  // (a + ib)^-1 = (a - ib) / n
  Similarity inv;
  inv.a = a / n;
  inv.b = -b / n;
  inv.tx = -(inv.a * tx - inv.b * ty);
  inv.ty = -(inv.b * tx + inv.a * ty);
  return inv;
}

double Similarity::scale() const { return std::hypot(a, b); }

double Similarity::angle_degrees() const { return std::atan2(b, a) * 180.0 / M_PI; }

Similarity fit_similarity(const std::vector<Point2f>& from, const std::vector<Point2f>& to) {
  if (from.size() != to.size() || from.size() < 2) {
    throw InputError("a similarity needs at least 2 point pairs (got " +
                     std::to_string(from.size()) + " and " + std::to_string(to.size()) + ")");
  }
  const double n = static_cast<double>(from.size());
  double fx = 0, fy = 0, gx = 0, gy = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    fx += from[i].x;
    fy += from[i].y;
    gx += to[i].x;
    gy += to[i].y;
  }
  fx /= n, fy /= n, gx /= n, gy /= n;
  // In 2D, Umeyama's SVD solution without reflection is the complex least squares
  // (a + ib) = sum conj(f) g / sum |f|^2 over centred points.
  double var = 0, dot = 0, cross = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const double x = from[i].x - fx, y = from[i].y - fy;
    const double u = to[i].x - gx, v = to[i].y - gy;
    var += x * x + y * y;
    dot += x * u + y * v;
    cross += x * v - y * u;
  }
  if (!(var > 1e-12)) throw InputError("a similarity needs points that do not all coincide");
  Similarity t;
  t.a = dot / var;
  t.b = cross / var;
  t.tx = gx - (t.a * fx - t.b * fy);
  t.ty = gy - (t.b * fx + t.a * fy);
  return t;
}

namespace {

Point2f mean_of(const Landmarks68& p, int first, int last) {
  double x = 0, y = 0;
  for (int i = first; i <= last; ++i) {
    x += p[i].x;
    y += p[i].y;
  }
  const double n = last - first + 1;
  return Point2f{static_cast<float>(x / n), static_cast<float>(y / n)};
}

// dlib's mean face, points 17..67 of the 68 (dlib/image_transforms/interpolation.h,
// get_face_chip_details), in [0,1] of a chip without padding.
constexpr double kMeanFaceX[51] = {
    0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991,
    0.98004,     0.490127,  0.490127, 0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217,
    0.613373,    0.121737,  0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
    0.793132,    0.858516,  0.79751,  0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
    0.639268,    0.726104,  0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096,
    0.490127,    0.552157,  0.689874, 0.553364, 0.490127, 0.42689};
constexpr double kMeanFaceY[51] = {
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
    0.106454, 0.203352, 0.307009,  0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,
    0.587326, 0.216423, 0.178758,  0.179852,  0.231733,  0.245099,  0.244077,  0.231733,  0.179852,
    0.178758, 0.216423, 0.244077,  0.245099,  0.780233,  0.745405,  0.727388,  0.742578,  0.727388,
    0.745405, 0.780233, 0.864805,  0.902192,  0.909281,  0.902192,  0.864805,  0.784792,  0.778746,
    0.785343, 0.778746, 0.784792,  0.824182,  0.831803,  0.824182};

}  // namespace

FivePoints five_points(const Landmarks68& p) {
  return FivePoints{{mean_of(p, 36, 41), mean_of(p, 42, 47), p[30], p[48], p[54]}};
}

std::vector<Point2f> alignment_points(const Landmarks68& landmarks, AlignPoints which) {
  if (which == AlignPoints::kFive) {
    const FivePoints five = five_points(landmarks);
    return std::vector<Point2f>(five.points.begin(), five.points.end());
  }
  // get_face_chip_details fits 17-67 but skips the brows (17-26) and the lower lip (55-59,
  // 65-67): they move with expression, the rest stays with the skull.
  std::vector<Point2f> out(landmarks.begin() + 27, landmarks.begin() + 55);
  out.insert(out.end(), landmarks.begin() + 60, landmarks.begin() + 65);
  return out;
}

Landmarks68 dlib_mean_face() {
  Landmarks68 mean{};
  for (int i = 17; i < kLandmarkCount; ++i) {
    mean[i] =
        Point2f{static_cast<float>(kMeanFaceX[i - 17]), static_cast<float>(kMeanFaceY[i - 17])};
  }
  return mean;
}

Landmarks68 template_face(const InputSpec& spec) {
  const double pad = spec.crop.align_padding;
  Landmarks68 out = dlib_mean_face();
  for (Point2f& p : out) {
    p.x = static_cast<float>((pad + p.x) / (1.0 + 2.0 * pad) * spec.width);
    p.y = static_cast<float>(((pad + p.y) / (1.0 + 2.0 * pad) + spec.crop.align_shift_y) *
                             spec.height);
  }
  return out;
}

std::vector<Point2f> align_template(const InputSpec& spec) {
  return alignment_points(template_face(spec), spec.crop.align_points);
}

Similarity input_to_frame(const Landmarks68& face, const InputSpec& spec) {
  const std::vector<Point2f> points = alignment_points(face, spec.crop.align_points);
  for (const Point2f& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
      throw InputError("face landmarks are not finite numbers");
    }
  }
  return fit_similarity(align_template(spec), points);
}

FaceAligner::FaceAligner(const CropPolicy& crop, torch::Device device, const std::string& dir,
                         LandmarkerOptions options) {
  if (crop.align == Align::kNone) return;
  options.mirror = crop.align_mirror;  // the model's fact, not the caller's default
  landmarker_ = std::make_unique<FaceLandmarker>(dir, device, options);
}

std::vector<Landmarks68> FaceAligner::landmarks(const ImageView& view,
                                                const std::vector<Box>& boxes) {
  if (!landmarker_) return {};
  return landmarker_->detect(view, boxes);
}

}  // namespace siamese
