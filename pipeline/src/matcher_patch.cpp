// Matcher::patched: a gallery change (some identities replaced or removed) applied to a loaded
// matcher, so that a follower of a large shared gallery picks up one person's enrollment or
// removal without reading a million rows again. The kept rows are copied as they are (already
// centred on the base's centre: distances are shift-invariant, so any fixed centre is right);
// only the changed identities' rows are new.
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "siamese/errors.h"
#include "siamese/matcher.h"

namespace siamese {
namespace {

// Checks change.rows against itself, the change's names and the base's embedding size.
void check_change(const MatcherChange& change, int64_t base_width) {
  const std::set<std::string> replaced(change.replaced.begin(), change.replaced.end());
  const GalleryMatrix& rows = change.rows;
  for (const auto& name : rows.names) {
    if (replaced.count(name) == 0) {
      throw InputError("matcher change: identity '" + name + "' has rows but is not replaced");
    }
  }
  const auto identities = static_cast<int64_t>(rows.names.size());
  if (rows.size() > 0) {
    if (rows.embeddings.dim() != 2 || !rows.owners.defined() ||
        rows.owners.size(0) != rows.size()) {
      throw InputError("matcher change: rows and owners do not agree");
    }
    if (base_width > 0 && rows.embeddings.size(1) != base_width) {
      throw InputError("matcher change: embeddings of " + std::to_string(rows.embeddings.size(1)) +
                       " values, the gallery's have " + std::to_string(base_width));
    }
    const auto owners = rows.owners.to(torch::kInt64);
    if (owners.min().item<int64_t>() < 0 || owners.max().item<int64_t>() >= identities) {
      throw InputError("matcher change: owners must index the changed identities");
    }
  }
  if (rows.negative_count() > 0) {
    const auto owners = rows.negative_owners.to(torch::kCPU, torch::kInt64).contiguous();
    for (int64_t i = 0; i < owners.size(0); ++i) {
      const int64_t o = owners.data_ptr<int64_t>()[i];
      if (o == kAnyoneOwner ? !change.anyone_replaced : (o < 0 || o >= identities)) {
        throw InputError("matcher change: a negative anchor's owner is not a changed identity");
      }
    }
  }
}

}  // namespace

void Matcher::patch_index_from(const Matcher& base, const torch::Tensor& keep,
                               const torch::Tensor& added) {
  const int64_t rows = embedding_count();
  // A quantizer trained on a gallery 4 times smaller or larger no longer splits it evenly.
  const int64_t trained = base.index_trained_rows_;
  if (!base.index_ || rows > 4 * trained || 4 * rows < trained) {
    build_index();
    return;
  }
  std::vector<int64_t> new_row_of_old;
  int64_t kept = 0;
  if (keep.defined()) {
    const auto keep_cpu = keep.to(torch::kCPU).contiguous();
    const bool* k = keep_cpu.data_ptr<bool>();
    new_row_of_old.resize(static_cast<size_t>(keep_cpu.size(0)));
    for (size_t r = 0; r < new_row_of_old.size(); ++r) new_row_of_old[r] = k[r] ? kept++ : -1;
  }
  const auto none = torch::empty({0, embeddings_.size(1)});
  index_ =
      base.index_->patched(new_row_of_old, added.defined() ? added.to(torch::kCPU) : none, kept);
  index_trained_rows_ = trained;
  owners_cpu_ = owners_.to(torch::kCPU).contiguous();
}

int64_t Matcher::embedding_count_after(const MatcherChange& change) const {
  const std::set<std::string> replaced(change.replaced.begin(), change.replaced.end());
  int64_t count = change.rows.size();
  if (embedding_count() == 0) return count;
  const auto per_identity =
      torch::bincount(owners_.to(torch::kCPU), {}, static_cast<int64_t>(names_.size()));
  for (size_t i = 0; i < names_.size(); ++i) {
    if (replaced.count(names_[i]) == 0)
      count += per_identity[static_cast<int64_t>(i)].item<int64_t>();
  }
  return count;
}

std::shared_ptr<const Matcher> Matcher::patched(const MatcherChange& change,
                                                const ThresholdChoice& threshold) const {
  const int64_t width = embedding_count() > 0 ? embeddings_.size(1) : 0;
  check_change(change, width);
  const std::set<std::string> replaced(change.replaced.begin(), change.replaced.end());

  // The new identities in name order (as a fresh snapshot lists them), with their own
  // thresholds, and where each old and each changed identity number goes.
  std::vector<std::pair<std::string, std::optional<float>>> identities;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (replaced.count(names_[i]) == 0) identities.emplace_back(names_[i], own_thresholds_[i]);
  }
  const GalleryMatrix& rows = change.rows;
  for (size_t i = 0; i < rows.names.size(); ++i) {
    identities.emplace_back(rows.names[i],
                            i < rows.thresholds.size() ? rows.thresholds[i] : std::nullopt);
  }
  std::sort(identities.begin(), identities.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  GalleryMatrix shape;
  std::unordered_map<std::string, int64_t> number_of;
  for (const auto& [name, own] : identities) {
    if (!number_of.emplace(name, static_cast<int64_t>(shape.names.size())).second) {
      throw InputError("matcher change: identity '" + name + "' twice");
    }
    shape.names.push_back(name);
    shape.thresholds.push_back(own);
  }
  const auto numbers_of = [&](const std::vector<std::string>& names) {
    std::vector<int64_t> to(names.size(), -1);
    for (size_t i = 0; i < names.size(); ++i) {
      const auto it = number_of.find(names[i]);
      if (it != number_of.end()) to[i] = it->second;
    }
    return to;
  };
  std::vector<int64_t> old_to_new = numbers_of(names_);
  for (size_t i = 0; i < names_.size(); ++i) {
    if (replaced.count(names_[i]) != 0) old_to_new[i] = -1;  // a changed identity's old rows go
  }
  const std::vector<int64_t> change_to_new = numbers_of(rows.names);

  // Thresholds per identity, resolved as the constructor does; no rows yet.
  auto out = std::make_shared<Matcher>(std::move(shape), device_, threshold, search_);
  torch::NoGradGuard no_grad;
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64);
  const auto map_owners = [&](const std::vector<int64_t>& to, const torch::Tensor& owners) {
    const auto table = torch::tensor(to, index_options).to(owners.device());
    return table.index_select(0, owners.to(torch::kInt64));
  };
  out->center_ = center_.defined() ? center_
                 : rows.size() > 0 ? rows.embeddings.to(device_, torch::kFloat32).mean(0)
                                   : torch::Tensor();
  // The kept rows, then the added ones, each copied once straight into the new matrix (at a
  // million rows the copies are most of the cost).
  torch::Tensor keep, kept_rows, new_owners, added;
  if (embedding_count() > 0) {
    new_owners = map_owners(old_to_new, owners_);
    keep = new_owners.ge(0);
    kept_rows = keep.nonzero().squeeze(1);
  }
  if (rows.size() > 0) added = rows.embeddings.to(device_, torch::kFloat32) - out->center_;
  const int64_t kept = kept_rows.defined() ? kept_rows.size(0) : 0;
  const int64_t total = kept + (added.defined() ? added.size(0) : 0);
  if (total == 0) {
    out->center_ = torch::Tensor();
    return out;
  }
  const int64_t columns = kept > 0 ? embeddings_.size(1) : added.size(1);
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  out->embeddings_ = torch::empty({total, columns}, float_options);
  out->sq_norms_ = torch::empty({total}, float_options);
  out->owners_ = torch::empty({total}, index_options.device(device_));
  if (kept > 0) {
    auto embeddings = out->embeddings_.narrow(0, 0, kept);
    auto norms = out->sq_norms_.narrow(0, 0, kept);
    auto owners = out->owners_.narrow(0, 0, kept);
    torch::index_select_out(embeddings, embeddings_, 0, kept_rows);
    torch::index_select_out(norms, sq_norms_, 0, kept_rows);
    torch::index_select_out(owners, new_owners, 0, kept_rows);
  }
  if (added.defined()) {
    const int64_t n = added.size(0);
    out->embeddings_.narrow(0, kept, n).copy_(added);
    out->sq_norms_.narrow(0, kept, n).copy_(added.pow(2).sum(1));
    out->owners_.narrow(0, kept, n).copy_(map_owners(change_to_new, rows.owners.to(device_)));
  }
  if (search_.approximate) out->patch_index_from(*this, keep, added);

  // Negative anchors: the kept identities' (renumbered) and the reserved set unless replaced,
  // then the change's.
  std::vector<torch::Tensor> negatives;
  std::vector<int64_t> kept_negatives;
  for (size_t a = 0; a < negative_owners_.size(); ++a) {
    const int64_t o = negative_owners_[a];
    const bool keep_it =
        o == kAnyoneOwner ? !change.anyone_replaced : old_to_new[static_cast<size_t>(o)] >= 0;
    if (!keep_it) continue;
    kept_negatives.push_back(static_cast<int64_t>(a));
    out->negative_owners_.push_back(o == kAnyoneOwner ? o : old_to_new[static_cast<size_t>(o)]);
  }
  if (!kept_negatives.empty()) {
    negatives.push_back(negatives_.index_select(
        0, torch::tensor(kept_negatives, index_options).to(negatives_.device())));
  }
  if (rows.negative_count() > 0) {
    negatives.push_back(rows.negatives.to(device_, torch::kFloat32) - out->center_);
    const auto own = rows.negative_owners.to(torch::kCPU, torch::kInt64).contiguous();
    for (int64_t i = 0; i < own.size(0); ++i) {
      const int64_t o = own.data_ptr<int64_t>()[i];
      out->negative_owners_.push_back(o == kAnyoneOwner ? kAnyoneOwner
                                                        : change_to_new[static_cast<size_t>(o)]);
    }
  }
  if (!negatives.empty()) out->negatives_ = torch::cat(negatives).contiguous();
  return out;
}

}  // namespace siamese
