// Which identities train and which validate: identity lists such as "s11-s40" or "s1,s3,s5",
// and the split into training and validation folders, whose identities never overlap.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "siamese/image_io.h"

namespace siamese::training {

/// Expands a comma list of names and ranges ("s11-s40", "3-7", "alice,bob") against the
/// identities of a folder; a name present as it is wins over a range reading. Throws
/// InputError naming the flag and the missing identity.
std::vector<std::string> parse_identity_list(const std::string& list,
                                             const std::vector<std::string>& available,
                                             const std::string& flag);

/// The identity names of a file, one per line (blank lines and lines starting with '#'
/// ignored), in file order. Throws FileError naming the file (and the line) when it is missing,
/// unreadable, larger than 16 MiB, or a line is not a usable identity name or is repeated.
std::vector<std::string> read_identities_file(const std::string& path);

/// How validation identities are chosen (at most one of the three; none = the default).
struct SplitOptions {
  std::string data;                               // --data
  std::string identities;                         // --identities ("" = all)
  std::vector<std::string> identities_from_file;  // --identities-file (empty = not given)
  std::vector<std::string> exclude;  // left out of training and validation (--exclude-pairs)
  std::string val_data;              // --val-data ("" = from --data)
  std::string val_identities_list;   // --val-identities-list
  int val_identities = -1;           // --val-identities N (-1 = not given, 0 = no validation)
};

struct DataSplit {
  ImageFolder train;
  ImageFolder validation;  // no identities when there is no validation
  std::string note;        // one line: where the validation identities came from
};

/// The default number of held-out identities: a fifth (at least 2), or 0 below 5 identities.
/// Counted among the identities with at least two images (the others give no genuine pair).
int default_validation_count(int identities);

/// Scans the folders and splits them. --val-identities N holds out the last N identities that
/// have at least two image files. Throws FileError naming a missing folder, InputError for
/// overlapping training and validation identities, a name of identities_from_file that is not
/// a subfolder, or too few identities left.
DataSplit split_identities(const SplitOptions& options);

}  // namespace siamese::training
