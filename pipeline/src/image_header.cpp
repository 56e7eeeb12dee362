#include "siamese/image_header.h"

#include <cstring>

#include "siamese/errors.h"

namespace siamese {
namespace {

// Bytes read through bounds checks: a field past the end means the header is cut short.
class Bytes {
 public:
  Bytes(const unsigned char* data, size_t size, const char* format)
      : data_(data), size_(size), format_(format) {}
  size_t size() const { return size_; }
  const unsigned char* data() const { return data_; }
  void need(size_t offset, size_t n) const {
    if (offset > size_ || n > size_ - offset) {
      throw InputError(std::string(format_) + " header is cut short (the file ends at byte " +
                       std::to_string(size_) + ")");
    }
  }
  unsigned u8(size_t at) const {
    need(at, 1);
    return data_[at];
  }
  uint32_t be16(size_t at) const { return (u8(at) << 8) | u8(at + 1); }
  uint32_t be32(size_t at) const { return (be16(at) << 16) | be16(at + 2); }
  uint32_t le16(size_t at) const { return u8(at) | (u8(at + 1) << 8); }
  uint32_t le32(size_t at) const { return le16(at) | (le16(at + 2) << 16); }

 private:
  const unsigned char* data_;
  size_t size_;
  const char* format_;
};

bool starts_with(const unsigned char* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

[[noreturn]] void malformed(const std::string& format, const std::string& why) {
  throw InputError(format + " header is malformed: " + why);
}

ImageHeader parse_png(const Bytes& b) {
  ImageHeader h;
  h.format = "PNG";
  // Signature, then the IHDR chunk first: length 13, "IHDR", width, height (big-endian).
  b.need(8, 17);
  if (b.be32(8) != 13 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) {
    malformed(h.format, "the first chunk is not IHDR");
  }
  h.width = b.be32(16);
  h.height = b.be32(20);
  if (h.width == 0 || h.height == 0) malformed(h.format, "zero width or height");
  // Chunk by chunk (length, type, data, CRC) to IEND; a chunk past the end is a truncation.
  h.complete = false;
  h.missing = "the IEND chunk";
  for (size_t pos = 8; pos + 8 <= b.size();) {
    const uint64_t length = b.be32(pos);
    if (length > 0x7FFFFFFFu) malformed(h.format, "chunk length over 2^31");
    const uint64_t next = pos + 12 + length;
    if (next > b.size()) break;
    if (std::memcmp(b.data() + pos + 4, "IEND", 4) == 0) {
      h.complete = true;
      h.missing.clear();
      break;
    }
    pos = static_cast<size_t>(next);
  }
  return h;
}

// SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
bool is_start_of_frame(unsigned m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

ImageHeader parse_jpeg(const Bytes& b) {
  ImageHeader h;
  h.format = "JPEG";
  const unsigned char* d = b.data();
  const size_t n = b.size();
  bool have_frame = false;
  size_t pos = 2;  // after SOI
  while (true) {
    // The next marker: 0xFF (fill bytes 0xFF repeat), then its code. Bytes in between are
    // garbage that libjpeg skips with a warning; skip them too.
    while (pos < n && d[pos] != 0xFF) ++pos;
    while (pos < n && d[pos] == 0xFF) ++pos;
    if (pos >= n) break;
    const unsigned marker = d[pos++];
    if (marker == 0xD9) {  // EOI
      if (!have_frame) malformed(h.format, "no frame header (SOF) before the end of the image");
      return h;
    }
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0x00) continue;
    // A segment: 2-byte length (counting itself), then its data.
    if (pos + 2 > n) break;
    const size_t length = b.be16(pos);
    if (length < 2) malformed(h.format, "segment length under 2");
    if (pos + length > n) break;
    if (is_start_of_frame(marker)) {
      if (length < 8) malformed(h.format, "frame header shorter than 8 bytes");
      if (!have_frame) {
        h.height = b.be16(pos + 3);
        h.width = b.be16(pos + 5);
        if (h.width == 0 || h.height == 0) {
          malformed(h.format, "zero width or height (DNL-sized frames are not read)");
        }
        have_frame = true;
      }
    }
    pos += length;
    if (marker == 0xDA) {  // SOS: entropy-coded data up to the next marker that is not RSTn
      if (!have_frame) malformed(h.format, "scan data before the frame header (SOF)");
      while (true) {
        const void* ff = pos < n ? std::memchr(d + pos, 0xFF, n - pos) : nullptr;
        if (ff == nullptr) {
          pos = n;
          break;
        }
        pos = static_cast<size_t>(static_cast<const unsigned char*>(ff) - d);
        size_t next = pos + 1;
        while (next < n && d[next] == 0xFF) ++next;
        if (next >= n) {
          pos = n;
          break;
        }
        if (d[next] == 0x00 || (d[next] >= 0xD0 && d[next] <= 0xD7)) {
          pos = next + 1;
          continue;
        }
        break;  // a marker: back to the marker loop at pos
      }
    }
  }
  if (!have_frame) malformed(h.format, "the file ends before a frame header (SOF)");
  h.complete = false;
  h.missing = "the end-of-image marker";
  return h;
}

// PNM tokens: whitespace and '#' comments (to the end of the line) separate them.
int64_t pnm_number(const Bytes& b, size_t& pos) {
  const unsigned char* d = b.data();
  while (pos < b.size()) {
    if (d[pos] == '#') {
      while (pos < b.size() && d[pos] != '\n' && d[pos] != '\r') ++pos;
    } else if (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\n' || d[pos] == '\r' ||
               d[pos] == '\v' || d[pos] == '\f') {
      ++pos;
    } else {
      break;
    }
  }
  if (pos >= b.size()) b.need(pos, 1);
  if (d[pos] < '0' || d[pos] > '9') malformed("PNM", "a size or maximum value is not a number");
  int64_t value = 0;
  while (pos < b.size() && d[pos] >= '0' && d[pos] <= '9') {
    // Saturates: a number this large is refused by the size limits anyway.
    value = value > (int64_t{1} << 40) ? value : value * 10 + (d[pos] - '0');
    ++pos;
  }
  return value;
}

ImageHeader parse_pnm(const Bytes& b) {
  ImageHeader h;
  h.format = "PNM";
  const char kind = static_cast<char>(b.u8(1));
  size_t pos = 2;
  h.width = pnm_number(b, pos);
  h.height = pnm_number(b, pos);
  if (h.width == 0 || h.height == 0) malformed(h.format, "zero width or height");
  const bool bitmap = kind == '1' || kind == '4';
  const int64_t max_value = bitmap ? 1 : pnm_number(b, pos);
  if (max_value < 1 || max_value > 65535) malformed(h.format, "maximum value not in 1..65535");
  if (kind >= '4' && image_size_allowed(h.width, h.height)) {
    ++pos;  // the single whitespace byte before the raster
    const int64_t sample_bytes = max_value > 255 ? 2 : 1;
    const int64_t row = kind == '4'   ? (h.width + 7) / 8
                        : kind == '5' ? h.width * sample_bytes
                                      : h.width * 3 * sample_bytes;
    if (static_cast<int64_t>(b.size()) - static_cast<int64_t>(pos) < row * h.height) {
      h.complete = false;
      h.missing = "part of the raster";
    }
  }
  return h;
}

ImageHeader parse_bmp(const Bytes& b) {
  ImageHeader h;
  h.format = "BMP";
  const uint32_t offset = b.le32(10);
  const uint32_t header_size = b.le32(14);
  uint32_t bits = 0, compression = 0;
  if (header_size == 12) {  // BITMAPCOREHEADER
    h.width = b.le16(18);
    h.height = b.le16(20);
    bits = b.le16(24);
  } else if (header_size >= 40) {
    h.width = static_cast<int32_t>(b.le32(18));
    const int64_t height = static_cast<int32_t>(b.le32(22));
    h.height = height < 0 ? -height : height;  // negative: rows stored top-down
    bits = b.le16(28);
    compression = b.le32(30);
  } else {
    malformed(h.format, "unknown info header size " + std::to_string(header_size));
  }
  if (h.width <= 0 || h.height <= 0) malformed(h.format, "width or height not positive");
  const bool raw = compression == 0 || compression == 3;  // BI_RGB, BI_BITFIELDS
  if (raw && bits > 0 && bits <= 32 && image_size_allowed(h.width, h.height)) {
    const int64_t row = (h.width * bits + 31) / 32 * 4;
    if (static_cast<int64_t>(b.size()) < static_cast<int64_t>(offset) + row * h.height) {
      h.complete = false;
      h.missing = "part of the raster";
    }
  }
  return h;
}

ImageHeader parse_tiff(const Bytes& b, bool little) {
  ImageHeader h;
  h.format = "TIFF";
  const auto u16 = [&](size_t at) { return little ? b.le16(at) : b.be16(at); };
  const auto u32 = [&](size_t at) { return little ? b.le32(at) : b.be32(at); };
  const size_t ifd = u32(4);
  const size_t entries = u16(ifd);
  for (size_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    const uint32_t tag = u16(e), type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;  // ImageWidth, ImageLength
    const int64_t value = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : -1;
    if (value < 0) malformed(h.format, "image size tag of type " + std::to_string(type));
    (tag == 256 ? h.width : h.height) = value;
  }
  if (h.width <= 0 || h.height <= 0) malformed(h.format, "no width or height in the first IFD");
  return h;
}

}  // namespace

bool image_size_allowed(int64_t width, int64_t height) {
  return width > 0 && height > 0 && width <= kMaxImageSide && height <= kMaxImageSide &&
         width * height <= kMaxImagePixels;
}

ImageHeader parse_image_header(const unsigned char* data, size_t size) {
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) return parse_png(Bytes(data, size, "PNG"));
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return parse_jpeg(Bytes(data, size, "JPEG"));
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6') {
    return parse_pnm(Bytes(data, size, "PNM"));
  }
  if (starts_with(data, size, "BM", 2)) return parse_bmp(Bytes(data, size, "BMP"));
  if (starts_with(data, size, "II*\0", 4)) return parse_tiff(Bytes(data, size, "TIFF"), true);
  if (starts_with(data, size, "MM\0*", 4)) return parse_tiff(Bytes(data, size, "TIFF"), false);
  throw InputError("not an image format this program reads (PNG, JPEG, PBM/PGM/PPM, BMP, TIFF)");
}

}  // namespace siamese
