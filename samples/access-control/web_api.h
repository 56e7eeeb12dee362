// What the web console reads and changes, without HTTP: the audit log's decisions (filtered,
// paged, newest first), the gallery's people, and the changes a user makes (rename, remove,
// per-person threshold, enrollment from uploaded photos through siamese-enroll's own code:
// same detector, same preprocessing, one transaction), each recorded in the audit log's
// `changes` table with who made it. Thread-safety: one thread (the console's).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace siamese {
class Embedder;
}

namespace siamese::samples {

constexpr size_t kMaxUploadBytes = 8u << 20;    // one photo
constexpr size_t kMaxUploadFiles = 20;          // photos in one enrollment
constexpr size_t kMaxRequestBytes = 64u << 20;  // a whole request body
constexpr int kMaxPageSize = 200;               // decisions per page at most
constexpr int kDefaultPageSize = 50;

/// A request the console refuses: the HTTP status (4xx) and why, for the user.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// Filters of the Decisions page; "" = any.
struct DecisionQuery {
  std::string camera, person, decision;
  std::string since, until;  // ISO 8601 UTC, as the rows are stamped (prefixes work: 2026-11-30)
  int page = 1;              // from 1
  int per_page = kDefaultPageSize;
};

/// One uploaded file.
struct Upload {
  std::string filename;  // as the browser sent it (shown escaped, never used as a path)
  std::string data;
};

/// What enrollment needs besides the photos: the element's model, gallery and detector.
struct EnrollSettings {
  std::string model, gallery;
  std::string detector = "haar";
  int min_face_size = 0;  // 0 = the detector's default
};

/// The image type of data by its first bytes ("jpeg", "png", "pnm", "bmp"), "" for others.
std::string image_type_of(const std::string& data);

class ConsoleApi {
 public:
  /// audit_log: the application's audit log (it exists: the application opened it first); the
  /// `changes` table is added to it. Throws siamese::FileError naming the file.
  ConsoleApi(std::string audit_log, EnrollSettings settings);
  ~ConsoleApi();
  ConsoleApi(const ConsoleApi&) = delete;
  ConsoleApi& operator=(const ConsoleApi&) = delete;

  /// {rows: [...], total, page, per_page}. Throws ApiError(400) for bad filters.
  nlohmann::json decisions(const DecisionQuery& query) const;
  /// The latest changes made through the console, newest first (at most limit).
  nlohmann::json changes(int limit) const;
  /// {gallery, threshold, people: [{name, embeddings, negatives, threshold, updated}]}.
  nlohmann::json people() const;
  /// Model and gallery in use (Health page).
  nlohmann::json model_and_gallery() const;

  /// Each change: checks (ApiError 400/404/409/413/415/422 leaving the gallery unchanged),
  /// applies it through the gallery's own transaction, records it with who; returns a summary.
  nlohmann::json rename(const std::string& who, const std::string& from, const std::string& to);
  nlohmann::json remove(const std::string& who, const std::string& name);
  nlohmann::json set_threshold(const std::string& who, const std::string& name,
                               std::optional<float> threshold);
  nlohmann::json enroll(const std::string& who, const std::string& name,
                        const std::vector<Upload>& photos);
  /// Enrolls name from the face crops kept of an unknown track (--keep-crops; the audit row
  /// names the folder): crops without a single face are skipped, 422 when none has one, 404
  /// when the track kept no crop (or it was pruned). camera "" = any.
  nlohmann::json enroll_from_track(const std::string& who, const std::string& name, int64_t track,
                                   const std::string& camera);

 private:
  // Checks and embeds photos; all_or_nothing: any unusable photo refuses the whole set.
  nlohmann::json enroll_photos(const std::string& who, const std::string& name,
                               const std::vector<Upload>& photos, bool all_or_nothing,
                               const std::string& detail);
  void record(const std::string& who, const std::string& action, const std::string& identity,
              const std::string& detail);
  Embedder& embedder();

  std::string audit_log_;
  EnrollSettings settings_;
  std::unique_ptr<Embedder> embedder_;  // loaded at the first enrollment
};

}  // namespace siamese::samples
