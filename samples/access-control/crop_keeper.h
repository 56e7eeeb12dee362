// --keep-crops: the face crops of a track that is denied (or tailgates), kept as PNG files for a
// person to review and for `siamese-enroll add --from-track`. A buffer probe on each faceverify
// element's src pad keeps the best (largest, then most recent) few crops of every live track,
// cut from the real frame around the box of its "face" ROI meta and converted to RGB, in a small
// bounded cache; the bus thread writes a track's crops when it is denied, into a folder of their
// own (DIR/CAMERA-TRACK-TIME/1.png, the largest first). Files are created mode 0600 in folders
// of mode 0700 (faces are personal data). Thread-safety: the probe (streaming
// threads) and the other members (one bus thread) share the cache under a mutex.
#pragma once

#include <gst/gst.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace siamese::samples {

/// Live tracks whose best crop the cache holds; beyond, the least recently seen is dropped.
constexpr size_t kDefaultCropCacheTracks = 64;
/// Crops kept of a track: a few frames, so that enrollment sees the face as the element saw it
/// at several positions (a detector box moves by a few pixels from frame to frame).
constexpr size_t kCropsPerTrack = 5;
/// Space kept around the face box on each side, as a fraction of the box's width and height
/// (the enrollment detector needs to see the whole head to find the face again).
constexpr double kCropMarginFraction = 0.25;

class CropKeeper {
 public:
  /// Creates dir (mode 0700) when missing; refuses a symbolic link or a non-folder there and
  /// tightens an existing folder to 0700. Throws siamese::FileError naming dir.
  explicit CropKeeper(std::string dir, size_t max_tracks = kDefaultCropCacheTracks);
  ~CropKeeper();
  CropKeeper(const CropKeeper&) = delete;
  CropKeeper& operator=(const CropKeeper&) = delete;

  /// Watches verifier's output (a probe on its src pad); camera is the element's name.
  void attach(GstElement* verifier);
  /// Writes the crops held for camera's track into a new folder DIR/CAMERA-TRACK-TIME (0700) as
  /// 1.png, 2.png, ... (0600, the largest first); returns the folder, or "" when no crop is held.
  /// Crops already written are not written twice (the folder is returned again). forget: drop
  /// the track from the cache afterwards.
  /// Throws siamese::FileError naming the file when it cannot be written.
  std::string write(const std::string& camera, int64_t track, const std::string& time, bool forget);
  /// Drops camera's track from the cache (granted: its face is not kept).
  void forget(const std::string& camera, int64_t track);

  const std::string& dir() const { return dir_; }
  /// Tracks whose crop the cache holds now.
  size_t cached() const;
  /// Crop folders (tracks) written so far.
  int64_t written() const;

 private:
  struct Shot {
    GstSample* sample = nullptr;  // RGB pixels with their caps (owned)
    int64_t area = 0;             // of the face box, frame pixels
    uint64_t at = 0;              // the cache clock when cut
  };
  struct Crop {
    std::vector<Shot> shots;  // at most kCropsPerTrack, the largest then most recent
    uint64_t seen = 0;        // the cache clock when last seen (eviction order)
    std::string written;      // the folder these shots were written to, "" before
  };
  static void release(Crop& crop);
  using Key = std::pair<std::string, int64_t>;  // camera, track

  static GstPadProbeReturn on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  void keep(const std::string& camera, GstPad* pad, GstBuffer* buffer);
  void evict_locked();

  std::string dir_;
  size_t max_tracks_;
  mutable std::mutex mutex_;
  std::map<Key, Crop> crops_;
  uint64_t clock_ = 0;
  int64_t written_ = 0;
};

}  // namespace siamese::samples
