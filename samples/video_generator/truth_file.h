// The ground truth of a walk video: per frame the box and identity of every face
// ("s3", or "stranger:s21" for someone never enrolled), as JSON (one object with walkers and
// frames; also the camera conditions and how each walker looks under them) or CSV (one row per
// face and frame). Thread-safety: free functions.
#pragma once

#include <string>
#include <vector>

#include "conditions.h"
#include "walk_plan.h"

namespace siamese::samples {

/// "s3" for an enrolled person, "stranger:s21" for a stranger.
std::string truth_identity(const Walker& walker);

/// Writes the truth of plan to path: CSV when it ends in ".csv", else JSON. video names the
/// rendered file; the JSON also lists any conditions and each walker's look (looks[i] for
/// walker i). Throws std::runtime_error naming the path when it cannot be written.
void write_truth(const std::string& path, const WalkPlan& plan, const std::string& video,
                 const Conditions& conditions = {}, const std::vector<WalkerLook>& looks = {});

}  // namespace siamese::samples
