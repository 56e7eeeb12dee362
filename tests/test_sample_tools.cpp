// The pieces of the samples that need no video: the door policy (grant once, deny once, after
// deny-after seconds), siamese-bus-json's reading of `gst-launch-1.0 -m` text, and the demo
// summary's scoring against the ground truth.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "door_policy.h"
#include "samples_process.h"
#include "test_support.h"
#include "verification_summary.h"

namespace ss = siamese::samples;
using siamese::testing::program_path;
using siamese::testing::run_program;

namespace {
constexpr int64_t kSecond = 1000000000;

ss::FrameEvent frame(int64_t t, std::vector<ss::FaceSeen> faces) { return {t, std::move(faces)}; }
}  // namespace

TEST_CASE("The door policy grants once per verified track", "[samples]") {
  ss::DoorPolicy door(3.0);
  CHECK(door.on_frame(frame(0, {{7, "pending", "", 0.9}})).empty());
  auto a = door.on_decision({7, "verified", "alice", 0.2, kSecond / 2});
  REQUIRE(a.size() == 2);
  CHECK(a[0].kind == ss::DoorAction::Kind::kDecision);
  CHECK(a[0].decision == "verified");
  CHECK(a[1].kind == ss::DoorAction::Kind::kGrant);
  CHECK(a[1].identity == "alice");
  CHECK(a[1].track_id == 7);
  CHECK(a[1].running_time == kSecond / 2);
  // The decision flickers off and on again: recorded, but no second grant for the same track.
  a = door.on_decision({7, "unknown", "", 0.8, kSecond});
  REQUIRE(a.size() == 1);
  CHECK(a[0].identity == "unknown");
  a = door.on_decision({7, "verified", "alice", 0.2, 2 * kSecond});
  REQUIRE(a.size() == 1);
  CHECK(a[0].kind == ss::DoorAction::Kind::kDecision);
  // Long after, still no denial for a granted track.
  CHECK(door.on_frame(frame(10 * kSecond, {{7, "unknown", "", 0.8}})).empty());
  CHECK(door.grants() == 1);
  CHECK(door.denials() == 0);
}

TEST_CASE("The door policy denies a track that stays unverified, once", "[samples]") {
  ss::DoorPolicy door(1.5);
  CHECK(door.on_frame(frame(kSecond, {{3, "pending", "", 1.2}})).empty());
  CHECK(door.on_decision({3, "unknown", "", 1.2, kSecond + kSecond / 5}).size() == 1);
  CHECK(door.on_frame(frame(2 * kSecond, {{3, "unknown", "", 1.1}})).empty());  // 1.0 s: not yet
  auto a = door.on_frame(frame(kSecond * 5 / 2, {{3, "unknown", "", 1.0}, {4, "pending", "", 0}}));
  REQUIRE(a.size() == 1);  // track 3 after 1.5 s; track 4 just appeared
  CHECK(a[0].kind == ss::DoorAction::Kind::kDeny);
  CHECK(a[0].decision == "deny");
  CHECK(a[0].track_id == 3);
  CHECK(a[0].distance == Approx(1.0));
  CHECK(door.on_frame(frame(9 * kSecond, {{3, "unknown", "", 1.0}})).empty());  // once
  // A denied track that is verified later is still granted (the element changed its mind).
  a = door.on_decision({3, "verified", "bob", 0.3, 10 * kSecond});
  REQUIRE(a.size() == 2);
  CHECK(a[1].kind == ss::DoorAction::Kind::kGrant);
  CHECK(door.denials() == 1);
  CHECK(door.grants() == 1);
  CHECK(door.tracks() == 2);
  CHECK_THROWS(ss::DoorPolicy(-1.0));
}

TEST_CASE("The door policy judges a resumed track afresh", "[samples]") {
  ss::DoorPolicy door(1.0);
  REQUIRE(door.on_decision({5, "verified", "alice", 0.2, kSecond}).size() == 2);  // granted
  // The face was lost and found again: maybe someone else, whose own decision counts.
  auto a = door.on_decision({5, "pending", "", 0.0, 2 * kSecond, "resumed"});
  REQUIRE(a.size() == 1);
  CHECK(a[0].identity == "unknown");
  a = door.on_decision({5, "verified", "bob", 0.3, 3 * kSecond});
  REQUIRE(a.size() == 2);
  CHECK(a[1].kind == ss::DoorAction::Kind::kGrant);
  CHECK(a[1].identity == "bob");
  CHECK(door.grants() == 2);
}

TEST_CASE("siamese-bus-json turns gst-launch -m output into typed JSON lines", "[samples]") {
  const std::string dir = siamese::testing::temp_dir("bus_json");
  const std::string input = dir + "/messages.txt";
  std::ofstream(input)
      << "Setting pipeline to PAUSED ...\n"
         "Got message #71 from element \"door\" (element): faceverify, "
         "timestamp=(guint64)400000000, "
         "stream-time=(guint64)400000000, running-time=(guint64)400000000, "
         "duration=(guint64)18446744073709551615, faces=(structure){ \"face\\,\\ "
         "x\\=\\(int\\)522\\,"
         "\\ y\\=\\(int\\)50\\,\\ width\\=\\(int\\)108\\,\\ height\\=\\(int\\)108\\,\\ "
         "identity\\=\\("
         "string\\)\\\"s3\\\"\\,\\ distance\\=\\(double\\)0.25\\,\\ verified\\=\\(boolean\\)true\\,"
         "\\ state\\=\\(string\\)verified\\,\\ track-id\\=\\(gint64\\)1\\;\" };\n"
         "Got message #72 from element \"door\" (element): faceverify, "
         "timestamp=(guint64)440000000, "
         "stream-time=(guint64)440000000, running-time=(guint64)440000000, "
         "duration=(guint64)40000000, faces=(int){  };\n"
         "Got message #73 from element \"door\" (element): faceverify-decision, "
         "track-id=(gint64)2, "
         "identity=(string)\"\", state=(string)unknown, verified=(boolean)false, "
         "distance=(double)inf, margin=(double)0, votes=(int)0, first-seen=(guint64)400000000, "
         "running-time=(guint64)480000000, timestamp=(guint64)480000000;\n"
         "Got message #74 from element \"queue0\" (state-changed): no message details\n"
         "Execution ended after 0:01:02.500000000\n";
  auto r = run_program({program_path("siamese-bus-json"), "--input", input});
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.output);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(lines, line);) out.push_back(nlohmann::json::parse(line));
  REQUIRE(out.size() == 4);
  CHECK(out[0]["source"] == "door");
  CHECK(out[0]["message"] == "faceverify");
  CHECK(out[0]["timestamp"] == 400000000);
  CHECK(out[0]["duration"].is_null());  // GST_CLOCK_TIME_NONE
  REQUIRE(out[0]["faces"].size() == 1);
  CHECK(out[0]["faces"][0]["x"] == 522);
  CHECK(out[0]["faces"][0]["identity"] == "s3");
  CHECK(out[0]["faces"][0]["distance"] == Approx(0.25));
  CHECK(out[0]["faces"][0]["verified"] == true);
  CHECK(out[0]["faces"][0]["track-id"] == 1);
  CHECK(out[1]["faces"].empty());
  CHECK(out[2]["message"] == "faceverify-decision");
  CHECK(out[2]["distance"].is_null());  // inf
  CHECK(out[2]["state"] == "unknown");
  CHECK(out[3]["message"] == "execution-ended");
  CHECK(out[3]["seconds"] == Approx(62.5));

  r = run_program(
      {program_path("siamese-bus-json"), "--input", input, "--only", "faceverify-decision"});
  CHECK(r.status == 0);
  CHECK(r.output.find("\"faceverify-decision\"") != std::string::npos);
  CHECK(r.output.find("\"faceverify\"") == std::string::npos);
}

TEST_CASE("The demo summary scores verdicts per walker against the truth", "[samples]") {
  ss::WalkTruth truth;
  truth.fps = 10;
  truth.walkers = {{"s1", "s1", false, 0, 9},
                   {"stranger:s21", "s21", true, 0, 9},
                   {"s2", "s2", false, 10, 19},
                   {"s3", "s3", false, 10, 19}};
  truth.frames.resize(20);
  for (int f = 0; f < 10; ++f) {
    truth.frames[f] = {{0, 0, 0, 100, 120}, {1, 300, 0, 100, 120}};
    truth.frames[f + 10] = {{2, 0, 200, 100, 120}, {3, 300, 200, 100, 120}};
  }
  std::vector<ss::FrameObservation> seen;
  for (int f = 0; f < 20; ++f) {
    ss::FrameObservation o{f * 100000000LL, {}};
    if (f < 10) {
      o.faces.push_back({1, f >= 3 ? "verified" : "pending", f >= 3 ? "s1" : "", 10, 20, 80, 80});
      o.faces.push_back({2, "unknown", "", 310, 20, 80, 80});  // the stranger stays unknown
    } else {
      o.faces.push_back({3, "verified", "s3", 10, 220, 80, 80});                // s2 taken for s3
      if (f % 2 == 0) o.faces.push_back({4, "pending", "", 320, 220, 70, 70});  // s3 half seen
    }
    if (f == 5) o.faces.push_back({9, "unknown", "", 200, 400, 60, 60});  // on no walker
    seen.push_back(o);
  }
  const ss::DemoSummary s = ss::summarize(truth, seen);
  REQUIRE(s.walkers.size() == 4);
  CHECK(s.walkers[0].verdict == "verified");
  CHECK(s.walkers[0].first_verified_s == Approx(0.3));
  CHECK(s.walkers[0].detected_frames == 10);
  CHECK(s.walkers[1].verdict == "rejected");
  CHECK(s.walkers[2].verdict == "confused");
  CHECK(s.walkers[3].verdict == "unknown");
  CHECK(s.walkers[3].detected_frames == 5);
  CHECK(s.people == 3);
  CHECK(s.people_verified == 1);
  CHECK(s.people_confused == 1);
  CHECK(s.people_unknown == 1);
  CHECK(s.strangers == 1);
  CHECK(s.strangers_accepted == 0);
  CHECK(s.unmatched_faces == 1);
  CHECK(s.frames == 20);
}
