#include "crop_keeper.h"

#include <fcntl.h>
#include <gst/video/video.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "siamese/errors.h"

namespace siamese::samples {

namespace {

constexpr const char* kRoiType = "face";          // faceverify's ROI meta type
constexpr const char* kRoiParams = "faceverify";  // its param structure (track-id)
constexpr GstClockTime kEncodeTimeout = 10 * GST_SECOND;

// The probe's user data: the keeper and the camera (element) it watches.
struct ProbeTarget {
  CropKeeper* keeper;
  std::string camera;
};

// A file-name part made of [A-Za-z0-9_-] from any name or time stamp.
std::string file_part(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-';
    if (plain) out += c;
  }
  return out.empty() ? std::string("camera") : out;
}

// The track id of a face ROI: its faceverify params' track-id, else the meta's id.
int64_t track_of(GstVideoRegionOfInterestMeta* roi) {
  if (const GstStructure* s = gst_video_region_of_interest_meta_get_param(roi, kRoiParams)) {
    gint64 id = 0;
    if (gst_structure_get_int64(s, "track-id", &id)) return id;
  }
  return roi->id;
}

struct FaceBox {
  int64_t track = 0;
  int x = 0, y = 0, width = 0, height = 0;
  int64_t area() const { return static_cast<int64_t>(width) * height; }
};

// The region kept for a face: its box grown by the margin, inside the frame, on even
// coordinates (chroma planes of 4:2:0 frames are subsampled by two).
FaceBox region_of(const FaceBox& face, int frame_width, int frame_height) {
  const int mx = static_cast<int>(face.width * kCropMarginFraction);
  const int my = static_cast<int>(face.height * kCropMarginFraction);
  const int x0 = std::max(0, face.x - mx) & ~1, y0 = std::max(0, face.y - my) & ~1;
  const int x1 = std::min(frame_width, face.x + face.width + mx);
  const int y1 = std::min(frame_height, face.y + face.height + my);
  return FaceBox{face.track, x0, y0, std::max(0, x1 - x0) & ~1, std::max(0, y1 - y0) & ~1};
}

// The region of the mapped frame as an RGB sample; nullptr when it cannot be converted.
GstSample* rgb_crop(GstVideoFrame* frame, const FaceBox& r) {
  GstVideoInfo out_info;
  if (!gst_video_info_set_format(&out_info, GST_VIDEO_FORMAT_RGB, static_cast<guint>(r.width),
                                 static_cast<guint>(r.height))) {
    return nullptr;
  }
  // The converter changes size and format only: the rest as the frame's.
  GST_VIDEO_INFO_FPS_N(&out_info) = GST_VIDEO_INFO_FPS_N(&frame->info);
  GST_VIDEO_INFO_FPS_D(&out_info) = GST_VIDEO_INFO_FPS_D(&frame->info);
  GST_VIDEO_INFO_PAR_N(&out_info) = GST_VIDEO_INFO_PAR_N(&frame->info);
  GST_VIDEO_INFO_PAR_D(&out_info) = GST_VIDEO_INFO_PAR_D(&frame->info);
  GST_VIDEO_INFO_INTERLACE_MODE(&out_info) = GST_VIDEO_INFO_INTERLACE_MODE(&frame->info);
  GstStructure* config = gst_structure_new(
      "GstVideoConverter", GST_VIDEO_CONVERTER_OPT_SRC_X, G_TYPE_INT, r.x,
      GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, r.y, GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT,
      r.width, GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, r.height,
      GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, 0, GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, 0,
      GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, r.width, GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT,
      G_TYPE_INT, r.height, GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1u, nullptr);
  GstVideoConverter* converter = gst_video_converter_new(&frame->info, &out_info, config);
  if (converter == nullptr) return nullptr;
  GstBuffer* out = gst_buffer_new_allocate(nullptr, out_info.size, nullptr);
  GstVideoFrame out_frame;
  bool ok = gst_video_frame_map(&out_frame, &out_info, out, GST_MAP_WRITE);
  if (ok) {
    gst_video_converter_frame(converter, frame, &out_frame);
    gst_video_frame_unmap(&out_frame);
  }
  gst_video_converter_free(converter);
  GstSample* sample = nullptr;
  if (ok) {
    GstCaps* caps = gst_video_info_to_caps(&out_info);
    sample = gst_sample_new(out, caps, nullptr, nullptr);
    gst_caps_unref(caps);
  }
  gst_buffer_unref(out);
  return sample;
}

// Writes bytes to a new file at path, mode 0600, never through a symbolic link; false when a
// file is already there. Throws FileError for any other failure.
bool write_new_file(const std::string& path, const guint8* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw FileError(path, std::string("cannot create the face crop: ") + std::strerror(errno));
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      throw FileError(path, "cannot write the face crop: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    throw FileError(path, std::string("cannot write the face crop: ") + std::strerror(errno));
  }
  return true;
}

}  // namespace

CropKeeper::CropKeeper(std::string dir, size_t max_tracks)
    : dir_(std::move(dir)), max_tracks_(std::max<size_t>(1, max_tracks)) {
  if (dir_.empty()) throw InputError("--keep-crops needs a folder");
  const std::filesystem::path parent = std::filesystem::path(dir_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // mkdir names a failure
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw FileError(dir_, std::string("cannot create the crop folder: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0) {
    throw FileError(dir_, std::string("cannot read the crop folder: ") + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    throw FileError(dir_, "the crop folder is a symbolic link; give the folder itself");
  }
  if (!S_ISDIR(st.st_mode)) throw FileError(dir_, "the crop folder is not a folder");
  if ((st.st_mode & 0777) != 0700 && ::chmod(dir_.c_str(), 0700) != 0) {
    throw FileError(
        dir_, std::string("cannot make the crop folder private (0700): ") + std::strerror(errno));
  }
}

CropKeeper::~CropKeeper() {
  for (auto& [key, crop] : crops_) release(crop);
}

void CropKeeper::release(Crop& crop) {
  for (Shot& shot : crop.shots) gst_sample_unref(shot.sample);
  crop.shots.clear();
}

void CropKeeper::attach(GstElement* verifier) {
  GstPad* pad = gst_element_get_static_pad(verifier, "src");
  if (pad == nullptr) return;
  auto* target = new ProbeTarget{this, GST_OBJECT_NAME(verifier)};
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, &CropKeeper::on_buffer, target,
                    [](gpointer p) { delete static_cast<ProbeTarget*>(p); });
  gst_object_unref(pad);
}

GstPadProbeReturn CropKeeper::on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* target = static_cast<ProbeTarget*>(data);
  if (GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info)) {
    target->keeper->keep(target->camera, pad, buffer);
  }
  return GST_PAD_PROBE_OK;
}

void CropKeeper::keep(const std::string& camera, GstPad* pad, GstBuffer* buffer) {
  // The faces whose box is at least as large as the one held: only those are cut out.
  std::vector<FaceBox> wanted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const GQuark face = g_quark_from_static_string(kRoiType);
    gpointer state = nullptr;
    while (GstMeta* meta = gst_buffer_iterate_meta_filtered(
               buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
      auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
      if (roi->roi_type != face || roi->w == 0 || roi->h == 0) continue;
      const FaceBox box{track_of(roi), static_cast<int>(roi->x), static_cast<int>(roi->y),
                        static_cast<int>(roi->w), static_cast<int>(roi->h)};
      auto it = crops_.find({camera, box.track});
      if (it != crops_.end()) {
        it->second.seen = ++clock_;
        const auto& shots = it->second.shots;
        const bool full = shots.size() >= kCropsPerTrack;
        const bool smaller = std::all_of(shots.begin(), shots.end(),
                                         [&](const Shot& s) { return box.area() < s.area; });
        if (full && smaller) continue;  // the larger ones held stay
      }
      wanted.push_back(box);
    }
  }
  if (wanted.empty()) return;
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (caps == nullptr) return;
  GstVideoInfo in_info;
  const bool known = gst_video_info_from_caps(&in_info, caps);
  gst_caps_unref(caps);
  GstVideoFrame frame;
  if (!known || !gst_video_frame_map(&frame, &in_info, buffer, GST_MAP_READ)) return;
  std::vector<std::pair<FaceBox, GstSample*>> cut;
  for (const FaceBox& box : wanted) {
    const FaceBox r =
        region_of(box, GST_VIDEO_INFO_WIDTH(&in_info), GST_VIDEO_INFO_HEIGHT(&in_info));
    if (r.width < 2 || r.height < 2) continue;
    if (GstSample* sample = rgb_crop(&frame, r)) cut.emplace_back(box, sample);
  }
  gst_video_frame_unmap(&frame);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [box, sample] : cut) {
    Crop& crop = crops_[{camera, box.track}];
    crop.seen = ++clock_;
    crop.shots.push_back(Shot{sample, box.area(), clock_});
    // The largest first, the most recent among equals; the last one out beyond the bound.
    std::sort(crop.shots.begin(), crop.shots.end(), [](const Shot& a, const Shot& b) {
      return a.area != b.area ? a.area > b.area : a.at > b.at;
    });
    while (crop.shots.size() > kCropsPerTrack) {
      gst_sample_unref(crop.shots.back().sample);
      crop.shots.pop_back();
    }
    crop.written.clear();
  }
  evict_locked();
}

void CropKeeper::evict_locked() {
  while (crops_.size() > max_tracks_) {
    auto oldest = std::min_element(crops_.begin(), crops_.end(), [](const auto& a, const auto& b) {
      return a.second.seen < b.second.seen;
    });
    release(oldest->second);
    crops_.erase(oldest);
  }
}

std::string CropKeeper::write(const std::string& camera, int64_t track, const std::string& time,
                              bool forget_it) {
  std::vector<GstSample*> samples;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = crops_.find({camera, track});
    if (it == crops_.end() || it->second.shots.empty()) return "";
    const std::string already = it->second.written;
    if (!already.empty() && ::access(already.c_str(), F_OK) == 0) {
      if (forget_it) {
        release(it->second);
        crops_.erase(it);
      }
      return already;
    }
    for (const Shot& shot : it->second.shots) samples.push_back(gst_sample_ref(shot.sample));
  }
  // A folder of the track's own, created here (mode 0700, never an existing one).
  const std::string base =
      dir_ + "/" + file_part(camera) + "-" + std::to_string(track) + "-" + file_part(time);
  std::string folder;
  for (int n = 1; folder.empty(); ++n) {
    const std::string candidate = base + (n == 1 ? "" : "-" + std::to_string(n));
    if (::mkdir(candidate.c_str(), 0700) == 0) {
      folder = candidate;
    } else if (errno != EEXIST || n > 1000) {
      const std::string why = std::strerror(errno);
      for (GstSample* sample : samples) gst_sample_unref(sample);
      throw FileError(candidate, "cannot create the folder of the track's face crops: " + why);
    }
  }
  GstCaps* png = gst_caps_new_empty_simple("image/png");
  std::string failure;
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string path = folder + "/" + std::to_string(i + 1) + ".png";
    GError* error = nullptr;
    GstSample* encoded = failure.empty()
                             ? gst_video_convert_sample(samples[i], png, kEncodeTimeout, &error)
                             : nullptr;
    gst_sample_unref(samples[i]);
    if (!failure.empty()) continue;
    GstBuffer* buffer = encoded != nullptr ? gst_sample_get_buffer(encoded) : nullptr;
    GstMapInfo map;
    if (buffer == nullptr || !gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      failure = path + ": cannot encode the face crop: " +
                (error != nullptr ? error->message : "no PNG encoder (pngenc)");
    } else {
      try {
        if (!write_new_file(path, map.data, map.size)) failure = path + ": already there";
      } catch (const std::exception& e) {
        failure = e.what();
      }
      gst_buffer_unmap(buffer, &map);
    }
    g_clear_error(&error);
    if (encoded != nullptr) gst_sample_unref(encoded);
  }
  gst_caps_unref(png);
  if (!failure.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);  // all of the track's crops or none
    throw FileError(folder, failure);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++written_;
  auto it = crops_.find({camera, track});
  if (it != crops_.end()) {
    if (forget_it) {
      release(it->second);
      crops_.erase(it);
    } else {
      it->second.written = folder;
    }
  }
  return folder;
}

void CropKeeper::forget(const std::string& camera, int64_t track) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = crops_.find({camera, track});
  if (it == crops_.end()) return;
  release(it->second);
  crops_.erase(it);
}

size_t CropKeeper::cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return crops_.size();
}

int64_t CropKeeper::written() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return written_;
}

}  // namespace siamese::samples
