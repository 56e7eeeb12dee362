// Comparing two matchers' answers to the same faces (tests of patched and approximate search
// against a matcher built afresh or an exact one). Thread-safety: test thread only.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "siamese/matcher.h"

namespace siamese::testing {

/// Every face got the same identity, distances within `tolerance`, the same runner-up distance
/// and the same verdict; with_details: also the same veto and the same top identities.
inline void check_same_matches(const std::vector<Match>& a, const std::vector<Match>& b,
                               double tolerance, bool with_details) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("face " << i);
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].distance == Approx(b[i].distance).margin(tolerance));
    CHECK(a[i].second_distance == Approx(b[i].second_distance).margin(tolerance));
    CHECK(a[i].verified == b[i].verified);
    if (!with_details) continue;
    CHECK(a[i].rejection == b[i].rejection);
    REQUIRE(a[i].top.size() == b[i].top.size());
    for (size_t k = 0; k < a[i].top.size(); ++k) CHECK(a[i].top[k].name == b[i].top[k].name);
  }
}

}  // namespace siamese::testing
