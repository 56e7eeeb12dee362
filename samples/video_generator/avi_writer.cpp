#include "avi_writer.h"

#include <cmath>
#include <stdexcept>

namespace siamese::samples {

namespace {
constexpr uint32_t kAvifHasIndex = 0x10;
constexpr uint32_t kAviifKeyframe = 0x10;
constexpr uint64_t kMaxFileBytes = 1ULL << 30;
}  // namespace

MjpegAviWriter::MjpegAviWriter(const std::string& path, int width, int height, double fps)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc), width_(width), height_(height) {
  if (!out_) throw std::runtime_error(path + ": cannot open for writing");
  scale_ = 1000;
  rate_ = static_cast<uint32_t>(std::lround(fps * scale_));
  write_headers();
}

MjpegAviWriter::~MjpegAviWriter() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; call close() to see the error
  }
}

void MjpegAviWriter::put32(uint32_t v) {
  const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 24)};
  out_.write(b, 4);
}

void MjpegAviWriter::put16(uint16_t v) {
  const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out_.write(b, 2);
}

void MjpegAviWriter::fourcc(const char* code) { out_.write(code, 4); }

void MjpegAviWriter::patch32(std::streamoff at, uint32_t v) {
  const std::streamoff here = out_.tellp();
  out_.seekp(at);
  put32(v);
  out_.seekp(here);
}

void MjpegAviWriter::write_headers() {
  const uint32_t frame_bytes = static_cast<uint32_t>(width_) * static_cast<uint32_t>(height_) * 3;
  fourcc("RIFF");
  riff_size_at_ = out_.tellp();
  put32(0);
  fourcc("AVI ");
  fourcc("LIST");
  put32(4 + 8 + 56 + 8 + 4 + 8 + 56 + 8 + 40);  // hdrl: avih + strl(strh + strf)
  fourcc("hdrl");
  fourcc("avih");
  put32(56);
  put32(static_cast<uint32_t>(std::lround(1e6 * scale_ / rate_)));  // microseconds per frame
  put32(0);                                                         // max bytes per second
  put32(0);                                                         // padding granularity
  put32(kAvifHasIndex);
  total_frames_at_ = out_.tellp();
  put32(0);  // total frames
  put32(0);  // initial frames
  put32(1);  // streams
  max_buffer_at_[0] = out_.tellp();
  put32(0);  // suggested buffer size
  put32(static_cast<uint32_t>(width_));
  put32(static_cast<uint32_t>(height_));
  for (int i = 0; i < 4; ++i) put32(0);
  fourcc("LIST");
  put32(4 + 8 + 56 + 8 + 40);
  fourcc("strl");
  fourcc("strh");
  put32(56);
  fourcc("vids");
  fourcc("MJPG");
  put32(0);  // flags
  put16(0);  // priority
  put16(0);  // language
  put32(0);  // initial frames
  put32(scale_);
  put32(rate_);
  put32(0);  // start
  length_at_ = out_.tellp();
  put32(0);  // length in frames
  max_buffer_at_[1] = out_.tellp();
  put32(0);           // suggested buffer size
  put32(0xFFFFFFFF);  // quality: default
  put32(0);           // sample size: varies
  put16(0);
  put16(0);
  put16(static_cast<uint16_t>(width_));
  put16(static_cast<uint16_t>(height_));
  fourcc("strf");
  put32(40);  // BITMAPINFOHEADER
  put32(40);
  put32(static_cast<uint32_t>(width_));
  put32(static_cast<uint32_t>(height_));
  put16(1);   // planes
  put16(24);  // bits per pixel
  fourcc("MJPG");
  put32(frame_bytes);
  for (int i = 0; i < 4; ++i) put32(0);
  fourcc("LIST");
  movi_size_at_ = out_.tellp();
  put32(0);
  movi_start_ = out_.tellp();
  fourcc("movi");
  if (!out_) throw std::runtime_error(path_ + ": write failed");
}

void MjpegAviWriter::write(const std::vector<unsigned char>& jpeg) {
  if (closed_) throw std::runtime_error(path_ + ": write after close");
  const std::streamoff at = out_.tellp();
  const auto size = static_cast<uint32_t>(jpeg.size());
  if (static_cast<uint64_t>(at) + size + 16 * (index_.size() + 1) > kMaxFileBytes) {
    throw std::runtime_error(path_ +
                             ": the video would exceed 1 GiB (AVI 1.0); render fewer "
                             "seconds or a lower --quality");
  }
  fourcc("00dc");
  put32(size);
  out_.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(size));
  if (size % 2 != 0) out_.put('\0');  // chunks are word aligned
  index_.emplace_back(static_cast<uint32_t>(at - movi_start_), size);
  if (size > max_chunk_) max_chunk_ = size;
  if (!out_) throw std::runtime_error(path_ + ": write failed");
}

void MjpegAviWriter::close() {
  if (closed_) return;
  closed_ = true;
  const std::streamoff movi_end = out_.tellp();
  fourcc("idx1");
  put32(static_cast<uint32_t>(16 * index_.size()));
  for (const auto& [offset, size] : index_) {
    fourcc("00dc");
    put32(kAviifKeyframe);
    put32(offset);
    put32(size);
  }
  const std::streamoff end = out_.tellp();
  patch32(riff_size_at_, static_cast<uint32_t>(end - 8));
  patch32(movi_size_at_, static_cast<uint32_t>(movi_end - movi_start_));
  patch32(total_frames_at_, static_cast<uint32_t>(index_.size()));
  patch32(length_at_, static_cast<uint32_t>(index_.size()));
  patch32(max_buffer_at_[0], max_chunk_ + 8);
  patch32(max_buffer_at_[1], max_chunk_ + 8);
  out_.close();
  if (!out_) throw std::runtime_error(path_ + ": write failed");
}

}  // namespace siamese::samples
