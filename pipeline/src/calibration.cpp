#include "siamese/calibration.h"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "siamese/decision.h"
#include "siamese/errors.h"

namespace siamese {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float median_of(std::vector<float> v) {
  if (v.empty()) return kNaN;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(mid), v.end());
  const float hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  const float lo = *std::max_element(v.begin(), v.begin() + static_cast<long>(mid));
  return 0.5f * (lo + hi);
}

std::string fmt3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Pairwise Euclidean distances [A, B] in double precision on the CPU.
torch::Tensor distances(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kCPU, torch::kFloat64);
  const auto y = b.to(torch::kCPU, torch::kFloat64);
  return torch::cdist(x.unsqueeze(0), y.unsqueeze(0)).squeeze(0).to(torch::kFloat32).contiguous();
}

}  // namespace

CalibrationReport calibrate_gallery(const GalleryMatrix& gallery, const torch::Tensor& strangers,
                                    float fallback_threshold) {
  CalibrationReport report;
  report.fallback_threshold = fallback_threshold;
  const int64_t m = gallery.size();
  const auto people = static_cast<int64_t>(gallery.names.size());
  if (m == 0) return report;
  const int64_t e = gallery.embeddings.size(1);
  const bool have_strangers = strangers.defined() && strangers.numel() > 0;
  if (have_strangers && (strangers.dim() != 2 || strangers.size(1) != e)) {
    throw InputError("calibrate: stranger embeddings must be [S, " + std::to_string(e) + "]");
  }
  c10::InferenceMode guard;
  const auto d_all = distances(gallery.embeddings, gallery.embeddings);
  const auto d = d_all.accessor<float, 2>();
  const auto owners_t = gallery.owners.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* owner = owners_t.data_ptr<int64_t>();
  torch::Tensor ds_all;
  if (have_strangers) ds_all = distances(strangers, gallery.embeddings);

  std::vector<std::vector<int64_t>> rows(static_cast<size_t>(people));
  for (int64_t r = 0; r < m; ++r) rows[static_cast<size_t>(owner[r])].push_back(r);

  for (int64_t p = 0; p < people; ++p) {
    const std::vector<int64_t>& mine = rows[static_cast<size_t>(p)];
    PersonCalibration pc;
    pc.name = gallery.names[static_cast<size_t>(p)];
    pc.photos = static_cast<int>(mine.size());
    // Nearest other person: over every stored photo, as the matcher sees them.
    pc.confusable_distance = kInf;
    std::vector<float> nearest_other(mine.size(), kInf);
    for (size_t i = 0; i < mine.size(); ++i) {
      for (int64_t c = 0; c < m; ++c) {
        if (owner[c] == p) continue;
        const float v = d[mine[i]][c];
        nearest_other[i] = std::min(nearest_other[i], v);
        if (v < pc.confusable_distance) {
          pc.confusable_distance = v;
          pc.confusable = gallery.names[static_cast<size_t>(owner[c])];
        }
      }
      if (std::isfinite(nearest_other[i])) report.others.push_back(nearest_other[i]);
    }
    // Outliers: far from the rest of the person, or nearer to someone else than to them.
    std::vector<bool> outlier(mine.size(), false);
    if (mine.size() >= 3) {
      std::vector<float> medians(mine.size());
      for (size_t i = 0; i < mine.size(); ++i) {
        std::vector<float> to_rest;
        for (size_t j = 0; j < mine.size(); ++j) {
          if (j != i) to_rest.push_back(d[mine[i]][mine[j]]);
        }
        medians[i] = median_of(to_rest);
      }
      const float typical = median_of(medians);
      for (size_t i = 0; i < mine.size(); ++i) {
        float own_nearest = kInf;
        for (size_t j = 0; j < mine.size(); ++j) {
          if (j != i) own_nearest = std::min(own_nearest, d[mine[i]][mine[j]]);
        }
        std::string why;
        if (medians[i] > kOutlierFactor * typical) {
          why = "median distance to the person's other photos " + fmt3(medians[i]) + " > " +
                fmt3(kOutlierFactor) + " x their typical " + fmt3(typical);
        } else if (nearest_other[i] < own_nearest) {
          why = "nearer to another person's photo (" + fmt3(nearest_other[i]) +
                ") than to any of its own (" + fmt3(own_nearest) + ")";
        }
        if (!why.empty()) {
          outlier[i] = true;
          const auto row = static_cast<size_t>(mine[i]);
          pc.outliers.push_back(
              {row < gallery.sources.size() ? gallery.sources[row] : "", medians[i], why});
        }
      }
    }
    // Genuine spread, leave-one-out over the photos that are not outliers.
    std::vector<float> genuine;
    for (size_t i = 0; i < mine.size(); ++i) {
      if (outlier[i]) continue;
      float nearest = kInf;
      for (size_t j = 0; j < mine.size(); ++j) {
        if (j != i && !outlier[j]) nearest = std::min(nearest, d[mine[i]][mine[j]]);
      }
      if (std::isfinite(nearest)) genuine.push_back(nearest);
    }
    report.genuine.insert(report.genuine.end(), genuine.begin(), genuine.end());
    pc.genuine_median = median_of(genuine);
    pc.genuine_max = genuine.empty() ? kNaN : *std::max_element(genuine.begin(), genuine.end());
    // Stranger ceiling: each stranger against the person's nearest photo.
    pc.stranger_ceiling = kInf;
    if (have_strangers) {
      const auto ds = ds_all.accessor<float, 2>();
      for (int64_t s = 0; s < ds_all.size(0); ++s) {
        float nearest = kInf;
        for (const int64_t r : mine) nearest = std::min(nearest, ds[s][r]);
        report.strangers.push_back(nearest);
        pc.stranger_ceiling = std::min(pc.stranger_ceiling, nearest);
      }
    }
    // The proposal.
    const float ceiling = std::min(pc.confusable_distance, pc.stranger_ceiling);
    const std::string ceiling_name = pc.stranger_ceiling < pc.confusable_distance
                                         ? "the nearest stranger"
                                         : "'" + pc.confusable + "'";
    if (!std::isfinite(ceiling)) {
      pc.proposed = fallback_threshold;
      pc.separable = false;
      pc.note = "no other person and no stranger to calibrate against: kept the gallery's " +
                fmt3(fallback_threshold);
    } else {
      const float cap = ceiling / (1.0f + kDefaultMarginFraction);
      if (std::isnan(pc.genuine_max)) {
        pc.proposed = cap;
        pc.note = "below " + ceiling_name + " at " + fmt3(ceiling) +
                  " by the margin (one photo: no genuine spread)";
      } else if (pc.genuine_max < cap) {
        pc.proposed = 0.5f * (pc.genuine_max + cap);
        pc.note = "halfway between the genuine max " + fmt3(pc.genuine_max) + " and " + fmt3(cap) +
                  " (" + ceiling_name + " at " + fmt3(ceiling) + " less the margin)";
      } else {
        pc.proposed = cap;
        pc.separable = false;
        pc.note = "FLAGGED: the genuine max " + fmt3(pc.genuine_max) + " is not below " +
                  fmt3(cap) + " (" + ceiling_name + " at " + fmt3(ceiling) +
                  " less the margin): some faces of them will not verify";
      }
    }
    if (!pc.outliers.empty()) {
      pc.note += "; " + std::to_string(pc.outliers.size()) +
                 " outlier photo(s): re-enroll without them (--replace)";
    }
    report.people.push_back(std::move(pc));
  }
  return report;
}

void write_calibration_plot(const CalibrationReport& report, const std::string& path) {
  constexpr int kWidth = 960, kHeight = 540, kLeft = 60, kRight = 20, kTop = 60, kBottom = 70;
  constexpr int kBins = 60;
  cv::Mat img(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  float top = 0.0f;
  for (const auto* v : {&report.genuine, &report.others, &report.strangers}) {
    for (float x : *v) top = std::max(top, x);
  }
  for (const auto& p : report.people) top = std::max(top, p.proposed);
  top = top > 0.0f ? top * 1.05f : 1.0f;
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const auto x_of = [&](double v) { return kLeft + static_cast<int>(v / top * plot_w); };
  // Axes and ticks.
  cv::line(img, {kLeft, kTop + plot_h}, {kLeft + plot_w, kTop + plot_h}, {0, 0, 0}, 1);
  cv::line(img, {kLeft, kTop}, {kLeft, kTop + plot_h}, {0, 0, 0}, 1);
  for (int t = 0; t <= 10; ++t) {
    const double v = top * t / 10.0;
    const int x = x_of(v);
    cv::line(img, {x, kTop + plot_h}, {x, kTop + plot_h + 5}, {0, 0, 0}, 1);
    char label[16];
    std::snprintf(label, sizeof label, "%.2f", v);
    cv::putText(img, label, {x - 14, kTop + plot_h + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0},
                1, cv::LINE_AA);
  }
  cv::putText(img, "Euclidean distance (share of each distribution per bin)",
              {kLeft + plot_w / 2 - 200, kHeight - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.5, {0, 0, 0}, 1,
              cv::LINE_AA);
  // Histograms as share-per-bin curves.
  struct Series {
    const std::vector<float>* values;
    cv::Scalar colour;
    const char* label;
  };
  const Series series[] = {{&report.genuine, {40, 160, 40}, "genuine (leave-one-out)"},
                           {&report.others, {0, 140, 255}, "nearest other person"},
                           {&report.strangers, {40, 40, 220}, "strangers"}};
  double peak = 0.0;
  std::vector<std::vector<double>> shares;
  for (const auto& s : series) {
    std::vector<double> h(kBins, 0.0);
    for (float x : *s.values) {
      const int b = std::min(kBins - 1, static_cast<int>(x / top * kBins));
      h[static_cast<size_t>(std::max(b, 0))] += 1.0 / static_cast<double>(s.values->size());
    }
    for (double v : h) peak = std::max(peak, v);
    shares.push_back(std::move(h));
  }
  if (peak <= 0.0) peak = 1.0;
  int legend_y = 22;
  int legend_x = kLeft;
  for (size_t i = 0; i < shares.size(); ++i) {
    std::vector<cv::Point> points;
    for (int b = 0; b < kBins; ++b) {
      const double centre = (b + 0.5) * top / kBins;
      points.emplace_back(x_of(centre), kTop + plot_h -
                                            static_cast<int>(shares[i][static_cast<size_t>(b)] /
                                                             peak * (plot_h - 10)));
    }
    if (!series[i].values->empty()) {
      cv::polylines(img, points, false, series[i].colour, 2, cv::LINE_AA);
    }
    const std::string label =
        std::string(series[i].label) + " (" + std::to_string(series[i].values->size()) + ")";
    cv::line(img, {legend_x, legend_y - 4}, {legend_x + 20, legend_y - 4}, series[i].colour, 2);
    cv::putText(img, label, {legend_x + 25, legend_y}, cv::FONT_HERSHEY_SIMPLEX, 0.45, {0, 0, 0}, 1,
                cv::LINE_AA);
    legend_x += 40 + 8 * static_cast<int>(label.size());
  }
  // Each proposed threshold: a blue tick; flagged ones in magenta.
  for (const auto& p : report.people) {
    const int x = x_of(p.proposed);
    const cv::Scalar colour = p.separable ? cv::Scalar(200, 60, 0) : cv::Scalar(200, 0, 200);
    cv::line(img, {x, kTop + plot_h - 25}, {x, kTop + plot_h}, colour, 1);
  }
  cv::putText(img, "ticks: proposed thresholds (blue; magenta = flagged)", {kLeft, 44},
              cv::FONT_HERSHEY_SIMPLEX, 0.45, {200, 60, 0}, 1, cv::LINE_AA);
  bool written = false;
  try {
    written = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    throw FileError(path, std::string("cannot write the calibration plot: ") + e.what());
  }
  if (!written) throw FileError(path, "cannot write the calibration plot (PNG)");
}

}  // namespace siamese
