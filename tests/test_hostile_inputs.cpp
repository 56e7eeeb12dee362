// Hostile files against the core (issue 11): names that would escape a folder or forge output
// lines, decompression bombs and truncated images, tampered model facts and weights, temporary
// files planted as symbolic links, an absurd CUDA device index. Each case failed before its fix.
#include <caffe2/serialize/inline_container.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "siamese/detector.h"
#include "siamese/device.h"
#include "siamese/errors.h"
#include "siamese/image_header.h"
#include "siamese/image_io.h"
#include "siamese/model_file.h"
#include "siamese/text_safety.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

void write_bytes(const std::string& path, const std::vector<uchar>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

std::vector<uchar> encode(const std::string& ext, const cv::Mat& image) {
  std::vector<uchar> out;
  REQUIRE(cv::imencode(ext, image, out));
  return out;
}

// The peak resident set of this process in kB since the last reset_peak_rss().
long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

uint32_t crc32(const uchar* data, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= data[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(std::vector<uchar>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uchar>(v >> 24);
  b[at + 1] = static_cast<uchar>(v >> 16);
  b[at + 2] = static_cast<uchar>(v >> 8);
  b[at + 3] = static_cast<uchar>(v);
}

// A valid small PNG whose IHDR announces width x height (CRC recomputed): what a decoder would
// allocate for before finding out the data is short.
std::vector<uchar> png_announcing(uint32_t width, uint32_t height) {
  std::vector<uchar> png = encode(".png", siamese::testing::synthetic_gray(16, 16, 1));
  put_be32(png, 16, width);
  put_be32(png, 20, height);
  put_be32(png, 29, crc32(png.data() + 12, 17));  // over "IHDR" and its 13 bytes
  return png;
}

// A native model file whose facts were edited after saving (the weights stay the honest ones).
std::string save_tampered(const std::string& dir, const std::string& name,
                          const std::function<void(nlohmann::json&)>& tamper) {
  siamese::ModelInfo info = siamese::testing::untrained_model_info();
  siamese::Network net = siamese::Network::create(info.arch);
  info.fingerprint = siamese::fingerprint_of(net);
  nlohmann::json facts = nlohmann::json::parse(siamese::describe_model(info));
  tamper(facts);
  return siamese::testing::save_with_raw_facts(dir + "/" + name + ".pt", net, facts.dump());
}

std::string load_error(const std::string& path) {
  try {
    siamese::load_model(path);
  } catch (const siamese::FileError& e) {
    CHECK(e.path() == path);
    return e.what();
  }
  FAIL("load_model accepted " << path);
  return {};
}

}  // namespace

TEST_CASE("identity names become single path components that stay inside their folder",
          "[core][hostile]") {
  using siamese::safe_path_component;
  for (const std::string& name : std::vector<std::string>{
           "../x", "/abs", "a/b", ".", "..", "", "..%2F", "a\nb", std::string("\xff\xfe", 2),
           std::string(400, 'n'), std::string(300, '/')}) {
    INFO("name \"" << siamese::escape_for_display(name) << "\"");
    const std::string c = safe_path_component(name);
    CHECK_FALSE(c.empty());
    CHECK(c != ".");
    CHECK(c != "..");
    CHECK(c.find('/') == std::string::npos);
    CHECK(c.find('\0') == std::string::npos);
    CHECK(c.size() <= siamese::kMaxPathComponentBytes);
    CHECK(fs::path("/root/crops") / c == fs::path("/root/crops/" + c));
    CHECK((fs::path("/root/crops") / c).lexically_normal().parent_path() == "/root/crops");
  }
  // Ordinary names are kept; different names give different components.
  CHECK(safe_path_component("s1") == "s1");
  CHECK(safe_path_component("Zoë Ortiz") == "Zoë Ortiz");
  CHECK(safe_path_component("a/b") != safe_path_component("a%2Fb"));
  CHECK(safe_path_component("a/b") != safe_path_component("a_b"));
  CHECK(safe_path_component(std::string(400, 'n')) !=
        safe_path_component(std::string(399, 'n') + "m"));
}

TEST_CASE("identity names are checked: UTF-8, no control characters, bounded", "[core][hostile]") {
  using siamese::check_identity_name;
  CHECK_NOTHROW(check_identity_name("s1"));
  CHECK_NOTHROW(check_identity_name("José Müller-Øster 山田"));
  CHECK_NOTHROW(check_identity_name(std::string(siamese::kMaxIdentityNameBytes, 'a')));
  const std::string forged = "bob\n[    1.00 s] GRANT mallory\x1b[2K";
  for (const std::string& bad : std::vector<std::string>{
           std::string(), std::string("\xff\xfe", 2), std::string("a\xc0\xaf", 3), forged,
           std::string("tab\there"), std::string("del\x7f"), std::string("c1\xc2\x9b"),
           std::string("rtl\xe2\x80\xae"), std::string(siamese::kMaxIdentityNameBytes + 1, 'a')}) {
    INFO("name \"" << siamese::escape_for_display(bad) << "\"");
    CHECK_THROWS_AS(check_identity_name(bad), siamese::InputError);
  }
  // The message shows the name escaped: one line, no raw escape character.
  try {
    check_identity_name(forged);
  } catch (const siamese::InputError& e) {
    const std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.find('\x1b') == std::string::npos);
    CHECK(what.find("bob\\n[    1.00 s] GRANT mallory\\x1B[2K") != std::string::npos);
  }
}

TEST_CASE("text is escaped for terminals and logs, and made valid UTF-8 for JSON",
          "[core][hostile]") {
  using siamese::escape_for_display;
  CHECK(escape_for_display("plain Zoë") == "plain Zoë");
  CHECK(escape_for_display("a\nb\r\tc\\") == "a\\nb\\r\\tc\\");
  const std::string hostile = "x\x1b[2K\n\xff\xc2\x9b\xe2\x80\xae";
  CHECK(escape_for_display(escape_for_display(hostile)) == escape_for_display(hostile));
  CHECK(escape_for_display("\x1b[31mred") == "\\x1B[31mred");
  CHECK(escape_for_display(std::string("\xff", 1)) == "\\xFF");
  CHECK(escape_for_display("\x7f") == "\\x7F");
  CHECK(escape_for_display("\xc2\x9b") == "\\xC2\\x9B");  // C1 CSI, UTF-8 encoded
  CHECK(escape_for_display("\xe2\x80\xae") == "\\u{202E}");
  CHECK(escape_for_display(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(siamese::is_valid_utf8("Zoë"));
  CHECK_FALSE(siamese::is_valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK(siamese::to_valid_utf8("a\xff"
                               "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK_NOTHROW(nlohmann::json(siamese::to_valid_utf8("\xc0\xaf\xff")).dump());
}

TEST_CASE("image headers give format and size, and tell a complete file from a cut one",
          "[core][hostile]") {
  const cv::Mat gray = siamese::testing::synthetic_gray(37, 23, 2);
  cv::Mat bgr;
  cv::merge(std::vector<cv::Mat>{gray, gray, gray}, bgr);
  const std::vector<std::pair<std::string, cv::Mat>> cases = {
      {".png", gray}, {".jpg", bgr}, {".pgm", gray}, {".ppm", bgr},
      {".pbm", gray}, {".bmp", bgr}, {".tiff", gray}};
  for (const auto& [ext, image] : cases) {
    INFO(ext);
    const std::vector<uchar> bytes = encode(ext, image);
    const siamese::ImageHeader h = siamese::parse_image_header(bytes.data(), bytes.size());
    CHECK(h.width == 37);
    CHECK(h.height == 23);
    CHECK(h.complete);
  }
  // Cut short: the JPEG loses its end-of-image marker, the PNG its IEND, rasters their bytes.
  for (const std::string ext : {".jpg", ".png", ".pgm", ".bmp"}) {
    INFO(ext);
    std::vector<uchar> bytes = encode(ext, ext == ".jpg" || ext == ".bmp" ? bgr : gray);
    bytes.resize(bytes.size() - 20);
    const siamese::ImageHeader h = siamese::parse_image_header(bytes.data(), bytes.size());
    CHECK_FALSE(h.complete);
  }
  // Bytes after a JPEG's end-of-image marker do not make it incomplete.
  std::vector<uchar> trailing = encode(".jpg", bgr);
  trailing.insert(trailing.end(), {'t', 'r', 'a', 'i', 'l'});
  CHECK(siamese::parse_image_header(trailing.data(), trailing.size()).complete);
  // Other formats, and headers that end early, are refused.
  const std::string gif = "GIF89a\x10\x00\x10\x00";
  CHECK_THROWS_AS(
      siamese::parse_image_header(reinterpret_cast<const uchar*>(gif.data()), gif.size()),
      siamese::InputError);
  const std::vector<uchar> png = encode(".png", gray);
  for (size_t n : {0, 3, 10, 20}) {
    INFO(n << " bytes");
    CHECK_THROWS_AS(siamese::parse_image_header(png.data(), n), siamese::InputError);
  }
}

TEST_CASE("a 20000x20000 PNG is refused from its header, without decoding", "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-image");
  const std::string bomb = dir + "/bomb.png";
  write_bytes(bomb, png_announcing(20000, 20000));
  reset_peak_rss();
  const long before = peak_rss_kb();
  for (const int channels : {1, 3}) {
    try {
      siamese::read_image(bomb, channels);
      FAIL("the bomb was decoded");
    } catch (const siamese::FileError& e) {
      CHECK(e.path() == bomb);
      CHECK_THAT(e.what(), Catch::Contains("20000x20000") && Catch::Contains("8192"));
    }
  }
  const long grown_kb = peak_rss_kb() - before;
  INFO("peak RSS grew by " << grown_kb << " kB");
  CHECK(grown_kb < 200 * 1024);
  // Also a side over the limit with a small area, and an area over it with small sides.
  write_bytes(bomb, png_announcing(9000, 10));
  CHECK_THROWS_AS(siamese::read_image(bomb, 1), siamese::FileError);
  write_bytes(bomb, png_announcing(8000, 8000));
  CHECK_THROWS_AS(siamese::read_image(bomb, 1), siamese::FileError);
}

TEST_CASE("truncated JPEG and PNG files are refused, naming the file", "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-truncated");
  const cv::Mat face = siamese::testing::synthetic_gray(92, 112, 3);
  for (const std::string ext : {".jpg", ".png"}) {
    std::vector<uchar> bytes = encode(ext, face);
    const std::string whole = dir + "/whole" + ext, cut = dir + "/cut" + ext;
    write_bytes(whole, bytes);
    CHECK(siamese::read_image(whole, 1).size() == face.size());
    bytes.resize(bytes.size() * 2 / 3);
    write_bytes(cut, bytes);
    INFO(ext);
    try {
      siamese::read_image(cut, 1);
      FAIL("a truncated " << ext << " was decoded");
    } catch (const siamese::FileError& e) {
      CHECK(e.path() == cut);
      CHECK_THAT(e.what(), Catch::Contains("truncated"));
    }
  }
}

TEST_CASE("the placement background stays bounded for large pictures", "[core][hostile]") {
  cv::Point at;
  const cv::Mat small(112, 92, CV_8UC1, cv::Scalar(7));
  const cv::Mat placed_small = siamese::place_on_background(small, &at);
  CHECK(placed_small.size() == cv::Size(92 * 3, 112 * 3));  // unchanged for face-sized images
  CHECK(at == cv::Point(92, 112));
  const cv::Mat large(6000, 6000, CV_8UC1, cv::Scalar(7));  // 36 MP: 324 MP at 3x
  const cv::Mat placed = siamese::place_on_background(large, &at);
  CHECK(static_cast<double>(placed.total()) <= siamese::kMaxPlacementPixels);
  CHECK(at.x > 0);
  CHECK(placed.cols == large.cols + 2 * at.x);
  CHECK(placed.at<uchar>(at.y + 10, at.x + 10) == 7);
  CHECK(placed.at<uchar>(0, 0) == siamese::kPlacementGray);
}

TEST_CASE("a face box far larger than its frame is refused before padding", "[core][hostile]") {
  const cv::Mat image = siamese::testing::synthetic_gray(100, 80, 4);
  const siamese::InputSpec spec = siamese::default_input_spec(siamese::ArchOptions());
  reset_peak_rss();
  const long before = peak_rss_kb();
  // A recorded box from a tampered gallery: 100000 x 100000 (40 GB of padding as BGR).
  CHECK_THROWS_WITH(siamese::preprocess(siamese::view_of(image), siamese::Box{0, 0, 100000, 100000},
                                        spec, siamese::Framing::kExact),
                    Catch::Contains("100000x100000") && Catch::Contains("100x80"));
  CHECK(peak_rss_kb() - before < 200 * 1024);
  // Boxes up to twice the frame (a detector box reaching past the edges) still work.
  CHECK(siamese::preprocess(siamese::view_of(image), siamese::Box{-50, -40, 200, 160}, spec,
                            siamese::Framing::kExact)
            .size(1) == spec.height);
}

TEST_CASE("tampered model facts are refused, naming the file and the fact", "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-model");
  using nlohmann::json;
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"arch.base_channels", [](json& j) { j["arch"]["base_channels"] = 600; }},
      {"arch.embedding_size", [](json& j) { j["arch"]["embedding_size"] = 1 << 20; }},
      {"input.width", [](json& j) { j["input"]["width"] = 6000; }},
      {"input.height", [](json& j) { j["input"]["height"] = 0; }},
      {"input.channels", [](json& j) { j["input"]["channels"] = 2; }},
      {"input.std[0]", [](json& j) { j["input"]["std"] = {0.0}; }},
      {"input.mean[0]", [](json& j) { j["input"]["mean"] = {1e9}; }},
      {"input.scale", [](json& j) { j["input"]["scale"] = 0; }},
      {"input.crop.scale_width", [](json& j) { j["input"]["crop"]["scale_width"] = 200; }},
      {"input.crop.shift_y", [](json& j) { j["input"]["crop"]["shift_y"] = -50; }},
      {"threshold", [](json& j) { j["threshold"] = "abc"; }},
      {"embedding_size", [](json& j) { j["embedding_size"] = 100000; }},
      {"threshold_at_far_1e-4", [](json& j) { j["validation"]["threshold_at_far_1e-4"] = "x"; }},
      // In range, but not what the stored weights are: caught by their shapes.
      {"features.0.weight", [](json& j) { j["arch"]["base_channels"] = 8; }},
      {"embed.weight", [](json& j) { j["arch"]["embedding_size"] = 64; }},
  };
  int n = 0;
  for (const auto& [fact, tamper] : cases) {
    const std::string path = save_tampered(dir, "tampered" + std::to_string(n++), tamper);
    INFO("tampered " << fact);
    const std::string what = load_error(path);
    CHECK_THAT(what, Catch::Contains(path) && Catch::Contains(fact));
  }
  // The untampered file loads.
  CHECK_NOTHROW(siamese::load_model(save_tampered(dir, "honest", [](json&) {})));
}

// A copy of the zip at `from` with the first weight record cut to `keep` bytes: the pickle still
// declares the full tensor, as the fuzzer's crash-fingerprint-reads-past-short-storage does.
// Returns whether a record was cut.
bool copy_with_short_weights(const std::string& from, const std::string& to, size_t keep) {
  caffe2::serialize::PyTorchStreamReader reader(from);
  caffe2::serialize::PyTorchStreamWriter writer(to);
  bool cut = false;
  for (const std::string& name : reader.getAllRecords()) {
    if (name == ".data/version" || name == "version") continue;  // the writer adds its own
    auto [data, size] = reader.getRecord(name);
    const bool weights = name.rfind("data/", 0) == 0 && size > keep;
    writer.writeRecord(name, data.get(), weights && !cut ? keep : size);
    cut = cut || weights;
  }
  writer.writeEndOfFile();
  return cut;
}

TEST_CASE("weights stored in fewer bytes than they declare are refused before use",
          "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-short");
  const std::string honest = save_tampered(dir, "honest", [](nlohmann::json&) {});
  const std::string cut = dir + "/cut.pt";
  REQUIRE(copy_with_short_weights(honest, cut, 64));
  CHECK_THAT(load_error(cut), Catch::Contains("holds 64") && Catch::Contains("corrupt file"));
  // The same records, uncut, still load: the copy itself changes nothing.
  const std::string copied = dir + "/copied.pt";
  REQUIRE_FALSE(copy_with_short_weights(honest, copied, size_t(1) << 40));
  CHECK_NOTHROW(siamese::load_model(copied));
}

TEST_CASE("saving a model never writes through a planted temporary-file link", "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-tmp");
  const std::string target = dir + "/precious.txt", model = dir + "/out.pt";
  std::ofstream(target) << "precious";
  fs::create_symlink(target, model + ".tmp");
  siamese::Network net = siamese::Network::create(siamese::ArchOptions());
  siamese::ModelInfo info;
  info.input = siamese::default_input_spec(info.arch);
  info.embedding_size = info.arch.embedding_size;
  info.threshold = 0.5f;
  siamese::save_model(model, net, info);
  CHECK(siamese::testing::read_file(target) == "precious");
  CHECK(fs::is_symlink(model + ".tmp"));
  CHECK(siamese::load_model(model).info.fingerprint == siamese::fingerprint_of(net));
  // No temporary file is left behind.
  const auto files = std::distance(fs::directory_iterator(dir), fs::directory_iterator());
  CHECK(files == 3);  // precious.txt, out.pt.tmp (the link), out.pt
}

TEST_CASE("model facts with invalid UTF-8 (a --data path) are written, not fatal",
          "[core][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-utf8");
  siamese::Network net = siamese::Network::create(siamese::ArchOptions());
  siamese::ModelInfo info;
  info.input = siamese::default_input_spec(info.arch);
  info.embedding_size = info.arch.embedding_size;
  info.threshold = 0.5f;
  info.origin = "siamese-train on /data/caf\xe9 (latin-1)";
  const std::string path = dir + "/latin1.pt";
  REQUIRE_NOTHROW(siamese::save_model(path, net, info));
  CHECK_NOTHROW(nlohmann::json::parse(siamese::describe_model(info)));
  CHECK(siamese::load_model(path).info.origin ==
        "siamese-train on /data/caf\xef\xbf\xbd (latin-1)");
}

TEST_CASE("an absurd CUDA device index is an input error naming the device", "[core][hostile]") {
  for (const std::string spec : {"cuda:99999999999999", "cuda:128", "cuda:000000000000000000999"}) {
    INFO(spec);
    try {
      siamese::resolve_device(spec);
      FAIL("accepted " << spec);
    } catch (const siamese::InputError& e) {
      CHECK(std::string(e.what()) ==
            "device \"" + spec + "\": invalid CUDA device index (at most 127)");
    }
  }
  // A plausible index still reaches the device check (DeviceError on a machine without CUDA).
  if (!torch::cuda::is_available()) {
    CHECK_THROWS_AS(siamese::resolve_device("cuda:007"), siamese::DeviceError);
  }
}
