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
    : Matcher(std::move(gallery), device,
              ThresholdChoice{threshold, ThresholdSource::kGallery, "given", true}) {}

Matcher::Matcher(GalleryMatrix gallery, torch::Device device, const ThresholdChoice& threshold,
                 const SearchSettings& search)
    : names_(std::move(gallery.names)),
      device_(device),
      threshold_(threshold.value),
      search_(search) {
  if (std::isnan(threshold_)) throw InputError("matcher: threshold is NaN");
  if (search_.approximate && !ann_available()) {
    throw InputError(
        "matcher: an approximate search needs FAISS, and this build has none "
        "(apt-get install libfaiss-dev and rebuild)");
  }
  if (search_.candidates < 1) {
    throw InputError("matcher: candidates must be >= 1, got " + std::to_string(search_.candidates));
  }
  const auto identities = static_cast<int64_t>(names_.size());
  if (!gallery.thresholds.empty() && gallery.thresholds.size() != names_.size()) {
    throw InputError("matcher: " + std::to_string(gallery.thresholds.size()) +
                     " identity thresholds for " + std::to_string(names_.size()) + " identities");
  }
  thresholds_.assign(names_.size(), threshold_);
  own_thresholds_ = gallery.thresholds;
  own_thresholds_.resize(names_.size());
  for (size_t i = 0; i < gallery.thresholds.size(); ++i) {
    thresholds_[i] = identity_threshold(threshold, gallery.thresholds[i]);
    if (std::isnan(thresholds_[i])) throw InputError("matcher: identity threshold is NaN");
  }
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
  if (search_.approximate) build_index();
  if (gallery.negative_count() == 0) return;
  const auto& neg = gallery.negatives;
  const auto& neg_own = gallery.negative_owners;
  if (neg.dim() != 2 || neg.size(1) != emb.size(1) || !neg_own.defined() || neg_own.dim() != 1 ||
      neg_own.size(0) != neg.size(0)) {
    throw InputError("matcher: negative anchors " + shape_of(neg) + " and owners " +
                     (neg_own.defined() ? shape_of(neg_own) : std::string("(none)")) +
                     " must be [K, " + std::to_string(emb.size(1)) + "] and [K]");
  }
  const auto own_cpu = neg_own.to(torch::kCPU, torch::kInt64).contiguous();
  negative_owners_.assign(own_cpu.data_ptr<int64_t>(),
                          own_cpu.data_ptr<int64_t>() + own_cpu.size(0));
  for (const int64_t o : negative_owners_) {
    if (o != kAnyoneOwner && (o < 0 || o >= identities)) {
      throw InputError("matcher: negative anchor owners must index the " +
                       std::to_string(identities) + " identity names or be kAnyoneOwner");
    }
  }
  negatives_ = (neg.to(device_, torch::kFloat32) - center_).contiguous();
}

std::optional<float> Matcher::own_threshold(int identity) const {
  if (identity < 0 || static_cast<size_t>(identity) >= own_thresholds_.size()) return {};
  return own_thresholds_[static_cast<size_t>(identity)];
}

float Matcher::threshold_of(int identity) const {
  if (identity < 0 || static_cast<size_t>(identity) >= thresholds_.size()) return threshold_;
  return thresholds_[static_cast<size_t>(identity)];
}

void Matcher::check_queries(const torch::Tensor& queries) const {
  if (!queries.defined() || queries.dim() != 2) {
    throw InputError("matcher: queries must be [N, E], got " +
                     (queries.defined() ? shape_of(queries) : std::string("(none)")));
  }
  if (embedding_count() > 0 && queries.size(1) != embeddings_.size(1)) {
    throw InputError("matcher: query embeddings " + shape_of(queries) + " but the gallery's are " +
                     shape_of(embeddings_));
  }
}

torch::Tensor Matcher::identity_distances(const torch::Tensor& queries) const {
  check_queries(queries);
  const int64_t n = queries.size(0);
  const auto identities = static_cast<int64_t>(names_.size());
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  if (embedding_count() == 0) return torch::full({n, identities}, kInf, options);
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

torch::Tensor Matcher::negative_distances(const torch::Tensor& queries) const {
  if (negative_count() == 0) return {};
  // Few rows: a plain cdist.
  const auto q = queries.to(device_, torch::kFloat32) - center_;
  return torch::cdist(q.unsqueeze(0), negatives_.unsqueeze(0))
      .squeeze(0)
      .to(torch::kCPU)
      .contiguous();
}

void Matcher::veto(Match& m, const float* negative_row) const {
  // A face closer to one of the identity's negative anchors (or to the reserved "anyone" set)
  // than to the identity itself is not them, however near.
  if (m.identity < 0) return;
  for (size_t a = 0; a < negative_owners_.size(); ++a) {
    const int64_t owner = negative_owners_[a];
    if (owner != kAnyoneOwner && owner != m.identity) continue;
    const float d = negative_row[a];
    if (d < m.distance && d < m.negative_distance) {
      m.negative_distance = d;
      m.rejection = kReasonNegativeAnchor;
      m.verified = false;
    }
  }
}

Match Matcher::match_identity(const torch::Tensor& query, int identity) const {
  if (identity < 0 || static_cast<size_t>(identity) >= names_.size()) {
    throw InputError("matcher: identity number " + std::to_string(identity) + " of " +
                     std::to_string(names_.size()));
  }
  if (!query.defined() || query.dim() != 2 || query.size(0) != 1) {
    throw InputError("matcher: a 1:1 query must be [1, E], got " +
                     (query.defined() ? shape_of(query) : std::string("(none)")));
  }
  c10::InferenceMode guard;
  Match m;
  m.identity = identity;
  m.name = names_[static_cast<size_t>(identity)];
  m.distance = identity_distances(query)[0][identity].item<float>();
  m.second_distance = m.negative_distance = kInf;
  m.threshold = threshold_of(identity);
  m.verified = m.distance <= m.threshold;
  const torch::Tensor negative_d = negative_distances(query);
  if (negative_d.defined()) veto(m, negative_d[0].data_ptr<float>());
  return m;
}

void Matcher::fill_match(Match& m, const std::vector<std::pair<int, float>>& ranked, int top_k,
                         const float* negative_row) const {
  for (size_t j = 0; j < ranked.size(); ++j) {
    const auto [id, d] = ranked[j];
    if (!std::isfinite(d)) break;  // identities without embeddings: nothing to match
    if (j == 0) {
      m.identity = id;
      m.name = names_[static_cast<size_t>(id)];
      m.distance = d;
      m.threshold = threshold_of(id);
      m.verified = d <= m.threshold;
    } else if (j == 1) {
      m.second_distance = d;
    }
    if (static_cast<int>(j) < top_k) m.top.push_back({id, names_[static_cast<size_t>(id)], d});
  }
  if (negative_row != nullptr) veto(m, negative_row);
}

std::vector<Match> Matcher::match(const torch::Tensor& queries, int top_k) const {
  if (top_k < 0) throw InputError("matcher: top_k must be >= 0, got " + std::to_string(top_k));
  if (index_) return match_approximate(queries, top_k);
  c10::InferenceMode guard;
  const auto distances = identity_distances(queries);
  const int64_t n = distances.size(0);
  const int64_t identities = distances.size(1);
  std::vector<Match> out(static_cast<size_t>(n));
  for (auto& m : out) m.distance = m.second_distance = m.negative_distance = kInf;
  for (auto& m : out) m.threshold = threshold_;
  if (n == 0 || identities == 0) return out;
  const torch::Tensor negative_d = negative_distances(queries);

  const int64_t k = std::min<int64_t>(std::max(top_k, 2), identities);
  const auto top = torch::topk(distances, k, /*dim=*/1, /*largest=*/false, /*sorted=*/true);
  const auto values = std::get<0>(top).to(torch::kCPU).contiguous();
  const auto indices = std::get<1>(top).to(torch::kCPU).contiguous();
  const auto v = values.accessor<float, 2>();
  const auto ix = indices.accessor<int64_t, 2>();
  std::vector<std::pair<int, float>> ranked;
  for (int64_t r = 0; r < n; ++r) {
    ranked.clear();
    for (int64_t j = 0; j < k; ++j) ranked.emplace_back(static_cast<int>(ix[r][j]), v[r][j]);
    fill_match(out[static_cast<size_t>(r)], ranked, top_k,
               negative_d.defined() ? negative_d[r].data_ptr<float>() : nullptr);
  }
  return out;
}

}  // namespace siamese
