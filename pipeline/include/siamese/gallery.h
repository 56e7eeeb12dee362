// The enrollment gallery: an embedded SQLite database (WAL mode) of identities and their
// embeddings, bound to the model that made them (fingerprint, embedding size, metric).
// Every change is one transaction (BEGIN IMMEDIATE; writers wait up to kGalleryBusyTimeoutMs
// for each other). Thread-safety: one Gallery per thread; several processes may open the same
// file (SQLite locking; readers see the last committed state). A reader that must follow the
// file while it changes (the element) keeps one Gallery, polls change_counter() and
// file_identity_of(), and reads each new state through a fresh open_reader() + snapshot().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "siamese/matcher.h"
#include "siamese/model_file.h"
#include "siamese/sqlite_db.h"

namespace siamese {

// Version 2 adds negative anchors and per-identity thresholds; a version-1 file is read as
// having none and upgraded in the transaction of its first change.
constexpr int kGallerySchemaVersion = 2;
/// The reserved name of the negative anchors that must never verify as anyone
/// (`siamese-enroll add --not '*'`); no identity may take it.
constexpr const char* kAnyoneName = "*";
constexpr int kGalleryBusyTimeoutMs = 30000;     // how long a writer waits for another one
constexpr int kMaxGalleryEmbeddingSize = 65536;  // a stored size above this is a corrupt file

/// One embedding to enroll and the file it came from.
struct EnrollmentSample {
  std::string source_file;
  std::vector<float> embedding;
  Box box;                            // the face in the source image (0x0 = the whole image)
  Framing framing = Framing::kExact;  // how box was read (lets --rebuild re-crop it)
};

/// An identity's name and the samples to store for it.
using IdentitySamples = std::pair<std::string, std::vector<EnrollmentSample>>;

struct IdentityRecord {
  std::string name;
  std::string created;  // ISO 8601 UTC
  std::string updated;
  int embedding_count = 0;
  int negative_count = 0;          // negative anchors: faces that must not verify as this one
  std::optional<float> threshold;  // its own threshold (`siamese-enroll threshold`), if any
};

/// Where a file lives on disk: a file replaced by another (mv, rm + cp) has another identity.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
  bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

/// The identity of the file at path now; nullopt when it does not exist (no throw).
std::optional<FileIdentity> file_identity_of(const std::string& path);

/// Everything a reader matches against, read in ONE transaction so the binding, the threshold
/// and the rows always come from the same committed state.
struct GallerySnapshot {
  GalleryMatrix matrix;
  std::string model_fingerprint;
  int embedding_size = 0;
  std::string metric;
  std::optional<float> threshold;  // set by `siamese-enroll add --threshold`, validated
};

/// A negative anchor as stored: whose it is (kAnyoneName for the reserved set) and its source.
struct StoredNegative {
  std::string identity;
  std::string source_file;
  std::string enrolled;  // ISO 8601 UTC
};

struct StoredSample {
  std::string identity;
  std::string source_file;
  std::string enrolled;  // ISO 8601 UTC
  Box box;
  Framing framing = Framing::kExact;
};

class Gallery {
 public:
  /// Opens (creating when allowed; new files get mode 0600) and checks the gallery is bound to
  /// this model. Throws FileError naming the path, MismatchError naming both fingerprints.
  static Gallery open(const std::string& path, const ModelInfo& model, bool create);
  /// Opens without checking a model (list, remove, rename, --rebuild); read-only unless
  /// writable. Throws FileError naming the path for a missing or foreign file.
  static Gallery open_unbound(const std::string& path, bool writable);
  /// Opens read-only for matching and checks the binding (schema, model): needs no write access
  /// to the file; in a folder this user cannot write, a fully checkpointed gallery is read as
  /// immutable. Throws FileError naming the path, MismatchError naming both fingerprints.
  static Gallery open_reader(const std::string& path, const ModelInfo& model);

  /// Adds the samples to identity `name`; with replace, the identity's old samples go in the
  /// same transaction (re-enrollment is atomic). Throws and leaves the file unchanged on error.
  void enroll(const std::string& name, const std::vector<EnrollmentSample>& samples, bool replace);
  /// enroll() for several identities in ONE transaction (a whole `siamese-enroll add` run).
  void enroll_batch(const std::vector<IdentitySamples>& identities, bool replace);
  /// Removes an identity; throws InputError when it does not exist.
  void remove(const std::string& name);
  /// Renames; throws InputError when old is missing or new exists.
  void rename(const std::string& old_name, const std::string& new_name);
  /// Replaces the binding and all embeddings at once (--rebuild with a new model).
  /// Identities not listed (or listed without samples) are removed; the stored thresholds
  /// (gallery and per identity) and the negative anchors are dropped (they belonged to the old
  /// model).
  void rebind(const ModelInfo& model,
              const std::vector<std::pair<std::string, std::vector<EnrollmentSample>>>& identities);
  /// Stores the gallery's own threshold (Euclidean distance), or clears it with nullopt.
  void set_threshold(std::optional<float> threshold);
  /// Adds negative anchors to identity `name` (kAnyoneName: faces that must never verify as
  /// anyone), in one transaction. Throws InputError for an unknown name, no samples or a bad
  /// embedding, leaving the file unchanged.
  void add_negatives(const std::string& name, const std::vector<EnrollmentSample>& samples);
  /// Stores identity `name`'s own threshold, or clears it with nullopt. Throws InputError for an
  /// unknown name or a value that is not a finite distance >= 0.
  void set_identity_threshold(const std::string& name, std::optional<float> threshold);
  /// Stores several identities' thresholds in ONE transaction (`calibrate --apply`); throws
  /// before writing anything when a name is unknown or a value is bad.
  void set_identity_thresholds(const std::vector<std::pair<std::string, float>>& thresholds);

  /// Identities with their embedding counts, by name.
  std::vector<IdentityRecord> identities() const;
  /// Every stored sample (identity, source file, box, framing), by identity then age.
  std::vector<StoredSample> samples() const;
  /// Every negative anchor (kAnyoneName's first), by identity then age.
  std::vector<StoredNegative> negatives() const;
  /// The file's schema version (1 or kGallerySchemaVersion).
  int schema_version() const;
  /// Every embedding as one matrix for the Matcher (one consistent read; CPU float32).
  GalleryMatrix load_matrix() const;
  /// The binding, the threshold and every embedding in one read transaction; re-checks the
  /// schema version. Throws FileError naming the path (corrupt rows, bad threshold).
  GallerySnapshot snapshot() const;

  /// The fingerprint of the model the gallery is bound to (16 hex digits).
  std::string model_fingerprint() const;
  /// Values per embedding.
  int embedding_size() const;
  /// The distance metric ("euclidean").
  std::string metric() const;
  /// ISO 8601 UTC time the gallery was created.
  std::string created() const;
  /// The threshold set by `siamese-enroll add --threshold`, if any (overrides the model's).
  /// Throws FileError naming the path when the stored value is not a finite distance >= 0.
  std::optional<float> threshold() const;
  const std::string& path() const { return file_.path; }
  /// The file this connection reads (stat-ed before opening, so a replacement racing the open
  /// shows as a changed identity, never as an unchanged one).
  const FileIdentity& file_identity() const { return file_identity_; }
  /// Changes whenever any connection commits (PRAGMA data_version + file stat): cheap to poll.
  /// data_version covers other connections, a local count our own commits, and the stat of
  /// the file and its -wal (inode, size, mtime) a gallery file replaced by another one.
  int64_t change_counter() const;

  Gallery(Gallery&&) noexcept = default;
  Gallery& operator=(Gallery&&) noexcept = default;
  ~Gallery() = default;

 private:
  Gallery(sql::FileRef file, sql::Connection db, FileIdentity identity);
  std::string fact(const std::string& key) const;
  void check_schema_version() const;
  void upgrade_schema();  // inside a write transaction: version 1 -> current
  void after_commit();
  sql::FileRef file_;  // the path, and how errors name the file
  sql::Connection db_;
  FileIdentity file_identity_;
  int64_t own_commits_ = 0;
};

}  // namespace siamese
