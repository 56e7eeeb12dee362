#include "identity_split.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "siamese/cli.h"
#include "siamese/errors.h"
#include "siamese/log.h"
#include "siamese/text_safety.h"

namespace siamese::training {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

// The identities of folder minus the given names.
std::vector<std::string> all_but(const ImageFolder& folder, const std::vector<std::string>& drop) {
  std::vector<std::string> kept;
  for (const auto& name : folder.identities) {
    if (std::find(drop.begin(), drop.end(), name) == drop.end()) kept.push_back(name);
  }
  return kept;
}

constexpr std::uintmax_t kMaxIdentitiesFileBytes = 16u << 20;

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

std::vector<std::string> parse_identity_list(const std::string& list,
                                             const std::vector<std::string>& available,
                                             const std::string& flag) {
  const std::set<std::string> present(available.begin(), available.end());
  const std::vector<std::string> names = cli::expand_list(
      list, flag, [&](const std::string& name) { return present.count(name) > 0; });
  std::set<std::string> seen;
  for (const auto& n : names) {
    if (!present.count(n)) {
      throw InputError(flag + ": identity '" + n + "' is not a subfolder of the data folder");
    }
    if (!seen.insert(n).second) throw InputError(flag + ": identity '" + n + "' is listed twice");
  }
  return names;
}

std::vector<std::string> read_identities_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw FileError(path, "no such identities file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxIdentitiesFileBytes) {
    throw FileError(path, "identities file larger than 16 MiB (or of unknown size)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be read");
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string name = trim(line);
    if (name.empty() || name[0] == '#') continue;
    try {
      check_identity_name(name);
    } catch (const InputError& e) {
      throw FileError(path, "line " + std::to_string(number) + ": " + e.what());
    }
    if (!seen.insert(name).second) {
      throw FileError(path, "line " + std::to_string(number) + ": identity '" +
                                escape_for_display(name) + "' is listed twice");
    }
    names.push_back(name);
  }
  if (names.empty()) throw FileError(path, "names no identity");
  return names;
}

int default_validation_count(int identities) {
  if (identities < 5) return 0;
  return std::max(2, (identities + 2) / 5);
}

DataSplit split_identities(const SplitOptions& options) {
  DataSplit split;
  const ImageFolder data = scan_image_folder(options.data);
  std::vector<std::string> train_names =
      options.identities.empty()
          ? data.identities
          : parse_identity_list(options.identities, data.identities, "--identities");
  if (!options.identities_from_file.empty()) {
    if (!options.identities.empty()) {
      throw InputError("--identities and --identities-file cannot be combined");
    }
    const std::set<std::string> present(data.identities.begin(), data.identities.end());
    for (const auto& name : options.identities_from_file) {
      if (!present.count(name)) {
        throw InputError("--identities-file: identity '" + escape_for_display(name) +
                         "' is not a subfolder of " + options.data);
      }
    }
    train_names = options.identities_from_file;
  }
  if (!options.exclude.empty()) {
    const std::set<std::string> drop(options.exclude.begin(), options.exclude.end());
    std::vector<std::string> kept;
    for (const auto& name : train_names) {
      if (!drop.count(name)) kept.push_back(name);
    }
    train_names = std::move(kept);
  }
  // Image files per identity: only identities with two or more give genuine validation pairs.
  std::map<std::string, int> files;
  for (const auto& item : data.images) ++files[data.identities[item.identity]];
  std::vector<std::string> val_names;
  ImageFolder val_source = data;
  const bool separate = !options.val_data.empty();
  if (separate) {
    val_source = scan_image_folder(options.val_data);
    val_names = options.val_identities_list.empty()
                    ? val_source.identities
                    : parse_identity_list(options.val_identities_list, val_source.identities,
                                          "--val-identities-list");
    split.note = "validation identities from --val-data " + options.val_data;
  } else if (!options.val_identities_list.empty()) {
    val_names =
        parse_identity_list(options.val_identities_list, data.identities, "--val-identities-list");
    if (options.identities.empty() && options.identities_from_file.empty()) {
      ImageFolder remaining;
      remaining.identities = train_names;
      train_names = all_but(remaining, val_names);
    }
    split.note = "validation identities " + join(val_names) + " (--val-identities-list)";
  } else {
    std::vector<std::string> paired;  // identities with two or more image files
    for (const auto& name : train_names) {
      if (files[name] >= 2) paired.push_back(name);
    }
    const int count = options.val_identities >= 0
                          ? options.val_identities
                          : default_validation_count(static_cast<int>(paired.size()));
    if (count > 0) {
      if (count > static_cast<int>(paired.size()) ||
          count > static_cast<int>(train_names.size()) - 2) {
        throw InputError("--val-identities " + std::to_string(count) + ": only " +
                         std::to_string(paired.size()) + " of the " +
                         std::to_string(train_names.size()) + " identities in " + options.data +
                         " have two or more images, and at least two identities must remain "
                         "for training");
      }
      // The last identities (with two or more images) in natural order are held out:
      // predictable and easy to repeat.
      val_names.assign(paired.end() - count, paired.end());
      const std::set<std::string> held(val_names.begin(), val_names.end());
      std::vector<std::string> kept;
      for (const auto& name : train_names) {
        if (!held.count(name)) kept.push_back(name);
      }
      train_names = std::move(kept);
      split.note = "validation identities " +
                   (val_names.size() <= 12 ? join(val_names)
                                           : val_names.front() + " .. " + val_names.back() + " (" +
                                                 std::to_string(val_names.size()) + ")") +
                   " held out of " + options.data;
    } else {
      split.note = "no validation identities: the threshold is calibrated on training identities";
    }
  }

  // Disjointness: the same folder may never give an identity to both sides.
  const bool same_root = !separate || canonical(options.val_data) == canonical(options.data);
  for (const auto& name : val_names) {
    if (std::find(train_names.begin(), train_names.end(), name) == train_names.end()) continue;
    if (same_root) {
      throw InputError("identity '" + name + "' of " + options.data +
                       " is both a training and a validation identity; validation identities "
                       "must be disjoint from training identities");
    }
    log(LogLevel::kWarning, "identity name '" + name + "' appears in both " + options.data +
                                " and " + options.val_data +
                                "; make sure they are different people");
  }
  if (train_names.size() < 2) {
    throw InputError(options.data + ": training needs at least two identities (subfolders), got " +
                     std::to_string(train_names.size()));
  }
  split.train = select_identities(data, train_names);
  if (!val_names.empty()) {
    if (val_names.size() < 2) {
      throw InputError((separate ? options.val_data : options.data) +
                       ": validation needs at least two identities, got " +
                       std::to_string(val_names.size()));
    }
    split.validation = select_identities(val_source, val_names);
  } else {
    split.validation.root = options.data;
  }
  return split;
}

}  // namespace siamese::training
