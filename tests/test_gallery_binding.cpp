// A gallery is bound to the preprocessing its rows were embedded with, not only to the weights:
// the same weights imported with another crop policy (five-point alignment instead of dlib's 33
// points, no flip-average) make other embeddings of the same face. Such a gallery, and one that
// records no preprocessing (written before galleries recorded it), is refused until it is
// re-embedded (`add --rebuild`) or, for the latter, the operator vouches for it (`bind`).
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>

#include "gallery_test_data.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/model_file.h"
#include "test_model_fixtures.h"
#include "test_support.h"

using siamese::Gallery;
using siamese::ModelInfo;

namespace {

using siamese::testing::model_with;
using siamese::testing::sample;

constexpr const char* kFingerprint = "00000000000000aa";

// A model aligned on 68 landmarks: the facts an import of dlib's network states.
ModelInfo aligned_model(siamese::AlignPoints points) {
  ModelInfo info = model_with(kFingerprint);
  info.input.crop.align = siamese::Align::kLandmarks68;
  info.input.crop.align_points = points;
  info.flip_average = true;
  return info;
}

std::string gallery_path(const std::string& tag) {
  return siamese::testing::temp_dir(tag) + "/gallery.db";
}

// Runs SQL on the file through a plain SQLite connection (an older build's or a forger's view).
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// A gallery of one identity as a build before this one wrote it: no preprocessing fact.
std::string legacy_gallery(const std::string& tag, const ModelInfo& model) {
  const std::string path = gallery_path(tag);
  Gallery::open(path, model, true).enroll("alice", {sample("a1", 0.0f)}, false);
  raw_sql(path, "DELETE FROM facts WHERE key = 'preprocessing'");
  return path;
}

}  // namespace

TEST_CASE("preprocessing facts tell crops apart, and only crops", "[enrollment][gallery]") {
  const ModelInfo dlib33 = aligned_model(siamese::AlignPoints::kDlib33);
  const ModelInfo five = aligned_model(siamese::AlignPoints::kFive);
  CHECK(siamese::preprocessing_facts(dlib33) != siamese::preprocessing_facts(five));
  ModelInfo no_flip = dlib33;
  no_flip.flip_average = false;
  CHECK(siamese::preprocessing_facts(dlib33) != siamese::preprocessing_facts(no_flip));
  ModelInfo other_mean = dlib33;
  other_mean.input.mean = {0.5f};
  CHECK(siamese::preprocessing_facts(dlib33) != siamese::preprocessing_facts(other_mean));

  // Without alignment its details change no crop, so they must not refuse a gallery.
  ModelInfo plain_a = model_with(kFingerprint), plain_b = model_with(kFingerprint);
  plain_b.input.crop.align_points = siamese::AlignPoints::kFive;
  plain_b.input.crop.align_mirror = !plain_a.input.crop.align_mirror;
  CHECK(siamese::preprocessing_facts(plain_a) == siamese::preprocessing_facts(plain_b));
  // Nor do facts that are not about the crop: the threshold, origin, validation figures.
  ModelInfo retuned = dlib33;
  retuned.threshold = 0.3f;
  retuned.origin = "another import";
  CHECK(siamese::preprocessing_facts(dlib33) == siamese::preprocessing_facts(retuned));
}

TEST_CASE("a model file's preprocessing facts survive saving and loading",
          "[enrollment][gallery][model]") {
  ModelInfo info = siamese::testing::untrained_model_info();
  info.input.crop.align = siamese::Align::kLandmarks68;
  info.input.crop.align_points = siamese::AlignPoints::kFive;
  info.input.crop.align_padding = 0.3f;  // a float that is not exact in binary
  info.flip_average = true;
  const std::string path = siamese::testing::save_untrained_model(
      siamese::testing::temp_dir("binding-model-file") + "/aligned.pt", info);
  const ModelInfo loaded = siamese::load_model(path).info;
  CHECK(siamese::preprocessing_facts(loaded) == siamese::preprocessing_facts(info));
}

TEST_CASE("a gallery embedded with other preprocessing of the same weights is refused, naming it",
          "[enrollment][gallery]") {
  const ModelInfo five = aligned_model(siamese::AlignPoints::kFive);
  const ModelInfo dlib33 = aligned_model(siamese::AlignPoints::kDlib33);
  const std::string path = gallery_path("binding-other-crops");
  Gallery::open(path, five, true).enroll("alice", {sample("a1", 0.0f)}, false);
  CHECK(Gallery::open_unbound(path, false).preprocessing() == siamese::preprocessing_facts(five));

  for (const bool reader : {true, false}) {
    INFO((reader ? "open_reader" : "open"));
    try {
      if (reader) {
        Gallery::open_reader(path, dlib33);
      } else {
        Gallery::open(path, dlib33, false);
      }
      FAIL("a gallery of five-point crops was matched with dlib33 crops");
    } catch (const siamese::MismatchError& e) {
      CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("input.crop.align_points") &&
                               Catch::Contains("\"five\" in the gallery") &&
                               Catch::Contains("\"dlib33\" in the model") &&
                               Catch::Contains("--rebuild"));
    }
  }
  ModelInfo no_flip = five;
  no_flip.flip_average = false;
  CHECK_THROWS_WITH(Gallery::open_reader(path, no_flip), Catch::Contains("flip_average"));
  // `bind` vouches only for a gallery that records nothing: it cannot overrule recorded facts.
  CHECK_THROWS_AS(Gallery::open_unbound(path, true).bind_preprocessing(dlib33),
                  siamese::MismatchError);
  // The refusals changed nothing; the model that built it still reads it.
  const Gallery same = Gallery::open_reader(path, five);
  CHECK(same.identities().size() == 1);
  CHECK(same.preprocessing() == siamese::preprocessing_facts(five));

  // Re-embedding (add --rebuild) binds it to the new preprocessing.
  Gallery::open_unbound(path, true).rebind(dlib33, {{"alice", {sample("a1", 0.5f)}}});
  CHECK_NOTHROW(Gallery::open_reader(path, dlib33));
  CHECK_THROWS_AS(Gallery::open_reader(path, five), siamese::MismatchError);
}

TEST_CASE("a gallery that records no preprocessing is refused until re-embedded or vouched for",
          "[enrollment][gallery]") {
  const ModelInfo model = aligned_model(siamese::AlignPoints::kDlib33);
  const std::string path = legacy_gallery("binding-legacy", model);
  CHECK_THROWS_WITH(Gallery::open_reader(path, model),
                    Catch::Contains(path) && Catch::Contains("records no preprocessing") &&
                        Catch::Contains("siamese-enroll bind") && Catch::Contains("--rebuild"));
  CHECK_THROWS_AS(Gallery::open(path, model, false), siamese::MismatchError);

  // Another model's word does not count, and changes nothing.
  CHECK_THROWS_WITH(
      Gallery::open_unbound(path, true).bind_preprocessing(model_with("00000000000000bb")),
      Catch::Contains("00000000000000bb"));
  CHECK(Gallery::open_unbound(path, false).preprocessing().empty());

  Gallery::open_unbound(path, true).bind_preprocessing(model);
  const Gallery bound = Gallery::open_reader(path, model);
  CHECK(bound.preprocessing() == siamese::preprocessing_facts(model));
  CHECK(bound.identities().size() == 1);
  CHECK(bound.snapshot().preprocessing == siamese::preprocessing_facts(model));
  // Binding again with the same model is a no-op; with other crops it is refused.
  CHECK_NOTHROW(Gallery::open_unbound(path, true).bind_preprocessing(model));
  CHECK_THROWS_AS(Gallery::open_unbound(path, true)
                      .bind_preprocessing(aligned_model(siamese::AlignPoints::kFive)),
                  siamese::MismatchError);
}

TEST_CASE("unreadable or forged preprocessing facts are refused", "[enrollment][gallery]") {
  const ModelInfo model = aligned_model(siamese::AlignPoints::kDlib33);
  const std::string path = gallery_path("binding-forged");
  Gallery::open(path, model, true).enroll("alice", {sample("a1", 0.0f)}, false);
  SECTION("not JSON") {
    raw_sql(path, "UPDATE facts SET value = 'not json' WHERE key = 'preprocessing'");
    CHECK_THROWS_WITH(Gallery::open_reader(path, model), Catch::Contains("cannot be read"));
  }
  SECTION("a fact planted with control characters in its name") {
    raw_sql(path,
            "UPDATE facts SET value = '{\"input\\u001b[2J\": 1}' WHERE key = 'preprocessing'");
    try {
      Gallery::open_reader(path, model);
      FAIL("forged facts were accepted");
    } catch (const siamese::MismatchError& e) {
      CHECK(std::string(e.what()).find('\x1b') == std::string::npos);
    }
  }
}

TEST_CASE("migrate copies the preprocessing facts, or their absence", "[enrollment][gallery]") {
  const ModelInfo model = aligned_model(siamese::AlignPoints::kDlib33);
  const std::string dir = siamese::testing::temp_dir("binding-migrate");
  const std::string from = dir + "/from.db";
  Gallery::open(from, model, true).enroll("alice", {sample("a1", 0.0f)}, false);
  siamese::migrate_gallery(from, dir + "/to.db", false);
  CHECK(Gallery::open_reader(dir + "/to.db", model).preprocessing() ==
        siamese::preprocessing_facts(model));

  const std::string legacy = legacy_gallery("binding-migrate-legacy", model);
  siamese::migrate_gallery(legacy, dir + "/legacy-copy.db", false);
  CHECK_THROWS_WITH(Gallery::open_reader(dir + "/legacy-copy.db", model),
                    Catch::Contains("records no preprocessing"));
}
