#include "web_api.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "audit_tracks.h"
#include "enroll_job.h"
#include "face_source.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/model_file.h"
#include "siamese/sqlite_db.h"
#include "siamese/text_safety.h"

namespace siamese::samples {

namespace {

namespace fs = std::filesystem;

constexpr const char* kChangesSchema =
    "CREATE TABLE IF NOT EXISTS changes ("
    " id INTEGER PRIMARY KEY,"
    " time TEXT NOT NULL,"      // wall clock, ISO 8601 UTC
    " who TEXT NOT NULL,"       // the token's name
    " action TEXT NOT NULL,"    // enroll, rename, remove, threshold
    " identity TEXT NOT NULL,"  // whom it changed
    " detail TEXT)";            // what changed (new name, threshold, photos)

sql::FileRef audit_file(const std::string& path) { return {path, "siamese audit log", 5000}; }

nlohmann::json nullable_real(const sql::Statement& q, int col) {
  return q.is_null(col) ? nlohmann::json(nullptr) : nlohmann::json(q.real(col));
}

void check_name(const std::string& name, const char* field) {
  if (name == kAnyoneName) throw ApiError(400, std::string(field) + ": '*' is reserved");
  try {
    check_identity_name(name);
  } catch (const InputError& e) {
    throw ApiError(400, std::string(field) + ": " + e.what());
  }
}

// The gallery opened for a change, with the person checked to exist.
Gallery writable_gallery(const std::string& path) {
  try {
    return Gallery::open_unbound(path, true);
  } catch (const std::exception& e) {
    throw ApiError(503, std::string("the gallery cannot be opened: ") + e.what());
  }
}

bool has_identity(const Gallery& g, const std::string& name) {
  for (const auto& r : g.identities()) {
    if (r.name == name) return true;
  }
  return false;
}

// A private folder for the uploads of one request, removed with everything in it.
class UploadDir {
 public:
  UploadDir() {
    std::string pattern = (fs::temp_directory_path() / "siamese-web-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw FileError(pattern, "cannot create");
    path_ = pattern;  // mode 0700 (mkdtemp)
  }
  ~UploadDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  UploadDir(const UploadDir&) = delete;
  UploadDir& operator=(const UploadDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::string image_type_of(const std::string& d) {
  auto starts = [&](const char* magic, size_t n) {
    return d.size() >= n && d.compare(0, n, magic, n) == 0;
  };
  if (starts("\xFF\xD8\xFF", 3)) return "jpeg";
  if (starts("\x89PNG\r\n\x1A\n", 8)) return "png";
  if (starts("BM", 2)) return "bmp";
  if (d.size() >= 3 && d[0] == 'P' && (d[1] == '2' || d[1] == '3' || d[1] == '5' || d[1] == '6') &&
      std::isspace(static_cast<unsigned char>(d[2]))) {
    return "pnm";
  }
  return "";
}

ConsoleApi::ConsoleApi(std::string audit_log, EnrollSettings settings)
    : audit_log_(std::move(audit_log)), settings_(std::move(settings)) {
  const sql::FileRef file = audit_file(audit_log_);
  sql::Connection db =
      sql::open_connection(audit_log_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file);
  sql::exec(db.get(), file, kChangesSchema);
}

ConsoleApi::~ConsoleApi() = default;

nlohmann::json ConsoleApi::decisions(const DecisionQuery& q) const {
  if (q.page < 1) throw ApiError(400, "page: must be 1 or more");
  if (q.per_page < 1 || q.per_page > kMaxPageSize) {
    throw ApiError(400, "per_page: must be in [1, " + std::to_string(kMaxPageSize) + "]");
  }
  const sql::FileRef file = audit_file(audit_log_);
  sql::Connection db = sql::open_connection(audit_log_, SQLITE_OPEN_READONLY, file);
  constexpr const char* kWhere =
      " FROM decisions WHERE (?1 = '' OR camera = ?1) AND (?2 = '' OR identity = ?2)"
      " AND (?3 = '' OR decision = ?3) AND (?4 = '' OR time >= ?4) AND (?5 = '' OR time < ?5)";
  auto bind = [&](sql::Statement& s) {
    s.bind(1, q.camera).bind(2, q.person).bind(3, q.decision).bind(4, q.since).bind(5, q.until);
  };
  sql::Statement count(db.get(), file, (std::string("SELECT COUNT(*)") + kWhere).c_str());
  bind(count);
  const int64_t total = count.step() ? count.integer(0) : 0;
  sql::Statement rows(db.get(), file,
                      (std::string("SELECT id, time, running_time, camera, track, identity, "
                                   "distance, decision, reason, threshold, crop, margin, votes") +
                       kWhere + " ORDER BY id DESC LIMIT ?6 OFFSET ?7")
                          .c_str());
  bind(rows);
  rows.bind(6, static_cast<int64_t>(q.per_page))
      .bind(7, static_cast<int64_t>(q.page - 1) * q.per_page);
  auto out = nlohmann::json::array();
  while (rows.step()) {
    out.push_back({{"id", rows.integer(0)},
                   {"time", rows.text(1)},
                   {"running_time", rows.real(2)},
                   {"camera", rows.text(3)},
                   {"track", rows.integer(4)},
                   {"identity", rows.text(5)},
                   {"distance", nullable_real(rows, 6)},
                   {"decision", rows.text(7)},
                   {"reason", rows.is_null(8) ? "" : rows.text(8)},
                   {"threshold", nullable_real(rows, 9)},
                   {"crop", !rows.is_null(10) && !rows.text(10).empty()},
                   {"margin", nullable_real(rows, 11)},
                   {"votes", rows.is_null(12) ? 0 : rows.integer(12)}});
  }
  return {{"rows", out}, {"total", total}, {"page", q.page}, {"per_page", q.per_page}};
}

nlohmann::json ConsoleApi::changes(int limit) const {
  const sql::FileRef file = audit_file(audit_log_);
  sql::Connection db = sql::open_connection(audit_log_, SQLITE_OPEN_READONLY, file);
  sql::Statement q(db.get(), file,
                   "SELECT time, who, action, identity, detail FROM changes ORDER BY id DESC "
                   "LIMIT ?1");
  q.bind(1, static_cast<int64_t>(limit));
  auto out = nlohmann::json::array();
  while (q.step()) {
    out.push_back({{"time", q.text(0)},
                   {"who", q.text(1)},
                   {"action", q.text(2)},
                   {"identity", q.text(3)},
                   {"detail", q.is_null(4) ? "" : q.text(4)}});
  }
  return out;
}

nlohmann::json ConsoleApi::people() const {
  Gallery g = Gallery::open_unbound(settings_.gallery, false);
  auto people = nlohmann::json::array();
  for (const auto& r : g.identities()) {
    if (r.name == kAnyoneName) continue;
    people.push_back({{"name", r.name},
                      {"embeddings", r.embedding_count},
                      {"negatives", r.negative_count},
                      {"threshold", r.threshold ? nlohmann::json(*r.threshold) : nullptr},
                      {"updated", r.updated}});
  }
  const auto t = g.threshold();
  return {{"gallery", gallery_display_name(settings_.gallery)},
          {"threshold", t ? nlohmann::json(*t) : nullptr},
          {"people", people}};
}

nlohmann::json ConsoleApi::model_and_gallery() const {
  nlohmann::json out = {{"model", settings_.model},
                        {"gallery", gallery_display_name(settings_.gallery)}};
  try {
    Gallery g = Gallery::open_unbound(settings_.gallery, false);
    int64_t embeddings = 0, people = 0;
    for (const auto& r : g.identities()) {
      if (r.name == kAnyoneName) continue;
      ++people;
      embeddings += r.embedding_count;
    }
    out["model_fingerprint"] = g.model_fingerprint();
    out["people"] = people;
    out["embeddings"] = embeddings;
  } catch (const std::exception& e) {
    out["gallery_error"] = e.what();
  }
  return out;
}

void ConsoleApi::record(const std::string& who, const std::string& action,
                        const std::string& identity, const std::string& detail) {
  const sql::FileRef file = audit_file(audit_log_);
  sql::Connection db =
      sql::open_connection(audit_log_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, file);
  sql::Statement s(db.get(), file,
                   "INSERT INTO changes (time, who, action, identity, detail) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, sql::utc_now_iso8601(true)).bind(2, who).bind(3, action).bind(4, identity);
  s.bind(5, detail).run();
}

nlohmann::json ConsoleApi::rename(const std::string& who, const std::string& from,
                                  const std::string& to) {
  check_name(to, "to");
  Gallery g = writable_gallery(settings_.gallery);
  if (!has_identity(g, from)) throw ApiError(404, "no person named '" + from + "'");
  if (has_identity(g, to)) throw ApiError(409, "a person named '" + to + "' exists");
  g.rename(from, to);
  record(who, "rename", from, "to " + to);
  return {{"renamed", from}, {"to", to}};
}

nlohmann::json ConsoleApi::remove(const std::string& who, const std::string& name) {
  Gallery g = writable_gallery(settings_.gallery);
  if (name == kAnyoneName || !has_identity(g, name)) {
    throw ApiError(404, "no person named '" + name + "'");
  }
  g.remove(name);
  record(who, "remove", name, "");
  return {{"removed", name}};
}

nlohmann::json ConsoleApi::set_threshold(const std::string& who, const std::string& name,
                                         std::optional<float> threshold) {
  if (threshold &&
      !(std::isfinite(*threshold) && *threshold >= 0 && *threshold <= kMaxDistanceThreshold)) {
    throw ApiError(400, "threshold: must be a distance in [0, " +
                            std::to_string(kMaxDistanceThreshold) + "] or null");
  }
  Gallery g = writable_gallery(settings_.gallery);
  if (name == kAnyoneName || !has_identity(g, name)) {
    throw ApiError(404, "no person named '" + name + "'");
  }
  g.set_identity_threshold(name, threshold);
  record(who, "threshold", name, threshold ? std::to_string(*threshold) : "cleared");
  return {{"name", name}, {"threshold", threshold ? nlohmann::json(*threshold) : nullptr}};
}

Embedder& ConsoleApi::embedder() {
  if (!embedder_) {
    embedder_ = std::make_unique<Embedder>(load_model(settings_.model), torch::kCPU);
  }
  return *embedder_;
}

nlohmann::json ConsoleApi::enroll(const std::string& who, const std::string& name,
                                  const std::vector<Upload>& photos) {
  return enroll_photos(who, name, photos, /*all_or_nothing=*/true, "photos");
}

nlohmann::json ConsoleApi::enroll_from_track(const std::string& who, const std::string& name,
                                             int64_t track, const std::string& camera) {
  check_name(name, "name");
  std::string folder;
  try {
    folder = enroll::kept_crop_of({audit_log_, track, camera});
  } catch (const InputError& e) {
    throw ApiError(404, e.what());
  }
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".png") files.push_back(entry);
  }
  std::sort(files.begin(), files.end());
  if (files.size() > kMaxUploadFiles) files.resize(kMaxUploadFiles);
  std::vector<Upload> crops;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    crops.push_back({f.filename().string(), std::move(data)});
  }
  if (crops.empty()) throw ApiError(404, "track " + std::to_string(track) + ": no kept crop");
  nlohmann::json out = enroll_photos(who, name, crops, /*all_or_nothing=*/false,
                                     "crops of track " + std::to_string(track) +
                                         (camera.empty() ? std::string() : " (" + camera + ")"));
  out["track"] = track;
  return out;
}

nlohmann::json ConsoleApi::enroll_photos(const std::string& who, const std::string& name,
                                         const std::vector<Upload>& photos, bool all_or_nothing,
                                         const std::string& detail) {
  check_name(name, "name");
  if (photos.empty()) throw ApiError(400, "photos: give at least one photo");
  if (photos.size() > kMaxUploadFiles) {
    throw ApiError(413, "photos: at most " + std::to_string(kMaxUploadFiles) + " per enrollment");
  }
  for (const auto& p : photos) {
    const std::string shown = escape_for_display(p.filename);
    if (p.data.size() > kMaxUploadBytes) {
      throw ApiError(413,
                     shown + ": larger than " + std::to_string(kMaxUploadBytes >> 20) + " MiB");
    }
    if (image_type_of(p.data).empty()) {
      throw ApiError(415, shown + ": not a JPEG, PNG, PNM or BMP image");
    }
  }
  Embedder& model = embedder();
  // Bound to the model the element uses: a gallery of another model is refused, as the CLI does.
  Gallery gallery = [&] {
    try {
      return Gallery::open(settings_.gallery, model.info(), false);
    } catch (const MismatchError& e) {
      throw ApiError(409, e.what());
    }
  }();
  UploadDir dir;
  std::vector<enroll::EmbedRequest> requests;
  std::map<std::string, std::string> shown_name;  // temp path -> the browser's file name
  for (size_t i = 0; i < photos.size(); ++i) {
    const std::string path =
        dir.path() + "/" + std::to_string(i) + "." + image_type_of(photos[i].data);
    std::ofstream(path, std::ios::binary)
        .write(photos[i].data.data(), static_cast<std::streamsize>(photos[i].data.size()));
    shown_name[path] = photos[i].filename;
    requests.push_back({name, path, std::nullopt, Framing::kExact});
  }
  enroll::FaceSourceOptions source_options;
  source_options.detector.kind = settings_.detector;
  if (settings_.min_face_size > 0) source_options.detector.min_face_size = settings_.min_face_size;
  enroll::FaceSource source(source_options, model.info().input.channels);
  enroll::EmbedOptions options;
  options.progress_label = "uploaded photos";
  enroll::EmbedOutcome outcome = enroll::embed_requests(requests, source, model, options);
  // All or nothing: a photo without exactly one face or that cannot be decoded stores nothing.
  // Kept crops are what the camera saw: those without a face are left out, as `add` skips.
  std::string problems;
  for (const auto* list : {&outcome.failed, &outcome.skipped}) {
    if (!all_or_nothing) break;
    for (const auto& issue : *list) {
      problems += (problems.empty() ? "" : "; ") + escape_for_display(shown_name[issue.path]) +
                  ": " + escape_for_display(issue.reason);
    }
  }
  if (!problems.empty()) throw ApiError(422, problems + " (nothing was enrolled)");
  if (outcome.identities.empty()) throw ApiError(422, "no face found (nothing was enrolled)");
  std::vector<EnrollmentSample> samples = outcome.identities.front().second;
  for (auto& s : samples) s.source_file = "web upload: " + shown_name[s.source_file];
  gallery.enroll(name, samples, /*replace=*/false);
  record(who, "enroll", name, std::to_string(samples.size()) + " " + detail);
  return {{"enrolled", name},
          {"photos", samples.size()},
          {"skipped", outcome.skipped.size() + outcome.failed.size()}};
}

}  // namespace siamese::samples
