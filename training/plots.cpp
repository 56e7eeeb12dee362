#include "plots.h"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "siamese/errors.h"

namespace siamese::training {
namespace {

const cv::Scalar kWhite(255, 255, 255), kBlack(0, 0, 0), kGrid(225, 225, 225);
const cv::Scalar kBlue(200, 110, 30), kOrange(30, 130, 240), kGreen(60, 160, 60), kRed(50, 50, 210);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void write_png(const std::string& path, const cv::Mat& image) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, image);
  } catch (const cv::Exception& e) {
    throw FileError(path, std::string("cannot write the plot: ") + e.what());
  }
  if (!ok) throw FileError(path, "cannot write the plot");
}

// A plotting area mapping data coordinates to pixels of a panel of the canvas.
class Axes {
 public:
  Axes(cv::Mat& canvas, cv::Rect panel, double x0, double x1, double y0, double y1,
       bool log_x = false)
      : canvas_(canvas), x0_(x0), x1_(x1), y0_(y0), y1_(y1), log_x_(log_x) {
    area_ = cv::Rect(panel.x + 60, panel.y + 34, panel.width - 80, panel.height - 84);
    if (x1_ <= x0_) x1_ = x0_ + 1;
    if (y1_ <= y0_) y1_ = y0_ + 1;
  }

  cv::Point map(double x, double y) const {
    const double fx = log_x_ ? (std::log10(std::max(x, 1e-12)) - std::log10(x0_)) /
                                   (std::log10(x1_) - std::log10(x0_))
                             : (x - x0_) / (x1_ - x0_);
    const double fy = (y - y0_) / (y1_ - y0_);
    return {area_.x + static_cast<int>(std::lround(std::clamp(fx, 0.0, 1.0) * area_.width)),
            area_.y + area_.height -
                static_cast<int>(std::lround(std::clamp(fy, 0.0, 1.0) * area_.height))};
  }

  void frame(const std::string& title, const std::string& xlabel, const std::string& ylabel) {
    for (int k = 0; k <= 4; ++k) {
      const double y = y0_ + k / 4.0 * (y1_ - y0_);
      const cv::Point p = map(x0_, y);
      cv::line(canvas_, p, {area_.x + area_.width, p.y}, kGrid, 1);
      cv::putText(canvas_, fmt(y), {area_.x - 52, p.y + 4}, kFont, 0.38, kBlack, 1, cv::LINE_AA);
    }
    std::vector<double> xticks;
    if (log_x_) {
      for (double x = std::pow(10.0, std::ceil(std::log10(x0_) - 1e-9)); x <= x1_ * (1 + 1e-9);
           x *= 10) {
        xticks.push_back(x);
      }
    } else {
      // Whole numbers when the axis counts something (epochs), else five even steps.
      const double span = x1_ - x0_;
      const double step =
          span >= 4 && x0_ == std::floor(x0_) ? std::max(1.0, std::ceil(span / 5.0)) : span / 4.0;
      for (double x = x0_; x <= x1_ + 1e-9 * span; x += step) xticks.push_back(x);
    }
    for (double x : xticks) {
      const cv::Point q = map(x, y0_);
      cv::line(canvas_, q, {q.x, area_.y}, kGrid, 1);
      cv::putText(canvas_, fmt(x), {q.x - 14, area_.y + area_.height + 16}, kFont, 0.38, kBlack, 1,
                  cv::LINE_AA);
    }
    cv::rectangle(canvas_, area_, kBlack, 1);
    cv::putText(canvas_, title, {area_.x, area_.y - 12}, kFont, 0.5, kBlack, 1, cv::LINE_AA);
    cv::putText(canvas_, xlabel, {area_.x + area_.width / 2 - 30, area_.y + area_.height + 38},
                kFont, 0.42, kBlack, 1, cv::LINE_AA);
    if (!ylabel.empty()) {
      cv::putText(canvas_, ylabel, {area_.x + 6, area_.y + 16}, kFont, 0.4, kBlack, 1, cv::LINE_AA);
    }
  }

  void polyline(const std::vector<std::pair<double, double>>& points, const cv::Scalar& color,
                int thickness = 2) {
    std::vector<cv::Point> px;
    px.reserve(points.size());
    for (const auto& [x, y] : points) px.push_back(map(x, y));
    if (px.size() == 1) px.push_back(px.front());
    cv::polylines(canvas_, px, false, color, thickness, cv::LINE_AA);
  }

  void legend(int row, const std::string& text, const cv::Scalar& color) {
    const cv::Point at(area_.x + area_.width - 170, area_.y + 18 + 18 * row);
    cv::line(canvas_, at, {at.x + 24, at.y}, color, 3);
    cv::putText(canvas_, text, {at.x + 30, at.y + 4}, kFont, 0.42, kBlack, 1, cv::LINE_AA);
  }

  const cv::Rect& area() const { return area_; }

 private:
  cv::Mat& canvas_;
  cv::Rect area_;
  double x0_, x1_, y0_, y1_;
  bool log_x_;
};

}  // namespace

cv::Mat tensor_to_image(const torch::Tensor& face, const InputSpec& spec) {
  torch::Tensor t = face.detach().to(torch::kCPU, torch::kFloat32).clone();
  const int64_t channels = t.size(0);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = std::min(static_cast<size_t>(c), spec.mean.size() - 1);
    t[c].mul_(spec.std[std::min(static_cast<size_t>(c), spec.std.size() - 1)])
        .add_(spec.mean[k])
        .div_(spec.scale);
  }
  t = t.clamp(0, 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  const int type = channels == 1 ? CV_8UC1 : CV_8UC3;
  cv::Mat image(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), type, t.data_ptr());
  cv::Mat out = image.clone();
  if (channels == 3) cv::cvtColor(out, out, cv::COLOR_RGB2BGR);
  return out;
}

void save_pair_grid(const std::string& path, const torch::Tensor& images,
                    const std::vector<std::pair<int64_t, int64_t>>& pairs,
                    const std::vector<bool>& different, const InputSpec& spec) {
  constexpr int kCell = 100, kGap = 10, kLabel = 24, kPerRow = 4;
  const int n = static_cast<int>(pairs.size());
  const int rows = std::max(1, (n + kPerRow - 1) / kPerRow);
  const int pair_w = 2 * kCell + 2, cols = std::min(n, kPerRow);
  cv::Mat canvas(rows * (kCell + kLabel + kGap) + kGap + 24,
                 std::max(1, cols) * (pair_w + kGap) + kGap, CV_8UC3, kWhite);
  cv::putText(canvas, "sample training pairs (label 0 = same identity, 1 = different)", {kGap, 18},
              kFont, 0.45, kBlack, 1, cv::LINE_AA);
  for (int i = 0; i < n; ++i) {
    const int x = kGap + (i % kPerRow) * (pair_w + kGap);
    const int y = 24 + kGap + (i / kPerRow) * (kCell + kLabel + kGap);
    const int64_t members[2] = {pairs[i].first, pairs[i].second};
    for (int m = 0; m < 2; ++m) {
      cv::Mat face = tensor_to_image(images[members[m]], spec);
      if (face.channels() == 1) cv::cvtColor(face, face, cv::COLOR_GRAY2BGR);
      cv::resize(face, face, {kCell, kCell}, 0, 0, cv::INTER_AREA);
      face.copyTo(canvas(cv::Rect(x + m * (kCell + 2), y, kCell, kCell)));
    }
    const bool diff = different[i];
    cv::putText(canvas, diff ? "1: different" : "0: same", {x + 4, y + kCell + 17}, kFont, 0.5,
                diff ? kRed : kGreen, 1, cv::LINE_AA);
  }
  write_png(path, canvas);
}

void save_loss_curve(const std::string& path, const std::vector<EpochRecord>& history) {
  cv::Mat canvas(420, 640, CV_8UC3, kWhite);
  double top = 0.0;
  std::vector<std::pair<double, double>> loss, eer;
  for (const auto& r : history) {
    loss.emplace_back(r.epoch, r.loss);
    top = std::max(top, r.loss);
    if (r.validated) eer.emplace_back(r.epoch, r.validation.eer);
  }
  for (const auto& [e, v] : eer) top = std::max(top, v);
  const double last = history.empty() ? 1.0 : std::max(2, history.back().epoch);
  Axes axes(canvas, {0, 0, canvas.cols, canvas.rows}, 1, last, 0, top > 0 ? top * 1.05 : 1.0);
  axes.frame("training loss per epoch", "epoch", "");
  axes.polyline(loss, kBlue);
  axes.legend(0, "train loss", kBlue);
  if (!eer.empty()) {
    axes.polyline(eer, kOrange);
    axes.legend(1, "validation EER", kOrange);
  }
  write_png(path, canvas);
}

void save_roc_curve(const std::string& path, const PairScores& scores, const std::string& title) {
  cv::Mat canvas(440, 1000, CV_8UC3, kWhite);
  const auto roc = roc_curve(scores);
  Axes lin(canvas, {0, 0, 500, canvas.rows}, 0, 1, 0, 1);
  lin.frame(title, "false accept rate", "true accept rate");
  lin.polyline({{0, 0}, {1, 1}}, kGrid, 1);
  lin.polyline(roc, kBlue);
  const double floor = scores.distance.empty()
                           ? 1e-4
                           : std::max(1e-5, 0.5 / static_cast<double>(scores.distance.size() -
                                                                      scores.genuine_count()));
  Axes log(canvas, {500, 0, 500, canvas.rows}, floor, 1, 0, 1, true);
  log.frame("the same ROC, log false accept rate", "false accept rate", "");
  std::vector<std::pair<double, double>> clipped;
  for (const auto& [far, tar] : roc) clipped.emplace_back(std::max(far, floor), tar);
  log.polyline(clipped, kBlue);
  const cv::Point p = log.map(0.01, 0);
  cv::line(canvas, p, {p.x, log.area().y}, kOrange, 1, cv::LINE_AA);
  cv::putText(canvas, "FAR=1%", {p.x + 3, log.area().y + log.area().height - 6}, kFont, 0.38,
              kOrange, 1, cv::LINE_AA);
  write_png(path, canvas);
}

void save_distance_histograms(const std::string& path, const PairScores& scores, double threshold,
                              const std::string& title) {
  constexpr int kBins = 50;
  cv::Mat canvas(420, 640, CV_8UC3, kWhite);
  double hi = threshold;
  for (double d : scores.distance) hi = std::max(hi, d);
  hi = hi > 0 ? hi * 1.02 : 1.0;
  std::vector<double> genuine(kBins, 0.0), impostor(kBins, 0.0);
  double ng = 0, ni = 0;
  for (size_t i = 0; i < scores.distance.size(); ++i) {
    const int bin = std::min(kBins - 1, static_cast<int>(scores.distance[i] / hi * kBins));
    if (scores.genuine[i]) {
      genuine[bin] += 1;
      ng += 1;
    } else {
      impostor[bin] += 1;
      ni += 1;
    }
  }
  double top = 0.0;
  for (int b = 0; b < kBins; ++b) {
    genuine[b] /= std::max(1.0, ng);
    impostor[b] /= std::max(1.0, ni);
    top = std::max({top, genuine[b], impostor[b]});
  }
  Axes axes(canvas, {0, 0, canvas.cols, canvas.rows}, 0, hi, 0, top > 0 ? top * 1.1 : 1.0);
  axes.frame(title, "Euclidean distance", "fraction of pairs");
  auto steps = [&](const std::vector<double>& h) {
    std::vector<std::pair<double, double>> pts;
    for (int b = 0; b < kBins; ++b) {
      pts.emplace_back(hi * b / kBins, h[b]);
      pts.emplace_back(hi * (b + 1) / kBins, h[b]);
    }
    return pts;
  };
  axes.polyline(steps(genuine), kGreen);
  axes.polyline(steps(impostor), kRed);
  const cv::Point t = axes.map(threshold, 0);
  cv::line(canvas, t, {t.x, axes.area().y}, kBlack, 1, cv::LINE_AA);
  axes.legend(0, "genuine pairs", kGreen);
  axes.legend(1, "impostor pairs", kRed);
  axes.legend(2, "threshold " + fmt(threshold), kBlack);
  write_png(path, canvas);
}

void write_history_csv(const std::string& path, const std::vector<EpochRecord>& history) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw FileError(path, "cannot write the CSV file");
  out << "epoch,loss,lr,seconds,pairs_per_s,val_auc,val_eer,val_tar_at_far_1e-2,val_accuracy,"
         "threshold,best\n";
  for (const auto& r : history) {
    out << r.epoch << ',' << r.loss << ',' << r.lr << ',' << r.seconds << ',' << r.pairs_per_s;
    if (r.validated) {
      out << ',' << r.validation.auc << ',' << r.validation.eer << ','
          << r.validation.tar_at_far_1e2 << ',' << r.validation.accuracy << ',' << r.threshold;
    } else {
      out << ",,,,,";
    }
    out << ',' << (r.best ? 1 : 0) << '\n';
  }
  if (!out) throw FileError(path, "cannot write the CSV file");
}

}  // namespace siamese::training
