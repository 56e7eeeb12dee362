// Draws training pairs and triplets by the seed's rule: a random first image; with probability
// 0.5 a second image of the same identity (possibly the same image), otherwise one of another
// identity; a genuine pair starts from an image whose identity has another one, when any has.
// Seeded std::mt19937, so a run is repeatable. Thread-safety: one sampler per thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace siamese::training {

/// A batch of pairs: indices into the dataset and 1 = different identities, 0 = same.
struct PairBatch {
  std::vector<int64_t> first;
  std::vector<int64_t> second;
  std::vector<float> different;
};

/// A batch of triplets: anchor and positive of one identity, negative of another.
struct TripletBatch {
  std::vector<int64_t> anchor;
  std::vector<int64_t> positive;
  std::vector<int64_t> negative;
};

class PairSampler {
 public:
  /// labels: identity of each image (any ints). Throws InputError when fewer than two
  /// identities are present.
  PairSampler(std::vector<int> labels, uint64_t seed);

  /// n pairs by the seed's rule.
  PairBatch pairs(int64_t n);
  /// n triplets: random anchor; positive another image of its identity when it has one;
  /// negative a random image of another identity.
  TripletBatch triplets(int64_t n);

  /// The generator state as text (for checkpoints), and its restoration.
  std::string state() const;
  /// Restores a state from state(); throws InputError when the text is not one.
  void set_state(const std::string& state);
  /// The generator, shared with augmentation so one seed drives a whole run.
  std::mt19937& rng() { return rng_; }

 private:
  int64_t uniform(int64_t n);  // 0..n-1

  std::vector<int> labels_;
  std::vector<std::vector<int64_t>> same_;    // per image position of its identity: members
  std::vector<std::vector<int64_t>> others_;  // per identity: images of every other identity
  std::vector<int> identity_slot_;            // image -> index into same_/others_
  std::vector<int64_t> paired_;               // images whose identity has two or more
  std::mt19937 rng_;
};

}  // namespace siamese::training
