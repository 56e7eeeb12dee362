// faceverify while its gallery changes under it: every change a deployment makes (enroll,
// remove, rename over, copy over, overwrite, rebuild with another model, a stored threshold) is
// picked up while playing, and a gallery that cannot be trusted verifies nobody, with a warning
// at once and an error after gallery-error-timeout. Fail closed: never the old gallery.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "faceverify_harness.h"
#include "gst_test_support.h"
#include "siamese/ann_index.h"
#include "siamese/gallery.h"
#include "siamese/image_io.h"
#include "test_support.h"

namespace fs = std::filesystem;
using siamese::testing::Harness;

namespace {

constexpr GstClockTime kFrame = GST_SECOND / 25;
// Generous for a loaded test machine; the gallery is checked every 0.5 s (kGalleryPollMs).
constexpr auto kPickUp = std::chrono::seconds(10);

/// A playing element fed one upstream-boxed face of s8 per call.
class Door {
 public:
  Door(const std::string& att, const std::string& dir) : dir_(dir) {
    model_ = siamese::testing::save_untrained_model(dir, "model.pt", 5);
    face_ = siamese::testing::att_face(att, 8, 4);
    other_ = siamese::testing::att_face(att, 9, 4);
    bgr_ = siamese::testing::compose(120, 130, {face_}, {{8, 8}});
    gallery_ = dir + "/gallery.db";
  }
  /// A gallery file at path holding the given people (s8 = the face shown, s9 = another).
  std::string make_gallery(const std::string& path, const std::vector<std::string>& names) const {
    std::vector<torch::Tensor> rows;
    for (const auto& n : names) rows.push_back(embed(n == "s8" ? face_ : other_)[0]);
    fs::remove(path);
    siamese::testing::enroll(path, model_, names, torch::stack(rows));
    return path;
  }
  torch::Tensor embed(const cv::Mat& m) const {
    const siamese::ImageView v = siamese::view_of(m);
    return siamese::testing::core_embeddings(model_, v, {v.full_box()}, siamese::Framing::kExact);
  }
  void play(siamese::testing::Props extra) {
    siamese::testing::Props props = {{"model", model_},          {"gallery", gallery_},
                                     {"detector", "upstream"},   {"confirm-frames", "1/1"},
                                     {"reverify-interval", "1"}, {"device", "cpu"}};
    props.insert(props.end(), extra.begin(), extra.end());
    harness_ = std::make_unique<Harness>(props);
    harness_->set_caps(GST_VIDEO_FORMAT_BGRx, bgr_.cols, bgr_.rows);
  }
  /// Pushes a frame; the identity the element gave its face.
  std::string identity_now() {
    return harness_->identify_upstream_face(bgr_, frame_++, kFrame, 8, 8, 92, 112);
  }
  /// Pushes frames until the face's identity is `want` or kPickUp passes; the last identity.
  std::string await(const std::string& want) {
    std::string identity = identity_now();
    const auto deadline = std::chrono::steady_clock::now() + kPickUp;
    while (identity != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      identity = identity_now();
    }
    return identity;
  }
  /// The "reason" fields of the decision messages posted so far; generations (optional)
  /// receives their "gallery-generation" fields.
  std::vector<std::string> decision_reasons(std::vector<gint64>* generations = nullptr) {
    std::vector<std::string> out;
    auto messages = harness_->messages("faceverify-decision");
    for (GstStructure* s : messages) {
      const gchar* r = gst_structure_get_string(s, "reason");
      out.push_back(r ? r : "");
      gint64 generation = -1;
      gst_structure_get_int64(s, "gallery-generation", &generation);
      if (generations) generations->push_back(generation);
      gst_structure_free(s);
    }
    return out;
  }
  Harness& harness() { return *harness_; }
  const std::string& gallery() const { return gallery_; }
  const std::string& model() const { return model_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, model_, gallery_;
  cv::Mat face_, other_, bgr_;
  std::unique_ptr<Harness> harness_;
  int frame_ = 0;
};

bool any_contains(const std::vector<std::string>& texts, const std::string& part) {
  for (const auto& t : texts) {
    if (t.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a gallery replaced while playing is read afresh and a removed person loses access",
          "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  Door door(att, siamese::testing::temp_dir("faceverify-replace"));
  door.make_gallery(door.gallery(), {"s8", "s9"});
  door.play({{"threshold", "0.001"}});
  REQUIRE(door.identity_now() == "s8");

  SECTION("siamese-enroll remove") {
    siamese::Gallery::open(door.gallery(), siamese::load_model(door.model()).info, false)
        .remove("s8");
    CHECK(door.await("") == "");
    // The revocation names the gallery state that made it: the one loaded at start is 1.
    std::vector<gint64> generations;
    const auto reasons = door.decision_reasons(&generations);
    REQUIRE(any_contains(reasons, "revoked"));
    CHECK(generations.front() == 1);  // verified against the gallery loaded at start
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (reasons[i] == "revoked") CHECK(generations[i] == 2);
    }
  }
  SECTION("mv new.db gallery.db (rename over)") {
    fs::rename(door.make_gallery(door.dir() + "/new.db", {"s9"}), door.gallery());
    CHECK(door.await("") == "");
    CHECK(any_contains(door.decision_reasons(), "revoked"));
    // ... and a replacement that enrolls them again is picked up too.
    fs::rename(door.make_gallery(door.dir() + "/again.db", {"s8"}), door.gallery());
    CHECK(door.await("s8") == "s8");
  }
  SECTION("rm gallery.db && cp new.db gallery.db") {
    const std::string fresh = door.make_gallery(door.dir() + "/new.db", {"s9"});
    fs::remove(door.gallery());
    fs::copy_file(fresh, door.gallery());
    CHECK(door.await("") == "");
  }
  SECTION("cp new.db gallery.db (copied over the open file)") {
    const std::string fresh = door.make_gallery(door.dir() + "/new.db", {"s9"});
    fs::copy_file(fresh, door.gallery(), fs::copy_options::overwrite_existing);
    CHECK(door.await("") == "");
  }
}

TEST_CASE(
    "a gallery that cannot be trusted verifies nobody, warns, and errors after the "
    "timeout",
    "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  Door door(att, siamese::testing::temp_dir("faceverify-distrust"));
  door.make_gallery(door.gallery(), {"s8", "s9"});
  door.play({{"threshold", "0.001"}, {"gallery-error-timeout", "1"}});
  REQUIRE(door.identity_now() == "s8");

  SECTION("overwritten in place with something else") {
    std::ofstream(door.gallery(), std::ios::binary | std::ios::trunc)
        << "this is not a gallery any more";
  }
  SECTION("rebuilt with another model") {
    const std::string other_model = siamese::testing::save_untrained_model(door.dir(), "o.pt", 6);
    siamese::Gallery::open_unbound(door.gallery(), true)
        .rebind(siamese::load_model(other_model).info, {});
  }
  SECTION("its rows relabelled as embedded with other preprocessing of the same weights") {
    siamese::ModelInfo other = siamese::load_model(door.model()).info;
    other.flip_average = !other.flip_average;
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(door.gallery().c_str(), &db) == SQLITE_OK);
    const std::string sql = "UPDATE facts SET value = '" + siamese::preprocessing_facts(other) +
                            "' WHERE key = 'preprocessing'";
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  SECTION("its preprocessing record removed, as an older build wrote it") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(door.gallery().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM facts WHERE key = 'preprocessing'", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  SECTION("deleted") { fs::remove(door.gallery()); }
  SECTION("a stored threshold a door must not trust") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(door.gallery().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "INSERT OR REPLACE INTO facts VALUES ('threshold', 'inf')", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  CHECK(door.await("") == "");
  CHECK(any_contains(door.decision_reasons(), "revoked"));
  // Still nobody; a warning at once, and after gallery-error-timeout (1 s) an error that names
  // the property (both posted by the gallery's polling thread).
  std::vector<std::string> warnings, errors;
  const auto deadline = std::chrono::steady_clock::now() + kPickUp;
  while (errors.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(door.identity_now().empty());
    for (auto& w : door.harness().warnings()) warnings.push_back(w);
    errors = door.harness().errors();
  }
  CHECK(any_contains(warnings, "cannot be read or trusted"));
  REQUIRE_FALSE(errors.empty());
  CHECK(errors[0].find("gallery-error-timeout") != std::string::npos);

  // A good gallery put back (atomically) is trusted again.
  fs::rename(door.make_gallery(door.dir() + "/good.db", {"s8"}), door.gallery());
  CHECK(door.await("s8") == "s8");
}

TEST_CASE("a threshold stored in the gallery is applied while playing", "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  Door door(att, siamese::testing::temp_dir("faceverify-live-threshold"));
  // s8 enrolled from another photo of theirs: a distance clearly above zero.
  const std::string path = door.gallery();
  const torch::Tensor shown = door.embed(siamese::testing::att_face(att, 8, 4));
  const torch::Tensor enrolled = door.embed(siamese::testing::att_face(att, 8, 6));
  siamese::testing::enroll(path, door.model(), {"s8"}, enrolled);
  const float d = (shown - enrolled).norm().item<float>();
  REQUIRE(d > 1e-3f);
  siamese::Gallery::open_unbound(path, true).set_threshold(2.0f * d);
  door.play({});  // no threshold property: the gallery's decides
  REQUIRE(door.identity_now() == "s8");
  siamese::Gallery::open_unbound(path, true).set_threshold(0.5f * d);
  CHECK(door.await("") == "");
  siamese::Gallery::open_unbound(path, true).set_threshold(2.0f * d);
  CHECK(door.await("s8") == "s8");
}

TEST_CASE("the reload-gallery action reads the file afresh", "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  Door door(att, siamese::testing::temp_dir("faceverify-reload-signal"));
  door.make_gallery(door.gallery(), {"s9"});
  door.play({{"threshold", "0.001"}});
  CHECK(door.identity_now().empty());
  gboolean ok = FALSE;
  g_signal_emit_by_name(door.harness().element(), "reload-gallery", &ok);
  CHECK(ok);
  fs::remove(door.gallery());
  g_signal_emit_by_name(door.harness().element(), "reload-gallery", &ok);
  CHECK_FALSE(ok);  // and nobody is verified until it is back
  CHECK(any_contains(door.harness().warnings(), "cannot be read or trusted"));  // same thread
  CHECK(door.identity_now().empty());
}

TEST_CASE("search=ivf verifies through the gallery's index and follows a removal",
          "[gst][gallery]") {
  SIAMESE_REQUIRE_ATT(att);
  if (!siamese::ann_available()) {
    WARN("skipped: this build has no FAISS (apt-get install libfaiss-dev: tests/setup.sh)");
    return;
  }
  Door door(att, siamese::testing::temp_dir("faceverify-ivf"));
  door.make_gallery(door.gallery(), {"s8", "s9"});
  door.play({{"search", "ivf"}, {"search-probes", "1"}, {"threshold", "0.001"}});
  gint probes = 0;
  g_object_get(door.harness().element(), "search-probes", &probes, nullptr);
  CHECK(probes == 1);
  CHECK(door.identity_now() == "s8");
  siamese::Gallery::open_unbound(door.gallery(), true).remove("s8");
  CHECK(door.await("") == "");
}
