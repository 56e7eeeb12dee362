// The enrollment gallery: identities and their embeddings, bound to the model that made them
// (fingerprint, embedding size, metric). Two stores implement one interface (GalleryStore): an
// embedded SQLite file (the default; WAL mode, writers wait up to kGalleryBusyTimeoutMs) and a
// PostgreSQL database shared by a fleet (postgres_gallery.h). Gallery is the handle every caller
// holds; its open functions choose the store by location: `postgresql://` or `postgres://` ->
// PostgreSQL, anything else is a file path -> SQLite. Every change is one transaction. Thread-
// safety: one Gallery per thread; several processes may open the same gallery (readers see the
// last committed state). A reader that must follow changes (the element) polls change_counter()
// (and, for a file, file_identity_of()) or, for PostgreSQL, a PostgresChangeListener, and reads
// each new state through a fresh open_reader() + snapshot().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "siamese/gallery_location.h"
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

/// Why rows embedded with the `stored` preprocessing facts must not be matched with model's
/// embeddings ("" when they may): the facts that differ, by name, or that none are recorded
/// (a gallery written before they were: fail closed).
std::string preprocessing_mismatch(const std::string& stored, const ModelInfo& model);

/// Everything a reader matches against, read in ONE transaction so the binding, the threshold
/// and the rows always come from the same committed state.
struct GallerySnapshot {
  GalleryMatrix matrix;
  std::string model_fingerprint;
  std::string preprocessing;  // preprocessing_facts of the model that embedded the rows
  int embedding_size = 0;
  std::string metric;
  std::optional<float> threshold;  // set by `siamese-enroll add --threshold`, validated
  int64_t version = 0;             // PostgreSQL: the version row read with it (SQLite: 0)
};

/// What changed in a gallery since a version a reader loaded (PostgreSQL's change log), read in
/// one transaction with the binding and threshold of the new version.
struct GalleryDelta {
  int64_t version = 0;  // the version it brings the reader to
  std::string model_fingerprint;
  std::string preprocessing;
  int embedding_size = 0;
  std::optional<float> threshold;
  MatcherChange change;  // the identities changed since, with their rows now
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

/// Everything a gallery holds, read in one transaction: what `siamese-enroll migrate` copies.
struct GalleryContent {
  ModelInfo model;            // fingerprint, embedding_size, metric
  std::string preprocessing;  // as stored ("" in a gallery written before it was recorded)
  std::string created;
  std::optional<float> threshold;
  std::vector<IdentityRecord> identities;  // name, created, updated, threshold
  std::vector<StoredSample> samples;
  std::vector<std::vector<float>> sample_embeddings;  // one per sample
  std::vector<StoredNegative> negatives;
  std::vector<std::vector<float>> negative_embeddings;  // one per negative
};

/// What every gallery store does; Gallery forwards to one. Errors name the gallery by
/// display name (a path, or a URI without password): FileError for an unreadable store,
/// InputError for bad arguments, MismatchError for another model.
class GalleryStore {
 public:
  virtual ~GalleryStore() = default;
  /// enroll() for several identities in ONE transaction.
  virtual void enroll_batch(const std::vector<IdentitySamples>& identities, bool replace) = 0;
  /// Removes an identity (embeddings, negatives); InputError when it does not exist.
  virtual void remove(const std::string& name) = 0;
  /// Renames; InputError when old is missing or new exists.
  virtual void rename(const std::string& old_name, const std::string& new_name) = 0;
  /// Records preprocessing facts in a gallery that has none; see Gallery::bind_preprocessing.
  virtual void bind_preprocessing(const ModelInfo& model) = 0;
  /// Replaces the binding and all embeddings at once; see Gallery::rebind.
  virtual void rebind(const ModelInfo& model, const std::vector<IdentitySamples>& identities) = 0;
  /// Stores (or clears) the gallery's own threshold.
  virtual void set_threshold(std::optional<float> threshold) = 0;
  /// Adds negative anchors to `name` (or kAnyoneName) in one transaction.
  virtual void add_negatives(const std::string& name,
                             const std::vector<EnrollmentSample>& samples) = 0;
  /// Stores (or clears) one identity's threshold.
  virtual void set_identity_threshold(const std::string& name, std::optional<float> t) = 0;
  /// Stores several identities' thresholds in ONE transaction.
  virtual void set_identity_thresholds(
      const std::vector<std::pair<std::string, float>>& thresholds) = 0;
  /// Identities with their counts, by name.
  virtual std::vector<IdentityRecord> identities() const = 0;
  /// Every stored sample, by identity then age.
  virtual std::vector<StoredSample> samples() const = 0;
  /// Every negative anchor (kAnyoneName's first), by identity then age.
  virtual std::vector<StoredNegative> negatives() const = 0;
  /// The schema version (1 or kGallerySchemaVersion).
  virtual int schema_version() const = 0;
  /// The binding, the threshold and every embedding in one read transaction.
  virtual GallerySnapshot snapshot() const = 0;
  /// The stored fact `key` ("" when absent): model_fingerprint, embedding_size, metric, created,
  /// threshold.
  virtual std::string fact(const std::string& key) const = 0;
  /// Everything it holds, in one read transaction.
  virtual GalleryContent content() const = 0;
  /// Replaces binding, thresholds, identities, samples and negatives with content in ONE
  /// transaction; unless replace, throws InputError when the gallery holds identities.
  virtual void write_content(const GalleryContent& content, bool replace) = 0;
  /// How errors name the gallery: the path, or the URI without its password.
  virtual const std::string& location() const = 0;
  /// The file read ({0, 0} for a store that is not a file).
  virtual const FileIdentity& file_identity() const = 0;
  /// Changes whenever any connection commits a change; cheap to poll.
  virtual int64_t change_counter() const = 0;
  /// The changes committed after `version` (a snapshot's), when the store can tell them apart;
  /// nullopt when the reader must read everything again (no change log, a change to the whole
  /// gallery, a log pruned past `version`, a gallery recreated).
  virtual std::optional<GalleryDelta> changes_since(int64_t /*version*/) const {
    return std::nullopt;
  }
};

class Gallery {
 public:
  /// Opens (creating when allowed; new files get mode 0600) and checks the gallery is bound to
  /// this model. Throws FileError naming the path, MismatchError naming both fingerprints.
  /// path may be a PostgreSQL URI (then "new file" means "a database without the gallery's
  /// tables"; errors name the URI without its password).
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
  /// Records model's preprocessing facts in a gallery written before galleries recorded them
  /// (`siamese-enroll bind`): the operator's word that its rows were embedded with this model
  /// file. Throws MismatchError for another model's gallery or one that records other facts
  /// (nothing is written); a no-op when it records these.
  void bind_preprocessing(const ModelInfo& model);
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

  /// Everything it holds, in one read transaction (migration).
  GalleryContent content() const { return store_->content(); }
  /// Replaces everything with content in ONE transaction; see GalleryStore::write_content.
  void write_content(const GalleryContent& content, bool replace) {
    store_->write_content(content, replace);
  }

  /// The fingerprint of the model the gallery is bound to (16 hex digits).
  std::string model_fingerprint() const;
  /// The preprocessing facts its rows were embedded with ("" when not recorded).
  std::string preprocessing() const;
  /// Values per embedding.
  int embedding_size() const;
  /// The distance metric ("euclidean").
  std::string metric() const;
  /// ISO 8601 UTC time the gallery was created.
  std::string created() const;
  /// The threshold set by `siamese-enroll add --threshold`, if any (overrides the model's).
  /// Throws FileError naming the path when the stored value is not a finite distance >= 0.
  std::optional<float> threshold() const;
  /// The path, or the PostgreSQL URI without its password.
  const std::string& path() const { return store_->location(); }
  /// The file this connection reads (stat-ed before opening, so a replacement racing the open
  /// shows as a changed identity, never as an unchanged one); {0, 0} for PostgreSQL.
  const FileIdentity& file_identity() const { return store_->file_identity(); }
  /// Changes whenever any connection commits: cheap to poll. SQLite: PRAGMA data_version (other
  /// connections), a local count (our own commits), and the stat of the file and its -wal
  /// (inode, size, mtime: a file replaced by another one). PostgreSQL: the version row.
  int64_t change_counter() const { return store_->change_counter(); }
  /// See GalleryStore::changes_since (PostgreSQL keeps a change log; SQLite: always nullopt).
  std::optional<GalleryDelta> changes_since(int64_t version) const {
    return store_->changes_since(version);
  }
  /// Whether this is a PostgreSQL gallery.
  bool is_postgres() const { return is_postgres_location(store_->location()); }

  Gallery(Gallery&&) noexcept = default;
  Gallery& operator=(Gallery&&) noexcept = default;
  ~Gallery() = default;

  /// A handle on an opened store (postgres_gallery.h makes PostgreSQL ones).
  explicit Gallery(std::unique_ptr<GalleryStore> store) : store_(std::move(store)) {}

 private:
  std::unique_ptr<GalleryStore> store_;
};

/// Copies the gallery at `from` into `to` (paths or PostgreSQL URIs, created when absent) in one
/// transaction on the target: binding, thresholds, identities, samples with boxes, negatives.
/// Refuses a target that holds identities unless replace (InputError); returns the content
/// copied.
GalleryContent migrate_gallery(const std::string& from, const std::string& to, bool replace);

}  // namespace siamese
