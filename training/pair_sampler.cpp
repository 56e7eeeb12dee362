#include "pair_sampler.h"

#include <map>
#include <sstream>

#include "siamese/errors.h"

namespace siamese::training {

PairSampler::PairSampler(std::vector<int> labels, uint64_t seed)
    : labels_(std::move(labels)), rng_(static_cast<std::mt19937::result_type>(seed)) {
  std::map<int, int> slot_of;
  for (int label : labels_) slot_of.emplace(label, 0);
  int slot = 0;
  for (auto& [label, s] : slot_of) s = slot++;
  if (slot_of.size() < 2) {
    throw InputError("pair sampling needs at least two identities, got " +
                     std::to_string(slot_of.size()));
  }
  same_.resize(slot_of.size());
  others_.resize(slot_of.size());
  identity_slot_.resize(labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    identity_slot_[i] = slot_of[labels_[i]];
    same_[identity_slot_[i]].push_back(static_cast<int64_t>(i));
  }
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (same_[identity_slot_[i]].size() >= 2) paired_.push_back(static_cast<int64_t>(i));
  }
  for (size_t s = 0; s < same_.size(); ++s) {
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (identity_slot_[i] != static_cast<int>(s)) others_[s].push_back(static_cast<int64_t>(i));
    }
  }
}

int64_t PairSampler::uniform(int64_t n) {
  return std::uniform_int_distribution<int64_t>(0, n - 1)(rng_);
}

PairBatch PairSampler::pairs(int64_t n) {
  PairBatch batch;
  batch.first.reserve(n);
  batch.second.reserve(n);
  batch.different.reserve(n);
  const auto count = static_cast<int64_t>(labels_.size());
  for (int64_t k = 0; k < n; ++k) {
    int64_t a = uniform(count);
    const bool same = uniform(2) == 1;
    // A person with one image (LFW has thousands) gives no genuine pair but itself: the first
    // member of a genuine pair is then drawn among the images that have a partner. Data without
    // such people draws exactly as before.
    if (same && same_[identity_slot_[a]].size() < 2 && !paired_.empty()) {
      a = paired_[uniform(static_cast<int64_t>(paired_.size()))];
    }
    const int slot = identity_slot_[a];
    const auto& pool = same ? same_[slot] : others_[slot];
    const int64_t b = pool[uniform(static_cast<int64_t>(pool.size()))];
    batch.first.push_back(a);
    batch.second.push_back(b);
    batch.different.push_back(labels_[b] == labels_[a] ? 0.0f : 1.0f);
  }
  return batch;
}

TripletBatch PairSampler::triplets(int64_t n) {
  TripletBatch batch;
  const auto count = static_cast<int64_t>(labels_.size());
  for (int64_t k = 0; k < n; ++k) {
    const int64_t a = uniform(count);
    const auto& same = same_[identity_slot_[a]];
    int64_t p = a;
    if (same.size() > 1) {
      // Another image of the identity: draw among the members other than the anchor.
      const int64_t r = uniform(static_cast<int64_t>(same.size()) - 1);
      p = same[r] >= a ? same[r + 1] : same[r];
    }
    const auto& others = others_[identity_slot_[a]];
    batch.anchor.push_back(a);
    batch.positive.push_back(p);
    batch.negative.push_back(others[uniform(static_cast<int64_t>(others.size()))]);
  }
  return batch;
}

std::string PairSampler::state() const {
  std::ostringstream out;
  out << rng_;
  return out.str();
}

void PairSampler::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937 rng;
  in >> rng;
  if (in.fail()) throw InputError("checkpoint: the pair sampler state is not readable");
  rng_ = rng;
}

}  // namespace siamese::training
