#include "audit_tracks.h"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <vector>

#include "siamese/cli.h"
#include "siamese/errors.h"
#include "siamese/sqlite_db.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {

namespace {

constexpr const char* kAuditKind = "siamese audit log";

std::string track_name(const TrackRef& ref) {
  return "track " + std::to_string(ref.track) +
         (ref.camera.empty() ? std::string() : " of camera " + escape_for_display(ref.camera));
}

}  // namespace

TrackRef parse_track_ref(const std::string& text, const std::string& camera) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw cli::UsageError("--from-track: '" + escape_for_display(text) +
                          "' is not AUDIT.db:TRACK (the audit log, a colon, the track id)");
  }
  TrackRef ref;
  ref.audit = text.substr(0, colon);
  ref.track = cli::parse_integer("--from-track", text.substr(colon + 1), 0, INT64_MAX);
  ref.camera = camera;
  return ref;
}

std::string kept_crop_of(const TrackRef& ref) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(ref.audit, ec)) {
    throw FileError(ref.audit, "no such audit log (siamese-access-control --audit-log)");
  }
  const sql::FileRef file{ref.audit, kAuditKind, 5000};
  sql::Connection db = sql::open_connection(ref.audit, SQLITE_OPEN_READONLY, file);
  std::set<std::string> columns;
  {
    sql::Statement q(db.get(), file, "PRAGMA table_info(decisions)");
    while (q.step()) columns.insert(q.text(1));
  }
  if (columns.count("track") == 0 || columns.count("camera") == 0) {
    throw FileError(ref.audit, "not a siamese-access-control audit log (no table decisions)");
  }
  const bool has_crops = columns.count("crop") != 0;
  sql::Statement q(db.get(), file,
                   has_crops ? "SELECT camera, crop FROM decisions WHERE track = ?1 AND "
                               "(?2 = '' OR camera = ?2) ORDER BY id DESC"
                             : "SELECT camera, NULL FROM decisions WHERE track = ?1 AND "
                               "(?2 = '' OR camera = ?2) ORDER BY id DESC");
  q.bind(1, ref.track).bind(2, ref.camera);
  std::set<std::string> cameras;
  std::string crop;
  bool pruned = false;
  while (q.step()) {
    cameras.insert(q.text(0));
    if (!crop.empty() || pruned || q.is_null(1)) continue;
    crop = q.text(1);
    pruned = crop.empty();  // '': kept, then pruned by retention
  }
  if (cameras.empty()) {
    throw InputError(ref.audit + ": no " + track_name(ref) + " in the audit log");
  }
  if (cameras.size() > 1) {
    std::string names;
    for (const auto& c : cameras) names += (names.empty() ? "" : ", ") + escape_for_display(c);
    throw InputError(ref.audit + ": track " + std::to_string(ref.track) +
                     " is in several cameras (" + names + "); give --camera NAME");
  }
  if (pruned) {
    throw InputError(ref.audit + ": the face crop of " + track_name(ref) +
                     " was pruned (--crop-retention-days / --max-crops / --audit-retention-days)");
  }
  if (crop.empty()) {
    throw InputError(ref.audit + ": " + track_name(ref) +
                     " has no kept face crop (only denied and tailgating tracks of a run with "
                     "--keep-crops keep one)");
  }
  if (!std::filesystem::exists(crop, ec)) {
    throw InputError(ref.audit + ": the face crop of " + track_name(ref) + ", " +
                     escape_for_display(crop) + ", was pruned (the file is gone)");
  }
  return crop;
}

}  // namespace siamese::enroll
