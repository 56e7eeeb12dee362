// DecisionEngine: N-of-M confirmation, margin, hysteresis, strangers, claimed identity.
#include <catch2/catch.hpp>
#include <limits>

#include "siamese/decision.h"
#include "siamese/errors.h"

using siamese::DecisionEngine;
using siamese::DecisionOptions;
using siamese::DecisionState;
using siamese::Evidence;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Evidence ev(const std::string& name, float distance, float second = kInf) {
  return Evidence{name, distance, second};
}

DecisionOptions opts(int n, int m, float threshold = 1.0f, float margin = 0.1f) {
  return DecisionOptions{}.set_confirm(n, m).set_threshold(threshold).set_margin(margin);
}

}  // namespace

TEST_CASE("a track is verified only after N of the last M embeddings agree", "[decision]") {
  DecisionEngine engine(opts(3, 5));
  CHECK_FALSE(engine.observe(7, ev("alice", 0.4f), 0));
  CHECK_FALSE(engine.observe(7, ev("alice", 0.5f), 1));
  CHECK(engine.decision(7).state == DecisionState::kPending);
  CHECK(engine.needs_evidence(7));
  const auto change = engine.observe(7, ev("alice", 0.3f), 2);
  REQUIRE(change);
  CHECK(change->verified());
  CHECK(change->identity == "alice");
  CHECK(change->track_id == 7);
  CHECK(change->first_seen == 0);
  CHECK(change->decided == 2);
  CHECK(change->distance == Approx(0.3f));
  CHECK_FALSE(engine.needs_evidence(7));
}

TEST_CASE("a stranger stays unknown, never the nearest person", "[decision]") {
  DecisionEngine engine(opts(2, 3, 1.0f));
  // Nearest identity is "bob" but always beyond the threshold.
  CHECK_FALSE(engine.observe(1, ev("bob", 1.3f), 0));
  CHECK_FALSE(engine.observe(1, ev("bob", 1.2f), 1));
  const auto change = engine.observe(1, ev("bob", 1.1f), 2);  // window full: decided
  REQUIRE(change);
  CHECK(change->state == DecisionState::kUnknown);
  CHECK(change->identity.empty());
  CHECK_FALSE(change->verified());
  for (int t = 3; t < 20; ++t) CHECK_FALSE(engine.observe(1, ev("bob", 1.1f), t));
  CHECK(engine.decision(1).identity.empty());
  // Unknown is not final: the track still gathers evidence (the stream keeps embedding it).
  CHECK(engine.needs_evidence(1));
}

TEST_CASE("an ambiguous match (runner-up within the margin) does not vote", "[decision]") {
  DecisionEngine engine(opts(1, 1, 1.0f, 0.2f));
  auto change = engine.observe(1, ev("alice", 0.5f, 0.6f), 0);  // beats bob by 0.1 < 0.2
  REQUIRE(change);
  CHECK(change->state == DecisionState::kUnknown);
  CHECK(change->margin == Approx(0.1f));
  change = engine.observe(1, ev("alice", 0.5f, 0.8f), 1);  // by 0.3: votes
  REQUIRE(change);
  CHECK(change->identity == "alice");
}

TEST_CASE("the automatic margin is a tenth of the threshold each identity is judged by",
          "[decision]") {
  DecisionOptions o = DecisionOptions().set_threshold(0.5f).set_margin(0.3f);
  CHECK(o.margin_at(0.5f) == Approx(0.3f));  // a set margin holds at every threshold
  o.set_margin_auto(true);
  CHECK(o.margin_at(0.5f) == Approx(0.05f));
  CHECK(o.margin_at(0.8f) == Approx(0.08f));  // a person's own threshold brings its own margin
  // Judged by that rule: a runner-up 0.06 behind votes at threshold 0.5, not at a person's 0.8.
  DecisionEngine wide(
      DecisionOptions().set_confirm(1, 1).set_threshold(0.5f).set_margin_auto(true));
  Evidence e{"ann", 0.40f, 0.46f};
  wide.observe(1, e, 0);
  CHECK(wide.decision(1).state == DecisionState::kVerified);
  e.identity_threshold = 0.8f;
  wide.observe(2, e, 0);
  CHECK(wide.decision(2).state == DecisionState::kUnknown);
}

TEST_CASE("a verified decision does not flicker on a single disagreeing frame", "[decision]") {
  DecisionEngine engine(opts(3, 5));
  for (int t = 0; t < 5; ++t) engine.observe(1, ev("alice", 0.3f), t);
  REQUIRE(engine.decision(1).identity == "alice");
  // One and two disagreeing embeddings out of five: still alice.
  CHECK_FALSE(engine.observe(1, ev("alice", 1.5f), 5));
  CHECK_FALSE(engine.observe(1, ev("bob", 0.2f), 6));
  CHECK(engine.decision(1).identity == "alice");
  // A third disagreement is the majority of the window: the decision goes.
  const auto change = engine.observe(1, ev("bob", 0.2f), 7);
  REQUIRE(change);
  CHECK(change->state == DecisionState::kUnknown);
  // Bob needs his own N votes to take over.
  const auto bob = engine.observe(1, ev("bob", 0.2f), 8);
  REQUIRE(bob);
  CHECK(bob->identity == "bob");
  CHECK(bob->decided == 8);
}

TEST_CASE("claimed identity: only the claimed person can be verified", "[decision]") {
  DecisionEngine engine(opts(1, 1).set_claimed_identity("alice"));
  auto change = engine.observe(1, ev("bob", 0.2f), 0);
  REQUIRE(change);
  CHECK(change->state == DecisionState::kUnknown);
  change = engine.observe(2, ev("alice", 0.2f), 0);
  REQUIRE(change);
  CHECK(change->identity == "alice");
  // Changing the claim mid-stream withdraws alice's verification on the next embedding.
  engine.set_options(opts(1, 1).set_claimed_identity("carol"));
  change = engine.observe(2, ev("alice", 0.2f), 1);
  REQUIRE(change);
  CHECK_FALSE(change->verified());
}

TEST_CASE("an empty gallery leaves every face unknown", "[decision]") {
  DecisionEngine engine(opts(1, 2));
  engine.observe(1, Evidence{}, 0);
  const auto change = engine.observe(1, Evidence{}, 1);
  REQUIRE(change);
  CHECK(change->state == DecisionState::kUnknown);
  CHECK(change->margin == 0.0f);  // not NaN
}

TEST_CASE("tracks are independent and forgotten", "[decision]") {
  DecisionEngine engine(opts(1, 1));
  engine.observe(1, ev("alice", 0.1f), 0);
  engine.observe(2, ev("bob", 0.1f), 0);
  CHECK(engine.decision(1).identity == "alice");
  CHECK(engine.decision(2).identity == "bob");
  engine.forget(1);
  CHECK(engine.decision(1).state == DecisionState::kPending);
  CHECK(engine.track_count() == 1);
  engine.reset();
  CHECK(engine.track_count() == 0);
}

TEST_CASE("confirm-frames N/M parsing and validation", "[decision]") {
  DecisionOptions o;
  siamese::parse_confirm_frames("3/5", o);
  CHECK(o.confirm_count == 3);
  CHECK(o.confirm_window == 5);
  CHECK(siamese::format_confirm_frames(o) == "3/5");
  for (const char* bad : {"", "3", "5/3", "0/2", "2/3x", "a/b", "1/100"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(siamese::parse_confirm_frames(bad, o), siamese::InputError);
  }
  CHECK(o.confirm_count == 3);  // unchanged by the failures
  CHECK_THROWS_AS(DecisionEngine(opts(2, 1)), siamese::InputError);
  CHECK_THROWS_AS(DecisionEngine(opts(1, 1, 1.0f, -0.5f)), siamese::InputError);
}

TEST_CASE("a person removed from the gallery loses a verification at once, with the reason",
          "[decision]") {
  DecisionEngine engine(opts(2, 3));
  engine.observe(1, ev("alice", 0.3f), 0);
  engine.observe(1, ev("alice", 0.3f), 1);
  engine.observe(2, ev("bob", 0.3f), 0);
  engine.observe(2, ev("bob", 0.3f), 1);
  REQUIRE(engine.decision(1).verified());
  REQUIRE(engine.decision(2).verified());

  CHECK(engine.revoke_absent({"bob", "carol", "alice"}, 5).empty());  // nobody left
  const auto changes = engine.revoke_absent({"carol", "bob"}, 7);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].track_id == 1);
  CHECK(changes[0].state == DecisionState::kUnknown);
  CHECK(changes[0].identity.empty());
  CHECK(changes[0].reason == siamese::kReasonRevoked);
  CHECK(changes[0].decided == 7);
  CHECK(engine.decision(2).identity == "bob");
  CHECK(engine.needs_evidence(1));

  // Her old votes are gone: if she is enrolled again she needs N new ones, and the next
  // decision change carries no revocation reason.
  CHECK_FALSE(engine.observe(1, ev("alice", 0.3f), 8));
  const auto back = engine.observe(1, ev("alice", 0.3f), 9);
  REQUIRE(back);
  CHECK(back->identity == "alice");
  CHECK(back->reason.empty());

  // An empty gallery (one that cannot be trusted) revokes everyone.
  CHECK(engine.revoke_absent({}, 10).size() == 2);
  CHECK_FALSE(engine.decision(2).verified());
}
