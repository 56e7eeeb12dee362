#include "lfw_pairs.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "siamese/errors.h"
#include "siamese/text_safety.h"

namespace siamese::training {
namespace {

// Fields separated by tabs (the file's separator) or spaces; none may be empty.
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == '\t' || line[i] == ' ')) ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != '\t' && line[j] != ' ') ++j;
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// A decimal integer of digits only in [min, max]; false otherwise.
bool parse_bounded(const std::string& text, long min, long max, int& value) {
  if (text.empty() || text.size() > 9) return false;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return false;
  value = static_cast<int>(v);
  return true;
}

class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw FileError(path, "no such pairs file (LFW View 2 pairs.txt)");
    }
    if (!in_) throw FileError(path, "cannot be read");
  }

  // The next line without its end (a CR before the LF is dropped); false at the end.
  bool next(std::string& line) {
    line.clear();
    char c = 0;
    bool any = false;
    while (in_.get(c)) {
      any = true;
      if (c == '\n') break;
      if (line.size() >= kMaxLfwLineBytes) {
        throw FileError(path_, "line " + std::to_string(number_ + 1) + ": longer than " +
                                   std::to_string(kMaxLfwLineBytes) + " bytes");
      }
      line.push_back(c);
    }
    if (!any) return false;
    ++number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }

  // Throws FileError naming the file and the line read last.
  [[noreturn]] void fail(const std::string& what) const {
    throw FileError(path_, "line " + std::to_string(number_) + ": " + what);
  }
  int number() const { return number_; }

 private:
  std::string path_;
  std::ifstream in_;
  int number_ = 0;
};

std::string name_of(const std::string& text, const LineReader& reader) {
  if (text == "." || text == ".." || text.find('/') != std::string::npos ||
      text.find('\\') != std::string::npos) {
    reader.fail("'" + escape_for_display(text) + "' is not a person's folder name");
  }
  try {
    check_identity_name(text);
  } catch (const InputError& e) {
    reader.fail(e.what());
  }
  return text;
}

int image_number(const std::string& text, const LineReader& reader) {
  int n = 0;
  if (!parse_bounded(text, 1, kMaxLfwImageNumber, n)) {
    reader.fail("'" + escape_for_display(text) + "' is not an image number in 1.." +
                std::to_string(kMaxLfwImageNumber));
  }
  return n;
}

}  // namespace

LfwPairs read_lfw_pairs(const std::string& path) {
  LineReader reader(path);
  LfwPairs out;
  out.path = path;
  std::string line;
  if (!reader.next(line)) throw FileError(path, "empty: expected the header line FOLDS<TAB>N");
  const std::vector<std::string> header = fields_of(line);
  if (header.size() != 2 || !parse_bounded(header[0], 1, kMaxLfwFolds, out.folds) ||
      !parse_bounded(header[1], 1, kMaxLfwPairsPerClass, out.pairs_per_class)) {
    reader.fail("expected the header FOLDS<TAB>N (folds 1.." + std::to_string(kMaxLfwFolds) +
                ", pairs per class 1.." + std::to_string(kMaxLfwPairsPerClass) + "), got '" +
                escape_for_display(line) + "'");
  }
  const int64_t per_fold = 2LL * out.pairs_per_class;
  const int64_t expected = per_fold * out.folds;
  out.pairs.reserve(static_cast<size_t>(std::min<int64_t>(expected, 1 << 20)));
  while (static_cast<int64_t>(out.pairs.size()) < expected) {
    if (!reader.next(line)) {
      throw FileError(path, "ends after line " + std::to_string(reader.number()) + " with " +
                                std::to_string(out.pairs.size()) + " pairs; the header promises " +
                                std::to_string(out.folds) + " folds of " +
                                std::to_string(out.pairs_per_class) + " matched and " +
                                std::to_string(out.pairs_per_class) + " mismatched pairs (" +
                                std::to_string(expected) + ")");
    }
    const int64_t k = static_cast<int64_t>(out.pairs.size());
    LfwPair p;
    p.fold = static_cast<int>(k / per_fold);
    p.matched = k % per_fold < out.pairs_per_class;
    p.line = reader.number();
    const std::vector<std::string> f = fields_of(line);
    if (p.matched) {
      if (f.size() != 3) {
        reader.fail("expected a matched pair 'name<TAB>n1<TAB>n2' (fold " +
                    std::to_string(p.fold + 1) + ", matched pair " +
                    std::to_string(k % per_fold + 1) + " of " +
                    std::to_string(out.pairs_per_class) + "), got " + std::to_string(f.size()) +
                    " fields: '" + escape_for_display(line) + "'");
      }
      p.name1 = p.name2 = name_of(f[0], reader);
      p.number1 = image_number(f[1], reader);
      p.number2 = image_number(f[2], reader);
      if (p.number1 == p.number2) reader.fail("a matched pair of one image with itself");
    } else {
      if (f.size() != 4) {
        reader.fail("expected a mismatched pair 'name1<TAB>n1<TAB>name2<TAB>n2' (fold " +
                    std::to_string(p.fold + 1) + ", mismatched pair " +
                    std::to_string(k % per_fold - out.pairs_per_class + 1) + " of " +
                    std::to_string(out.pairs_per_class) + "), got " + std::to_string(f.size()) +
                    " fields: '" + escape_for_display(line) + "'");
      }
      p.name1 = name_of(f[0], reader);
      p.number1 = image_number(f[1], reader);
      p.name2 = name_of(f[2], reader);
      p.number2 = image_number(f[3], reader);
      if (p.name1 == p.name2) reader.fail("a mismatched pair names one person twice");
    }
    out.pairs.push_back(std::move(p));
  }
  while (reader.next(line)) {
    if (!fields_of(line).empty()) {
      reader.fail("more pairs than the header's " + std::to_string(out.folds) + " folds of " +
                  std::to_string(out.pairs_per_class) + " + " +
                  std::to_string(out.pairs_per_class));
    }
  }
  return out;
}

std::string lfw_image_path(const std::string& root, const std::string& name, int number) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%04d", number);
  return (std::filesystem::path(root) / name / (name + "_" + digits + ".jpg")).string();
}

std::vector<std::string> lfw_people(const LfwPairs& pairs, const std::vector<int>& folds) {
  const std::set<int> wanted(folds.begin(), folds.end());
  std::set<std::string> names;
  for (const LfwPair& p : pairs.pairs) {
    if (!wanted.empty() && !wanted.count(p.fold)) continue;
    names.insert(p.name1);
    names.insert(p.name2);
  }
  return {names.begin(), names.end()};
}

LfwFoldFigures cross_fold_accuracy(const PairScores& scores, const std::vector<int>& fold,
                                   int folds) {
  if (scores.distance.size() != fold.size() || scores.genuine.size() != fold.size()) {
    throw InputError("cross_fold_accuracy: one fold index per pair expected");
  }
  if (folds < 2) throw InputError("cross_fold_accuracy: needs at least two folds");
  for (int f : fold) {
    if (f < 0 || f >= folds) {
      throw InputError("cross_fold_accuracy: fold index " + std::to_string(f) + " not in [0, " +
                       std::to_string(folds) + ")");
    }
  }
  LfwFoldFigures out;
  std::vector<double> accuracies;
  for (int k = 0; k < folds; ++k) {
    PairScores tested, rest;
    for (size_t i = 0; i < fold.size(); ++i) {
      PairScores& to = fold[i] == k ? tested : rest;
      to.distance.push_back(scores.distance[i]);
      to.genuine.push_back(scores.genuine[i]);
    }
    if (tested.distance.empty() || rest.distance.empty()) {
      throw InputError("cross_fold_accuracy: fold " + std::to_string(k + 1) +
                       " (or the folds besides it) has no pairs");
    }
    LfwFold f;
    f.threshold = best_threshold(rest).threshold;  // chosen without fold k's pairs
    f.accuracy = accuracy_at(tested, f.threshold);
    f.pairs = static_cast<int64_t>(tested.distance.size());
    accuracies.push_back(f.accuracy);
    out.folds.push_back(f);
  }
  out.accuracy = mean_and_standard_error(accuracies);
  return out;
}

}  // namespace siamese::training
