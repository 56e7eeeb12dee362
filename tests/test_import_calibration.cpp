// siamese-import --calibrate: the imported network's impostor tail, measured on faces it is not
// evaluated on, is recorded in the model file, so the default threshold of a gallery is sized
// to the gallery (threshold_policy.h) instead of falling back to the pair threshold 0.6.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "siamese/model_file.h"
#include "siamese/pretrained.h"
#include "siamese/threshold_policy.h"
#include "test_model_fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;

#ifdef SIAMESE_IMPORT_BIN
namespace {

struct ImportRun {
  int status = -1;
  std::string output;
};

ImportRun run_import(const std::string& tmp, const std::string& args) {
  const std::string log = tmp + "/import.txt";
  const std::string cmd = std::string(SIAMESE_IMPORT_BIN) + " " + args + " > '" + log + "' 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("siamese-import --calibrate records an impostor tail that sizes the threshold",
          "[core][pretrained]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kFaceApiManifest);
  SIAMESE_REQUIRE_ATT(data);
  const std::string tmp = siamese::testing::temp_dir("import-calibration");

  // Without --calibrate the package's network has no low false-accept calibration.
  ImportRun r = run_import(tmp, "face-api '" + weights + "' --out '" + tmp + "/plain.pt'");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const siamese::ModelInfo plain = siamese::load_model(tmp + "/plain.pt").info;
  CHECK(plain.validation.impostor_tail.empty());
  CHECK(siamese::gallery_size_threshold(plain, 50).source == siamese::ThresholdSource::kModelPair);

  // 100 faces of 10 AT&T people: up to 4500 impostor pairs.
  r = run_import(tmp, "face-api '" + weights + "' --out '" + tmp + "/calibrated.pt' --calibrate '" +
                          data + "' --calibrate-identities s11-s20");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "calibration: "));
  const siamese::ModelInfo info = siamese::load_model(tmp + "/calibrated.pt").info;
  const siamese::ValidationFigures& v = info.validation;
  CHECK(v.identities == 10);
  CHECK(v.impostor_pairs > 3000);
  CHECK(v.impostor_pairs <= 4500);
  REQUIRE(v.impostor_tail.size() == static_cast<size_t>(siamese::kImpostorTailSize));
  for (size_t i = 1; i < v.impostor_tail.size(); ++i) {
    CHECK(v.impostor_tail[i - 1] <= v.impostor_tail[i]);
  }
  CHECK(v.auc > 0.9);  // dlib's network tells AT&T people apart
  CHECK(v.threshold_at_far_1e2 > 0.0);
  CHECK(info.threshold == Approx(0.6f));  // the pair threshold stays dlib's
  CHECK(contains(info.origin, "impostor calibration"));
  CHECK(contains(info.origin, data));
  CHECK(contains(info.origin, "(s11-s20)"));
  CHECK(info.fingerprint == siamese::load_model(tmp + "/plain.pt").info.fingerprint);

  // The default threshold now follows the gallery's size: stricter for a larger gallery.
  const siamese::ThresholdChoice small = siamese::gallery_size_threshold(info, 10);
  const siamese::ThresholdChoice large = siamese::gallery_size_threshold(info, 1000);
  CHECK(small.source == siamese::ThresholdSource::kGallerySize);
  CHECK(small.calibrated);
  CHECK(large.source == siamese::ThresholdSource::kGallerySize);
  CHECK(large.value <= small.value);
  CHECK(small.value < info.threshold);
}

TEST_CASE("siamese-import --calibrate names what is wrong with its input", "[core][pretrained]") {
  SIAMESE_REQUIRE_FACE_API_FILES(weights, siamese::kFaceApiManifest);
  const std::string tmp = siamese::testing::temp_dir("import-calibration-bad");
  ImportRun r = run_import(
      tmp, "face-api '" + weights + "' --out '" + tmp + "/x.pt' --exclude-pairs pairs.txt");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "need --calibrate DIR"));
  r = run_import(
      tmp, "face-api '" + weights + "' --out '" + tmp + "/x.pt' --calibrate '" + tmp + "/absent'");
  CHECK(r.status == 1);
  CHECK(contains(r.output, tmp + "/absent"));
  CHECK_FALSE(fs::exists(tmp + "/x.pt"));
  // Too few faces to resolve a low false-accept rate.
  SIAMESE_REQUIRE_ATT(data);
  r = run_import(tmp, "face-api '" + weights + "' --out '" + tmp + "/x.pt' --calibrate '" + data +
                          "' --calibrate-identities s11-s12");
  CHECK(r.status == 1);
  CHECK(contains(r.output, "impostor pairs"));
  CHECK_FALSE(fs::exists(tmp + "/x.pt"));
}
#endif
