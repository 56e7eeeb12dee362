// The embedding half of an enrollment: files -> one face each -> batched preprocessing and
// forward passes -> samples per identity, with every skipped or failed file recorded. Nothing
// is written to the gallery here (the caller commits everything in one transaction).
// Thread-safety: one call at a time per FaceSource/Embedder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "face_source.h"
#include "image_set.h"
#include "siamese/embedder.h"
#include "siamese/gallery.h"

namespace siamese::enroll {

/// One file to embed for an identity. With box set, that recorded region is re-read instead
/// of detecting (--rebuild).
struct EmbedRequest {
  std::string identity;
  std::string path;
  std::optional<Box> box;
  Framing framing = Framing::kExact;
};

struct EmbedOptions {
  bool largest_face = false;
  std::string keep_crops_dir;  // "" = write no crops
  std::string progress_label = "images";
};

struct EmbedOutcome {
  std::vector<IdentitySamples> identities;  // in order of first appearance
  std::vector<Issue> skipped;               // no face, several faces
  std::vector<Issue> failed;                // unreadable or corrupt images
  int64_t embedded = 0;
};

/// Embeds the requests in batches of embedder.batch_size(). Per-file problems are reported
/// in the outcome; model or device errors throw.
EmbedOutcome embed_requests(const std::vector<EmbedRequest>& requests, FaceSource& source,
                            Embedder& embedder, const EmbedOptions& options);

/// The reason of an error without the path prefix FileError puts in front of it.
std::string reason_of(const std::exception& e, const std::string& path);

}  // namespace siamese::enroll
