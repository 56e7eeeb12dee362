// siamese-contact-sheet: a PNG grid of frames from a video, so people can look at a run
// rather than read it. With the walk's ground truth it picks one frame per walking segment
// (late in the walk, when decisions are made) and captions it with who is really there.
#include <algorithm>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>

#include "siamese/cli.h"
#include "walk_truth.h"

namespace cli = siamese::cli;
namespace ss = siamese::samples;

namespace {

constexpr const char* kProgram = "siamese-contact-sheet";
constexpr const char* kUsage =
    R"(usage: siamese-contact-sheet --video FILE --out SHEET.png [options]

  --video FILE       the video (e.g. the annotated output of faceverify ! faceverifyoverlay)
  --out FILE.png     the contact sheet to write
  --truth FILE.json  siamese-render-walk's ground truth: one frame per walking segment,
                     captioned with the true identities (otherwise: evenly spaced frames)
  --tiles N          at most N frames (default 16)
  --columns N        frames per row (default 4)
  --tile-width PX    width of one frame on the sheet (default 320)
)";
constexpr double kPickAt = 0.7;  // how far into a walk the frame is taken
constexpr int kCaptionHeight = 22;

struct Pick {
  int frame = 0;
  std::string caption;
};

std::vector<Pick> picks_from_truth(const ss::WalkTruth& truth, size_t max_tiles) {
  std::vector<Pick> picks;
  std::set<int> segments;  // walkers of one segment share their first frame
  for (const auto& w : truth.walkers) {
    if (!segments.insert(w.first_frame).second) continue;
    const int frame = w.first_frame + static_cast<int>(kPickAt * (w.last_frame - w.first_frame));
    std::ostringstream caption;
    caption << std::fixed;
    caption.precision(1);
    caption << "t=" << frame / truth.fps << "s  truth:";
    for (const auto& f : truth.frames.at(static_cast<size_t>(frame))) {
      caption << " " << truth.walkers.at(static_cast<size_t>(f.walker)).identity;
    }
    picks.push_back({frame, caption.str()});
  }
  if (picks.size() > max_tiles) {  // keep an even spread
    std::vector<Pick> fewer;
    for (size_t i = 0; i < max_tiles; ++i) fewer.push_back(picks[i * picks.size() / max_tiles]);
    picks = fewer;
  }
  return picks;
}

const cli::Program kProgramSpec{
    kProgram,
    kUsage,
    {{"",
      {cli::Flag::text("video"), cli::Flag::text("out"), cli::Flag::text("truth"),
       cli::Flag::integer("tiles", 1, 400), cli::Flag::integer("columns", 1, 100),
       cli::Flag::integer("tile-width", 32, 4096)},
      0,
      0,
      ""}}};

int run(const cli::Args& flags) {
  const std::string video = flags.required("video");
  const std::string out = flags.required("out");
  const auto max_tiles = static_cast<size_t>(flags.integer("tiles", 16));
  const int columns = static_cast<int>(flags.integer("columns", 4));
  const int tile_w = static_cast<int>(flags.integer("tile-width", 320));

  cv::VideoCapture capture(video);
  if (!capture.isOpened()) throw std::runtime_error(video + ": cannot open the video");
  std::vector<Pick> picks;
  if (flags.has("truth")) {
    picks = picks_from_truth(ss::load_walk_truth(flags.text("truth")), max_tiles);
  } else {
    const int count = static_cast<int>(capture.get(cv::CAP_PROP_FRAME_COUNT));
    const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
    for (size_t i = 0; i < max_tiles && count > 0; ++i) {
      const int frame = static_cast<int>((i + 0.5) * count / max_tiles);
      std::ostringstream caption;
      caption.precision(3);
      caption << "t=" << frame / fps << "s";
      picks.push_back({frame, caption.str()});
    }
  }
  if (picks.empty()) throw std::runtime_error(video + ": no frames to show");

  std::vector<cv::Mat> tiles;
  cv::Mat frame;
  size_t next = 0;
  for (int index = 0; next < picks.size() && capture.read(frame); ++index) {
    if (index != picks[next].frame) continue;
    const int tile_h = frame.rows * tile_w / frame.cols;
    cv::Mat tile(tile_h + kCaptionHeight, tile_w, CV_8UC3, cv::Scalar(24, 24, 24));
    cv::resize(frame, tile(cv::Rect(0, 0, tile_w, tile_h)), cv::Size(tile_w, tile_h), 0, 0,
               cv::INTER_AREA);
    cv::putText(tile, picks[next].caption, {6, tile_h + 16}, cv::FONT_HERSHEY_SIMPLEX, 0.42,
                cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    tiles.push_back(tile);
    ++next;
  }
  if (tiles.empty()) throw std::runtime_error(video + ": could not decode the chosen frames");
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  const int cols = std::min(columns, static_cast<int>(tiles.size()));
  const int gap = 4;
  cv::Mat sheet((tiles[0].rows + gap) * rows + gap, (tile_w + gap) * cols + gap, CV_8UC3,
                cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < tiles.size(); ++i) {
    const int r = static_cast<int>(i) / columns, c = static_cast<int>(i) % columns;
    tiles[i].copyTo(sheet(cv::Rect(gap + c * (tile_w + gap), gap + r * (tiles[0].rows + gap),
                                   tiles[i].cols, tiles[i].rows)));
  }
  if (!cv::imwrite(out, sheet)) throw std::runtime_error(out + ": cannot write (--out)");
  std::cout << kProgram << ": wrote " << out << " (" << tiles.size() << " frames)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
