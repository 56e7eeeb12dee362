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

/// How validation identities are chosen (at most one of the three; none = the default).
struct SplitOptions {
  std::string data;              // --data
  std::string identities;        // --identities ("" = all)
  std::string val_data;          // --val-data ("" = from --data)
  std::string val_identities_list;  // --val-identities-list
  int val_identities = -1;       // --val-identities N (-1 = not given, 0 = no validation)
};

struct DataSplit {
  ImageFolder train;
  ImageFolder validation;  // no identities when there is no validation
  std::string note;        // one line: where the validation identities came from
};

/// The default number of held-out identities: a fifth (at least 2), or 0 below 5 identities.
int default_validation_count(int identities);

/// Scans the folders and splits them. Throws FileError naming a missing folder, InputError for
/// overlapping training and validation identities or too few identities left.
DataSplit split_identities(const SplitOptions& options);

}  // namespace siamese::training
