#include "truth_file.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace siamese::samples {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double frame_time(const WalkOptions& o, int frame) {
  return std::round(frame / o.fps * 1e6) / 1e6;  // seconds, to the microsecond
}

void write_csv(std::ostream& out, const WalkPlan& plan) {
  out << "frame,time,walker,identity,x,y,width,height,image\n";
  for (int f = 0; f < plan.frame_count; ++f) {
    for (size_t i = 0; i < plan.walkers.size(); ++i) {
      const Walker& w = plan.walkers[i];
      if (f < w.first_frame || f > w.last_frame) continue;
      const Rect r = box_at(w, plan.options, f);
      out << f << ',' << frame_time(plan.options, f) << ',' << i << ',' << truth_identity(w) << ','
          << r.x << ',' << r.y << ',' << r.width << ',' << r.height << ','
          << w.images[static_cast<size_t>(image_at(w, plan.options, f))] << '\n';
    }
  }
}

nlohmann::json to_json(const WalkPlan& plan, const std::string& video, const Conditions& conditions,
                       const std::vector<WalkerLook>& looks) {
  const WalkOptions& o = plan.options;
  nlohmann::json walkers = nlohmann::json::array();
  for (size_t i = 0; i < plan.walkers.size(); ++i) {
    const Walker& w = plan.walkers[i];
    walkers.push_back({{"identity", truth_identity(w)},
                       {"label", w.label},
                       {"stranger", w.stranger},
                       {"first_frame", w.first_frame},
                       {"last_frame", w.last_frame},
                       {"lane", w.lane},
                       {"direction", w.direction},
                       {"images", w.images}});
    if (conditions.empty() || i >= looks.size()) continue;  // the plain walk's truth as it was
    const WalkerLook& look = looks[i];
    nlohmann::json& entry = walkers.back();
    if (has_condition(conditions, Condition::kRotate)) entry["angle"] = look.angle_deg;
    if (look.light_side != 0) entry["light"] = look.light_side < 0 ? "left" : "right";
    if (!look.occluder.kind.empty()) {
      const Occluder& oc = look.occluder;
      entry["occluder"] = {
          {"kind", oc.kind}, {"x", oc.x}, {"y", oc.y}, {"width", oc.width}, {"height", oc.height}};
    }
  }
  nlohmann::json frames = nlohmann::json::array();
  for (int f = 0; f < plan.frame_count; ++f) {
    nlohmann::json faces = nlohmann::json::array();
    for (size_t i = 0; i < plan.walkers.size(); ++i) {
      const Walker& w = plan.walkers[i];
      if (f < w.first_frame || f > w.last_frame) continue;
      const Rect r = box_at(w, o, f);
      faces.push_back({{"walker", i},
                       {"identity", truth_identity(w)},
                       {"x", r.x},
                       {"y", r.y},
                       {"width", r.width},
                       {"height", r.height},
                       {"image", w.images[static_cast<size_t>(image_at(w, o, f))]}});
    }
    frames.push_back({{"frame", f}, {"time", frame_time(o, f)}, {"faces", std::move(faces)}});
  }
  nlohmann::json truth = {{"video", video},
                          {"width", o.width},
                          {"height", o.height},
                          {"fps", o.fps},
                          {"frame_count", plan.frame_count},
                          {"seed", o.seed},
                          {"walkers", std::move(walkers)},
                          {"frames", std::move(frames)}};
  if (!conditions.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const Condition c : conditions) names.push_back(condition_name(c));
    truth["conditions"] = std::move(names);
  }
  return truth;
}

}  // namespace

std::string truth_identity(const Walker& walker) {
  return walker.stranger ? "stranger:" + walker.label : walker.label;
}

void write_truth(const std::string& path, const WalkPlan& plan, const std::string& video,
                 const Conditions& conditions, const std::vector<WalkerLook>& looks) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot write the truth file");
  if (ends_with(path, ".csv")) {
    write_csv(out, plan);
  } else {
    out << to_json(plan, video, conditions, looks).dump(1) << '\n';
  }
  out.close();
  if (!out) throw std::runtime_error(path + ": write failed");
}

}  // namespace siamese::samples
