// siamese-demo-summary: what the demo shows, in numbers. Reads faceverify's bus messages (the
// JSON lines of siamese-bus-json) and the walk video's ground truth, and prints per walker
// whether it was verified (as whom, after how long) or stayed unknown, how many strangers were
// wrongly accepted, and the frames per second of the run.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "siamese/cli.h"
#include "verification_summary.h"
#include "walk_truth.h"

namespace cli = siamese::cli;
namespace ss = siamese::samples;

namespace {

constexpr const char* kProgram = "siamese-demo-summary";
constexpr int kExitCheckFailed = 3;
constexpr const char* kUsage =
    R"(usage: siamese-demo-summary --messages FILE.jsonl --truth FILE.json [options]

Scores faceverify against the ground truth of a siamese-render-walk video.
  --messages FILE   JSON lines from siamese-bus-json (faceverify frame messages)
  --truth FILE      the ground truth JSON written by siamese-render-walk
  --seconds S       wall time of the run (default: gst-launch's "Execution ended" line)
  --json FILE       also write the summary as JSON
  --check           exit with status 3 unless every person was verified as themselves and
                    no stranger was accepted (or as --min-verified / --max-accepted say)
  --min-verified N  --check: at least N people verified as themselves (default: all)
  --max-accepted N  --check: at most N strangers accepted (default 0)
)";

std::vector<ss::FrameObservation> read_frames(const std::string& path, double& seconds) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the messages");
  std::vector<ss::FrameObservation> frames;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": not a JSON line");
    }
    const std::string message = j.value("message", "");
    if (message == "execution-ended" && seconds <= 0) seconds = j.value("seconds", 0.0);
    if (message != "faceverify") continue;
    ss::FrameObservation obs;
    obs.timestamp_ns = j.value("timestamp", static_cast<int64_t>(0));
    for (const auto& f : j.value("faces", nlohmann::json::array())) {
      obs.faces.push_back({f.value("track-id", static_cast<int64_t>(-1)), f.value("state", ""),
                           f.value("identity", ""), f.value("x", 0), f.value("y", 0),
                           f.value("width", 0), f.value("height", 0)});
    }
    frames.push_back(std::move(obs));
  }
  return frames;
}

std::string verified_text(const ss::WalkerOutcome& o) {
  if (o.verified_as.empty()) return "unknown";
  std::ostringstream out;
  const char* sep = "";
  for (const auto& [identity, n] : o.verified_as) {
    out << sep << identity << " (" << n << " frames)";
    sep = ", ";
  }
  return out.str();
}

void print_summary(const ss::DemoSummary& s) {
  std::cout << std::left << std::setw(15) << "walker" << std::setw(10) << "detected"
            << std::setw(34) << "shown as verified" << std::setw(12) << "after"
            << "verdict\n";
  for (const auto& o : s.walkers) {
    std::ostringstream detected, after;
    detected << (o.visible_frames ? 100 * o.detected_frames / o.visible_frames : 0) << "%";
    if (o.first_verified_s >= 0)
      after << std::fixed << std::setprecision(2) << o.first_verified_s << " s";
    std::cout << std::left << std::setw(15) << o.walker.identity << std::setw(10) << detected.str()
              << std::setw(34) << verified_text(o) << std::setw(12) << after.str() << o.verdict
              << "\n";
  }
  std::cout << "\npeople verified as themselves: " << s.people_verified << "/" << s.people
            << " (unknown " << s.people_unknown << ", verified as someone else "
            << s.people_confused << ")\n"
            << "strangers wrongly accepted:    " << s.strangers_accepted << "/" << s.strangers
            << "\n"
            << "faces matching no walker:      " << s.unmatched_faces << "\n";
  if (s.seconds > 0) {
    std::cout << "frames: " << s.frames << " in " << std::fixed << std::setprecision(1) << s.seconds
              << " s = " << std::setprecision(1) << s.frames / s.seconds
              << " frames/s (the whole pipeline)\n";
  } else {
    std::cout << "frames: " << s.frames << "\n";
  }
}

nlohmann::json to_json(const ss::DemoSummary& s) {
  nlohmann::json walkers = nlohmann::json::array();
  for (const auto& o : s.walkers) {
    walkers.push_back({{"identity", o.walker.identity},
                       {"stranger", o.walker.stranger},
                       {"visible_frames", o.visible_frames},
                       {"detected_frames", o.detected_frames},
                       {"verified_as", o.verified_as},
                       {"first_verified_s", o.first_verified_s},
                       {"tracks", o.tracks.size()},
                       {"verdict", o.verdict}});
  }
  return {{"people", s.people},
          {"people_verified", s.people_verified},
          {"people_unknown", s.people_unknown},
          {"people_confused", s.people_confused},
          {"strangers", s.strangers},
          {"strangers_accepted", s.strangers_accepted},
          {"unmatched_faces", s.unmatched_faces},
          {"frames", s.frames},
          {"seconds", s.seconds},
          {"frames_per_s", s.seconds > 0 ? s.frames / s.seconds : 0.0},
          {"walkers", walkers}};
}

const cli::Program kProgramSpec{
    kProgram,
    kUsage,
    {{"",
      {cli::Flag::text("messages"), cli::Flag::text("truth"), cli::Flag::number("seconds", 0, 1e9),
       cli::Flag::text("json"), cli::Flag::on_off("check"),
       cli::Flag::number("min-verified", 0, 1e9), cli::Flag::number("max-accepted", 0, 1e9)},
      0,
      0,
      ""}}};

int run(const cli::Args& flags) {
  double seconds = flags.number("seconds", 0.0);
  const auto frames = read_frames(flags.required("messages"), seconds);
  const ss::WalkTruth truth = ss::load_walk_truth(flags.required("truth"));
  ss::DemoSummary summary = ss::summarize(truth, frames);
  summary.seconds = seconds;
  print_summary(summary);
  if (flags.has("json")) {
    std::ofstream out(flags.text("json"));
    out << to_json(summary).dump(1) << "\n";
    if (!out) throw std::runtime_error(flags.text("json") + ": cannot write (--json)");
  }
  if (flags.has("check")) {
    const double min_verified = flags.number("min-verified", summary.people);
    const double max_accepted = flags.number("max-accepted", 0.0);
    if (summary.people_verified < min_verified || summary.strangers_accepted > max_accepted) {
      std::cerr << kProgram << ": check failed: " << summary.people_verified
                << " verified (at least " << min_verified << " wanted), "
                << summary.strangers_accepted << " strangers accepted (at most " << max_accepted
                << ")\n";
      return kExitCheckFailed;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
