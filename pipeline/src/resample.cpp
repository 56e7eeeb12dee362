#include "resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace siamese::detail {
namespace {

constexpr int kPrecisionBits = kResamplePrecisionBits;

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

inline uchar clip8(long long v) {
  v >>= kPrecisionBits;
  return static_cast<uchar>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void horizontal(const cv::Mat& src, cv::Mat& dst, int out_w) {
  const int ch = src.channels();
  const ResampleTaps t = compute_resample_taps(src.cols, out_w);
  dst.create(src.rows, out_w, src.type());
  for (int y = 0; y < src.rows; ++y) {
    const uchar* in = src.ptr<uchar>(y);
    uchar* out = dst.ptr<uchar>(y);
    for (int xx = 0; xx < out_w; ++xx) {
      const int* w = &t.weights[static_cast<size_t>(xx) * t.count_max];
      for (int c = 0; c < ch; ++c) {
        long long acc = 1LL << (kPrecisionBits - 1);
        for (int x = 0; x < t.count[xx]; ++x) acc += in[(t.first[xx] + x) * ch + c] * w[x];
        out[xx * ch + c] = clip8(acc);
      }
    }
  }
}

void vertical(const cv::Mat& src, cv::Mat& dst, int out_h) {
  const int row_len = src.cols * src.channels();
  const ResampleTaps t = compute_resample_taps(src.rows, out_h);
  dst.create(out_h, src.cols, src.type());
  for (int yy = 0; yy < out_h; ++yy) {
    const int* w = &t.weights[static_cast<size_t>(yy) * t.count_max];
    uchar* out = dst.ptr<uchar>(yy);
    for (int i = 0; i < row_len; ++i) {
      long long acc = 1LL << (kPrecisionBits - 1);
      for (int y = 0; y < t.count[yy]; ++y) acc += src.ptr<uchar>(t.first[yy] + y)[i] * w[y];
      out[i] = clip8(acc);
    }
  }
}

}  // namespace

ResampleTaps compute_resample_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  ResampleTaps t;
  t.count_max = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.count_max, 0);
  std::vector<double> k(t.count_max);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) / filter_scale);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : 0.0;
      t.weights[static_cast<size_t>(xx) * t.count_max + x] =
          static_cast<int>(w < 0 ? std::trunc(-0.5 + w * (1 << kPrecisionBits))
                                 : std::trunc(0.5 + w * (1 << kPrecisionBits)));
    }
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

void resize_antialiased(const cv::Mat& src, int width, int height, cv::Mat& dst) {
  cv::Mat tmp;
  const cv::Mat* cur = &src;
  if (src.cols != width) {
    horizontal(*cur, tmp, width);
    cur = &tmp;
  }
  if (cur->rows != height) {
    cv::Mat out;
    vertical(*cur, out, height);
    dst = out;
  } else if (cur == &src) {
    src.copyTo(dst);
  } else {
    dst = tmp;
  }
}

}  // namespace siamese::detail
