// `siamese-enroll add --from-track AUDIT.db:TRACK`: the face crops siamese-access-control kept
// (--keep-crops, a folder of PNG files per track) of a denied or tailgating track, read from its
// audit log (read-only, the `decisions` table of samples/access-control/audit_log.cpp).
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>

namespace siamese::enroll {

/// A track of an audit log: the file, the track id and, where track ids of several cameras
/// share the log, the camera (faceverify element name; "" any).
struct TrackRef {
  std::string audit;
  int64_t track = 0;
  std::string camera;
};

/// Parses "AUDIT.db:TRACK" (the id after the last ':'). Throws cli::UsageError naming
/// --from-track.
TrackRef parse_track_ref(const std::string& text, const std::string& camera);

/// The crop folder kept of ref's track: the newest row of the track that names one (a track id
/// seen again in a later run is the later person). Throws FileError naming the audit log when
/// it is missing or is no audit log, InputError when the track is not there, is in several
/// cameras without ref.camera, kept no crop, or its crop was pruned (the file named too).
std::string kept_crop_of(const TrackRef& ref);

}  // namespace siamese::enroll
