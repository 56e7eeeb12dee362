// Small embeddings and model facts the gallery tests enroll: kEmbeddingSize values per
// embedding, bound to a model known only by its fingerprint. Thread-safety: pure functions.
#pragma once

#include <string>

#include "siamese/gallery.h"
#include "siamese/model_file.h"

namespace siamese::testing {

constexpr int kGalleryTestSize = 4;

/// The facts a gallery checks of a model: its fingerprint and embedding size.
inline ModelInfo model_with(const std::string& fingerprint, int size = kGalleryTestSize) {
  ModelInfo info;
  info.fingerprint = fingerprint;
  info.embedding_size = size;
  return info;
}

/// A sample of file whose embedding counts up from base in steps of 0.25.
inline EnrollmentSample sample(const std::string& file, float base) {
  EnrollmentSample s;
  s.source_file = file;
  for (int i = 0; i < kGalleryTestSize; ++i) {
    s.embedding.push_back(base + 0.25f * static_cast<float>(i));
  }
  return s;
}

}  // namespace siamese::testing
