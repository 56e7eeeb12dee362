// What an image file claims before it is decoded: its format, width and height (read from the
// PNG IHDR, the JPEG SOFn, the PNM, BMP or TIFF header) and whether the file holds all that the
// header announces (a JPEG's end-of-image marker, a PNG's IEND chunk, a raw raster's bytes). A
// 431 KB PNG can announce 20000 x 20000 pixels; read_image checks these facts against the limits
// below before any pixel is decoded. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace siamese {

/// The largest image the programs decode: at most kMaxImageSide pixels a side and
/// kMaxImagePixels in all (a 40 MP camera photo passes; faces need far less). Larger files are
/// refused before decoding, so a hostile file cannot make a decoder allocate gigabytes.
constexpr int64_t kMaxImageSide = 8192;
constexpr int64_t kMaxImagePixels = 40'000'000;
/// The largest image file read, in bytes (an uncompressed 40 MP, 16-bit RGB raster fits).
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

struct ImageHeader {
  std::string format;  // "PNG", "JPEG", "PNM", "BMP" or "TIFF"
  int64_t width = 0;
  int64_t height = 0;
  /// False when the file ends before what its header announces: a JPEG without its
  /// end-of-image marker, a PNG without IEND, a PNM or BMP raster short of bytes.
  bool complete = true;
  std::string missing;  // what is missing when !complete, e.g. "the end-of-image marker"
};

/// Reads the header of an encoded image (the whole file's bytes). Throws InputError for a
/// format it does not read (it reads PNG, JPEG, PBM/PGM/PPM, BMP and classic TIFF) or a header
/// that is malformed or cut short.
ImageHeader parse_image_header(const unsigned char* data, size_t size);

/// True when width x height lies within kMaxImageSide and kMaxImagePixels.
bool image_size_allowed(int64_t width, int64_t height);

}  // namespace siamese
