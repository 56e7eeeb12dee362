// The walk video the siamese-access-control tests run on: AT&T people s1-s3 and strangers
// s21-s22 walking past a camera (siamese-render-walk, with its ground truth), a TorchScript
// model that pools pixels (certain identities without training) and a gallery enrolled from
// the very crops the element will see. Thread-safety: one test thread.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace siamese::testing {

/// The enrolled people of the walk; the strangers are not enrolled.
inline const std::set<std::string> kAccessWalkPeople = {"s1", "s2", "s3"};
constexpr int kAccessWalkStrangers = 2;

struct AccessWalker {
  std::string identity;
  bool stranger = false;
  double start_s = 0, end_s = 0;  // on screen, seconds of video
};

struct AccessWalk {
  std::string dir, video, model, gallery;
  float threshold = 0;  // half the distance from any person's crop to anyone else's
  double duration_s = 0;
  std::vector<AccessWalker> walkers;
};

/// Renders the walk from the AT&T folder data into temp_dir(tag) and makes its model and
/// gallery (Catch2 REQUIREs inside). Takes some seconds: tests keep one per process.
AccessWalk make_access_walk(const std::string& data, const std::string& tag);

/// make_access_walk(data, tag) made once per tag and test process, then the same walk again.
const AccessWalk& cached_access_walk(const std::string& data, const std::string& tag);

/// x as the shortest text that reads back as it ("0.35", not "0.350000"), for flags and files.
std::string number_text(double x);

/// Every row sql gives, run read-only on the SQLite file at path; each column as text, "" for
/// NULL (Catch2 REQUIREs that the file opens and sql prepares).
std::vector<std::vector<std::string>> query_rows(const std::string& path, const std::string& sql);

/// A number column of query_rows: 0 for NULL ("").
inline double number_of(const std::string& text) { return text.empty() ? 0.0 : std::stod(text); }

/// The command line of siamese-access-control over the walk: its model, video and threshold, the
/// gallery (w.gallery when ""), the audit log, on the CPU, detecting every frame.
std::vector<std::string> access_control_args(const AccessWalk& w, const std::string& audit,
                                             const std::string& gallery = "",
                                             const std::string& deny_after = "1.0");

/// Saves the pooled-pixel TorchScript model (16x16 luma, mean removed, unit length) to path.
void save_pixel_model(const std::string& path);

}  // namespace siamese::testing
