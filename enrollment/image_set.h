// Which files `siamese-enroll add` will enroll: each subfolder of a DIR is an identity (or,
// with --name, DIR itself and any image files given). Files that will not be used are listed
// with the reason: skipped (not an image, empty folder) or failed (cannot be read).
// Thread-safety: free functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace siamese::enroll {

/// A file or folder that was not enrolled, and why.
struct Issue {
  std::string path;
  std::string reason;
};

/// One image file to enroll under an identity (absolute path).
struct PlannedImage {
  std::string identity;
  std::string path;
};

struct EnrollmentPlan {
  std::vector<PlannedImage> images;  // by identity, then naturally by file name
  std::vector<Issue> skipped;        // not images, empty folders, files outside identities
  std::vector<Issue> failed;         // missing or unreadable folders
};

/// Lists the images under dirs. With name, every image directly in each DIR (or a DIR that is
/// itself an image file) belongs to that identity. Never throws for a bad DIR: it is reported.
EnrollmentPlan plan_enrollment(const std::vector<std::string>& dirs,
                               const std::optional<std::string>& name);

}  // namespace siamese::enroll
