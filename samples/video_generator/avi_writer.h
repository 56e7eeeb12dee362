// A minimal Motion-JPEG AVI writer (RIFF AVI 1.0 with an idx1 index), fed with JPEG frames
// from libjpeg (cv::imencode). OpenCV 4.6's built-in MJPEG encoder writes slightly corrupt
// entropy data ("premature end of data segment"), and its FFmpeg backend is optional; this
// writer needs neither and is byte-for-byte deterministic. Files up to 1 GiB.
// Thread-safety: one writer per thread.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace siamese::samples {

class MjpegAviWriter {
 public:
  /// Opens path for writing; throws std::runtime_error naming it on failure.
  MjpegAviWriter(const std::string& path, int width, int height, double fps);
  ~MjpegAviWriter();
  MjpegAviWriter(const MjpegAviWriter&) = delete;
  MjpegAviWriter& operator=(const MjpegAviWriter&) = delete;

  /// Appends one JPEG-coded frame of the declared size. Throws std::runtime_error on failure.
  void write(const std::vector<unsigned char>& jpeg);
  /// Writes the index and the final sizes; throws on failure. Called by the destructor too.
  void close();

 private:
  void write_headers();
  void put32(uint32_t v);
  void put16(uint16_t v);
  void fourcc(const char* code);
  void patch32(std::streamoff at, uint32_t v);

  std::string path_;
  std::ofstream out_;
  int width_, height_;
  uint32_t rate_, scale_;
  std::streamoff riff_size_at_ = 0, total_frames_at_ = 0, length_at_ = 0, movi_size_at_ = 0;
  std::streamoff movi_start_ = 0, max_buffer_at_[2] = {0, 0};
  uint32_t max_chunk_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> index_;  // offset from "movi", size
  bool closed_ = false;
};

}  // namespace siamese::samples
