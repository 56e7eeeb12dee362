// The LFW View 2 protocol: the standard pairs.txt (10 people-disjoint folds of matched and
// mismatched pairs) read strictly, the image file of each pair member, and the figures of the
// protocol: per fold the accuracy at the threshold chosen on the other folds, their mean and
// standard error. Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "siamese/metrics.h"

namespace siamese::training {

/// Bounds of a pairs file (larger values are refused before anything is allocated).
constexpr int kMaxLfwFolds = 100;
constexpr int kMaxLfwPairsPerClass = 100000;  // matched (and mismatched) pairs per fold
constexpr int kMaxLfwImageNumber = 9999;      // <name>_NNNN.jpg
constexpr size_t kMaxLfwLineBytes = 4096;

/// One pair of pairs.txt: (name1, number1) and (name2, number2); name2 == name1 when matched.
struct LfwPair {
  std::string name1;
  int number1 = 0;
  std::string name2;
  int number2 = 0;
  bool matched = false;
  int fold = 0;  // 0-based
  int line = 0;  // 1-based line of the file
};

struct LfwPairs {
  std::string path;
  int folds = 0;
  int pairs_per_class = 0;  // per fold: this many matched, then this many mismatched
  std::vector<LfwPair> pairs;
};

/// Reads a View 2 pairs file: a header "FOLDS<TAB>N", then per fold N matched lines
/// "name<TAB>n1<TAB>n2" followed by N mismatched lines "name1<TAB>n1<TAB>name2<TAB>n2";
/// blank lines only at the end. Throws FileError naming the path (and the line) when it is
/// missing, unreadable, or any line is malformed, out of place, out of bounds or missing.
LfwPairs read_lfw_pairs(const std::string& path);

/// The file of one pair member: root/name/name_NNNN.jpg (number zero-padded to 4 digits).
std::string lfw_image_path(const std::string& root, const std::string& name, int number);

/// The people named by the pairs of the given folds (0-based; empty = every fold), sorted.
std::vector<std::string> lfw_people(const LfwPairs& pairs, const std::vector<int>& folds = {});

/// One fold of the protocol: its pairs decided at the threshold chosen on the other folds.
struct LfwFold {
  double accuracy = 0.0;
  double threshold = 0.0;  // best accuracy on the other folds' pairs
  int64_t pairs = 0;
};

struct LfwFoldFigures {
  std::vector<LfwFold> folds;
  MeanAndError accuracy;  // mean of the folds' accuracies and its standard error
};

/// The View 2 accuracy: for each fold k, the threshold of best accuracy on the pairs of every
/// other fold (best_threshold), then the accuracy of fold k's pairs at it. scores and fold give
/// every pair (fold in [0, folds)). Throws InputError when sizes differ, a fold index is out of
/// range, or a fold (or the rest) has no pairs.
LfwFoldFigures cross_fold_accuracy(const PairScores& scores, const std::vector<int>& fold,
                                   int folds);

}  // namespace siamese::training
