#include "image_set.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "siamese/image_io.h"

namespace siamese::enroll {
namespace {

namespace fs = std::filesystem;

std::string absolute_path(const fs::path& p) {
  std::error_code ec;
  const fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

struct Listing {
  std::vector<fs::path> images, folders;
  bool readable = true;
  std::string error;
};

// One folder's entries, sorted naturally; other files go to `skipped` as they are met.
Listing list_folder(const fs::path& dir, std::vector<Issue>& skipped) {
  Listing out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    out.readable = false;
    out.error = ec.message();
    return out;
  }
  for (const auto& entry : it) {
    if (entry.is_directory(ec)) {
      out.folders.push_back(entry.path());
    } else if (entry.is_regular_file(ec) && is_image_file(entry.path().string())) {
      out.images.push_back(entry.path());
    } else {
      skipped.push_back({absolute_path(entry.path()), "not an image file"});
    }
  }
  const auto by_name = [](const fs::path& a, const fs::path& b) {
    return natural_less(a.filename().string(), b.filename().string());
  };
  std::sort(out.images.begin(), out.images.end(), by_name);
  std::sort(out.folders.begin(), out.folders.end(), by_name);
  return out;
}

void add_identity_folder(const fs::path& dir, const std::string& identity, EnrollmentPlan& plan) {
  const Listing listing = list_folder(dir, plan.skipped);
  if (!listing.readable) {
    plan.failed.push_back({absolute_path(dir), "cannot read folder: " + listing.error});
    return;
  }
  for (const auto& sub : listing.folders) {
    plan.skipped.push_back({absolute_path(sub), "nested folder ignored"});
  }
  if (listing.images.empty()) {
    plan.skipped.push_back({absolute_path(dir), "empty folder (no image files)"});
    return;
  }
  for (const auto& img : listing.images) plan.images.push_back({identity, absolute_path(img)});
}

}  // namespace

EnrollmentPlan plan_enrollment(const std::vector<std::string>& dirs,
                               const std::optional<std::string>& name) {
  EnrollmentPlan plan;
  for (const auto& d : dirs) {
    const fs::path dir(d);
    std::error_code ec;
    const auto status = fs::status(dir, ec);
    if (ec || !fs::exists(status)) {
      plan.failed.push_back({absolute_path(dir), "no such file or folder"});
      continue;
    }
    if (!fs::is_directory(status)) {
      if (name && fs::is_regular_file(status) && is_image_file(d)) {
        plan.images.push_back({*name, absolute_path(dir)});
      } else if (name) {
        plan.skipped.push_back({absolute_path(dir), "not an image file"});
      } else {
        plan.failed.push_back({absolute_path(dir), "not a folder (give --name to enroll files)"});
      }
      continue;
    }
    if (name) {
      add_identity_folder(dir, *name, plan);
      continue;
    }
    const Listing listing = list_folder(dir, plan.skipped);
    if (!listing.readable) {
      plan.failed.push_back({absolute_path(dir), "cannot read folder: " + listing.error});
      continue;
    }
    for (const auto& img : listing.images) {
      plan.skipped.push_back(
          {absolute_path(img), "image outside an identity subfolder (use --name)"});
    }
    if (listing.folders.empty() && listing.images.empty()) {
      plan.skipped.push_back({absolute_path(dir), "empty folder (no identity subfolders)"});
    }
    for (const auto& sub : listing.folders) {
      add_identity_folder(sub, sub.filename().string(), plan);
    }
  }
  return plan;
}

}  // namespace siamese::enroll
