// Image files and identity folders (one subfolder per identity, as the AT&T faces), read with
// OpenCV. Thread-safety: free functions.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "siamese/image_view.h"

namespace siamese {

/// One image file of an identity folder.
struct LabelledImage {
  std::string path;
  int identity = 0;  // index into ImageFolder::identities
};

/// A file that was found but will not be used, and why.
struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ImageFolder {
  std::string root;
  std::vector<std::string> identities;  // subfolder names, sorted naturally (s2 before s10)
  std::vector<LabelledImage> images;    // sorted by identity, then naturally by file name
  std::vector<SkippedFile> skipped;     // non-image files, unreadable folders
};

/// True for the extensions the programs read (pgm, png, jpg, jpeg, bmp, ppm, tif, tiff).
bool is_image_file(const std::string& path);

/// Lists root's subfolders as identities and their image files. Throws FileError when root is
/// missing or not a folder. Does not decode images.
ImageFolder scan_image_folder(const std::string& root);

/// Keeps only the named identities (in that order); throws InputError naming a missing one.
ImageFolder select_identities(const ImageFolder& folder, const std::vector<std::string>& names);

/// Decodes an image file as 8-bit gray (channels == 1) or BGR (channels == 3). Throws FileError
/// naming the path when it is missing, unreadable, not an image, truncated, or larger than the
/// limits of image_header.h (checked on its header, before decoding).
cv::Mat read_image(const std::string& path, int channels);

/// A view of a continuous or strided cv::Mat of type CV_8UC1 (GRAY8), CV_8UC3 (BGR) or
/// CV_8UC4 (BGRA). The Mat must outlive the view.
ImageView view_of(const cv::Mat& image);

/// Natural ordering of names: "s2" < "s10", "2.pgm" < "10.pgm".
bool natural_less(const std::string& a, const std::string& b);

}  // namespace siamese
