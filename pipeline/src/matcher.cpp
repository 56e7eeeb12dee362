#include "siamese/matcher.h"

#include <c10/core/InferenceMode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "siamese/errors.h"

namespace siamese {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// scatter_reduce is marked "beta" in LibTorch 1.13 and warns about it once per process; that
// note would reach every user of the element and the programs, so it is dropped here, on this
// thread only, around that one call.
class QuietWarnings : public c10::WarningHandler {
 public:
#if TORCH_VERSION_MAJOR >= 2  // a CUDA LibTorch of pip's torch (tests/gpu/run.sh)
  void process(const c10::Warning&) override {}
#else
  void process(const c10::SourceLocation&, const std::string&, const bool) override {}
#endif
};
#if TORCH_VERSION_MAJOR >= 2
using WarningHandlerGuard = c10::WarningUtils::WarningHandlerGuard;
#else
using WarningHandlerGuard = c10::Warning::WarningHandlerGuard;
#endif

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

Matcher::Matcher(GalleryMatrix gallery, torch::Device device, float threshold)
    : names_(std::move(gallery.names)), device_(device), threshold_(threshold) {
  if (std::isnan(threshold)) throw InputError("matcher: threshold is NaN");
  if (gallery.size() == 0) return;
  const auto& emb = gallery.embeddings;
  const auto& own = gallery.owners;
  if (emb.dim() != 2 || !own.defined() || own.dim() != 1 || own.size(0) != emb.size(0)) {
    throw InputError("matcher: gallery embeddings " + shape_of(emb) + " and owners " +
                     (own.defined() ? shape_of(own) : std::string("(none)")) +
                     " must be [M, E] and [M]");
  }
  const auto owners = own.to(torch::kInt64);
  if (owners.min().item<int64_t>() < 0 ||
      owners.max().item<int64_t>() >= static_cast<int64_t>(names_.size())) {
    throw InputError("matcher: gallery owners must index the " + std::to_string(names_.size()) +
                     " identity names");
  }
  torch::NoGradGuard no_grad;
  const auto rows = emb.to(device_, torch::kFloat32);
  center_ = rows.mean(0);
  embeddings_ = (rows - center_).contiguous();
  sq_norms_ = embeddings_.pow(2).sum(1);
  owners_ = owners.to(device_).contiguous();
}

torch::Tensor Matcher::identity_distances(const torch::Tensor& queries) const {
  if (!queries.defined() || queries.dim() != 2) {
    throw InputError("matcher: queries must be [N, E], got " +
                     (queries.defined() ? shape_of(queries) : std::string("(none)")));
  }
  const int64_t n = queries.size(0);
  const auto identities = static_cast<int64_t>(names_.size());
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  if (embedding_count() == 0) return torch::full({n, identities}, kInf, options);
  const int64_t e = embeddings_.size(1);
  if (queries.size(1) != e) {
    throw InputError("matcher: query embeddings " + shape_of(queries) + " but the gallery's are [" +
                     std::to_string(embeddings_.size(0)) + ", " + std::to_string(e) + "]");
  }
  const auto q = queries.to(device_, torch::kFloat32) - center_;
  // ||q - g||^2 = ||q||^2 + ||g||^2 - 2 q.g: one GEMM for the whole batch.
  auto d2 = torch::addmm(sq_norms_.unsqueeze(0), q, embeddings_.t(), /*beta=*/1, /*alpha=*/-2);
  d2.add_(q.pow(2).sum(1, /*keepdim=*/true)).clamp_min_(0);
  const int64_t m = embeddings_.size(0);
  auto per_identity = torch::full({n, identities}, kInf, options);
  static QuietWarnings quiet;               // stateless
  const WarningHandlerGuard guard(&quiet);  // thread-local
  per_identity.scatter_reduce_(1, owners_.unsqueeze(0).expand({n, m}), d2, "amin",
                               /*include_self=*/true);
  return per_identity.sqrt_();
}

std::vector<Match> Matcher::match(const torch::Tensor& queries, int top_k) const {
  if (top_k < 0) throw InputError("matcher: top_k must be >= 0, got " + std::to_string(top_k));
  c10::InferenceMode guard;
  const auto distances = identity_distances(queries);
  const int64_t n = distances.size(0);
  const int64_t identities = distances.size(1);
  std::vector<Match> out(static_cast<size_t>(n));
  for (auto& m : out) m.distance = m.second_distance = kInf;
  if (n == 0 || identities == 0) return out;

  const int64_t k = std::min<int64_t>(std::max(top_k, 2), identities);
  const auto top = torch::topk(distances, k, /*dim=*/1, /*largest=*/false, /*sorted=*/true);
  const auto values = std::get<0>(top).to(torch::kCPU).contiguous();
  const auto indices = std::get<1>(top).to(torch::kCPU).contiguous();
  const auto v = values.accessor<float, 2>();
  const auto ix = indices.accessor<int64_t, 2>();
  for (int64_t r = 0; r < n; ++r) {
    Match& m = out[static_cast<size_t>(r)];
    for (int64_t j = 0; j < k; ++j) {
      const float d = v[r][j];
      if (!std::isfinite(d)) break;  // identities without embeddings: nothing to match
      const int id = static_cast<int>(ix[r][j]);
      if (j == 0) {
        m.identity = id;
        m.name = names_[static_cast<size_t>(id)];
        m.distance = d;
        m.verified = d <= threshold_;
      } else if (j == 1) {
        m.second_distance = d;
      }
      if (j < top_k) m.top.push_back({id, names_[static_cast<size_t>(id)], d});
    }
  }
  return out;
}

}  // namespace siamese
