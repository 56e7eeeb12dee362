// The approximate half of Matcher::match: each face's nearest gallery rows come from the IVF
// index (ann_index.h) instead of a product with every row, and only the identities among those
// candidates compete. Used for galleries of about a million embeddings, where the exact product
// costs tens of milliseconds per face.
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "siamese/matcher.h"

namespace siamese {

void Matcher::build_index() {
  index_ = AnnIndex::build(embeddings_, search_.index);
  index_trained_rows_ = embedding_count();
  owners_cpu_ = owners_.to(torch::kCPU).contiguous();
}

std::vector<Match> Matcher::match_approximate(const torch::Tensor& queries, int top_k) const {
  check_queries(queries);
  c10::InferenceMode guard;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const int64_t n = queries.size(0);
  std::vector<Match> out(static_cast<size_t>(n));
  for (auto& m : out) {
    m.distance = m.second_distance = m.negative_distance = kInf;
    m.threshold = threshold_;
  }
  if (n == 0) return out;
  const auto q = (queries.to(device_, torch::kFloat32) - center_).to(torch::kCPU).contiguous();
  const int k = static_cast<int>(std::min<int64_t>(search_.candidates, embedding_count()));
  const auto [distances, rows] = index_->search(q, k);
  const auto d = distances.accessor<float, 2>();
  const auto row = rows.accessor<int64_t, 2>();
  const int64_t* owner = owners_cpu_.data_ptr<int64_t>();
  const torch::Tensor negative_d = negative_distances(queries);
  std::vector<std::pair<int, float>> ranked;  // identities by their nearest candidate
  for (int64_t r = 0; r < n; ++r) {
    ranked.clear();
    int found = 0;
    for (int j = 0; j < k && row[r][j] >= 0; ++j, ++found) {
      const int identity = static_cast<int>(owner[row[r][j]]);
      const bool seen = std::any_of(ranked.begin(), ranked.end(),
                                    [&](const auto& c) { return c.first == identity; });
      if (!seen) ranked.emplace_back(identity, d[r][j]);
    }
    Match& m = out[static_cast<size_t>(r)];
    fill_match(m, ranked, top_k, negative_d.defined() ? negative_d[r].data_ptr<float>() : nullptr);
    // Every candidate was one identity's: the runner-up is somewhere beyond the last one, so
    // count it there (never farther) rather than at +inf, which would overstate the margin.
    if (found == k && found > 0) m.second_distance = std::min(m.second_distance, d[r][k - 1]);
  }
  return out;
}

}  // namespace siamese
