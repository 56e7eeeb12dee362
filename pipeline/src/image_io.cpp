#include "siamese/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "siamese/errors.h"
#include "siamese/image_header.h"

namespace siamese {

namespace fs = std::filesystem;

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      const auto sa = na.find_first_not_of('0'), sb = nb.find_first_not_of('0');
      const std::string ta = sa == std::string::npos ? "" : na.substr(sa);
      const std::string tb = sb == std::string::npos ? "" : nb.substr(sb);
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool is_image_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kExtensions[] = {".pgm", ".png", ".jpg", ".jpeg",
                                            ".bmp", ".ppm", ".tif", ".tiff"};
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [&](const char* e) { return ext == e; });
}

ImageFolder scan_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw FileError(root, "no such folder");
  if (!fs::is_directory(root, ec)) throw FileError(root, "not a folder");
  ImageFolder folder;
  folder.root = root;
  std::vector<std::string> subdirs;
  fs::directory_iterator it(root, ec);
  if (ec) throw FileError(root, "cannot read folder: " + ec.message());
  for (const auto& entry : it) {
    if (entry.is_directory(ec)) subdirs.push_back(entry.path().filename().string());
  }
  std::sort(subdirs.begin(), subdirs.end(), natural_less);
  for (const auto& name : subdirs) {
    const fs::path dir = fs::path(root) / name;
    std::vector<std::string> files;
    fs::directory_iterator files_it(dir, ec);
    if (ec) {
      folder.skipped.push_back({dir.string(), "cannot read folder: " + ec.message()});
      continue;
    }
    for (const auto& entry : files_it) {
      if (!entry.is_regular_file(ec)) continue;
      const std::string file = entry.path().filename().string();
      if (is_image_file(file)) {
        files.push_back(file);
      } else {
        folder.skipped.push_back({entry.path().string(), "not an image file"});
      }
    }
    if (files.empty()) {
      folder.skipped.push_back({dir.string(), "no image files"});
      continue;
    }
    std::sort(files.begin(), files.end(), natural_less);
    const int identity = static_cast<int>(folder.identities.size());
    folder.identities.push_back(name);
    for (const auto& f : files) folder.images.push_back({(dir / f).string(), identity});
  }
  return folder;
}

ImageFolder select_identities(const ImageFolder& folder, const std::vector<std::string>& names) {
  ImageFolder out;
  out.root = folder.root;
  out.skipped = folder.skipped;
  for (const auto& name : names) {
    const auto it = std::find(folder.identities.begin(), folder.identities.end(), name);
    if (it == folder.identities.end()) {
      throw InputError("identity '" + name + "' not found in " + folder.root);
    }
    const int old_index = static_cast<int>(it - folder.identities.begin());
    const int new_index = static_cast<int>(out.identities.size());
    out.identities.push_back(name);
    for (const auto& img : folder.images) {
      if (img.identity == old_index) out.images.push_back({img.path, new_index});
    }
  }
  return out;
}

cv::Mat read_image(const std::string& path, int channels) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such file");
  if (!fs::is_regular_file(path, ec)) throw FileError(path, "not a regular file");
  // The file is read once, checked, and decoded from memory: what is checked is what is decoded.
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw FileError(path, "cannot read");
  if (size > kMaxImageFileBytes) {
    throw FileError(path, "file of " + std::to_string(size) + " bytes is larger than the " +
                              std::to_string(kMaxImageFileBytes) + "-byte limit for an image");
  }
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw FileError(path, "cannot read");
  }
  ImageHeader header;
  try {
    header = parse_image_header(bytes.data(), bytes.size());
  } catch (const InputError& e) {
    throw FileError(path, std::string("not a readable image: ") + e.what());
  }
  if (!image_size_allowed(header.width, header.height)) {
    throw FileError(path, header.format + " image of " + std::to_string(header.width) + "x" +
                              std::to_string(header.height) + " pixels exceeds the limit of " +
                              std::to_string(kMaxImageSide) + " pixels a side and " +
                              std::to_string(kMaxImagePixels / 1000000) +
                              " megapixels; it is not decoded");
  }
  if (!header.complete) {
    throw FileError(path,
                    "truncated " + header.format + " file: " + header.missing + " is missing");
  }
  cv::Mat img;
  try {
    img = cv::imdecode(bytes, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw FileError(path, std::string("cannot decode image: ") + e.what());
  }
  if (img.empty()) throw FileError(path, "not a readable image (corrupt or unknown format)");
  return img;
}

ImageView view_of(const cv::Mat& image) {
  PixelFormat format;
  switch (image.type()) {
    case CV_8UC1:
      format = PixelFormat::kGray8;
      break;
    case CV_8UC3:
      format = PixelFormat::kBGR;
      break;
    case CV_8UC4:
      format = PixelFormat::kBGRA;
      break;
    default:
      throw InputError("view_of: unsupported cv::Mat type " + std::to_string(image.type()));
  }
  return ImageView::packed(image.data, image.cols, image.rows, static_cast<int>(image.step[0]),
                           format);
}

}  // namespace siamese
